// Float products that skip A's zeros (zero_skip.hpp): each block's masks, built by the thread that runs the
// block from the rows or columns of A it reads anyway, and the tiles that visit the masks' set bits. The code of
// a level is zero_skip_tiles.hpp, compiled here once for AVX-512 and once for AVX2 + FMA over their vectors.
#include "kernels/cpu/zero_skip.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BACKPROP_ZERO_SKIP 1
#endif

namespace backprop::kernels {

namespace {
constexpr int kMostWords = 64;  // k up to 4096: a block's masks live on its thread's stack
}  // namespace

// Smaller products are not worth the masks; they go to gemm_small's loops (gemm.cpp), whose bound this is.
bool zero_skip_shape(int m, int n, int k) {
  return n % 16 == 0 && m > 0 && k > 0 && k <= 64 * kMostWords && product_shared_out(m, n, k);
}

#ifdef BACKPROP_ZERO_SKIP
namespace {

// Tiles of 4 rows of C by 64 columns (AVX-512: 4 vectors of 16) or 24 (AVX2: 3 vectors of 8).
constexpr int kRowsPerGroup = 4;     // A . B: 4 rows of A share a mask
constexpr int kColumnsPerGroup = 4;  // A^T . B: 4 columns of A share a mask
constexpr int kGroupsPerBlock = kZeroSkipBlockRows / kColumnsPerGroup;  // A^T . B: 16, one 16-bit row each
static_assert(kZeroSkipBlockRows % kRowsPerGroup == 0 && kZeroSkipBlockRows <= 64 && kGroupsPerBlock <= 16);
// Above these shares of set mask bits a block goes to gemm's library, which is then faster than visiting the
// set bits (one thread, the Fashion-MNIST MLP's shapes; docs/performance.md, "Skipping the input's zeros").
constexpr double kMostSetRows = 0.90;
constexpr double kMostSetColumns = 0.80;
constexpr double kMostNonzeroLooked = 0.95;  // zero_skips_possible's first look

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

// Out of the levels' code: a library function instantiated in code compiled for AVX-512 could be the copy that
// AVX2's code calls.
void sort_keys(std::uint64_t* keys, int count) { std::sort(keys, keys + count); }

// One block's masks: group g's `words` words at masks[g]; C's rows in the masks' order (A . B) or in order.
struct Masks {
  std::uint64_t masks[kZeroSkipBlockRows / std::min(kRowsPerGroup, kColumnsPerGroup)][kMostWords];
  int order[kZeroSkipBlockRows];
  int words = 0;
  std::size_t set = 0;  // bits set over all groups
};

}  // namespace

// Each level's functions are compiled for it whatever the build's baseline, and called only at that level
// (cpu_level, which the CPU can run). POPCNT and BMI come with both: every CPU with AVX2 + FMA has them.
#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma,bmi,bmi2,popcnt"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma,bmi,bmi2,popcnt")
#endif
namespace avx512 {
namespace {

using Vec = __m512;
constexpr int kLanes = 16;
constexpr int kTileVectors = 4;  // 16 accumulators of the 32 registers
inline Vec vzero() { return _mm512_setzero_ps(); }
inline Vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline Vec vbroadcast(float x) { return _mm512_set1_ps(x); }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline Vec vmul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
inline Vec vadd(Vec a, Vec b) { return _mm512_add_ps(a, b); }

inline std::uint64_t nonzero_bits(const float* row, int count) {
  std::uint64_t word = 0;
  for (int q = 0; q < 4 && 16 * q < count; ++q) {
    const int lanes = std::min(16, count - 16 * q);
    const auto lane_mask = static_cast<__mmask16>(lanes == 16 ? 0xFFFFu : (1u << lanes) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(lane_mask, row + 16 * q);
    word |= static_cast<std::uint64_t>(_mm512_cmpneq_ps_mask(v, _mm512_setzero_ps())) << (16 * q);
  }
  return word;
}

inline std::uint64_t any_of_fours(std::uint64_t bits) {
  return _pext_u64(bits | bits >> 1 | bits >> 2 | bits >> 3, 0x1111111111111111ull);
}

#include "kernels/cpu/zero_skip_tiles.hpp"

}  // namespace
}  // namespace avx512
#ifdef __clang__
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi,popcnt"))), apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi,popcnt")
#endif
namespace avx2 {
namespace {

using Vec = __m256;
constexpr int kLanes = 8;
constexpr int kTileVectors = 3;  // 12 accumulators, 3 rows of B and a broadcast: the 16 registers
inline Vec vzero() { return _mm256_setzero_ps(); }
inline Vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec vbroadcast(float x) { return _mm256_set1_ps(x); }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec vmul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
inline Vec vadd(Vec a, Vec b) { return _mm256_add_ps(a, b); }

// Unordered not-equal, as AVX-512's cmpneq: a NaN is not zero. Lanes past count are loaded as zeros.
inline std::uint64_t nonzero_bits(const float* row, int count) {
  std::uint64_t word = 0;
  for (int q = 0; q < 8 && 8 * q < count; ++q) {
    __m256 v;
    if (count - 8 * q >= 8) {
      v = _mm256_loadu_ps(row + 8 * q);
    } else {
      const __m256i lanes = _mm256_set1_epi32(count - 8 * q);
      const __m256i live = _mm256_cmpgt_epi32(lanes, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      v = _mm256_maskload_ps(row + 8 * q, live);
    }
    const int bits = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
    word |= static_cast<std::uint64_t>(static_cast<unsigned>(bits)) << (8 * q);
  }
  return word;
}

// Without PEXT (slow on the AVX2 CPUs before Zen 3): bits 4g gathered into bit g by halving the gaps.
inline std::uint64_t any_of_fours(std::uint64_t bits) {
  std::uint64_t x = (bits | bits >> 1 | bits >> 2 | bits >> 3) & 0x1111111111111111ull;
  x = (x | x >> 3) & 0x0303030303030303ull;
  x = (x | x >> 6) & 0x000F000F000F000Full;
  x = (x | x >> 12) & 0x000000FF000000FFull;
  return (x | x >> 24) & 0xFFFFull;
}

#include "kernels/cpu/zero_skip_tiles.hpp"

}  // namespace
}  // namespace avx2
#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

bool zero_skips_possible(const GemmCall<float>& c, CpuLevel level) {
  if (level == CpuLevel::baseline || !cpu_can_run(level) || c.transpose_b != Transpose::no ||
      !zero_skip_shape(c.m, c.n, c.k))
    return false;
  const bool rows_of_a = c.transpose_a == Transpose::no;
  const int length = rows_of_a ? c.k : c.m;  // of one stored row of A
  const int probes[] = {0, c.m / 2, c.m - 1};
  std::size_t nonzero = 0, looked = 0;
  for (int p = 0; p < (rows_of_a ? 3 : std::min(c.k, 8)); ++p) {
    const float* row = c.a + static_cast<std::size_t>(rows_of_a ? probes[p] : p) * c.lda;
    nonzero += level == CpuLevel::avx512 ? avx512::count_nonzero(row, length) : avx2::count_nonzero(row, length);
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

bool zero_skip_block(const GemmCall<float>& c, const Block& block, CpuLevel level) {
  switch (level) {
    case CpuLevel::avx512:
      return avx512::skip_block(c, block);
    case CpuLevel::avx2:
      return avx2::skip_block(c, block);
    case CpuLevel::baseline:
      return false;
  }
  return false;
}

#else

bool zero_skips_possible(const GemmCall<float>&, CpuLevel) { return false; }
GemmCall<float> with_b_rows_apart(const GemmCall<float>& c, std::size_t) { return c; }
bool zero_skip_block(const GemmCall<float>&, const Block&, CpuLevel) { return false; }

#endif

}  // namespace backprop::kernels
