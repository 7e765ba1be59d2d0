// Float products that skip A's zeros: C = alpha op(A) B + beta C where A holds the layer's input (an image's
// background pixels, a ReLU's zeros) and is mostly zeros. A product term whose A value is zero adds exactly
// zero, so leaving it out changes no bit of the sum; what a skip needs is a cheap way to know, for a tile of C,
// which k to visit.
//
// Tiles are groups of 4 of C's rows (A . B: rows of A, grouped by the likeness of their zeros; A^T . B: columns
// of A) across 64 columns of B (AVX-512: 4 vectors of 16) or 16 (AVX2: 2 vectors of 8). Bit k of a group's mask
// is set when any row of the group has a nonzero A value at k; the tile visits those k in order, so each C[i, j]
// is one fused multiply-add chain over k = 0..K-1 with the zero terms left out: the same bits for any thread
// count, any grouping and any cut of C, and at either level (the masks and their order are the same code; only
// the vectors' width differs, and a lane's chain does not see it).
//
// The path runs at kernels::cpu_level() avx512 or avx2 (the CPU's widest, or BACKPROP_CPU's); a product with a
// denser A, or any other product, goes to gemm's usual library. Measured in docs/performance.md ("Skipping the
// input's zeros").
#pragma once

#include "backprop/kernels/kernels.hpp"

namespace backprop::kernels {

// Whether a product's blocks try to skip A's zeros: float, op(B) = B, C's width a multiple of 16, k at most
// 4096, large enough, `level` avx512 or avx2 (one the CPU runs), and a first look at A finding zeros: its first,
// middle and last rows (A . B) or its first 8 rows (A^T . B) are not 95% nonzero or more. The look keeps dense data (standardized
// inputs, say) off the path at the cost of a few rows, instead of every block building masks to give up. Its
// blocks are then kZeroSkipBlockRows rows of C by all its columns, and each decides for itself.
bool zero_skips_possible(const GemmCall<float>& call, CpuLevel level);
inline constexpr int kZeroSkipBlockRows = 64;

// Buffers for B per calling thread: one per product of a gemm_together job (its kMostProductsTogether).
inline constexpr std::size_t kZeroSkipSlots = 4;

// A^T . B with B's rows a multiple of 1 KiB apart (a hidden layer 256 wide, say): the same call with B copied
// into the calling thread's buffer `slot` with its rows set apart, since rows 1 KiB apart fall in a quarter of the
// L1 cache's sets and the tiles read 4 lines of each of them in turn (the backward pass is faster with the copy
// counted: docs/performance.md, "Measurements behind the code"). Other calls come back as they are. The values are the same: so are the bits. The
// buffer lives until the thread's next product of the same slot: gemm's epilogues must not start products.
GemmCall<float> with_b_rows_apart(const GemmCall<float>& call, std::size_t slot);

// Computes `block` of C, skipping A's zeros, and returns true; or returns false, having written nothing, when
// the block's A is too dense for skipping to pay (its share of mask bits set above 90% for A . B, 80% for
// A^T . B). The masks are built by the calling thread from the rows (columns) of A the block reads, and kept
// on its stack. Depends on the block's A and the shapes alone, not on `level` (avx512 or avx2, one the CPU runs,
// after zero_skips_possible said yes at that level; baseline: false).
bool zero_skip_block(const GemmCall<float>& call, const Block& block, CpuLevel level);

}  // namespace backprop::kernels
