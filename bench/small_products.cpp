// The small float products of a table's network (batch 32 through 64 and 32 units) and of the cv bench's (batch
// 200 through 64), one thread: backprop's kernels::gemm (at these sizes its own loops, gemm.cpp's gemm_small)
// against oneDNN's dnnl_sgemm called directly, warm (the best of 200 rounds of 20 products, microseconds per
// product), and the time of oneDNN's first calls in the process (which generate its kernels). It prints; it
// never passes or fails. CMake builds it where oneDNN is found: `build/bench_small_products`.
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <vector>

#include "backprop/kernels/kernels.hpp"

extern "C" void omp_set_num_threads(int);

namespace {

using backprop::kernels::Transpose;

struct Shape {
  const char* what;
  bool ta, tb;
  int m, n, k;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <typename Product>
double best_of(Product product) {
  double best = 1e9;
  for (int round = 0; round < 200; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) product();
    best = std::min(best, seconds_since(start) / 20);
  }
  return best;
}

}  // namespace

int main() {
  backprop::kernels::set_thread_count(1);
  omp_set_num_threads(1);
  const Shape shapes[] = {
      {"table, layer 1 forward", false, false, 32, 64, 12},  {"table, layer 1 dW", true, false, 12, 64, 32},
      {"table, layer 2 forward", false, false, 32, 32, 64},  {"table, layer 2 dW", true, false, 64, 32, 32},
      {"table, layer 2 dX", false, true, 32, 64, 32},        {"table, output forward", false, false, 32, 3, 32},
      {"table, output dW", true, false, 32, 3, 32},          {"table, output dX", false, true, 32, 32, 3},
      {"cv bench, layer 1 forward", false, false, 200, 64, 30}, {"cv bench, layer 1 dW", true, false, 30, 64, 200},
      {"cv bench, output forward", false, false, 200, 1, 64}, {"cv bench, output dW", true, false, 64, 1, 200},
      {"cv bench, output dX", false, true, 200, 64, 1},       {"MNIST b128, output forward", false, false, 128, 10, 128},
      {"MNIST b128, output dW", true, false, 128, 10, 128},   {"MNIST b128, output dX", false, true, 128, 128, 10},
  };
  std::vector<float> a(200 * 200), b(200 * 200), c(200 * 200);
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<float>(i % 7) * 0.1f - 0.3f;
    b[i] = static_cast<float>(i % 5) * 0.2f - 0.4f;
  }
  // oneDNN's first calls: one per kind of product (NN, TN, NT), as a training makes them.
  const auto first = std::chrono::steady_clock::now();
  const std::clock_t first_cpu = std::clock();
  for (const char* kinds : {"NN", "TN", "NT"})
    dnnl_sgemm(kinds[0], kinds[1], 32, 32, 32, 1.0f, a.data(), 32, b.data(), 32, 0.0f, c.data(), 32);
  std::printf("oneDNN's first three calls (NN, TN, NT; its kernels generated): %.2f ms, %.2f ms of CPU time\n\n",
              seconds_since(first) * 1e3, 1e3 * static_cast<double>(std::clock() - first_cpu) / CLOCKS_PER_SEC);
  std::printf("| product | shape (m x n x k) | backprop's loops, us | oneDNN warm, us |\n| --- | --- | ---: | ---: |\n");
  for (const Shape& s : shapes) {
    const int lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
    const Transpose ta = s.ta ? Transpose::yes : Transpose::no, tb = s.tb ? Transpose::yes : Transpose::no;
    const double ours = best_of([&] {
      backprop::kernels::gemm<float>(ta, tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.n);
    });
    const double theirs = best_of([&] {
      dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
                 c.data(), s.n);
    });
    std::printf("| %s | %d x %d x %d%s%s | %.2f | %.2f |\n", s.what, s.m, s.n, s.k, s.ta ? " (A^T)" : "",
                s.tb ? " (B^T)" : "", ours * 1e6, theirs * 1e6);
  }
}
