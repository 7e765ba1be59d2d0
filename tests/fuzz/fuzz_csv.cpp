// libFuzzer target: backprop::fuzz::csv (targets.hpp). Built by -DBACKPROP_FUZZ=ON; run by tests/fuzz/run.sh.
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  backprop::fuzz::csv(data, size);
  return 0;
}
