// Float products that skip A's zeros (zero_skip.hpp): each block's masks, built by the thread that runs the
// block from the rows or columns of A it reads anyway, and the tiles that visit the masks' set bits.
#include "kernels/cpu/zero_skip.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BACKPROP_ZERO_SKIP 1
// The path's functions are compiled for AVX-512 whatever the build's baseline, and called only where the CPU
// has it (cpu_has_avx512).
#define BACKPROP_AVX512 __attribute__((target("avx512f,bmi,bmi2,fma")))
#endif

namespace backprop::kernels {

#ifdef BACKPROP_ZERO_SKIP
namespace {

// Tiles of 4 rows of C by 4 vectors of B (64 columns): 16 accumulators.
constexpr int kRowsPerGroup = 4;     // A . B: 4 rows of A share a mask
constexpr int kColumnsPerGroup = 4;  // A^T . B: 4 columns of A share a mask
constexpr int kTileVectors = 4;
constexpr int kMostWords = 64;       // k up to 4096: a block's masks live on its thread's stack
constexpr int kGroupsPerBlock = kZeroSkipBlockRows / kColumnsPerGroup;  // A^T . B: 16, one 16-bit row each
static_assert(kZeroSkipBlockRows % kRowsPerGroup == 0 && kZeroSkipBlockRows <= 64 && kGroupsPerBlock <= 16);
// Above these shares of set mask bits a block goes to gemm's library, which is then faster than visiting the
// set bits (one thread, the Fashion-MNIST MLP's shapes; docs/performance.md, "Skipping the input's zeros").
constexpr double kMostSetRows = 0.90;
constexpr double kMostSetColumns = 0.80;
constexpr double kLeastFlops = 1.0e6;  // smaller products: not worth the masks
constexpr double kMostNonzeroLooked = 0.95;  // zero_skips_possible's first look

bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("bmi2");
  return has;
}

// Bit i of the result: A's value row[i] is not zero (NaN counts as not zero), for i < min(count, 64).
BACKPROP_AVX512 std::uint64_t nonzero_bits(const float* row, int count) {
  std::uint64_t word = 0;
  for (int q = 0; q < 4 && 16 * q < count; ++q) {
    const int lanes = std::min(16, count - 16 * q);
    const auto lane_mask = static_cast<__mmask16>(lanes == 16 ? 0xFFFFu : (1u << lanes) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(lane_mask, row + 16 * q);
    word |= static_cast<std::uint64_t>(_mm512_cmpneq_ps_mask(v, _mm512_setzero_ps())) << (16 * q);
  }
  return word;
}

// Transposes a 64 x 64 bit matrix in place: bit t of word s becomes bit s of word t.
void transpose_bits(std::uint64_t (&x)[64]) {
  std::uint64_t m = 0x00000000FFFFFFFFull;
  for (int j = 32; j != 0; j >>= 1, m ^= m << j)
    for (int k = 0; k < 64; k = (k + j + 1) & ~j) {
      const std::uint64_t t = ((x[k] >> j) ^ x[k + j]) & m;
      x[k] ^= t << j;
      x[k + j] ^= t;
    }
}

// One block's masks: group g's `words` words at masks[g]; C's rows in the masks' order (A . B) or in order.
struct Masks {
  std::uint64_t masks[kZeroSkipBlockRows / std::min(kRowsPerGroup, kColumnsPerGroup)][kMostWords];
  int order[kZeroSkipBlockRows];
  int words = 0;
  std::size_t set = 0;  // bits set over all groups
};

// A . B, C's rows [first, first + rows): each row's nonzero bits, the rows put in order of (first nonzero word,
// bits set), so that rows with like zeros share a group (on Fashion-MNIST a group of 4 rows of a block needs 65%
// of k instead of 79%), and group g's mask the union of its rows' bits. The order changes no bit of the result
// (a skipped term adds exactly zero), only how many terms are skipped.
BACKPROP_AVX512 void row_group_masks(const GemmCall<float>& c, int first, int rows, Masks& out) {
  std::uint64_t bits[kZeroSkipBlockRows][kMostWords];
  std::uint64_t keys[kZeroSkipBlockRows];
  const int words = out.words;
  for (int i = 0; i < rows; ++i) {
    int first_word = words, count = 0;
    for (int w = 0; w < words; ++w) {
      bits[i][w] = nonzero_bits(c.a + static_cast<std::size_t>(first + i) * c.lda + 64 * w, c.k - 64 * w);
      if (bits[i][w] != 0 && first_word == words) first_word = w;
      count += __builtin_popcountll(bits[i][w]);
    }
    keys[i] = static_cast<std::uint64_t>(first_word) << 40 | static_cast<std::uint64_t>(count) << 20 |
              static_cast<std::uint64_t>(i);
  }
  std::sort(keys, keys + rows);
  for (int i = 0; i < rows; ++i) out.order[i] = first + static_cast<int>(keys[i] & 0xFFFFF);
  for (int g = 0; g * kRowsPerGroup < rows; ++g)
    for (int w = 0; w < words; ++w) {
      std::uint64_t word = 0;
      for (int i = g * kRowsPerGroup; i < std::min(rows, (g + 1) * kRowsPerGroup); ++i)
        word |= bits[out.order[i] - first][w];
      out.masks[g][w] = word;
      out.set += static_cast<std::size_t>(__builtin_popcountll(word));
    }
}

// A^T . B, A stored k x m, C's rows [first, first + rows) (columns of A): group g's mask has bit k set when row k
// of A is nonzero in one of columns first + 4g .. first + 4g + 3. Each row of A gives its 16 groups' bits, which
// are transposed in 64 x 64 squares into the groups' masks.
BACKPROP_AVX512 void column_group_masks(const GemmCall<float>& c, int first, int rows, Masks& out) {
  for (int w = 0; w < out.words; ++w) {
    std::uint64_t square[64];
    for (int t = 0; t < 64; ++t) {
      const int k = 64 * w + t;
      if (k >= c.k) {
        square[t] = 0;
        continue;
      }
      const std::uint64_t nonzero = nonzero_bits(c.a + static_cast<std::size_t>(k) * c.lda + first, rows);
      square[t] = _pext_u64(nonzero | nonzero >> 1 | nonzero >> 2 | nonzero >> 3, 0x1111111111111111ull);
    }
    transpose_bits(square);
    for (int g = 0; g * kColumnsPerGroup < rows; ++g) {
      out.masks[g][w] = square[g];
      out.set += static_cast<std::size_t>(__builtin_popcountll(square[g]));
    }
  }
  for (int i = 0; i < rows; ++i) out.order[i] = first + i;
}

// One tile: MR rows of C (out[r]) by 16 NC columns, A's values for row r at a[r] + k * a_k_step, summing over
// the k whose mask bit is set, in increasing k. C = alpha sum + beta C (beta == 0: C is not read).
template <int MR, int NC>
BACKPROP_AVX512 void tile(const float* const (&a)[MR], std::size_t a_k_step, const std::uint64_t* mask, int words,
                          const float* b, int ldb, float* const (&out)[MR], float alpha, float beta) {
  __m512 sum[MR][NC];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NC; ++j) sum[r][j] = _mm512_setzero_ps();
  for (int w = 0; w < words; ++w)
    for (std::uint64_t bits = mask[w]; bits != 0; bits &= bits - 1) {
      const std::size_t k = static_cast<std::size_t>(64 * w + __builtin_ctzll(bits));
      __m512 b_k[NC];
      for (int j = 0; j < NC; ++j) b_k[j] = _mm512_loadu_ps(b + k * ldb + 16 * j);
      for (int r = 0; r < MR; ++r) {
        const __m512 a_rk = _mm512_set1_ps(a[r][k * a_k_step]);
        for (int j = 0; j < NC; ++j) sum[r][j] = _mm512_fmadd_ps(a_rk, b_k[j], sum[r][j]);
      }
    }
  const __m512 alpha_v = _mm512_set1_ps(alpha);
  const __m512 beta_v = _mm512_set1_ps(beta);
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NC; ++j) {
      __m512 v = _mm512_mul_ps(alpha_v, sum[r][j]);
      if (beta != 0.0f) v = _mm512_add_ps(v, _mm512_mul_ps(beta_v, _mm512_loadu_ps(out[r] + 16 * j)));
      _mm512_storeu_ps(out[r] + 16 * j, v);
    }
}

