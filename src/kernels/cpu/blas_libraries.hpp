// OpenBLAS and oneDNN, opened at run time on the first product that needs one (gemm.cpp: a float product large
// enough to share out, or a double one), not linked into the program: a run whose products all go to the
// library's own loops (a table's small network) never maps them nor runs their initializers (OpenBLAS's
// threads and CPU probe, oneDNN's OpenCL loader), which were most of such a run's start
// (docs/performance.md, "Process start"). The functions called are the libraries' own, so the bits are too.
#pragma once

#include <cblas.h>
#ifdef BACKPROP_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

namespace backprop::kernels {

struct OpenBlas {
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&cblas_dgemm) dgemm = nullptr;
};

// Opened once, from any thread; its own threads are stopped before it is first called (the pool is the one
// owner of threads). Throws Error(runtime) naming the library when it cannot be opened.
const OpenBlas& openblas();

#ifdef BACKPROP_WITH_ONEDNN
struct OneDnn {
  decltype(&dnnl_sgemm) sgemm = nullptr;
  // libgomp's, the OpenMP oneDNN runs on (from oneDNN's own dependencies).
  int (*omp_get_max_threads)() = nullptr;
  void (*omp_set_num_threads)(int) = nullptr;
};

// Opened once, from any thread; a forced CPU level below the CPU's holds its kernels to that level before its
// first call. Throws Error(runtime) naming the library when it cannot be opened.
const OneDnn& onednn();
#endif

}  // namespace backprop::kernels
