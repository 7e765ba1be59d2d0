// What the command writes, and where (docs/reliability.md, "Outputs"): files that are not regular files
// (a FIFO, a character device) written in place, symlinks followed, permissions kept, unique temporary
// names; an output that names the same file as an input or another output refused before any work;
// standard output checked (a full disk, a closed descriptor, a closed pipe are exit 1, not lost output);
// a failed write to --out is a runtime failure (exit 1).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backprop/base/error.hpp"
#include "backprop/io/output_files.hpp"
#include "backprop/io/write_file.hpp"
#include "helpers.hpp"

namespace {

namespace fs = std::filesystem;
using backprop::Error;
using backprop::ErrorKind;
using backprop::testing::read_text;
using backprop::testing::source_path;
using backprop::testing::TempDir;
using backprop::testing::write_file;
using ::testing::HasSubstr;

const std::string kNetwork = source_path("examples/xor.json");
const std::string kData = source_path("examples/data/xor.csv");

struct Outcome {
  int exit_code = -1;
  std::string out;  // standard output, when the test did not redirect it elsewhere
  std::string err;  // standard error
};

// How a test sets up the command's standard output in the child, before exec.
enum class Stdout { captured, closed, dev_full, closed_pipe, keep };

// Runs the built command with `arguments` (no shell), standard error captured. `limit_file_bytes` sets
// RLIMIT_FSIZE (with SIGXFSZ ignored, so a write past it fails with EFBIG instead of killing the process).
Outcome run_command(const std::vector<std::string>& arguments, Stdout stdout_mode = Stdout::captured,
                rlim_t limit_file_bytes = RLIM_INFINITY) {
  // The captured streams, in a folder of their own (a TempDir would take the test's own folder's name).
  std::string folder = (fs::temp_directory_path() / "backprop-streams-XXXXXX").string();
  if (::mkdtemp(folder.data()) == nullptr) return {};
  const fs::path out_path = fs::path(folder) / "stdout", err_path = fs::path(folder) / "stderr";
  int pipe_ends[2] = {-1, -1};
  if (stdout_mode == Stdout::closed_pipe) {
    if (::pipe(pipe_ends) != 0) return {};
    ::close(pipe_ends[0]);  // nobody reads: every write gets EPIPE (SIGPIPE is ignored in the child)
  }
  const pid_t child = ::fork();
  if (child == 0) {
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 2);
    if (stdout_mode == Stdout::captured) ::dup2(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
    if (stdout_mode == Stdout::closed) ::close(1);
    if (stdout_mode == Stdout::dev_full) ::dup2(::open("/dev/full", O_WRONLY), 1);
    if (stdout_mode == Stdout::closed_pipe) {
      ::signal(SIGPIPE, SIG_IGN);
      ::dup2(pipe_ends[1], 1);
    }
    if (limit_file_bytes != RLIM_INFINITY) {
      ::signal(SIGXFSZ, SIG_IGN);
      const rlimit limit{limit_file_bytes, limit_file_bytes};
      ::setrlimit(RLIMIT_FSIZE, &limit);
    }
    backprop::testing::exec_backprop(arguments);
  }
  if (pipe_ends[1] >= 0) ::close(pipe_ends[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  Outcome run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = read_text(out_path);
  run.err = read_text(err_path);
  fs::remove_all(folder);
  return run;
}

std::string describe(const Outcome& run) { return "exit " + std::to_string(run.exit_code) + "\n" + run.out + run.err; }

bool names_a_fifo(const fs::path& path) { return fs::symlink_status(path).type() == fs::file_type::fifo; }

// What `predict` of the XOR network on its data prints on standard output.
std::string predictions_on_stdout() {
  const Outcome run = run_command({"predict", kNetwork, "--data", kData});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_FALSE(run.out.empty());
  return run.out;
}

// A trained XOR model (one epoch: the tests need a valid model, not a good one).
void train_model(const fs::path& out) {
  const Outcome run = run_command({"train", kNetwork, "--data", kData, "--epochs", "1", "--quiet", "--out", out.string()});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
}

// ---- defect: atomic replacement replaced things that are not regular files ----

// Regression: `--out FIFO` renamed a regular file over the FIFO; the reader got nothing.
TEST(Outputs, AFifoIsWrittenInPlace) {
  TempDir dir;
  const fs::path fifo = dir / "predictions.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0) << std::strerror(errno);
  // A reader holds the FIFO open (non-blocking) so that the command's open for writing does not wait; the
  // predictions of 4 rows fit the pipe's buffer.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0) << std::strerror(errno);
  const Outcome run = run_command({"predict", kNetwork, "--data", kData, "--out", fifo.string()});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  std::string received(4096, '\0');
  const ssize_t n = ::read(reader, received.data(), received.size());
  ::close(reader);
  received.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  EXPECT_TRUE(names_a_fifo(fifo)) << "the FIFO was replaced";
  EXPECT_EQ(received, predictions_on_stdout());
  EXPECT_EQ(std::vector<fs::path>(fs::directory_iterator(dir.path()), fs::directory_iterator()),
            std::vector<fs::path>{fifo});  // no temporary file left
}

// Regression: as root, `--out /dev/null` turned /dev/null into a regular file. The test makes its own
// null device (mknod needs root) rather than risk the machine's.
TEST(Outputs, ACharacterDeviceIsWrittenInPlaceAndMayBeNamedTwice) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mknod of a character device; CI runs as root)";
  TempDir dir;
  const fs::path null_device = dir / "null";
  if (::mknod(null_device.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0)
    GTEST_SKIP() << "cannot make a character device here (" << std::strerror(errno) << ")";
  const int probe = ::open(null_device.c_str(), O_WRONLY);
  if (probe < 0) GTEST_SKIP() << "the folder does not allow devices (" << std::strerror(errno) << ")";
  ::close(probe);
  // Every output of train on the one device: allowed (not a regular file), and each written in place.
  const Outcome run = run_command({"train", kNetwork, "--data", kData, "--epochs", "2", "--quiet", "--out",
                               null_device.string(), "--report", null_device.string(), "--checkpoint",
                               null_device.string(), "--log", null_device.string()});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_EQ(fs::symlink_status(null_device).type(), fs::file_type::character) << "the device was replaced";
  const Outcome predicted = run_command({"predict", kNetwork, "--data", kData, "--out", null_device.string()});
  EXPECT_EQ(predicted.exit_code, 0) << describe(predicted);
  EXPECT_EQ(fs::symlink_status(null_device).type(), fs::file_type::character) << "the device was replaced";
  EXPECT_EQ(std::vector<fs::path>(fs::directory_iterator(dir.path()), fs::directory_iterator()),
            std::vector<fs::path>{null_device});
}

// Regression: a symlink given as --out was replaced by a regular file; its target kept the old content.
TEST(Outputs, ASymlinkHasItsTargetReplacedAndStaysALink) {
  TempDir dir;
  fs::create_directory(dir / "models");
  train_model(dir / "models" / "real.model");
  const std::string old_bytes = read_text(dir / "models" / "real.model");
  fs::create_symlink("models/real.model", dir / "link.model");
  // Predictions through a link to a file in another folder (the model read through a link too).
  write_file(dir / "models" / "predictions.csv", "old\n");
  fs::create_symlink(dir / "models" / "predictions.csv", dir / "predictions-link.csv");
  const Outcome predicted = run_command({"predict", (dir / "link.model").string(), "--data", kData, "--out",
                                     (dir / "predictions-link.csv").string()});
  ASSERT_EQ(predicted.exit_code, 0) << describe(predicted);
  EXPECT_TRUE(fs::is_symlink(dir / "predictions-link.csv")) << "the link was replaced by a file";
  const Outcome through_link = run_command({"predict", (dir / "link.model").string(), "--data", kData});
  EXPECT_EQ(read_text(dir / "models" / "predictions.csv"), through_link.out);
  // A dangling link: the file it names is created, the link stays.
  fs::create_symlink("models/new.csv", dir / "dangling.csv");
  const Outcome created = run_command({"predict", kNetwork, "--data", kData, "--out", (dir / "dangling.csv").string()});
  ASSERT_EQ(created.exit_code, 0) << describe(created);
  EXPECT_TRUE(fs::is_symlink(dir / "dangling.csv"));
  EXPECT_EQ(read_text(dir / "models" / "new.csv"), predictions_on_stdout());
  EXPECT_EQ(read_text(dir / "models" / "real.model"), old_bytes);
}

// Regression: the temporary file was created with 0666 & ~umask, so a replaced file lost its mode.
TEST(Outputs, AReplacedFileKeepsItsPermissions) {
  TempDir dir;
  const fs::path out = dir / "predictions.csv";
  write_file(out, "old\n");
  ASSERT_EQ(::chmod(out.c_str(), 0640), 0);
  const Outcome run = run_command({"predict", kNetwork, "--data", kData, "--out", out.string()});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  struct stat info {};
  ASSERT_EQ(::stat(out.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0640u);
  EXPECT_EQ(read_text(out), predictions_on_stdout());
}

// Regression: the temporary file was "PATH.tmp-PID", opened with O_TRUNC: whatever held that name (a
// folder here; a link planted by someone else elsewhere) made the save fail or was written through.
TEST(Outputs, TheTemporaryFileHasAUniqueName) {
  TempDir dir;
  const fs::path out = dir / "a.txt";
  fs::create_directory(fs::path(out).concat(".tmp-" + std::to_string(::getpid())));
  backprop::io::write_file_atomically(out, "new\n");
  EXPECT_EQ(read_text(out), "new\n");
  backprop::io::write_file_atomically(out, "newer\n");
  EXPECT_EQ(read_text(out), "newer\n");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 2u);  // a.txt and the folder: no temporary file left
}

// ---- defect: an output that is also an input was not refused ----

// Each case exits 2 before any work, names both options, and leaves every file as it was.
TEST(Outputs, AnOutputNamingAnInputOrAnotherOutputIsRefusedBeforeAnyWork) {
  TempDir dir;
  const fs::path data = dir / "x.csv", network = dir / "net.json";
  fs::copy_file(kData, data);
  fs::copy_file(kNetwork, network);
  fs::create_directory(dir / "sub");
  fs::create_hard_link(data, dir / "hard-link.csv");
  fs::create_symlink(data, dir / "sym-link.csv");
  train_model(dir / "m.model");
  const std::string data_bytes = read_text(data), network_bytes = read_text(network);
  const std::string model_bytes = read_text(dir / "m.model");
  const std::string d = data.string(), n = network.string(), m = (dir / "m.model").string();
  struct Case {
    std::vector<std::string> arguments;
    std::string first, second;  // the two options the message names
  };
  const std::vector<Case> cases = {
      {{"train", n, "--data", d, "--out", d}, "--out", "--data"},
      {{"train", n, "--data", d, "--out", (dir / "sub" / ".." / "x.csv").string()}, "--out", "--data"},
      {{"train", n, "--data", d, "--out", (dir / "hard-link.csv").string()}, "--out", "--data"},
      {{"train", n, "--data", d, "--out", (dir / "sym-link.csv").string()}, "--out", "--data"},
      {{"train", n, "--data", d, "--out", m, "--log", d}, "--log", "--data"},
      {{"train", n, "--data", d, "--out", m, "--checkpoint", n}, "--checkpoint", "network"},
      {{"train", n, "--data", d, "--out", m, "--report", m}, "--report", "--out"},
      {{"train", n, "--data", d, "--out", m, "--validation", d, "--log", (dir / "sym-link.csv").string()},
       "--log", "--data"},
      // Outputs that do not exist yet: the same path in two spellings.
      {{"train", n, "--data", d, "--out", (dir / "new.model").string(), "--report",
        (dir / "sub" / ".." / "new.model").string()},
       "--report", "--out"},
      {{"predict", m, "--data", d, "--out", (dir / "sym-link.csv").string()}, "--out", "--data"},
      {{"predict", m, "--data", d, "--out", m}, "--out", "model"},
      {{"export", m, "--format", "json", "--out", m}, "--out", "model"},
  };
  for (const Case& c : cases) {
    std::string line;
    for (const auto& a : c.arguments) line += a + " ";
    const Outcome run = run_command(c.arguments);
    EXPECT_EQ(run.exit_code, 2) << line << "\n" << describe(run);
    EXPECT_THAT(run.err, HasSubstr(c.first)) << line;
    EXPECT_THAT(run.err, HasSubstr(c.second)) << line;
    EXPECT_THAT(run.err, HasSubstr("same file")) << line;
    EXPECT_EQ(run.out, "") << line << ": work was done before the refusal";
  }
  EXPECT_EQ(read_text(data), data_bytes);
  EXPECT_EQ(read_text(network), network_bytes);
  EXPECT_EQ(read_text(dir / "m.model"), model_bytes);
  EXPECT_FALSE(fs::exists(dir / "new.model"));
}

// --resume F with --checkpoint F is how a run continues; it stays allowed.
TEST(Outputs, ResumingFromTheCheckpointThatIsRewrittenIsAllowed) {
  TempDir dir;
  const std::string checkpoint = (dir / "run.ckpt").string();
  const std::vector<std::string> common = {"train", kNetwork, "--data", kData, "--epochs", "2", "--quiet",
                                           "--checkpoint", checkpoint};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> all = common;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  const Outcome first = run_command(with({"--out", (dir / "a.model").string()}));
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  const Outcome resumed = run_command(with({"--resume", checkpoint, "--out", (dir / "b.model").string()}));
  EXPECT_EQ(resumed.exit_code, 0) << describe(resumed);
  // The exemption is for that pair only: the checkpoint as --out is refused.
  const Outcome refused = run_command(with({"--resume", checkpoint, "--out", checkpoint}));
  EXPECT_EQ(refused.exit_code, 2) << describe(refused);
}

TEST(Outputs, AnOutputInAFolderThatDoesNotExistIsRefusedUpFront) {
  TempDir dir;
  for (const std::string option : {"--out", "--log", "--report", "--checkpoint"}) {
    std::vector<std::string> arguments = {"train", kNetwork, "--data", kData, "--epochs", "1",
                                          "--out", (dir / "m.model").string()};
    const std::string missing = (dir / "no-such-folder" / "file").string();
    if (option == "--out") arguments.back() = missing;
    else arguments.insert(arguments.end(), {option, missing});
    const Outcome run = run_command(arguments);
    EXPECT_EQ(run.exit_code, 2) << option << "\n" << describe(run);
    EXPECT_THAT(run.err, HasSubstr(option)) << option;
    EXPECT_THAT(run.err, HasSubstr("no-such-folder")) << option;
    EXPECT_EQ(run.out, "") << option << ": training started before the refusal";
    EXPECT_FALSE(fs::exists(dir / "m.model")) << option;
  }
}

// The library's check, as a caller other than the command uses it.
TEST(Outputs, TheCheckComparesFilesNotSpellings) {
  TempDir dir;
  write_file(dir / "a.csv", "a\n1\n");
  fs::create_hard_link(dir / "a.csv", dir / "b.csv");
  using backprop::io::check_output_files;
  using backprop::io::NamedFile;
  const std::string message = [&] {
    try {
      check_output_files({{"the data", dir / "a.csv"}}, {{"the predictions", dir / "b.csv"}});
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::bad_input);
      return std::string(e.what());
    }
    return std::string("no error");
  }();
  EXPECT_THAT(message, HasSubstr("the predictions"));
  EXPECT_THAT(message, HasSubstr("the data"));
  EXPECT_NO_THROW(check_output_files({{"the data", dir / "a.csv"}}, {{"the predictions", dir / "c.csv"}}));
  EXPECT_NO_THROW(check_output_files({{"the data", dir / "a.csv"}}, {{"x", "/dev/null"}, {"y", "/dev/null"}}));
  EXPECT_NO_THROW(check_output_files({{"a", dir / "a.csv"}}, {{"b", dir / "a.csv"}}, {{"a", "b"}}));
  EXPECT_THROW(check_output_files({}, {{"x", dir / "new"}, {"y", dir / "." / "new"}}), Error);
}

// ---- defect: lost output on standard output went unreported ----

TEST(Outputs, StandardOutputThatCannotBeWrittenIsExit1) {
  struct Case {
    Stdout mode;
    const char* name;
    const char* reason;  // strerror's text
  };
  std::vector<Case> cases = {{Stdout::closed, "closed", "Bad file descriptor"},
                             {Stdout::closed_pipe, "closed pipe, SIGPIPE ignored", "Broken pipe"}};
  if (fs::exists("/dev/full")) cases.push_back({Stdout::dev_full, "/dev/full", "No space left on device"});
  for (const Case& c : cases) {
    for (const std::vector<std::string>& arguments :
         {std::vector<std::string>{"predict", kNetwork, "--data", kData},
          std::vector<std::string>{"info", kNetwork},
          std::vector<std::string>{"eval", kNetwork, "--data", kData, "--json"}}) {
      const Outcome run = run_command(arguments, c.mode);
      EXPECT_EQ(run.exit_code, 1) << c.name << " " << arguments[0] << "\n" << describe(run);
      EXPECT_THAT(run.err, HasSubstr("standard output")) << c.name << " " << arguments[0];
      EXPECT_THAT(run.err, HasSubstr(c.reason)) << c.name << " " << arguments[0];
      EXPECT_EQ(run.err.find("standard output"), run.err.rfind("standard output")) << "said twice: " << run.err;
    }
  }
}

// A failed write to --out (here: past RLIMIT_FSIZE, EFBIG; the JSON export is over 400 bytes, the message
// under) is a runtime failure, exit 1; the old file stays.
TEST(Outputs, AFailedWriteToOutIsExit1AndKeepsTheOldFile) {
  TempDir dir;
  train_model(dir / "m.model");
  const fs::path out = dir / "m.json";
  write_file(out, "old\n");
  const Outcome run = run_command({"export", (dir / "m.model").string(), "--format", "json", "--out", out.string()},
                              Stdout::captured, 400);
  EXPECT_EQ(run.exit_code, 1) << describe(run);
  EXPECT_THAT(run.err, HasSubstr(out.string()));
  EXPECT_THAT(run.err, HasSubstr("File too large"));
  EXPECT_EQ(read_text(out), "old\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

}  // namespace
