// openblas() and onednn() (blas_libraries.hpp): dlopen by the name the build linked against
// (BACKPROP_OPENBLAS_LIBRARY, BACKPROP_ONEDNN_LIBRARY: their sonames, set by CMakeLists.txt).
#include "blas_libraries.hpp"

#include <dlfcn.h>

#include <cstdlib>

#include "backprop/base/cpu_level.hpp"
#include "base/plugin.hpp"

namespace backprop::kernels {

// The pool is the one owner of threads. OpenBLAS's pthread build starts one thread per core as it loads (from
// OPENBLAS_NUM_THREADS, read then), and they spin waiting for work that never comes, taking CPU time and wall
// time from the pool (docs/performance.md, "Measurements behind the code"). So they are stopped at once, by
// the call OpenBLAS's own fork handler makes, which its serial and OpenMP builds lack (no such threads). A
// call on one thread never restarts them. A program that already had the same OpenBLAS open (numpy in the
// same process) keeps it as it was until the library's first product on it.
const OpenBlas& openblas() {
  static const OpenBlas library = [] {
    const char* what = "OpenBLAS (" BACKPROP_OPENBLAS_LIBRARY ", for a large product or a double one)";
    void* handle = open_library(BACKPROP_OPENBLAS_LIBRARY, what);
    OpenBlas opened;
    opened.sgemm = reinterpret_cast<decltype(&cblas_sgemm)>(plugin_function(handle, "cblas_sgemm", what));
    opened.dgemm = reinterpret_cast<decltype(&cblas_dgemm)>(plugin_function(handle, "cblas_dgemm", what));
    const auto set_threads = reinterpret_cast<void (*)(int)>(plugin_function(handle, "openblas_set_num_threads", what));
    set_threads(1);
    if (const auto shutdown = reinterpret_cast<int (*)()>(::dlsym(handle, "blas_thread_shutdown_"))) shutdown();
    return opened;
  }();
  return library;
}

#ifdef BACKPROP_WITH_ONEDNN
namespace {

// A forced level below the CPU's also holds oneDNN's kernels to it, so that the dense products run as on a CPU
// of that kind; a user's ONEDNN_MAX_CPU_ISA is left to oneDNN. Should oneDNN refuse (another user of the same
// oneDNN in the process came first), its kernels stay as they were.
void hold_to_level(void* handle, const char* what) {
  if (std::getenv("ONEDNN_MAX_CPU_ISA") != nullptr || std::getenv("DNNL_MAX_CPU_ISA") != nullptr) return;
  const auto set_isa = reinterpret_cast<decltype(&dnnl_set_max_cpu_isa)>(
      plugin_function(handle, "dnnl_set_max_cpu_isa", what));
  switch (cpu_level()) {
    case CpuLevel::baseline:
      if (cpu_can_run(CpuLevel::avx2)) (void)set_isa(dnnl_cpu_isa_sse41);
      return;
    case CpuLevel::avx2:
      if (cpu_can_run(CpuLevel::avx512)) (void)set_isa(dnnl_cpu_isa_avx2);
      return;
    case CpuLevel::avx512:
      return;
  }
}

}  // namespace

const OneDnn& onednn() {
  static const OneDnn library = [] {
    const char* what = "oneDNN (" BACKPROP_ONEDNN_LIBRARY ", for a large float product)";
    void* handle = open_library(BACKPROP_ONEDNN_LIBRARY, what);
    OneDnn opened;
    opened.sgemm = reinterpret_cast<decltype(&dnnl_sgemm)>(plugin_function(handle, "dnnl_sgemm", what));
    opened.omp_get_max_threads = reinterpret_cast<int (*)()>(plugin_function(handle, "omp_get_max_threads", what));
    opened.omp_set_num_threads = reinterpret_cast<void (*)(int)>(plugin_function(handle, "omp_set_num_threads", what));
    hold_to_level(handle, what);
    return opened;
  }();
  return library;
}
#endif

}  // namespace backprop::kernels