// The block's rows (in the masks' order) by columns [column, column + 16 NC), a group of MR rows at a time; a
// last group with fewer rows goes a row at a time with the group's mask.
template <int MR, int NC>
BACKPROP_AVX512 void strip(const GemmCall<float>& c, const Masks& m, int rows, int column) {
  const bool rows_of_a = c.transpose_a == Transpose::no;
  const std::size_t a_k_step = rows_of_a ? 1 : static_cast<std::size_t>(c.lda);
  for (int g = 0; g * MR < rows; ++g) {
    const int in_group = std::min(MR, rows - g * MR);
    const float* a[MR];
    float* out[MR];
    for (int r = 0; r < in_group; ++r) {
      const int row = m.order[g * MR + r];
      a[r] = rows_of_a ? c.a + static_cast<std::size_t>(row) * c.lda : c.a + row;
      out[r] = c.c + static_cast<std::size_t>(row) * c.ldc + column;
    }
    if (in_group == MR) {
      tile<MR, NC>(a, a_k_step, m.masks[g], m.words, c.b + column, c.ldb, out, c.alpha, c.beta);
      continue;
    }
    for (int r = 0; r < in_group; ++r)
      tile<1, NC>({a[r]}, a_k_step, m.masks[g], m.words, c.b + column, c.ldb, {out[r]}, c.alpha, c.beta);
  }
}

