// The CUDA entry points of kernels/device.hpp in a build without BACKPROP_WITH_CUDA.
#include "backprop/base/error.hpp"
#include "kernels/device.hpp"

namespace backprop::kernels {

bool cuda_compiled() { return false; }

int cuda_device_count() { return 0; }

std::unique_ptr<DeviceBackend> make_cuda_backend(int /*index*/) {
  throw OptionError("device", "this build has no CUDA backend (configure with -DBACKPROP_WITH_CUDA=ON, which needs "
                              "nvcc and cuBLAS)");
}

}  // namespace backprop::kernels
