// sgemm on the Fashion-MNIST MLP's shapes, one thread, row-major: backprop's kernels::gemm (OpenBLAS's small-
// matrix kernels on blocks, docs/performance.md), one whole OpenBLAS call, one whole BLIS call. Prints the
// median of 7 rounds of 200 products per shape. Built three times, from the repository root, after building
// build/ (BLIS: `apt-get install libblis-dev`, which is not among the project's packages):
//
//   g++ -O2 -std=c++20 -DUSE_OURS bench/blas_compare.cpp -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-pthread \
//       build/libbackprop.a -lopenblas -lz -lprotobuf-lite -lmpi -ldl -lpthread -o ours && ./ours
//   g++ -O2 bench/blas_compare.cpp -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas -o openblas && ./openblas
//   g++ -O2 -DUSE_BLIS bench/blas_compare.cpp -lblis -lpthread -o blis && ./blis
//   g++ -O2 -DUSE_DNNL bench/blas_compare.cpp -ldnnl -lgomp -o dnnl && ./dnnl          (oneDNN: libdnnl-dev)
#include <chrono>
#include <cstdio>
#include <vector>
#include <algorithm>
#ifdef USE_OURS
#include "backprop/kernels/kernels.hpp"
#endif
#ifdef USE_BLIS
#include <blis.h>
#elif defined(USE_DNNL)
#include <oneapi/dnnl/dnnl.h>
extern "C" void omp_set_num_threads(int);
#else
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif
struct Shape { const char* name; int m, n, k; bool ta, tb; };
int main() {
#ifdef USE_BLIS
  bli_thread_set_num_threads(1);
#elif defined(USE_DNNL)
  omp_set_num_threads(1);
#else
  openblas_set_num_threads(1);
#endif
#ifdef USE_OURS
  backprop::kernels::set_thread_count(1);
#endif
  const Shape shapes[] = {
      {"fwd1 x.W1 128x256x784", 128, 256, 784, false, false},
      {"dW1 x^T.dz 784x256x128", 784, 256, 128, true, false},
      {"fwd2 128x128x256", 128, 128, 256, false, false},
      {"dW2 256x128x128", 256, 128, 128, true, false},
      {"dA2 dz.W2^T 128x256x128", 128, 256, 128, false, true},
  };
  for (const Shape& s : shapes) {
    const int ra = s.ta ? s.k : s.m, ca = s.ta ? s.m : s.k;
    const int rb = s.tb ? s.n : s.k, cb = s.tb ? s.k : s.n;
    std::vector<float> a(ra * ca, 0.01f), b(rb * cb, 0.02f), c(s.m * s.n);
    std::vector<double> rates;
    for (int rep = 0; rep < 7; ++rep) {
      const int iters = 200;
      auto t0 = std::chrono::steady_clock::now();
      for (int it = 0; it < iters; ++it) {
#ifdef USE_BLIS
        float one = 1, zero = 0;
        bli_sgemm(s.ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, s.tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, s.m, s.n, s.k,
                  &one, a.data(), ca, 1, b.data(), cb, 1, &zero, c.data(), s.n, 1);
#elif defined(USE_DNNL)
        dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.m, s.n, s.k, 1.0f, a.data(), ca, b.data(), cb, 0.0f, c.data(),
                   s.n);
#elif defined(USE_OURS)
        using backprop::kernels::Transpose;
        backprop::kernels::gemm(s.ta ? Transpose::yes : Transpose::no, s.tb ? Transpose::yes : Transpose::no, s.m, s.n, s.k,
                                1.0f, a.data(), ca, b.data(), cb, 0.0f, c.data(), s.n);
#else
        cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.m, s.n, s.k,
                    1.0f, a.data(), ca, b.data(), cb, 0.0f, c.data(), s.n);
#endif
      }
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rates.push_back(2.0 * s.m * s.n * s.k * iters / sec / 1e9);
    }
    std::sort(rates.begin(), rates.end());
    std::printf("%-26s %6.1f GFLOP/s (median of 7)\n", s.name, rates[3]);
  }
}
