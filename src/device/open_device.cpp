// Choosing a device by name (backprop/device.hpp): the one rule the command, Model and the Python module share.
#include <cstdlib>

#include "backprop/base/error.hpp"
#include "backprop/device.hpp"
#include "kernels/device.hpp"

namespace backprop {

using kernels::cuda_device_count;
using kernels::make_cuda_backend;
using kernels::make_emulated_backend;

Device open_device(const std::string& name, bool cpu_preferred) {
  std::string chosen = name;
  if (chosen.empty()) {
    const char* environment = std::getenv("BACKPROP_DEVICE");
    chosen = environment != nullptr ? environment : "";
    if (!chosen.empty() && chosen != "cpu" && chosen != "cuda" && chosen != "emulated")
      throw_bad_input("BACKPROP_DEVICE: expected cpu or cuda, got '" + chosen + "'");
  }
  if (chosen == "cpu") return nullptr;
  if (chosen == "cuda") return make_cuda_backend();
  if (chosen == "emulated") return make_emulated_backend();
  if (!chosen.empty()) throw_bad_input("device: expected cpu or cuda, got '" + chosen + "'");
  if (cpu_preferred || cuda_device_count() == 0) return nullptr;
  return make_cuda_backend();
}

std::string describe(const Device& device) { return device ? device->description() : ""; }

}  // namespace backprop
