// Choosing a device by name (kernels/device.hpp): the one rule the command and the Python module share.
#include <cstdlib>

#include "backprop/error.hpp"
#include "backprop/kernels/device.hpp"

namespace backprop::kernels {

std::unique_ptr<DeviceBackend> open_device(const std::string& name, bool cpu_preferred) {
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

}  // namespace backprop::kernels
