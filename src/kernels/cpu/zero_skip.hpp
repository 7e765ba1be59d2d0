// Float products that skip A's zeros: C = alpha op(A) B + beta C where A holds the layer's input (an image's
// background pixels, a ReLU's zeros) and is mostly zeros. A product term whose A value is zero adds exactly
// zero, so leaving it out changes no bit of the sum; what a skip needs is a cheap way to know, for a tile of C,
// which k to visit.
//
// Tiles are groups of C's rows (8 rows of A . B: rows of A, grouped by the likeness of their zeros; 4 of
// A^T . B: columns of A) across 16-column vectors of B. Bit k of a group's mask is set when any row of the group
// has a nonzero A value at k; the tile visits those k in order, so each C[i, j] is one fused multiply-add chain
// over k = 0..K-1 with the zero terms left out: the same bits for any thread count, any grouping and any cut of
// C, and on any CPU that takes the path.
//
// The path needs AVX-512 (checked when the program runs); a product with a denser A, or any other product,
// goes to gemm's usual library. Measured in docs/performance.md ("Skipping the input's zeros").
#pragma once

#include "backprop/kernels/kernels.hpp"

namespace backprop::kernels {

// Whether a product may skip zeros: float, op(B) = B, C's width a multiple of 16, k at most 4096, large
// enough, on a CPU with AVX-512. Its blocks are then kZeroSkipBlockRows rows of C by all its columns, and each
// block decides for itself.
bool zero_skips_possible(const GemmCall<float>& call);
inline constexpr int kZeroSkipBlockRows = 64;

// Computes `block` of C, skipping A's zeros, and returns true; or returns false, having written nothing, when
// the block's A is too dense for skipping to pay (its share of mask bits set above 90% for A . B, 80% for
// A^T . B). The masks are built by the calling thread from the rows (columns) of A the block reads, and kept
// on its stack. Depends on the block's A and the shapes alone.
bool zero_skip_block(const GemmCall<float>& call, const Block& block);

}  // namespace backprop::kernels
