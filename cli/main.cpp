// backprop: build, train and run feedforward networks. See docs/contracts.md for the commands' contracts.
// Exit codes: 0 success, 1 runtime failure (a failed check, divergence, a failed write to a file or to
// standard output), 2 bad usage or bad input (docs/contracts.md, "Exit codes").
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <new>

#include <CLI/CLI.hpp>

#include "backprop/base/error.hpp"
#include "backprop/io/write_file.hpp"
#include "backprop/kernels/kernels.hpp"
#include "commands.hpp"

namespace {

// The commands, in the order the help lists them, and what registers each.
struct Command {
  const char* name;
  void (*add)(CLI::App& app, int& exit_code);
};
constexpr Command kCommands[] = {
    {"trace", backprop::cli::add_trace_command},   {"gradcheck", backprop::cli::add_gradcheck_command},
    {"train", backprop::cli::add_train_command},   {"eval", backprop::cli::add_eval_command},
    {"predict", backprop::cli::add_predict_command}, {"export", backprop::cli::add_export_command},
    {"info", backprop::cli::add_info_command},     {"bench", backprop::cli::add_bench_command},
    {"cv", backprop::cli::add_cv_command},         {"importance", backprop::cli::add_importance_command},
};

// Registers the command the arguments name (the first one not an option: the program has no option that takes a
// value before its command), or every command where they name none of them (the help, the version, a mistyped
// command's usage error: all list every command). CLI11 builds each option as it is added, so the other commands'
// options would be built for nothing (docs/performance.md, "The command's own start").
void add_commands(CLI::App& app, int& exit_code, int argc, char** argv) {
  const char* named = nullptr;
  for (int i = 1; i < argc && named == nullptr; ++i)
    if (argv[i][0] != '-') named = argv[i];
  for (const Command& command : kCommands)
    if (named != nullptr && std::strcmp(named, command.name) == 0) return command.add(app, exit_code);
  for (const Command& command : kCommands) command.add(app, exit_code);
}

int run(int argc, char** argv) {
  CLI::App app{"backprop: feedforward neural networks by an explicit forward pass and backpropagation"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print help for every command");
  app.set_version_flag("--version",
                       "backprop " BACKPROP_VERSION "\nbuilt with " BACKPROP_BUILD_OPTIONS "\ncompiler " BACKPROP_COMPILER,
                       "Print the version, the build's options (BLAS, MPI, CUDA, ONNX, Python) and the compiler");
  int exit_code = 0;
  add_commands(app, exit_code, argc, argv);
  backprop::cli::read_integers_in_decimal(app);
  try {
    backprop::kernels::cpu_level();  // BACKPROP_CPU refused before anything is read or written
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the help or the usage error
    return code == 0 ? 0 : 2;
  } catch (const backprop::OptionError& e) {
    std::cerr << "backprop: " << backprop::cli::option_message(e) << "\n";
    return 2;
  } catch (const backprop::Error& e) {
    std::cerr << "backprop: " << e.what() << "\n";
    return e.kind() == backprop::ErrorKind::bad_input ? 2 : 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "backprop: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    // Every expected failure is a backprop::Error; anything else is a bug, but it must not look like a
    // crash to the user (and nothing was saved half-written: saves are atomic).
    std::cerr << "backprop: internal error (please report it): " << e.what() << "\n";
    return 1;
  }
  return exit_code;
}

// Under a limit on the address space (ulimit -v of a few hundred MB), the worker thread OpenBLAS starts when
// it is loaded (on the first product that needs it) loops for ever in blas_memory_alloc, failing to allocate
// its buffer, and stopping OpenBLAS's threads (kernels/cpu/blas_libraries.cpp) would wait for it. The command
// runs OpenBLAS on its own thread anyway: started again with OPENBLAS_NUM_THREADS=1, OpenBLAS starts no worker.
// Only under such a limit, so that an ordinary run is not started twice.
void restart_without_blas_threads(char** argv) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
  const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
  if (threads != nullptr && std::strcmp(threads, "1") == 0) return;
  if (::setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0) return;
  ::execv("/proc/self/exe", argv);  // returns only on failure: then go on as before
}

// SIGINT, SIGTERM, SIGHUP: the temporary file of a save in progress is removed before the signal ends the
// process as it would have (its default action, raised again), so that no temporary outlives the command.
extern "C" void on_stop_signal(int signal_number) {
  backprop::io::remove_temporaries_in_flight();
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void remove_temporaries_when_stopped() {
  for (const int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction current {};
    if (::sigaction(signal_number, nullptr, &current) != 0 || current.sa_handler == SIG_IGN) continue;
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    ::sigemptyset(&action.sa_mask);
    ::sigaction(signal_number, &action, nullptr);
  }
  // Output that cannot be written (a pipe whose reader left: `train ... | head -1`) is an error of the write,
  // which the command reports, not a signal that kills it before it saves its model.
  ::signal(SIGPIPE, SIG_IGN);
}

}  // namespace

int main(int argc, char** argv) {
  restart_without_blas_threads(argv);
  remove_temporaries_when_stopped();
  backprop::cli::guard_standard_descriptors();
  return backprop::cli::finish_standard_output(run(argc, argv));
}
