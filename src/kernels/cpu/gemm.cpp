// Matrix products: the BLAS for speed, three loops for reference.
#include <cblas.h>

#include <algorithm>

#include "backprop/kernels/kernels.hpp"
#include "thread_pool.hpp"

namespace backprop::kernels {
namespace {

CBLAS_TRANSPOSE to_cblas(Transpose t) { return t == Transpose::yes ? CblasTrans : CblasNoTrans; }

// Products this small cost less than the BLAS call itself (argument checks, dispatch, its thread pool):
// plain loops that the compiler vectorises over the columns of C. Measured on the seed network
// (bench/, docs/performance.md).
constexpr long kSmallProduct = 16384;

bool is_small(int m, int n, int k) { return static_cast<long>(m) * n * k <= kSmallProduct; }

// C = alpha op(A) op(B) + beta C with each loop order chosen so that the innermost loop runs along
// contiguous rows (vectorised over the columns of C), or is a dot product of two contiguous rows. Each
// C[i, j] still sums its k products in order p = 0..k-1, so a shape always gives the same bits.
template <typename T>
void gemm_small(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha,
                const T* __restrict a, int lda, const T* __restrict b, int ldb, T beta, T* __restrict c, int ldc) {
  // __restrict: C never overlaps A or B (as for the BLAS), so C's row can stay in registers.
  for (int i = 0; i < m; ++i) {
    T* ci = c + static_cast<std::size_t>(i) * ldc;
    if (beta == T(0)) {
      for (int j = 0; j < n; ++j) ci[j] = T(0);
    } else if (beta != T(1)) {
      for (int j = 0; j < n; ++j) ci[j] *= beta;
    }
  }
  if (transpose_b == Transpose::no) {
    // C[i, :] += (alpha A(i, p)) B[p, :], p outermost for A^T so that A's rows are read in order too.
    if (transpose_a == Transpose::no) {
      for (int i = 0; i < m; ++i) {
        T* ci = c + static_cast<std::size_t>(i) * ldc;
        const T* ai = a + static_cast<std::size_t>(i) * lda;
        for (int p = 0; p < k; ++p) {
          const T aip = alpha * ai[p];
          const T* bp = b + static_cast<std::size_t>(p) * ldb;
          for (int j = 0; j < n; ++j) ci[j] += aip * bp[j];
        }
      }
    } else {
      for (int p = 0; p < k; ++p) {
        const T* ap = a + static_cast<std::size_t>(p) * lda;
        const T* bp = b + static_cast<std::size_t>(p) * ldb;
        for (int i = 0; i < m; ++i) {
          T* ci = c + static_cast<std::size_t>(i) * ldc;
          const T aip = alpha * ap[i];
          for (int j = 0; j < n; ++j) ci[j] += aip * bp[j];
        }
      }
    }
    return;
  }
  // B transposed: C[i, j] += alpha <A(i, :), B[j, :]>.
  for (int i = 0; i < m; ++i) {
    T* ci = c + static_cast<std::size_t>(i) * ldc;
    for (int j = 0; j < n; ++j) {
      const T* bj = b + static_cast<std::size_t>(j) * ldb;
      T sum = 0;
      if (transpose_a == Transpose::no) {
        const T* ai = a + static_cast<std::size_t>(i) * lda;
        for (int p = 0; p < k; ++p) sum += ai[p] * bj[p];
      } else {
        for (int p = 0; p < k; ++p) sum += a[static_cast<std::size_t>(p) * lda + i] * bj[p];
      }
      ci[j] += alpha * sum;
    }
  }
}

// Products large enough to share out: C is cut into blocks along its longer side, each block one
// single-threaded BLAS call, and the pool runs the blocks. The cut depends only on the shape, never on the
// thread count, so every element of C is computed by the same call whatever --threads says: results are
// bit-identical for 1, 2 or 16 threads.
constexpr double kParallelFlops = 1.0e6;  // below this, one call (about 100 us of work at 40 GFLOP/s)
constexpr int kBlockSide = 64;             // block size along the cut side, rounded to a multiple of 16
constexpr int kMostBlocks = 16;

template <typename T, typename Blas>
void gemm_blocked(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* a, int lda,
                  const T* b, int ldb, T beta, T* c, int ldc, Blas blas) {
  const bool cut_rows = m >= n;
  const int side = cut_rows ? m : n;
  const int blocks = 2.0 * m * n * k < kParallelFlops ? 1 : std::clamp(side / kBlockSide, 1, kMostBlocks);
  if (blocks == 1) return blas(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  const int step = ((side + blocks - 1) / blocks + 15) & ~15;
  const int used_blocks = (side + step - 1) / step;
  parallel_for(static_cast<std::size_t>(used_blocks), [&](std::size_t block) {
    const int first = static_cast<int>(block) * step;
    const int count = std::min(step, side - first);
    if (cut_rows) {
      // Rows [first, first + count) of C and of op(A).
      const T* a_block = transpose_a == Transpose::no ? a + static_cast<std::size_t>(first) * lda : a + first;
      blas(transpose_a, transpose_b, count, n, k, alpha, a_block, lda, b, ldb, beta,
           c + static_cast<std::size_t>(first) * ldc, ldc);
    } else {
      // Columns [first, first + count) of C and of op(B).
      const T* b_block = transpose_b == Transpose::no ? b + first : b + static_cast<std::size_t>(first) * ldb;
      blas(transpose_a, transpose_b, m, count, k, alpha, a, lda, b_block, ldb, beta, c + first, ldc);
    }
  });
}

void blas_sgemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, float alpha, const float* a,
                int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, to_cblas(transpose_a), to_cblas(transpose_b), m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
}

void blas_dgemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, double alpha, const double* a,
                int lda, const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, to_cblas(transpose_a), to_cblas(transpose_b), m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
}

// The BLAS never starts threads of its own: the pool is the one owner of threads.
const bool blas_single_threaded = [] {
  openblas_set_num_threads(1);
  return true;
}();

}  // namespace

void set_thread_count(int threads) {
  openblas_set_num_threads(1);
  set_pool_thread_count(threads);
}

int thread_count() { return pool_thread_count(); }

template <>
void gemm<float>(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, float alpha, const float* a,
                 int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  if (is_small(m, n, k)) return gemm_small(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  gemm_blocked(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, blas_sgemm);
}

template <>
void gemm<double>(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, double alpha, const double* a,
                  int lda, const double* b, int ldb, double beta, double* c, int ldc) {
  if (m == 0 || n == 0) return;
  if (is_small(m, n, k)) return gemm_small(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  gemm_blocked(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, blas_dgemm);
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
