// Shared by the tests: temporary folders, running the backprop command, reading files.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

namespace backprop::testing {

// A fresh folder under the system's temporary folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("backprop-") + (info ? std::string(info->test_suite_name()) + "-" + info->name() : "test");
    for (char& c : name)
      if (c == '/') c = '_';
    path_ = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct CommandResult {
  int exit_code = -1;
  std::string out;  // standard output and standard error together
};

// The built backprop command; $BACKPROP_TEST_COMMAND, when set, another build instead (to check that a test fails
// on an older one).
inline std::string backprop_command() {
  const char* other = std::getenv("BACKPROP_TEST_COMMAND");
  return other != nullptr && *other != '\0' ? other : BACKPROP_COMMAND;
}

// Runs a shell command line, standard error with standard output.
inline CommandResult run_shell(const std::string& command_line) {
  const std::string command = command_line + " 2>&1";
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Runs the backprop command with the given arguments (a shell-quoted string).
inline CommandResult run_backprop(const std::string& arguments) {
  return run_shell("\"" + backprop_command() + "\" " + arguments);
}

// The same, run in `folder` (for outputs that name their files as the command line gave them). The folder's
// path holds no single quote.
inline CommandResult run_backprop_in(const std::filesystem::path& folder, const std::string& arguments) {
  return run_shell("cd '" + folder.string() + "' && \"" + backprop_command() + "\" " + arguments);
}

// A path as one word of a shell command line (run_backprop goes through the shell).
// In a forked child: replaces the process with the backprop command and these arguments (exit 127 if it
// cannot start). For tests that set up the child's file descriptors or limits themselves.
[[noreturn]] inline void exec_backprop(const std::vector<std::string>& arguments) {
  std::string command = backprop_command();
  std::vector<std::string> copies = arguments;
  std::vector<char*> argv{command.data()};
  for (auto& a : copies) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(command.c_str(), argv.data());
  ::_exit(127);
}

inline std::string shell_word(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

// A uint8 NPY file's bytes (version 1.0, C order) of `shape` (a Python tuple, "(40, 2)") holding `values`.
inline std::string npy_u8(const std::string& shape, const std::vector<std::uint8_t>& values) {
  std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  return bytes + header + std::string(values.begin(), values.end());
}

// A little-endian u32 of a file's bytes.
inline std::uint32_t u32_at(const std::string& bytes, std::size_t offset) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= std::uint32_t(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  return value;
}

// The parts of a binary model file (include/backprop/io/model_file.hpp).
struct BinaryParts {
  std::string prefix;      // magic and version (12 bytes)
  std::string header;      // JSON
  std::string parameters;  // N x 4 bytes
};

inline BinaryParts split_binary_model(const std::string& bytes) {
  const std::uint32_t header_length = u32_at(bytes, 12);
  return {bytes.substr(0, 12), bytes.substr(16, header_length),
          bytes.substr(16 + header_length, bytes.size() - 16 - header_length - 8)};
}

inline std::string source_path(const std::string& relative) { return std::string(BACKPROP_SOURCE_DIR) + "/" + relative; }

}  // namespace backprop::testing
