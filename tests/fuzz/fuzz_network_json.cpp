// libFuzzer target: backprop::fuzz::network_json (targets.hpp). Built by -DBACKPROP_FUZZ=ON; run by tests/fuzz/run.sh.
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  backprop::fuzz::network_json(data, size);
  return 0;
}
