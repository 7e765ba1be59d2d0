// The CPU kernels: matrix products and element-wise math on plain row-major arrays. They know nothing
// of layers. Each optimised kernel has a plain reference beside it (suffix _reference) that the tests
// hold it against.
//
// Conventions: row-major; a matrix with R rows and C columns has leading dimension ld >= C, so that
// element (r, c) is at [r * ld + c].
#pragma once

#include <cstddef>

#include "backprop/base/cpu_level.hpp"
#include "backprop/base/task.hpp"
#include "backprop/base/kinds.hpp"

namespace backprop::kernels {

enum class Transpose { no, yes };

// Threads of the matrix products: the project's one pool (the BLAS itself runs single-threaded inside it).
// Default: the machine's cores. Results do not depend on it (gemm cuts work by shape, not by threads).
// Throws OptionError("threads") outside 1..kMaxThreads (each thread is created up front).
inline constexpr int kMaxThreads = 1024;
void set_thread_count(int threads);
int thread_count();
// Whether gemm shares a product of this shape out among the pool's threads (a smaller one runs on the calling
// thread alone: waking another costs more than it saves). A function of the shape alone.
bool product_shared_out(int m, int n, int k);

// While one lives, the pool's jobs started by this thread (a product shared out, parallel_ranges) run every piece
// on this thread, and the pool's workers are not woken. For work of many small products and a few shared-out ones
// (a table's training and its validation passes): a woken worker waits for the next job, spinning and yielding,
// longer than such a job takes. The results are the same bits (they never depend on the thread count).
class OnCallingThread {
 public:
  OnCallingThread();
  ~OnCallingThread();
  OnCallingThread(const OnCallingThread&) = delete;
  OnCallingThread& operator=(const OnCallingThread&) = delete;

 private:
  bool before_;
};

// Runs body(first, count) over [0, n) cut into pieces of `grain` values (the last one shorter) on the
// thread pool; one call when n <= grain. For element-wise work: each element belongs to exactly one
// piece, and the pieces depend on n and grain alone, so the results never depend on the thread count.
void parallel_ranges(std::size_t n, std::size_t grain, TaskRef<std::size_t, std::size_t> body);

// The vector level (backprop/base/cpu_level.hpp, BACKPROP_CPU): of the float products, the tiles that skip A's
// zeros (src/kernels/cpu/zero_skip.hpp) in AVX-512 or AVX2 + FMA, which give the same bits, or none (baseline: every
// product to the library); of the hot loops, the copy that runs (base/clones.hpp). A forced level below AVX-512
// also limits oneDNN's own kernels to it (unless ONEDNN_MAX_CPU_ISA says otherwise), as on a CPU of that kind.
using backprop::CpuLevel;
using backprop::cpu_level;
using backprop::cpu_can_run;
using backprop::cpu_level_name;

// Whether a float product A (m x k) . B (k x n), A and B as stored, has a shape whose blocks may skip A's zeros
// at a level that skips (avx2, avx512): C's width a multiple of 16, k at most 4096, enough multiply-adds. The
// shape alone: not the level, not A's values.
bool zero_skip_shape(int m, int n, int k);

// C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C.  beta == 0 overwrites C (NaNs in C are
// not propagated). float: oneDNN's sgemm where the build found it (else OpenBLAS), and at cpu_level() avx2 or
// avx512 tiles that skip the terms whose A value is zero where A has enough of them
// (src/kernels/cpu/zero_skip.hpp); double: OpenBLAS.
template <typename T>
void gemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* a, int lda,
          const T* b, int ldb, T beta, T* c, int ldc);

// A rectangle of C: rows [first_row, first_row + rows), columns [first_column, first_column + columns).
struct Block {
  int first_row = 0;
  int rows = 0;
  int first_column = 0;
  int columns = 0;
};
using BlockTask = TaskRef<const Block&>;

// The same product, with epilogue(block) run on each block of C right after the block is computed, by the
// same thread while the block is in its cache (a layer's bias and activation, say). The blocks cover C
// exactly once; they depend on the shape (and, for a float product that may skip A's zeros, on a first look at
// A's values), never on the thread count. The epilogue of a block may read and write that block of C and anything
// else no other block touches; it does not start products of its own.
template <typename T>
void gemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* a, int lda,
          const T* b, int ldb, T beta, T* c, int ldc, BlockTask epilogue);

// One product of gemm_together: gemm's arguments and an optional epilogue (null: none).
template <typename T>
struct GemmCall {
  Transpose transpose_a;
  Transpose transpose_b;
  int m, n, k;
  T alpha;
  const T* a;
  int lda;
  const T* b;
  int ldb;
  T beta;
  T* c;
  int ldc;
  const BlockTask* epilogue;
};

// Independent products (none reads what another writes) as one job on the pool: the blocks of all of them
// (each product cut as gemm cuts it, so the same bits) share out among the threads and end in one wait
// instead of one each, and two products too small to cut run side by side.
template <typename T>
void gemm_together(const GemmCall<T>* calls, std::size_t count);

// The same products by three plain loops, in double accumulation order i, j, p: the reference. With an
// epilogue, it is run once on the whole of C after the product.
template <typename T>
void gemm_reference(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* a,
                    int lda, const T* b, int ldb, T beta, T* c, int ldc);
template <typename T>
void gemm_reference(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* a,
                    int lda, const T* b, int ldb, T beta, T* c, int ldc, BlockTask epilogue);
template <typename T>
void gemm_together_reference(const GemmCall<T>* calls, std::size_t count);

// out[r, :] = bias[:] for every row r of a (rows x cols) matrix: the start of z = a.W + b.
template <typename T>
void broadcast_rows(T* out, const T* bias, int rows, int cols);

// column_sums[c] = sum over r of in[r, c]  (the bias gradient), summed in row order; in has leading
// dimension ld (cols when not given).
template <typename T>
void column_sums(T* column_sums, const T* in, int rows, int cols);
template <typename T>
void column_sums(T* column_sums, const T* in, int rows, int cols, int ld);

// Element-wise activations over n values (not softmax): forward a = f(z); backward dz = da * f'(.), given
// the forward's input z and output a (the derivative reads whichever is cheaper). dz may alias da. One loop
// per activation, each over its formula in src/kernels/math.hpp.
template <typename T> void activation_forward(T* a, const T* z, std::size_t n, Activation f, T slope);
template <typename T>
void activation_backward(T* dz, const T* da, const T* z, const T* a, std::size_t n, Activation f, T slope);
// Row-wise softmax of a (rows x cols) matrix, stable (the row maximum is subtracted first).
template <typename T> void softmax_forward(T* a, const T* z, int rows, int cols);
// dz[r, i] = a[r, i] * (da[r, i] - sum_j da[r, j] * a[r, j])  (the softmax Jacobian times da).
template <typename T> void softmax_backward(T* dz, const T* da, const T* a, int rows, int cols);

// True when no value is NaN or infinite (one vectorised pass over the bits).
template <typename T>
bool all_finite(const T* values, std::size_t n);

// parameters[i] -= learning_rate * gradients[i]: the plain SGD update over a whole arena (math::sgd, no decay).
template <typename T>
void sgd_update(T* parameters, const T* gradients, std::size_t n, T learning_rate);

}  // namespace backprop::kernels
