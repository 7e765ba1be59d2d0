// backprop: build, train and run feedforward networks. See DESIGN.md for the commands' contracts.
// Exit codes: 0 success, 1 runtime failure (a failed check, divergence, a failed write to a file or to
// standard output), 2 bad usage or bad input (docs/contracts.md, "Exit codes").
#include <iostream>
#include <new>

#include <CLI/CLI.hpp>

#include "backprop/base/error.hpp"
#include "backprop/kernels/kernels.hpp"
#include "commands.hpp"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"backprop: feedforward neural networks by an explicit forward pass and backpropagation"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print help for every command");
  app.set_version_flag("--version",
                       "backprop " BACKPROP_VERSION "\nbuilt with " BACKPROP_BUILD_OPTIONS "\ncompiler " BACKPROP_COMPILER,
                       "Print the version, the build's options (BLAS, MPI, CUDA, ONNX, Python) and the compiler");
  int exit_code = 0;
  backprop::cli::add_trace_command(app, exit_code);
  backprop::cli::add_gradcheck_command(app, exit_code);
  backprop::cli::add_train_command(app, exit_code);
  backprop::cli::add_eval_command(app, exit_code);
  backprop::cli::add_predict_command(app, exit_code);
  backprop::cli::add_export_command(app, exit_code);
  backprop::cli::add_info_command(app, exit_code);
  backprop::cli::add_bench_command(app, exit_code);
  backprop::cli::add_cv_command(app, exit_code);
  backprop::cli::add_importance_command(app, exit_code);
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

}  // namespace

int main(int argc, char** argv) {
  backprop::kernels::own_blas_threads();  // the process is the command's: no OpenBLAS thread spins beside it
  backprop::cli::guard_standard_descriptors();
  return backprop::cli::finish_standard_output(run(argc, argv));
}
