// One level's code of the zero skips (zero_skip.cpp): included once per vector level, inside that level's
// namespace and compiler target, after the level's primitives: Vec, kLanes (floats in a Vec), kTileVectors,
// vzero, vload, vstore, vbroadcast, vfmadd, vmul, vadd, nonzero_bits(row, count) (bit i: row[i] is not zero,
// NaN included, for i < min(count, 64)) and any_of_fours(bits) (bit g: one of bits 4g..4g+3 set). Everything
// else (the masks, their order, which k a tile visits, each sum's chain and the epilogue's roundings) is this
// file's alone, so the levels give the same bits. No #pragma once: each inclusion is a level's copy.

// How many of A's `length` values at row are not zero (the first look).
std::size_t count_nonzero(const float* row, int length) {
  std::size_t count = 0;
  for (int first = 0; first < length; first += 64)
    count += static_cast<std::size_t>(__builtin_popcountll(nonzero_bits(row + first, length - first)));
  return count;
}

// A . B, C's rows [first, first + rows): each row's nonzero bits, the rows put in order of (first nonzero word,
// bits set), so that rows with like zeros share a group (a group then needs fewer of the k: docs/performance.md,
// "Measurements behind the code"), and group g's mask the union of its rows' bits. The order changes no bit of the result
// (a skipped term adds exactly zero), only how many terms are skipped.
void row_group_masks(const GemmCall<float>& c, int first, int rows, Masks& out) {
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
  sort_keys(keys, rows);
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
void column_group_masks(const GemmCall<float>& c, int first, int rows, Masks& out) {
  for (int w = 0; w < out.words; ++w) {
    std::uint64_t square[64];
    for (int t = 0; t < 64; ++t) {
      const int k = 64 * w + t;
      square[t] = k < c.k ? any_of_fours(nonzero_bits(c.a + static_cast<std::size_t>(k) * c.lda + first, rows)) : 0;
    }
    transpose_bits(square);
    for (int g = 0; g * kColumnsPerGroup < rows; ++g) {
      out.masks[g][w] = square[g];
      out.set += static_cast<std::size_t>(__builtin_popcountll(square[g]));
    }
  }
  for (int i = 0; i < rows; ++i) out.order[i] = first + i;
}

// One tile: MR rows of C (out[r]) by NC vectors of B, A's values for row r at a[r] + k * a_k_step, summing over
// the k whose mask bit is set, in increasing k, each element by one fused multiply-add per k. C = alpha sum +
// beta C, rounded after each operation (beta == 0: C is not read).
template <int MR, int NC>
void tile(const float* const (&a)[MR], std::size_t a_k_step, const std::uint64_t* mask, int words, const float* b,
          int ldb, float* const (&out)[MR], float alpha, float beta) {
  Vec sum[MR][NC];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NC; ++j) sum[r][j] = vzero();
  for (int w = 0; w < words; ++w)
    for (std::uint64_t bits = mask[w]; bits != 0; bits &= bits - 1) {
      const std::size_t k = static_cast<std::size_t>(64 * w + __builtin_ctzll(bits));
      Vec b_k[NC];
      for (int j = 0; j < NC; ++j) b_k[j] = vload(b + k * ldb + kLanes * j);
      for (int r = 0; r < MR; ++r) {
        const Vec a_rk = vbroadcast(a[r][k * a_k_step]);
        for (int j = 0; j < NC; ++j) sum[r][j] = vfmadd(a_rk, b_k[j], sum[r][j]);
      }
    }
  const Vec alpha_v = vbroadcast(alpha);
  const Vec beta_v = vbroadcast(beta);
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NC; ++j) {
      Vec v = vmul(alpha_v, sum[r][j]);
      if (beta != 0.0f) v = vadd(v, vmul(beta_v, vload(out[r] + kLanes * j)));
      vstore(out[r] + kLanes * j, v);
    }
}

// The block's rows (in the masks' order) by columns [column, column + kLanes NC), a group of MR rows at a time; a
// last group with fewer rows goes a row at a time with the group's mask.
template <int MR, int NC>
void strip(const GemmCall<float>& c, const Masks& m, int rows, int column) {
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

// The block in strips of kLanes NC columns, then (NC 3) 2 vectors at a time, then 1, for what is left (C's width
// is a multiple of 16, so of kLanes).
template <int MR, int NC>
void strips(const GemmCall<float>& c, const Masks& m, const Block& block) {
  const int end_column = block.first_column + block.columns;
  int column = block.first_column;
  for (; column + kLanes * NC <= end_column; column += kLanes * NC) strip<MR, NC>(c, m, block.rows, column);
  if constexpr (NC == 3)
    for (; column + kLanes * 2 <= end_column; column += kLanes * 2) strip<MR, 2>(c, m, block.rows, column);
  for (; column < end_column; column += kLanes) strip<MR, 1>(c, m, block.rows, column);
}

// zero_skip_block at this level.
bool skip_block(const GemmCall<float>& c, const Block& block) {
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
