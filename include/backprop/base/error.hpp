// Errors of the library. The library never exits or prints: it throws backprop::Error, whose kind says
// whose fault it was, so that the command can map it to an exit code (bad_input -> 2, runtime -> 1)
// and any other caller can act on it. Messages name the file, line/record and what was expected.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace backprop {

enum class ErrorKind {
  bad_input,  // the caller's file, option or data is wrong (exit code 2)
  runtime,    // a check failed or training diverged (exit code 1)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// A bad value of a named option: a training option, a trace's input, the device. The message is
// "key: expectation" with the key as the network file and Python name it (clip_grad_norm); the command adds
// its flag ("--clip-grad-norm (clip_grad_norm): expected a positive number, got 0").
class OptionError : public Error {
 public:
  OptionError(std::string key, std::string expectation)
      : Error(ErrorKind::bad_input, key + ": " + expectation), key_(std::move(key)), expectation_(std::move(expectation)) {}
  const std::string& key() const { return key_; }
  const std::string& expectation() const { return expectation_; }

 private:
  std::string key_, expectation_;
};

[[noreturn]] void throw_bad_input(const std::string& message);
[[noreturn]] void throw_runtime_error(const std::string& message);

}  // namespace backprop
