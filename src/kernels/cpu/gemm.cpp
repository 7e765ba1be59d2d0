// Matrix products: oneDNN's sgemm or the BLAS for speed (both opened on first use: blas_libraries.hpp), three
// loops for reference.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "backprop/base/error.hpp"
#include "backprop/kernels/kernels.hpp"
#include "base/clones.hpp"
#include "blas_libraries.hpp"
#include "thread_pool.hpp"
#include "zero_skip.hpp"

namespace backprop::kernels {
namespace {

CBLAS_TRANSPOSE to_cblas(Transpose t) { return t == Transpose::yes ? CblasTrans : CblasNoTrans; }

// Products below this many flops (2 m n k) are not shared out among threads (waking a worker costs more than
// they do), and they run on gemm_small's loops, not on oneDNN (or the BLAS): warm, oneDNN is faster on such a
// product, but it generates its kernels at its first call and each call costs its dispatch, so a training
// whose products are all this small (a table's batch of 32 through 64 and 32 units, a batch of 200 through
// 64) finishes sooner without it, and a larger network's few products this small (a 10-unit output layer)
// cost no measurable time on the loops (docs/performance.md, "Small products on the library's loops"). It is
// also the least size whose blocks may skip A's zeros (zero_skip_shape). The route depends on the shape alone,
// never on the thread count.
constexpr double kParallelFlops = 1.0e6;

bool is_small(int m, int n, int k) { return 2.0 * m * n * k < kParallelFlops; }

// Float products below this many flops that are shared out still never reach oneDNN (or the BLAS): their blocks
// that do not skip A's zeros run on gemm_small's loops too. oneDNN's first sgemm generates its kernels, about 50 ms
// of CPU, while on such a product it saves at most a few tens of microseconds a call over the loops; a table's
// validation pass through a hidden layer without enough zeros to skip (256 rows through 64 and 32 units) made
// that first call, and it was half of the whole training's CPU time (docs/performance.md, "A table's first
// oneDNN call"). The main job's products (8.4 MFLOP and up) keep oneDNN. The route depends on the shape alone.
constexpr double kLibraryFlops = 4.0e6;

bool on_own_loops(int m, int n, int k) { return 2.0 * m * n * k < kLibraryFlops; }

// Rows of a one-column product summed side by side in gemm_small.
constexpr int kSideBySide = 8;

// gemm_small's loops. Every element of C is computed by one of two chains, whatever loop computes it:
//   B plain:      C[i, j] += (alpha op(A)(i, p)) B[p, j]       for p = 0..k-1 (C already scaled by beta);
//   B transposed: s = 0; s += op(A)(i, p) B[j, p] for p = 0..k-1; C[i, j] += alpha s.
// So a shape always gives the same bits. The helpers are inlined into gemm_small's copy for each CPU level
// (base/clones.hpp), which vectorises them for itself.

// A panel of C, kRows rows by kVectors x kLanes columns from (i, j), held in registers for the whole chain over p:
// each p reads a row of B's panel once for all the rows. GCC's vectors of kLanes values make the registers
// explicit (a loop over a local array was left in memory, waiting on its own stores); their adds and
// products are the scalar ones, lane by lane. b_rows: B's panel as rows p (B plain, or B transposed copied
// into a block).
template <typename T, int kLanes, int kRows, int kVectors, bool kSum>
[[gnu::always_inline]] inline void panel(Transpose transpose_a, int i, int j, int k, T alpha, const T* __restrict a,
                                         int lda, const T* __restrict b_rows, int ldb, T* __restrict c, int ldc) {
  using Lanes [[gnu::vector_size(kLanes * sizeof(T))]] = T;
  Lanes sum[kRows][kVectors];
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < kVectors; ++v) {
      sum[r][v] = Lanes{};
      if (!kSum) std::memcpy(&sum[r][v], c + static_cast<std::size_t>(i + r) * ldc + j + v * kLanes, sizeof(Lanes));
    }
  for (int p = 0; p < k; ++p) {
    Lanes bp[kVectors];
    for (int v = 0; v < kVectors; ++v)
      std::memcpy(&bp[v], b_rows + static_cast<std::size_t>(p) * ldb + v * kLanes, sizeof(Lanes));
    for (int r = 0; r < kRows; ++r) {
      const T air = transpose_a == Transpose::no ? a[static_cast<std::size_t>(i + r) * lda + p]
                                                 : a[static_cast<std::size_t>(p) * lda + i + r];
      const T factor = kSum ? air : alpha * air;
      for (int v = 0; v < kVectors; ++v) sum[r][v] += factor * bp[v];
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < kVectors; ++v) {
      T* out = c + static_cast<std::size_t>(i + r) * ldc + j + v * kLanes;
      Lanes result = sum[r][v];
      if (kSum) {
        Lanes before;
        std::memcpy(&before, out, sizeof(Lanes));
        result = before + alpha * sum[r][v];
      }
      std::memcpy(out, &result, sizeof(Lanes));
    }
}

// The shape of the panels held in registers, a level's own: kLanes values a vector, kRows rows by kVectors
// vectors. Each element's chain is the same whatever the shape, so the levels still give the same bits; the shape
// only decides what fits the level's registers: x86-64-v3 has 16 vector registers of 8 floats, so 4 rows by 2
// vectors (8 sums, B's 2 vectors, a broadcast and a product); x86-64-v4 has 32 of 16 floats, so 8 rows by 1 vector
// of 16, each row's value of A broadcast by its multiply's own operand (4 rows by 2 vectors, which broadcasts each
// value into a register first, was a quarter slower on a Zen 4); the baseline 16 of 4. A shape of more sums than
// registers keeps them in memory (the shapes tried at each level: docs/performance.md, "Small products shaped for
// each level's registers" and "A table's step on a Zen 4"). Doubles (the reference networks' products) keep one
// shape at every level.
struct PanelShape {
  int lanes;
  int rows;
  int vectors;
};
template <typename T, CpuLevel kLevel>
constexpr PanelShape kPanels = !std::is_same_v<T, float>     ? PanelShape{8, 4, 4}
                               : kLevel == CpuLevel::avx512   ? PanelShape{16, 8, 1}
                               : kLevel == CpuLevel::avx2     ? PanelShape{8, 4, 2}
                                                              : PanelShape{4, 4, 2};

// Columns [j, j + kLanes kVectors) of every row: panels of kRows rows, then of 4 (a dW's rows left over from 8), then
// one row at a time.
template <typename T, int kLanes, int kRows, int kVectors, bool kSum>
[[gnu::always_inline]] inline void panel_column(Transpose transpose_a, int m, int j, int k, T alpha, const T* a,
                                                int lda, const T* b_rows, int ldb, T* c, int ldc) {
  int i = 0;
  for (; i + kRows <= m; i += kRows)
    panel<T, kLanes, kRows, kVectors, kSum>(transpose_a, i, j, k, alpha, a, lda, b_rows, ldb, c, ldc);
  if constexpr (kRows > 4)
    for (; i + 4 <= m; i += 4) panel<T, kLanes, 4, kVectors, kSum>(transpose_a, i, j, k, alpha, a, lda, b_rows, ldb, c, ldc);
  for (; i < m; ++i) panel<T, kLanes, 1, kVectors, kSum>(transpose_a, i, j, k, alpha, a, lda, b_rows, ldb, c, ldc);
}

// Columns [0, n) in panels of the shape's full width, then of one vector, then (16 lanes) of 8; returns the first
// column left (fewer than 8 remain, or than 4 with 4 lanes).
template <typename T, PanelShape kShape, bool kSum>
[[gnu::always_inline]] inline int panels(Transpose transpose_a, int m, int n, int k, T alpha, const T* a, int lda,
                                         const T* b_rows, int ldb, T* c, int ldc) {
  constexpr int kLanes = kShape.lanes, kRows = kShape.rows;
  int j = 0;
  for (; j + kLanes * kShape.vectors <= n; j += kLanes * kShape.vectors)
    panel_column<T, kLanes, kRows, kShape.vectors, kSum>(transpose_a, m, j, k, alpha, a, lda, b_rows + j, ldb, c, ldc);
  for (; j + kLanes <= n; j += kLanes)
    panel_column<T, kLanes, kRows, 1, kSum>(transpose_a, m, j, k, alpha, a, lda, b_rows + j, ldb, c, ldc);
  if constexpr (kLanes > 8)
    for (; j + 8 <= n; j += 8)
      panel_column<T, 8, kRows, 1, kSum>(transpose_a, m, j, k, alpha, a, lda, b_rows + j, ldb, c, ldc);
  return j;
}

// One column of C (a network's single output, or a column left over): kSideBySide rows side by side, so that
// a row's chain does not wait on the previous row's.
template <typename T, int kRows>
[[gnu::always_inline]] inline void one_column(Transpose transpose_a, int i, int k, T alpha, const T* __restrict a,
                                              int lda, const T* __restrict b, int ldb, T* __restrict c, int ldc) {
  T sum[kRows];
  for (int r = 0; r < kRows; ++r) sum[r] = c[static_cast<std::size_t>(i + r) * ldc];
  for (int p = 0; p < k; ++p) {
    const T bp = b[static_cast<std::size_t>(p) * ldb];
    for (int r = 0; r < kRows; ++r) {
      const T air = transpose_a == Transpose::no ? a[static_cast<std::size_t>(i + r) * lda + p]
                                                 : a[static_cast<std::size_t>(p) * lda + i + r];
      sum[r] += (alpha * air) * bp;
    }
  }
  for (int r = 0; r < kRows; ++r) c[static_cast<std::size_t>(i + r) * ldc] = sum[r];
}

// out (8 x 8, rows ld_out apart) = the transpose of the 8 x 8 square at in (rows ld apart): eight loads, three
// rounds of shuffles, eight stores, where copying value by value took eight times the stores.
template <typename T>
[[gnu::always_inline]] inline void transpose_eight(T* __restrict out, int ld_out, const T* __restrict in, int ld) {
  using Lanes [[gnu::vector_size(8 * sizeof(T))]] = T;
  Lanes row[8], half[8];
  for (int r = 0; r < 8; ++r) std::memcpy(&row[r], in + static_cast<std::size_t>(r) * ld, sizeof(Lanes));
  // Pairs of rows interleaved, then pairs of pairs, then the 4-value halves joined.
  for (int r = 0; r < 8; r += 2) {
    half[r] = __builtin_shufflevector(row[r], row[r + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    half[r + 1] = __builtin_shufflevector(row[r], row[r + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int r = 0; r < 8; r += 4)
    for (int h = 0; h < 2; ++h) {
      row[r + h] = __builtin_shufflevector(half[r + h], half[r + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      row[r + h + 2] = __builtin_shufflevector(half[r + h], half[r + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  // row[0..3] now hold columns 0, 2, 1, 3 of rows 0-3 (low half) and 4, 6, 5, 7 (high half); row[4..7] the same
  // of rows 4-7.
  constexpr int kColumnOf[4] = {0, 2, 1, 3};
  for (int q = 0; q < 4; ++q) {
    const Lanes low = __builtin_shufflevector(row[q], row[q + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    const Lanes high = __builtin_shufflevector(row[q], row[q + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    std::memcpy(out + static_cast<std::size_t>(kColumnOf[q]) * ld_out, &low, sizeof(Lanes));
    std::memcpy(out + static_cast<std::size_t>(kColumnOf[q] + 4) * ld_out, &high, sizeof(Lanes));
  }
}

// The stack blocks of the transposed copies below (values of T).
constexpr int kBlockValues = 4096;

// B transposed: B's rows copied into the columns of a block, so that the sums of a row of C run side by side
// along j instead of each being a chain of dependent adds (the input gradient dz W^T, whose k is the layer's
// few outputs). Columns left over (fewer than 8), or a k too long for the block: one sum at a time.
template <typename T, PanelShape kShape>
[[gnu::always_inline]] inline void small_b_transposed(Transpose transpose_a, int m, int n, int k, T alpha,
                                                      const T* __restrict a, int lda, const T* __restrict b, int ldb,
                                                      T* __restrict c, int ldc) {
  const auto a_at = [&](int i, int p) {
    return transpose_a == Transpose::no ? a[static_cast<std::size_t>(i) * lda + p] : a[static_cast<std::size_t>(p) * lda + i];
  };
  // Blocks of a multiple of 8 columns, as many as fit.
  const int step = (k > 0 ? std::min(n, kBlockValues / k) : n) / 8 * 8;
  alignas(64) T block[kBlockValues];
  int first = 0;
  while (step > 0 && first + 8 <= n) {
    const int width = std::min(step, (n - first) / 8 * 8);
    const int whole = kShape.lanes >= 8 ? k / 8 * 8 : 0;  // p's copied by transpose_eight (a width is 8s)
    for (int j = 0; j < width; j += 8)
      for (int p = 0; p < whole; p += 8)
        transpose_eight(block + static_cast<std::size_t>(p) * width + j, width,
                        b + static_cast<std::size_t>(first + j) * ldb + p, ldb);
    for (int j = 0; j < width; ++j)
      for (int p = whole; p < k; ++p)
        block[static_cast<std::size_t>(p) * width + j] = b[static_cast<std::size_t>(first + j) * ldb + p];
    panels<T, kShape, true>(transpose_a, m, width, k, alpha, a, lda, block, width, c + first, ldc);
    first += width;
  }
  for (int i = 0; i < m; ++i)
    for (int j = first; j < n; ++j) {
      T sum = 0;
      for (int p = 0; p < k; ++p) sum += a_at(i, p) * b[static_cast<std::size_t>(j) * ldb + p];
      c[static_cast<std::size_t>(i) * ldc + j] += alpha * sum;
    }
}

// A^T B with fewer than 8 columns (a weight gradient into a layer of a few units): C's columns held as rows
// of a block, so that each p's update runs along A's row p (vectorised) instead of along a row of C a few
// values long.
template <typename T>
[[gnu::always_inline]] inline void small_few_columns(int m, int n, int k, T alpha, const T* __restrict a, int lda,
                                                     const T* __restrict b, int ldb, T* __restrict c, int ldc) {
  alignas(64) T columns[kBlockValues];
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) columns[static_cast<std::size_t>(j) * m + i] = c[static_cast<std::size_t>(i) * ldc + j];
  for (int p = 0; p < k; ++p) {
    const T* ap = a + static_cast<std::size_t>(p) * lda;
    for (int j = 0; j < n; ++j) {
      const T bpj = b[static_cast<std::size_t>(p) * ldb + j];
      T* column = columns + static_cast<std::size_t>(j) * m;
      for (int i = 0; i < m; ++i) column[i] += (alpha * ap[i]) * bpj;
    }
  }
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) c[static_cast<std::size_t>(i) * ldc + j] = columns[static_cast<std::size_t>(j) * m + i];
}

// The most columns few_columns_by_rows takes.
constexpr int kFewColumns = 12;

// Columns [0, kColumns) of kBlocks x kSideBySide rows of C (rows ldc apart, from c), each p's values of those rows of
// op(A) side by side at columns + p * stride (kBlocks vectors of kSideBySide): kBlocks x kColumns sums held in
// registers (a loop over a run-time count of columns kept them in memory, each add waiting on the store before it),
// independent chains in flight together. The sums, products and factors fit x86-64-v3's 16 registers.
template <typename T, int kColumns, int kBlocks>
[[gnu::always_inline]] inline void few_columns_rows(int k, T alpha, const T* __restrict columns, std::size_t stride,
                                                    const T* __restrict b, int ldb, T* __restrict c, int ldc) {
  using Lanes [[gnu::vector_size(kSideBySide * sizeof(T))]] = T;
  Lanes sum[kBlocks][kColumns];
  T lanes[kSideBySide];
  for (int q = 0; q < kBlocks; ++q)
    for (int j = 0; j < kColumns; ++j) {
      for (int r = 0; r < kSideBySide; ++r) lanes[r] = c[static_cast<std::size_t>(q * kSideBySide + r) * ldc + j];
      std::memcpy(&sum[q][j], lanes, sizeof(Lanes));
    }
  for (int p = 0; p < k; ++p) {
    Lanes factor[kBlocks];
    for (int q = 0; q < kBlocks; ++q) {
      std::memcpy(&factor[q], columns + p * stride + q * kSideBySide, sizeof(Lanes));
      factor[q] = alpha * factor[q];
    }
    for (int j = 0; j < kColumns; ++j) {
      const T bpj = b[static_cast<std::size_t>(p) * ldb + j];
      for (int q = 0; q < kBlocks; ++q) sum[q][j] += factor[q] * bpj;
    }
  }
  for (int q = 0; q < kBlocks; ++q)
    for (int j = 0; j < kColumns; ++j) {
      std::memcpy(lanes, &sum[q][j], sizeof(Lanes));
      for (int r = 0; r < kSideBySide; ++r) c[static_cast<std::size_t>(q * kSideBySide + r) * ldc + j] = lanes[r];
    }
}

// All n columns of those rows, in groups of 4, 2 and 1.
template <typename T, int kBlocks>
[[gnu::always_inline]] inline void few_columns_groups(int n, int k, T alpha, const T* columns, std::size_t stride,
                                                      const T* b, int ldb, T* c, int ldc) {
  int j = 0;
  for (; j + 4 <= n; j += 4) few_columns_rows<T, 4, kBlocks>(k, alpha, columns, stride, b + j, ldb, c + j, ldc);
  for (; j + 2 <= n; j += 2) few_columns_rows<T, 2, kBlocks>(k, alpha, columns, stride, b + j, ldb, c + j, ldc);
  if (j < n) few_columns_rows<T, 1, kBlocks>(k, alpha, columns, stride, b + j, ldb, c + j, ldc);
}

// op(A) B with at most kFewColumns columns (a layer of a few units, its weight gradient, or the columns the panels
// leave): 16 rows of op(A) at a time (8 where fewer remain) as vectors of its columns, so that each p's update runs
// along the rows (vectorised) for the columns, A read once a group of columns. A^T's rows are A's columns, side by
// side as stored; A's are copied into a block, 8 x 8 squares transposed (then 2 k kSideBySide fits the block).
// Returns the first row left (fewer than kSideBySide remain).
template <typename T>
[[gnu::always_inline]] inline int few_columns_by_rows(Transpose transpose_a, int m, int n, int k, T alpha,
                                                      const T* __restrict a, int lda, const T* __restrict b, int ldb,
                                                      T* __restrict c, int ldc) {
  alignas(64) T block[kBlockValues];
  int i = 0;
  while (i + kSideBySide <= m) {
    const int blocks = i + 2 * kSideBySide <= m ? 2 : 1;
    const int width = blocks * kSideBySide;
    // Value p of op(A)'s rows i .. i + width - 1 at columns + p * stride.
    const T* columns = a + i;
    std::size_t stride = static_cast<std::size_t>(lda);
    if (transpose_a == Transpose::no) {
      for (int q = 0; q < blocks; ++q) {
        const T* rows = a + static_cast<std::size_t>(i + q * kSideBySide) * lda;
        int p = 0;
        for (; p + kSideBySide <= k; p += kSideBySide)
          transpose_eight(block + static_cast<std::size_t>(p) * width + q * kSideBySide, width, rows + p, lda);
        for (int r = 0; r < kSideBySide; ++r)
          for (int v = p; v < k; ++v)
            block[static_cast<std::size_t>(v) * width + q * kSideBySide + r] = rows[static_cast<std::size_t>(r) * lda + v];
      }
      columns = block;
      stride = static_cast<std::size_t>(width);
    }
    T* c_rows = c + static_cast<std::size_t>(i) * ldc;
    if (blocks == 2)
      few_columns_groups<T, 2>(n, k, alpha, columns, stride, b, ldb, c_rows, ldc);
    else
      few_columns_groups<T, 1>(n, k, alpha, columns, stride, b, ldb, c_rows, ldc);
    i += width;
  }
  return i;
}

// B plain: panels (or, with at most kFewColumns columns, none), then the columns left over through
// few_columns_by_rows (A as stored: where its block holds 2 k kSideBySide values), then the rows it leaves a column at
// a time, eight rows side by side (so that a row's chain does not wait on the previous row's); the baseline's
// vectors of 4 take A^T's columns left over through small_few_columns where they fit its block.
template <typename T, PanelShape kShape>
[[gnu::always_inline]] inline void small_b_plain(Transpose transpose_a, int m, int n, int k, T alpha,
                                                 const T* __restrict a, int lda, const T* __restrict b, int ldb,
                                                 T* __restrict c, int ldc) {
  // A few columns (a classifier's 10 outputs, their weight gradient): all of them along the rows, A read once a
  // group of columns, rather than 8 in a panel and the rest a column at a time.
  const bool by_rows =
      kShape.lanes >= 8 && (transpose_a == Transpose::yes || 2 * k * kSideBySide <= kBlockValues);
  const int first =
      by_rows && n <= kFewColumns ? 0 : panels<T, kShape, false>(transpose_a, m, n, k, alpha, a, lda, b, ldb, c, ldc);
  const int rest = n - first;
  if (rest == 0) return;
  b += first;
  c += first;
  if (!by_rows && transpose_a == Transpose::yes && static_cast<long>(m) * rest <= kBlockValues)
    return small_few_columns(m, rest, k, alpha, a, lda, b, ldb, c, ldc);
  const int first_row = by_rows ? few_columns_by_rows(transpose_a, m, rest, k, alpha, a, lda, b, ldb, c, ldc) : 0;
  a += transpose_a == Transpose::no ? static_cast<std::size_t>(first_row) * lda : static_cast<std::size_t>(first_row);
  c += static_cast<std::size_t>(first_row) * ldc;
  m -= first_row;
  for (int j = 0; j < rest; ++j) {
    int i = 0;
    for (; i + kSideBySide <= m; i += kSideBySide)
      one_column<T, kSideBySide>(transpose_a, i, k, alpha, a, lda, b + j, ldb, c + j, ldc);
    for (; i < m; ++i) one_column<T, 1>(transpose_a, i, k, alpha, a, lda, b + j, ldb, c + j, ldc);
  }
}

// The products once C is scaled by beta: B as stored or transposed.
template <typename T, PanelShape kShape>
[[gnu::always_inline]] inline void small_products(Transpose transpose_a, Transpose transpose_b, int m, int n, int k,
                                                  T alpha, const T* __restrict a, int lda, const T* __restrict b,
                                                  int ldb, T* __restrict c, int ldc) {
  if (transpose_b == Transpose::no) return small_b_plain<T, kShape>(transpose_a, m, n, k, alpha, a, lda, b, ldb, c, ldc);
  small_b_transposed<T, kShape>(transpose_a, m, n, k, alpha, a, lda, b, ldb, c, ldc);
}

// C = alpha op(A) op(B) + beta C with each loop order chosen so that the innermost loop runs along
// contiguous values (vectorised), never along one element's sum. Each C[i, j] still sums its k products in
// order p = 0..k-1 with the same operations whichever loop computes it, so a shape always gives the same bits.
template <typename T, PanelShape kShape>
void gemm_small_loops(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* __restrict a,
                      int lda, const T* __restrict b, int ldb, T beta, T* __restrict c, int ldc) {
  // __restrict: C never overlaps A or B (as for the BLAS), so C's row can stay in registers.
  for (int i = 0; i < m; ++i) {
    T* ci = c + static_cast<std::size_t>(i) * ldc;
    if (beta == T(0)) {
      for (int j = 0; j < n; ++j) ci[j] = T(0);
    } else if (beta != T(1)) {
      for (int j = 0; j < n; ++j) ci[j] *= beta;
    }
  }
  // alpha = 1 (every product of the library's own passes) as a constant: alpha op(A)(i, p) is then op(A)(i, p)
  // itself, the same bits, and the loops lose a multiply for each value of A they read.
  if (alpha == T(1)) return small_products<T, kShape>(transpose_a, transpose_b, m, n, k, T(1), a, lda, b, ldb, c, ldc);
  small_products<T, kShape>(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, c, ldc);
}

template <typename T>
void gemm_small(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* a, int lda,
                const T* b, int ldb, T beta, T* c, int ldc) {
  // The shape of the copy that runs (a build of one copy: for its own target).
#if BACKPROP_CPU_COPIES
  static const CpuLevel level = clones::copy_level();
#elif defined(__AVX512F__)
  constexpr CpuLevel level = CpuLevel::avx512;
#elif defined(__AVX2__)
  constexpr CpuLevel level = CpuLevel::avx2;
#else
  constexpr CpuLevel level = CpuLevel::baseline;
#endif
  switch (level) {
    case CpuLevel::avx512:
      return clones::run<&gemm_small_loops<T, kPanels<T, CpuLevel::avx512>>>(transpose_a, transpose_b, m, n, k, alpha, a,
                                                                            lda, b, ldb, beta, c, ldc);
    case CpuLevel::avx2:
      return clones::run<&gemm_small_loops<T, kPanels<T, CpuLevel::avx2>>>(transpose_a, transpose_b, m, n, k, alpha, a,
                                                                          lda, b, ldb, beta, c, ldc);
    case CpuLevel::baseline:
      return clones::run<&gemm_small_loops<T, kPanels<T, CpuLevel::baseline>>>(transpose_a, transpose_b, m, n, k, alpha,
                                                                              a, lda, b, ldb, beta, c, ldc);
  }
}

// Products large enough to share out: C is cut into a grid of blocks, each block one single-threaded BLAS
// call, and the pool runs the blocks. The cut depends only on the shape, never on the thread count, so every
// element of C is computed by the same call whatever --threads says: results are bit-identical for 1, 2 or
// 16 threads.
constexpr int kBlockSide = 64;             // block size along the cut side, rounded to a multiple of 16
constexpr int kMostBlocks = 16;

// OpenBLAS (0.3.21, Skylake-X/Cooperlake kernels) computes a single-precision product of at most 10^6
// multiply-adds with its "small matrix" kernels, which read A and B in place instead of packing them; on the
// MLP's shapes a grid of such blocks is faster than one packed call (docs/performance.md, "Measurements behind
// the code"). Those kernels take C's rows (our columns) along their vector width, so NN
// blocks are 16 rows and as many columns as fit; TN blocks are 32 columns wide. Our NT and TT products are
// not taken by them (OpenBLAS's TN kernel, our NT, wants C under 1,200 values), so they keep the 1-D cut.
constexpr double kSmallKernelMultiplyAdds = 1.0e6;

#ifdef BACKPROP_WITH_ONEDNN
constexpr bool kOneDnn = true;
#else
constexpr bool kOneDnn = false;
#endif

struct Grid {
  int block_rows;
  int block_columns;
};

// The blocks of C for a product of this shape; a function of the shape alone.
template <typename T>
Grid choose_grid(Transpose transpose_a, Transpose transpose_b, int m, int n, int k) {
  if (2.0 * m * n * k < kParallelFlops) return {m, n};
  if constexpr (std::is_same_v<T, float> && !kOneDnn) {
    const auto fit = [&](double rows_times_columns) { return static_cast<int>(kSmallKernelMultiplyAdds / rows_times_columns); };
    if (transpose_a == Transpose::no && transpose_b == Transpose::no) {
      const int rows = std::min(m, 16);
      const int columns = std::min(fit(static_cast<double>(rows) * k) / 16 * 16, (n + 15) / 16 * 16);
      if (columns >= 16) return {rows, columns};
    } else if (transpose_a == Transpose::yes && transpose_b == Transpose::no) {
      const int columns = std::min(n, 32);
      const int rows = std::min(std::min(fit(static_cast<double>(columns) * k), 128) / 16 * 16, (m + 15) / 16 * 16);
      if (rows >= 16) return {rows, columns};
    } else if (transpose_a == Transpose::no && transpose_b == Transpose::yes && k >= 32 && 16.0 * 64 * k <= kSmallKernelMultiplyAdds) {
      return {std::min(m, 16), std::min(n, 64)};
    }
  }
  // oneDNN keeps its speed when C's rows are whole (N in full, contiguous): its products are cut along M
  // wherever that gives two blocks or more (the figures: docs/performance.md, "Measurements behind the code").
  const bool cut_rows = kOneDnn ? m >= 2 * kBlockSide || m >= n : m >= n;
  const int side = cut_rows ? m : n;
  const int blocks = std::clamp(side / kBlockSide, 1, kMostBlocks);
  const int step = ((side + blocks - 1) / blocks + 15) & ~15;
  return cut_rows ? Grid{step, n} : Grid{m, step};
}

void blas_sgemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, float alpha, const float* a,
                int lda, const float* b, int ldb, float beta, float* c, int ldc) {
#ifdef BACKPROP_WITH_ONEDNN
  // The pool is the one owner of threads: oneDNN runs each call on an OpenMP team of omp_get_max_threads(),
  // so the calling thread asks for a team of one, and gives the caller's setting back afterwards (a program
  // that uses the library keeps its own OpenMP threads). A team of one runs on the calling thread and
  // allocates nothing (tests/test_allocations.cpp).
  const OneDnn& onednn_library = onednn();
  const int caller_threads = onednn_library.omp_get_max_threads();
  if (caller_threads != 1) onednn_library.omp_set_num_threads(1);
  const dnnl_status_t status = onednn_library.sgemm(transpose_a == Transpose::yes ? 'T' : 'N',
                                                    transpose_b == Transpose::yes ? 'T' : 'N', m, n, k, alpha, a, lda,
                                                    b, ldb, beta, c, ldc);
  if (caller_threads != 1) onednn_library.omp_set_num_threads(caller_threads);
  if (status != dnnl_success) throw_runtime_error("oneDNN sgemm failed (status " + std::to_string(status) + ")");
#else
  openblas().sgemm(CblasRowMajor, to_cblas(transpose_a), to_cblas(transpose_b), m, n, k, alpha, a, lda, b, ldb, beta,
                   c, ldc);
#endif
}

void blas_dgemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, double alpha, const double* a,
                int lda, const double* b, int ldb, double beta, double* c, int ldc) {
  openblas().dgemm(CblasRowMajor, to_cblas(transpose_a), to_cblas(transpose_b), m, n, k, alpha, a, lda, b, ldb, beta,
                   c, ldc);
}

template <typename T>
void blas(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
          int ldb, T beta, T* c, int ldc) {
  if constexpr (std::is_same_v<T, float>) {
    blas_sgemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    blas_dgemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

// How one product is cut: a grid of blocks of C (one block for the plain loops of small products).
template <typename T>
struct Plan {
  GemmCall<T> call{};
  Grid grid{0, 0};
  int row_blocks = 0;
  std::size_t blocks = 0;
  bool plain_loops = false;
  bool skip_zeros = false;  // blocks that may skip A's zeros (zero_skip.hpp)
  bool own_loops = false;   // blocks that do not skip run on gemm_small, not the library (float, kLibraryFlops)

  Plan() = default;
  // slot: the product's place in its job (its own buffer, should B's rows be set apart for the zero skips).
  Plan(const GemmCall<T>& c, std::size_t slot) : call(c) {
    if (c.m == 0 || c.n == 0) return;
    plain_loops = is_small(c.m, c.n, c.k);
    if constexpr (std::is_same_v<T, float>) {
      skip_zeros = !plain_loops && zero_skips_possible(c, cpu_level());
      own_loops = on_own_loops(c.m, c.n, c.k);
      if (skip_zeros) call = with_b_rows_apart(c, slot);
    }
    grid = plain_loops ? Grid{c.m, c.n} : choose_grid<T>(c.transpose_a, c.transpose_b, c.m, c.n, c.k);
    if (skip_zeros) grid = Grid{kZeroSkipBlockRows, c.n};
    row_blocks = (c.m + grid.block_rows - 1) / grid.block_rows;
    blocks = static_cast<std::size_t>(row_blocks) * ((c.n + grid.block_columns - 1) / grid.block_columns);
  }

  void run_block(std::size_t index) const {
    const GemmCall<T>& c = call;
    if (plain_loops) {
      gemm_small(c.transpose_a, c.transpose_b, c.m, c.n, c.k, c.alpha, c.a, c.lda, c.b, c.ldb, c.beta, c.c, c.ldc);
      if (c.epilogue != nullptr) (*c.epilogue)(Block{0, c.m, 0, c.n});
      return;
    }
    // Blocks numbered column by column: the caller and a worker, which take blocks from the two ends of a
    // job, each keep to one side of the columns (of a forward's W, of a weight gradient).
    Block block;
    block.first_row = static_cast<int>(index % row_blocks) * grid.block_rows;
    block.first_column = static_cast<int>(index / row_blocks) * grid.block_columns;
    block.rows = std::min(grid.block_rows, c.m - block.first_row);
    block.columns = std::min(grid.block_columns, c.n - block.first_column);
    // Rows [first_row, +rows) of op(A) and columns [first_column, +columns) of op(B).
    if constexpr (std::is_same_v<T, float>) {
      if (skip_zeros && zero_skip_block(c, block, cpu_level())) {
        if (c.epilogue != nullptr) (*c.epilogue)(block);
        return;
      }
    }
    const T* a_block = c.transpose_a == Transpose::no ? c.a + static_cast<std::size_t>(block.first_row) * c.lda
                                                      : c.a + block.first_row;
    const T* b_block = c.transpose_b == Transpose::no ? c.b + block.first_column
                                                      : c.b + static_cast<std::size_t>(block.first_column) * c.ldb;
    T* c_block = c.c + static_cast<std::size_t>(block.first_row) * c.ldc + block.first_column;
    if (own_loops)
      gemm_small(c.transpose_a, c.transpose_b, block.rows, block.columns, c.k, c.alpha, a_block, c.lda, b_block, c.ldb,
                 c.beta, c_block, c.ldc);
    else
      blas(c.transpose_a, c.transpose_b, block.rows, block.columns, c.k, c.alpha, a_block, c.lda, b_block, c.ldb,
           c.beta, c_block, c.ldc);
    if (c.epilogue != nullptr) (*c.epilogue)(block);
  }
};

// The blocks of every product in one job on the pool, numbered product after product.
constexpr std::size_t kMostProductsTogether = 4;
static_assert(kMostProductsTogether <= kZeroSkipSlots);

template <typename T>
void run_together(const GemmCall<T>* calls, std::size_t count) {
  if (count > kMostProductsTogether) {
    for (std::size_t i = 0; i < count; ++i) run_together(calls + i, 1);
    return;
  }
  Plan<T> plans[kMostProductsTogether];  // no allocation: a training step allocates nothing
  std::size_t total = 0;
  double flops = 0;
  for (std::size_t i = 0; i < count; ++i) {
    plans[i] = Plan<T>(calls[i], i);
    total += plans[i].blocks;
    flops += 2.0 * calls[i].m * calls[i].n * calls[i].k;
  }
  const auto run_index = [&](std::size_t index) {
    std::size_t p = 0;
    while (index >= plans[p].blocks) index -= plans[p++].blocks;
    plans[p].run_block(index);
  };
  // Products too small to share out, even together, stay on the calling thread: waking a worker costs more
  // than they do (docs/performance.md, "Measurements behind the code"). The blocks are the same either way, so
  // the results are too.
  if (total == 1 || flops < kParallelFlops) {
    for (std::size_t i = 0; i < total; ++i) run_index(i);
    return;
  }
  parallel_for(total, run_index);
}

}  // namespace

void set_thread_count(int threads) {
  if (threads < 1 || threads > kMaxThreads)
    throw OptionError("threads", "expected a number from 1 to " + std::to_string(kMaxThreads) + ", got " +
                                     std::to_string(threads));
  set_pool_thread_count(threads);
}

int thread_count() { return pool_thread_count(); }

bool product_shared_out(int m, int n, int k) { return !is_small(m, n, k); }

template <typename T>
void gemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
          int ldb, T beta, T* c, int ldc) {
  const GemmCall<T> call{transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nullptr};
  run_together(&call, 1);
}

template <typename T>
void gemm(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
          int ldb, T beta, T* c, int ldc, BlockTask epilogue) {
  const GemmCall<T> call{transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &epilogue};
  run_together(&call, 1);
}

template <typename T>
void gemm_together(const GemmCall<T>* calls, std::size_t count) {
  run_together(calls, count);
}

template <typename T>
void gemm_together_reference(const GemmCall<T>* calls, std::size_t count) {
  for (const GemmCall<T>* c_pointer = calls; c_pointer != calls + count; ++c_pointer) {
    const GemmCall<T>& c = *c_pointer;
    gemm_reference(c.transpose_a, c.transpose_b, c.m, c.n, c.k, c.alpha, c.a, c.lda, c.b, c.ldb, c.beta, c.c, c.ldc);
    if (c.epilogue != nullptr) (*c.epilogue)(Block{0, c.m, 0, c.n});
  }
}

template <typename T>
void gemm_reference(Transpose transpose_a, Transpose transpose_b, int m, int n, int k, T alpha, const T* a, int lda,
                    const T* b, int ldb, T beta, T* c, int ldc, BlockTask epilogue) {
  gemm_reference(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  epilogue(Block{0, m, 0, n});
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

#define BACKPROP_INSTANTIATE(T)                                                                                  \
  template void gemm<T>(Transpose, Transpose, int, int, int, T, const T*, int, const T*, int, T, T*, int);           \
  template void gemm<T>(Transpose, Transpose, int, int, int, T, const T*, int, const T*, int, T, T*, int, BlockTask); \
  template void gemm_reference<T>(Transpose, Transpose, int, int, int, T, const T*, int, const T*, int, T, T*, int); \
  template void gemm_reference<T>(Transpose, Transpose, int, int, int, T, const T*, int, const T*, int, T, T*, int,  \
                                  BlockTask);                                                                        \
  template void gemm_together<T>(const GemmCall<T>*, std::size_t);                                                  \
  template void gemm_together_reference<T>(const GemmCall<T>*, std::size_t);
BACKPROP_INSTANTIATE(float)
BACKPROP_INSTANTIATE(double)
#undef BACKPROP_INSTANTIATE

}  // namespace backprop::kernels
