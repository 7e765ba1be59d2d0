// The CUDA entry points of kernels/device.hpp in a build with BACKPROP_WITH_CUDA: the backend itself is the
// plugin libbackprop_cuda.so (backend.cu), opened only when a GPU is asked for, so that a CPU run never maps
// cuBLAS. Whether there is a GPU is asked of the driver (libcuda.so.1) directly, which is small and absent
// on machines without one.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backprop/base/error.hpp"
#include "kernels/device.hpp"

namespace backprop::kernels {
namespace {

using CreateFunction = DeviceBackend* (*)(int, char*, std::size_t);

// Where the plugin may be: $BACKPROP_CUDA_PLUGIN, the build tree, the install tree, the loader's search path.
std::vector<std::string> plugin_candidates() {
  std::vector<std::string> paths;
  if (const char* path = std::getenv("BACKPROP_CUDA_PLUGIN")) paths.emplace_back(path);
#ifdef BACKPROP_CUDA_PLUGIN_BUILD
  paths.emplace_back(BACKPROP_CUDA_PLUGIN_BUILD);
#endif
#ifdef BACKPROP_CUDA_PLUGIN_INSTALL
  paths.emplace_back(BACKPROP_CUDA_PLUGIN_INSTALL);
#endif
  paths.emplace_back("libbackprop_cuda.so");
  return paths;
}

CreateFunction plugin_create() {
  static CreateFunction create = [] {
    std::string tried;
    for (const auto& path : plugin_candidates()) {
      void* plugin = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // never closed: backends live in it
      if (plugin == nullptr) {
        const char* why = ::dlerror();
        tried += "\n  " + path + ": " + (why ? why : "not found");
        continue;
      }
      using AbiFunction = int (*)();
      using KindsFunction = const char* (*)();
      const auto abi = reinterpret_cast<AbiFunction>(::dlsym(plugin, "backprop_cuda_plugin_abi"));
      const auto kinds = reinterpret_cast<KindsFunction>(::dlsym(plugin, "backprop_cuda_plugin_kinds"));
      const auto made = reinterpret_cast<CreateFunction>(::dlsym(plugin, "backprop_cuda_create"));
      if (abi != nullptr && kinds != nullptr && made != nullptr && abi() == kDevicePluginAbi &&
          std::strcmp(kinds(), kDevicePluginKinds) == 0)
        return made;
      tried += "\n  " + path + ": not this backprop's CUDA plugin";
    }
    throw_runtime_error("the CUDA device: cannot load the CUDA backend (libbackprop_cuda.so); tried:" + tried);
    return CreateFunction{};
  }();
  return create;
}

}  // namespace

bool cuda_compiled() { return true; }

int cuda_device_count() {
  static const int count = [] {
    void* driver = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (driver == nullptr) return 0;  // no NVIDIA driver: no GPU
    using InitFunction = int (*)(unsigned);
    using CountFunction = int (*)(int*);
    const auto init = reinterpret_cast<InitFunction>(::dlsym(driver, "cuInit"));
    const auto get_count = reinterpret_cast<CountFunction>(::dlsym(driver, "cuDeviceGetCount"));
    int devices = 0;
    if (init == nullptr || get_count == nullptr || init(0) != 0 || get_count(&devices) != 0) devices = 0;
    return devices;
  }();
  return count;
}

std::unique_ptr<DeviceBackend> make_cuda_backend(int index) {
  const int count = cuda_device_count();
  if (count == 0) throw OptionError("device", "no CUDA device found (no GPU, or no NVIDIA driver)");
  if (index < 0 || index >= count)
    throw OptionError("device", "no CUDA device " + std::to_string(index) + " (found " + std::to_string(count) + ")");
  char message[512] = "";
  DeviceBackend* backend = plugin_create()(index, message, sizeof message);
  if (backend == nullptr) throw_runtime_error(std::string("the CUDA device: ") + message);
  return std::unique_ptr<DeviceBackend>(backend);
}

}  // namespace backprop::kernels
