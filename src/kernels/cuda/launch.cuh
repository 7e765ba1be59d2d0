// What every CUDA file of the plugin (backend.cu and each layer kind's .cu) launches with: the block geometry,
// the checks of a CUDA or cuBLAS status, and each layer kind's LayerKernels<K> made on the backend's stream
// (make_cuda_kernels<K>, declared here for every kind of kinds.hpp's list and defined in the kind's own .cu:
// batch_norm.cu for batch_norm; a kind without it is a link error of the plugin).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>

#include "backprop/base/error.hpp"
#include "kernels/device.hpp"

namespace backprop::kernels {

inline constexpr int kThreads = 256;        // threads per block, every kernel
inline constexpr int kMostBlocks = 4096;    // grid-stride loops use at most this many blocks

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw_runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(status));
}

inline int blocks_for(std::size_t n) {
  return static_cast<int>(std::clamp<std::size_t>((n + kThreads - 1) / kThreads, 1, kMostBlocks));
}

template <LayerKind K>
std::unique_ptr<LayerKernelsBase> make_cuda_kernels(cudaStream_t stream);
#define BACKPROP_MAKE_CUDA_KERNELS(kind, model_format_version) \
  template <>                                                  \
  std::unique_ptr<LayerKernelsBase> make_cuda_kernels<LayerKind::kind>(cudaStream_t stream);
BACKPROP_LAYER_KINDS(BACKPROP_MAKE_CUDA_KERNELS)
#undef BACKPROP_MAKE_CUDA_KERNELS

}  // namespace backprop::kernels