// The block in strips of 16 NC columns, then 16 at a time for what is left.
template <int MR, int NC>
BACKPROP_AVX512 void strips(const GemmCall<float>& c, const Masks& m, const Block& block) {
  const int end_column = block.first_column + block.columns;
  int column = block.first_column;
  for (; column + 16 * NC <= end_column; column += 16 * NC) strip<MR, NC>(c, m, block.rows, column);
  for (; column < end_column; column += 16) strip<MR, 1>(c, m, block.rows, column);
}

}  // namespace

bool zero_skips_possible(const GemmCall<float>& c) {
  if (!cpu_has_avx512() || c.transpose_b != Transpose::no || c.n % 16 != 0 || c.m <= 0 || c.k <= 0 ||
      c.k > 64 * kMostWords || 2.0 * c.m * c.n * c.k < kLeastFlops)
    return false;
  const bool rows_of_a = c.transpose_a == Transpose::no;
  const int length = rows_of_a ? c.k : c.m;  // of one stored row of A
  const int probes[] = {0, c.m / 2, c.m - 1};
  std::size_t nonzero = 0, looked = 0;
  for (int p = 0; p < (rows_of_a ? 3 : std::min(c.k, 8)); ++p) {
    const float* row = c.a + static_cast<std::size_t>(rows_of_a ? probes[p] : p) * c.lda;
    for (int first = 0; first < length; first += 64)
      nonzero += static_cast<std::size_t>(__builtin_popcountll(nonzero_bits(row + first, length - first)));
    looked += static_cast<std::size_t>(length);
  }
  return static_cast<double>(nonzero) < kMostNonzeroLooked * static_cast<double>(looked);
}

GemmCall<float> with_b_rows_apart(const GemmCall<float>& c, std::size_t slot) {
  if (c.transpose_a == Transpose::no || c.ldb % 256 != 0) return c;
  thread_local std::array<std::vector<float>, kZeroSkipSlots> buffers;
  std::vector<float>& buffer = buffers.at(slot);
  // Rows at least 128 bytes past a multiple of 1 KiB apart (whatever the width).
  int ld = (c.n + 15) / 16 * 16 + 32;
  if (ld % 256 == 0) ld += 32;
  if (buffer.size() < static_cast<std::size_t>(c.k) * ld) buffer.resize(static_cast<std::size_t>(c.k) * ld);
  for (int k = 0; k < c.k; ++k)
    std::copy_n(c.b + static_cast<std::size_t>(k) * c.ldb, c.n, buffer.data() + static_cast<std::size_t>(k) * ld);
  GemmCall<float> spread = c;
  spread.b = buffer.data();
  spread.ldb = ld;
  return spread;
}

bool zero_skip_block(const GemmCall<float>& c, const Block& block) {
  Masks m;
  m.words = (c.k + 63) / 64;
  const bool rows_of_a = c.transpose_a == Transpose::no;
  const int group = rows_of_a ? kRowsPerGroup : kColumnsPerGroup;
  if (rows_of_a) {
    row_group_masks(c, block.first_row, block.rows, m);
  } else {
    column_group_masks(c, block.first_row, block.rows, m);
  }
  const double most = rows_of_a ? kMostSetRows : kMostSetColumns;
  const int groups = (block.rows + group - 1) / group;
  if (static_cast<double>(m.set) > most * groups * c.k) return false;
  if (rows_of_a) {
    strips<kRowsPerGroup, kTileVectors>(c, m, block);
  } else {
    strips<kColumnsPerGroup, kTileVectors>(c, m, block);
  }
  return true;
}

#else

bool zero_skips_possible(const GemmCall<float>&) { return false; }
GemmCall<float> with_b_rows_apart(const GemmCall<float>& c, std::size_t) { return c; }
bool zero_skip_block(const GemmCall<float>&, const Block&) { return false; }

#endif

}  // namespace backprop::kernels
