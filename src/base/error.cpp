#include "backprop/base/error.hpp"

namespace backprop {

void throw_bad_input(const std::string& message) { throw Error(ErrorKind::bad_input, message); }
void throw_runtime_error(const std::string& message) { throw Error(ErrorKind::runtime, message); }

}  // namespace backprop
