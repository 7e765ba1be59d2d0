// Matrix products: the BLAS for speed, three loops for reference.
#include <cblas.h>

#include "backprop/kernels/kernels.hpp"

namespace backprop::kernels {
namespace {

CBLAS_TRANSPOSE to_cblas(Transpose t) { return t == Transpose::yes ? CblasTrans : CblasNoTrans; }

}  // namespace

void set_thread_count(int threads) { openblas_set_num_threads(threads); }

template <>
void gemm<float>(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, float alpha, const float* a,
                 int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, to_cblas(transpose_a), to_cblas(transpose_b), m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
}

template <>
void gemm<double>(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, double alpha, const double* a,
                  int lda, const double* b, int ldb, double beta, double* c, int ldc) {
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasRowMajor, to_cblas(transpose_a), to_cblas(transpose_b), m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
}

template <typename T>
void gemm_reference(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* a, int lda,
                    const T* b, int ldb, T beta, T* c, int ldc) {
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      T sum = 0;
      for (int p = 0; p < k; ++p) {
        const T a_ip = transpose_a == Transpose::yes ? a[p * lda + i] : a[i * lda + p];
        const T b_pj = transpose_b == Transpose::yes ? b[j * ldb + p] : b[p * ldb + j];
        sum += a_ip * b_pj;
      }
      c[i * ldc + j] = beta == T(0) ? alpha * sum : alpha * sum + beta * c[i * ldc + j];
    }
  }
}

template void gemm_reference<float>(Transpose, Transpose, int, int, int, float, const float*, int, const float*, int,
                                    float, float*, int);
template void gemm_reference<double>(Transpose, Transpose, int, int, int, double, const double*, int, const double*,
                                     int, double, double*, int);

}  // namespace backprop::kernels
