// The CPU kernels against their plain references and against the definitions of each function.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <thread>
#include <tuple>
#include <vector>

#ifdef BACKPROP_TEST_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/train/trainer.hpp"
#include "base/clones.hpp"
#include "helpers.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "kernels/cpu/zero_skip.hpp"
#include "synthetic_data.hpp"

namespace backprop::kernels {
namespace {

template <typename T>
std::vector<T> random_values(std::size_t n, std::uint64_t seed) {
  Random random(seed);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(random.uniform(-1.0, 1.0));
  return v;
}

template <typename T>
class Gemm : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(Gemm, Scalars);

// The BLAS product against three plain loops, every transpose combination, odd shapes, alpha and beta.
// Tolerance: 1e-5 (float) / 1e-13 (double) relative to the sum of |terms|, which bounds any summation order.
TYPED_TEST(Gemm, MatchesReferenceOnOddShapes) {
  using T = TypeParam;
  const double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-13;
  const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 1, 33}, {64, 65, 31}, {2, 129, 3}};
  for (const auto& shape : shapes) {
    const int m = shape[0], n = shape[1], k = shape[2];
    for (Transpose ta : {Transpose::no, Transpose::yes}) {
      for (Transpose tb : {Transpose::no, Transpose::yes}) {
        const int lda = (ta == Transpose::no ? k : m) + 2;  // padded leading dimensions
        const int ldb = (tb == Transpose::no ? n : k) + 1;
        const auto a = random_values<T>(static_cast<std::size_t>(ta == Transpose::no ? m : k) * lda, 1);
        const auto b = random_values<T>(static_cast<std::size_t>(tb == Transpose::no ? k : n) * ldb, 2);
        auto c = random_values<T>(static_cast<std::size_t>(m) * n, 3);
        auto c_reference = c;
        gemm<T>(ta, tb, m, n, k, T(0.5), a.data(), lda, b.data(), ldb, T(0.25), c.data(), n);
        gemm_reference<T>(ta, tb, m, n, k, T(0.5), a.data(), lda, b.data(), ldb, T(0.25), c_reference.data(), n);
        for (std::size_t i = 0; i < c.size(); ++i)
          EXPECT_NEAR(c[i], c_reference[i], tolerance * (k + 1)) << m << "x" << n << "x" << k;
      }
    }
  }
}

// A one-column product (a network's single output) sums its rows side by side in the small products' loops;
// each row must still be its own sum in order, the bits of that row computed alone (a 1-row product), for
// every row count around the eight rows taken together, alpha and beta included.
TEST(GemmOneColumn, EachRowHasTheBitsOfTheRowAlone) {
  for (const int m : {7, 8, 9, 17, 200}) {
    const int k = 64, lda = k + 3;
    const auto a = random_values<float>(static_cast<std::size_t>(m) * lda, 4);
    const auto b = random_values<float>(static_cast<std::size_t>(k) * 2, 5);  // ldb 2: a column of B
    const auto c_in = random_values<float>(static_cast<std::size_t>(m), 6);
    auto c = c_in;
    gemm<float>(Transpose::no, Transpose::no, m, 1, k, 0.5f, a.data(), lda, b.data(), 2, 0.25f, c.data(), 1);
    for (int i = 0; i < m; ++i) {
      float alone = c_in[static_cast<std::size_t>(i)];
      gemm<float>(Transpose::no, Transpose::no, 1, 1, k, 0.5f, a.data() + static_cast<std::size_t>(i) * lda, lda,
                  b.data(), 2, 0.25f, &alone, 1);
      EXPECT_EQ(c[static_cast<std::size_t>(i)], alone) << m << " rows, row " << i;
    }
  }
}

// gemm(ta, tb, m, n, k) against each element's chain, written out one element at a time (the chains: below);
// the padding between C's rows never written.
template <typename T>
void expect_each_elements_chain(int m, int n, int k, Transpose ta, Transpose tb, T beta, T alpha) {
  const int lda = (ta == Transpose::no ? k : m) + 3, ldb = (tb == Transpose::no ? n : k) + 1, ldc = n + 2;
  const auto a = random_values<T>(static_cast<std::size_t>(ta == Transpose::no ? m : k) * lda + 1, 7);
  const auto b = random_values<T>(static_cast<std::size_t>(tb == Transpose::no ? k : n) * ldb + 1, 8);
  const auto c_in = random_values<T>(static_cast<std::size_t>(m) * ldc, 9);
  auto c = c_in;
  gemm<T>(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  const auto a_at = [&](int i, int p) {
    return ta == Transpose::no ? a[static_cast<std::size_t>(i) * lda + p] : a[static_cast<std::size_t>(p) * lda + i];
  };
  const auto b_at = [&](int p, int j) {
    return tb == Transpose::no ? b[static_cast<std::size_t>(p) * ldb + j] : b[static_cast<std::size_t>(j) * ldb + p];
  };
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      const T before = c_in[static_cast<std::size_t>(i) * ldc + j];
      T expected = beta == T(0) ? T(0) : beta == T(1) ? before : before * beta;
      if (tb == Transpose::no) {
        for (int p = 0; p < k; ++p) expected += (alpha * a_at(i, p)) * b_at(p, j);
      } else {
        T sum = 0;
        for (int p = 0; p < k; ++p) sum += a_at(i, p) * b_at(p, j);
        expected += alpha * sum;
      }
      ASSERT_EQ(c[static_cast<std::size_t>(i) * ldc + j], expected)
          << m << "x" << n << "x" << k << (ta == Transpose::yes ? " A^T" : "") << (tb == Transpose::yes ? " B^T" : "")
          << " alpha " << alpha << " beta " << beta << " at (" << i << ", " << j << ")";
    }
  for (int i = 0; i < m; ++i)
    for (int j = n; j < ldc; ++j)
      ASSERT_EQ(c[static_cast<std::size_t>(i) * ldc + j], c_in[static_cast<std::size_t>(i) * ldc + j]);
}

// The small products' loops (panels of rows held in vector registers, B's rows copied into a block for A B^T, a
// few columns' sums held for 8 or 16 rows of op(A) at a time, eight rows side by side for one column, and the
// baseline's few columns of A^T B held apart) each compute every element of C as one fixed chain, so that a shape
// gives the same bits whatever loop takes it (and the same as before those loops, which summed one element at a
// time). The chains, as expect_each_elements_chain (above) writes them:
//   B plain:      c = beta c (0 for beta 0, c for beta 1); c += (alpha op(A)(i, p)) B[p, j] for p = 0..k-1;
//   B transposed: s = 0; s += op(A)(i, p) B[j, p] for p = 0..k-1; c = (beta c) + alpha s.
// Exact equality: both sides round the same operations in the same order (this file is compiled without
// FMA, so nothing is fused). The shapes are far below the size where products leave the loops, and cover the
// panels' edges at every level's shape (4, 8 or 16 lanes, 4 or 8 rows, 1 or 2 vectors): rows around 4, 8 and 16,
// columns around 4, 8, 12 (the most taken along the rows), 16, 32 and 64, k of 0, 1, around the 8 x 8 squares A or
// B are transposed by, and around and beyond the block (256 of 16 rows, 512 of 8, 4096).
TYPED_TEST(Gemm, SmallProductsAreEachElementsChainInOrder) {
  using T = TypeParam;
  const int shapes[][3] = {{1, 1, 1},   {4, 8, 3},   {5, 33, 7},   {9, 37, 2},   {13, 64, 5},  {8, 1, 40},
                           {11, 3, 17}, {3, 9, 0},   {6, 10, 31},  {2, 2, 5000}, {17, 16, 1},  {7, 40, 9},
                           {16, 12, 9}, {9, 13, 16}, {17, 48, 24}, {8, 1, 512},  {8, 2, 513},  {12, 20, 17},
                           {24, 96, 64}, {19, 5, 8}, {8, 7, 7},    {5, 4, 33},   {33, 6, 64},  {4, 23, 15}};
  for (const auto& shape : shapes)
    for (Transpose ta : {Transpose::no, Transpose::yes})
      for (Transpose tb : {Transpose::no, Transpose::yes})
        for (const T beta : {T(0), T(1), T(0.75)})
          for (const T alpha : {T(1), T(-0.625)})  // 1: the library's own products, which the loops take apart
            expect_each_elements_chain<T>(shape[0], shape[1], shape[2], ta, tb, beta, alpha);
}

// A float product large enough to share out among threads (2 m n k of 10^6 flops and more) but under 4 x 10^6
// keeps to the same loops where its blocks do not skip A's zeros (a dense A here): each element the same chain,
// in blocks on 1 and 2 threads, never the library's kernels (oneDNN's first call generates code for about 50 ms,
// more than such products gain from it; a table's validation pass through 256 rows of 64 and 32 units is one).
// The shapes: that pass, C's width not a multiple of 16 (no zero skips tried), and the edges of the two bounds.
TEST(GemmMidSize, DenseProductsUnderTheLibrarysBoundAreEachElementsChain) {
  const int shapes[][3] = {{256, 32, 64}, {130, 70, 150}, {200, 48, 105}, {64, 128, 244}, {1000, 5, 100}};
  const int threads_before = thread_count();
  for (const auto& shape : shapes) {
    const double flops = 2.0 * shape[0] * shape[1] * shape[2];
    ASSERT_TRUE(product_shared_out(shape[0], shape[1], shape[2])) << flops;
    ASSERT_LT(flops, 4.0e6);
    for (const int threads : {1, 2}) {
      set_thread_count(threads);
      for (Transpose ta : {Transpose::no, Transpose::yes})
        for (Transpose tb : {Transpose::no, Transpose::yes})
          for (const float beta : {0.0f, 0.75f})
            for (const float alpha : {1.0f, -0.625f})
              expect_each_elements_chain<float>(shape[0], shape[1], shape[2], ta, tb, beta, alpha);
    }
  }
  set_thread_count(threads_before);
}

TEST(GemmReference, ComputesTheDefinition) {
  // [1 2; 3 4] . [5 6; 7 8] = [19 22; 43 50]
  const double a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
  double c[4] = {1, 1, 1, 1};
  gemm_reference<double>(Transpose::no, Transpose::no, 2, 2, 2, 1.0, a, 2, b, 2, 1.0, c, 2);
  EXPECT_EQ(c[0], 20);
  EXPECT_EQ(c[1], 23);
  EXPECT_EQ(c[2], 44);
  EXPECT_EQ(c[3], 51);
  // A^T . B = [1 3; 2 4] . [5 6; 7 8] = [26 30; 38 44]
  gemm_reference<double>(Transpose::yes, Transpose::no, 2, 2, 2, 1.0, a, 2, b, 2, 0.0, c, 2);
  EXPECT_EQ(c[0], 26);
  EXPECT_EQ(c[3], 44);
}

// Each activation's backward against the central difference of its forward, element by element.
TEST(Activations, BackwardMatchesCentralDifferenceOfForward) {
  const auto z = random_values<double>(64, 5);
  const std::vector<double> ones(64, 1.0);
  const double h = 1e-6;
  auto check = [&](auto forward, auto backward, const char* name) {
    std::vector<double> a(64), dz(64), plus(64), minus(64), zp = z, zm = z;
    forward(a.data(), z.data());
    backward(dz.data(), ones.data(), z.data(), a.data());
    for (double& v : zp) v += h;
    for (double& v : zm) v -= h;
    forward(plus.data(), zp.data());
    forward(minus.data(), zm.data());
    for (int i = 0; i < 64; ++i) EXPECT_NEAR(dz[i], (plus[i] - minus[i]) / (2 * h), 1e-8) << name << " " << z[i];
  };
  // Every element-wise activation of base/kinds.hpp's list (softmax's Jacobian: SoftmaxBackwardIsTheJacobian...),
  // leaky_relu with slope 0.2.
  for (const ActivationName& entry : kActivationNames) {
    if (entry.kind == Activation::softmax) continue;
    const Activation activation = entry.kind;
    const double s = activation == Activation::leaky_relu ? 0.2 : 0.0;
    check([&](double* a, const double* z) { activation_forward(a, z, 64, activation, s); },
          [&](double* dz, const double* da, const double* z, const double* a) {
            activation_backward(dz, da, z, a, 64, activation, s);
          },
          entry.name);
  }
}

TEST(Activations, SigmoidIsStableAtTheExtremes) {
  const double z[] = {-800, -40, 0, 40, 800};
  double a[5];
  activation_forward(a, z, 5, Activation::sigmoid, 0.0);
  EXPECT_EQ(a[0], 0.0);
  EXPECT_NEAR(a[1], std::exp(-40.0), 1e-30);
  EXPECT_EQ(a[2], 0.5);
  EXPECT_EQ(a[4], 1.0);
  for (double v : a) EXPECT_FALSE(std::isnan(v));
}

TEST(Activations, SoftmaxRowsSumToOneAndSurviveLargeInputs) {
  const float z[] = {1000.f, 1001.f, 999.f, -5.f, 0.f, 5.f};
  float a[6];
  softmax_forward(a, z, 2, 3);
  for (int r = 0; r < 2; ++r) EXPECT_NEAR(a[3 * r] + a[3 * r + 1] + a[3 * r + 2], 1.0f, 1e-6f);
  // e^0 / (e^1 + e^0 + e^-1) for the first element
  EXPECT_NEAR(a[0], 1.0 / (std::exp(1.0) + 1.0 + std::exp(-1.0)), 1e-6);
}

TEST(Activations, SoftmaxBackwardIsTheJacobianTimesDa) {
  const double z[] = {0.3, -1.2, 2.0};
  const double da[] = {0.5, -0.25, 1.5};
  double a[3], dz[3];
  softmax_forward(a, z, 1, 3);
  softmax_backward(dz, da, a, 1, 3);
  // J[i][j] = a_i (delta_ij - a_j); dz_i = sum_j J[j][i] da_j (J is symmetric).
  for (int i = 0; i < 3; ++i) {
    double expected = 0;
    for (int j = 0; j < 3; ++j) expected += a[i] * ((i == j ? 1.0 : 0.0) - a[j]) * da[j];
    EXPECT_NEAR(dz[i], expected, 1e-15);
  }
}

TEST(Elementwise, BroadcastColumnSumsAndSgd) {
  const double bias[] = {1, 2, 3};
  double out[6];
  broadcast_rows(out, bias, 2, 3);
  EXPECT_EQ(out[4], 2);
  const double m[] = {1, 2, 3, 4, 5, 6};
  double sums[3];
  column_sums(sums, m, 2, 3);
  EXPECT_EQ(sums[0], 5);
  EXPECT_EQ(sums[2], 9);
  double p[] = {1.0, -1.0};
  const double g[] = {0.5, 0.25};
  sgd_update(p, g, 2, 0.1);
  EXPECT_DOUBLE_EQ(p[0], 0.95);
  EXPECT_DOUBLE_EQ(p[1], -1.025);
}


// The products are cut into blocks by shape alone, so the thread count never changes a bit of the result
// (docs/contracts.md: results bit-identical for a given seed whatever the thread count).
TEST(GemmThreads, ResultsAreBitIdenticalForAnyThreadCount) {
  const int shapes[][3] = {{128, 256, 784}, {784, 256, 128}, {1024, 10, 128}, {300, 700, 50}};
  const int saved = thread_count();
  for (const auto& shape : shapes) {
    const int m = shape[0], n = shape[1], k = shape[2];
    for (Transpose ta : {Transpose::no, Transpose::yes}) {
      for (Transpose tb : {Transpose::no, Transpose::yes}) {
        const auto a = random_values<float>(static_cast<std::size_t>(m) * k, 11);
        const auto b = random_values<float>(static_cast<std::size_t>(k) * n, 12);
        const int lda = ta == Transpose::no ? k : m;
        const int ldb = tb == Transpose::no ? n : k;
        std::vector<std::vector<float>> results;
        for (int threads : {1, 2, 3}) {
          set_thread_count(threads);
          std::vector<float> c(static_cast<std::size_t>(m) * n, 0.5f);
          gemm<float>(ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 1.0f, c.data(), n);
          results.push_back(std::move(c));
        }
        EXPECT_EQ(results[0], results[1]) << m << "x" << n << "x" << k;
        EXPECT_EQ(results[0], results[2]) << m << "x" << n << "x" << k;
        // And the blocked product is still the product (float tolerance as in Gemm above).
        std::vector<float> reference(static_cast<std::size_t>(m) * n, 0.5f);
        gemm_reference<float>(ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 1.0f, reference.data(), n);
        for (std::size_t i = 0; i < reference.size(); i += 97) EXPECT_NEAR(results[0][i], reference[i], 1e-5 * (k + 1));
      }
    }
  }
  set_thread_count(saved);
}


// gemm with an epilogue: the blocks handed to it cover C exactly once, whatever the shape and transposes;
// the result is the reference product with the epilogue applied to the whole of C (float tolerance as in
// Gemm above); and it is bit-identical for 1, 2 and 3 threads, epilogue included.
TEST(GemmEpilogue, BlocksCoverCOnceAndMatchTheReference) {
  const int shapes[][3] = {{128, 256, 784}, {784, 256, 128}, {128, 128, 256}, {96, 256, 784}, {100, 70, 300},
                           {5, 300, 900}, {1, 1, 1}};
  const int saved = thread_count();
  for (const auto& shape : shapes) {
    const int m = shape[0], n = shape[1], k = shape[2];
    for (Transpose ta : {Transpose::no, Transpose::yes}) {
      for (Transpose tb : {Transpose::no, Transpose::yes}) {
        const auto a = random_values<float>(static_cast<std::size_t>(m) * k, 21);
        const auto b = random_values<float>(static_cast<std::size_t>(k) * n, 22);
        const int lda = ta == Transpose::no ? k : m;
        const int ldb = tb == Transpose::no ? n : k;
        std::vector<std::vector<float>> results;
        for (int threads : {1, 2, 3}) {
          set_thread_count(threads);
          std::vector<float> c(static_cast<std::size_t>(m) * n, 0.5f);
          std::vector<int> covered(c.size(), 0);
          // Blocks are disjoint, so each element is written by one thread only.
          const auto epilogue = [&](const Block& block) {
            for (int r = block.first_row; r < block.first_row + block.rows; ++r)
              for (int col = block.first_column; col < block.first_column + block.columns; ++col) {
                const std::size_t i = static_cast<std::size_t>(r) * n + col;
                ++covered[i];
                c[i] = c[i] > 0.0f ? c[i] : 0.25f * c[i];
              }
          };
          gemm<float>(ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), n, epilogue);
          for (std::size_t i = 0; i < covered.size(); ++i) ASSERT_EQ(covered[i], 1) << m << "x" << n << "x" << k;
          results.push_back(std::move(c));
        }
        EXPECT_EQ(results[0], results[1]) << m << "x" << n << "x" << k;
        EXPECT_EQ(results[0], results[2]) << m << "x" << n << "x" << k;
        std::vector<float> reference(static_cast<std::size_t>(m) * n, 0.5f);
        gemm_reference<float>(ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, reference.data(), n,
                              [&](const Block& block) {
                                EXPECT_EQ(block.rows, m);
                                EXPECT_EQ(block.columns, n);
                                for (float& v : reference) v = v > 0.0f ? v : 0.25f * v;
                              });
        for (std::size_t i = 0; i < reference.size(); ++i)
          ASSERT_NEAR(results[0][i], reference[i], 1e-5 * (k + 1)) << m << "x" << n << "x" << k << " at " << i;
      }
    }
  }
  set_thread_count(saved);
}

TEST(Elementwise, ColumnSumsOfABlockWithALeadingDimension) {
  const double m[] = {1, 2, 3, 4,
                      5, 6, 7, 8,
                      9, 10, 11, 12};
  double sums[2];
  column_sums(sums, m + 1, 3, 2, 4);  // columns 1 and 2
  EXPECT_EQ(sums[0], 2 + 6 + 10);
  EXPECT_EQ(sums[1], 3 + 7 + 11);
}

}  // namespace
}  // namespace backprop::kernels

#include "backprop/nn/dense.hpp"

namespace backprop {
namespace {

// The dense layer's fused paths (bias and activation in the forward product's blocks; the bias gradient in
// the weight-gradient product's blocks; mask and f' of the layer below in the input-gradient product's
// blocks) against the formulas written out as plain loops in double. Shapes large enough to take the
// blocked products. Tolerance: 1e-5 relative to the sum of |terms| (float sums in any order).
TEST(DenseBlocks, FusedForwardAndBackwardMatchPlainLoops) {
  const int batch = 100, in = 300, out = 200;
  DenseLayer layer;
  layer.in = in;
  layer.out = out;
  layer.activation = Activation::leaky_relu;
  layer.slope = 0.1;
  const auto input = kernels::random_values<float>(static_cast<std::size_t>(batch) * in, 31);
  const auto weights = kernels::random_values<float>(static_cast<std::size_t>(in) * out, 32);
  const auto bias = kernels::random_values<float>(out, 33);
  std::vector<float> z(static_cast<std::size_t>(batch) * out), a(z.size());
  dense_forward(z.data(), a.data(), input.data(), weights.data(), bias.data(), layer, batch);
  for (int r = 0; r < batch; ++r)
    for (int o = 0; o < out; ++o) {
      double sum = bias[o], magnitude = std::abs(bias[o]);
      for (int i = 0; i < in; ++i) {
        sum += static_cast<double>(input[r * in + i]) * weights[i * out + o];
        magnitude += std::abs(static_cast<double>(input[r * in + i]) * weights[i * out + o]);
      }
      ASSERT_NEAR(z[r * out + o], sum, 1e-5 * magnitude);
      ASSERT_EQ(a[r * out + o], z[r * out + o] > 0 ? z[r * out + o] : 0.1f * z[r * out + o]);
    }

  // Backward with a chain: the layer below had relu and dropout (its z and mask made up here).
  const auto dz = kernels::random_values<float>(static_cast<std::size_t>(batch) * out, 34);
  const auto below_z = kernels::random_values<float>(static_cast<std::size_t>(batch) * in, 35);
  std::vector<float> below_a(below_z.size()), mask(below_z.size());
  for (std::size_t i = 0; i < below_z.size(); ++i) {
    below_a[i] = std::max(below_z[i], 0.0f);
    mask[i] = i % 3 == 0 ? 0.0f : 1.5f;
  }
  InputChain<float> chain;
  chain.z = below_z.data();
  chain.a = below_a.data();
  chain.mask = mask.data();
  chain.activation = Activation::relu;
  std::vector<float> grad_weights(static_cast<std::size_t>(in) * out), grad_bias(out), grad_input(below_z.size());
  dense_backward(grad_weights.data(), grad_bias.data(), grad_input.data(), input.data(), dz.data(), weights.data(),
                 layer, batch, &chain);
  for (int i = 0; i < in; ++i)
    for (int o = 0; o < out; ++o) {
      double sum = 0, magnitude = 0;
      for (int r = 0; r < batch; ++r) {
        sum += static_cast<double>(input[r * in + i]) * dz[r * out + o];
        magnitude += std::abs(static_cast<double>(input[r * in + i]) * dz[r * out + o]);
      }
      ASSERT_NEAR(grad_weights[i * out + o], sum, 1e-5 * magnitude);
    }
  for (int o = 0; o < out; ++o) {
    float sum = dz[o];  // summed in row order in float, as the kernel promises: exact equality
    for (int r = 1; r < batch; ++r) sum += dz[r * out + o];
    ASSERT_EQ(grad_bias[o], sum);
  }
  for (int r = 0; r < batch; ++r)
    for (int i = 0; i < in; ++i) {
      double sum = 0, magnitude = 0;
      for (int o = 0; o < out; ++o) {
        sum += static_cast<double>(dz[r * out + o]) * weights[i * out + o];
        magnitude += std::abs(static_cast<double>(dz[r * out + o]) * weights[i * out + o]);
      }
      const std::size_t j = static_cast<std::size_t>(r) * in + i;
      const double expected = below_z[j] > 0 ? sum * mask[j] : 0.0;
      ASSERT_NEAR(grad_input[j], expected, 1e-5 * magnitude * 1.5) << r << "," << i;
    }
}

// dense_backward says whether the weight and bias gradients it wrote are finite, from the blocks of its
// products (batch path: every block of a product cut for the pool) and from the row path (batch 1): true on
// ordinary values; false when one input value is infinite (only the weight gradients of its column then) or
// one dz is NaN (weights and bias), wherever in the batch that value sits.
TEST(DenseBlocks, BackwardSaysWhetherItsGradientIsFinite) {
  for (const int batch : {1, 3, 100}) {
    const int in = 300, out = 200;
    DenseLayer layer;
    layer.in = in;
    layer.out = out;
    layer.activation = Activation::relu;
    const auto weights = kernels::random_values<float>(static_cast<std::size_t>(in) * out, 41);
    std::vector<float> grad_weights(static_cast<std::size_t>(in) * out), grad_bias(out);
    for (const int bad : {-1, 0, 1}) {  // -1: none; 0: an infinite input; 1: a NaN dz
      for (const std::size_t where : {std::size_t{0}, static_cast<std::size_t>(batch) * 97 / 100}) {
        auto input = kernels::random_values<float>(static_cast<std::size_t>(batch) * in, 42);
        auto dz = kernels::random_values<float>(static_cast<std::size_t>(batch) * out, 43);
        if (bad == 0) input[where * in + in - 1] = std::numeric_limits<float>::infinity();
        if (bad == 1) dz[where * out + out / 2] = std::numeric_limits<float>::quiet_NaN();
        const bool finite = dense_backward(grad_weights.data(), grad_bias.data(), static_cast<float*>(nullptr),
                                           input.data(), dz.data(), weights.data(), layer, batch);
        bool really = true;
        for (float g : grad_weights) really = really && std::isfinite(g);
        for (float g : grad_bias) really = really && std::isfinite(g);
        EXPECT_EQ(finite, really) << "batch " << batch << ", case " << bad;
        EXPECT_EQ(finite, bad < 0) << "batch " << batch << ", case " << bad;
      }
    }
  }
}

}  // namespace
}  // namespace backprop

namespace backprop::kernels {
namespace {

// The caller takes pieces from the front and the workers from the back: every piece once, for any count
// and thread count.
TEST(ThreadPool, EveryPieceRunsOnceFromBothEnds) {
  const int saved = thread_count();
  for (int threads : {1, 2, 3}) {
    set_thread_count(threads);
    for (std::size_t n : {1u, 2u, 3u, 17u, 1000u}) {
      std::vector<std::atomic<int>> visits(n);
      for (int repeat = 0; repeat < 20; ++repeat)
        parallel_ranges(n, 1, [&](std::size_t first, std::size_t count) {
          for (std::size_t i = first; i < first + count; ++i) visits[i].fetch_add(1);
        });
      for (const auto& v : visits) ASSERT_EQ(v.load(), 20) << n << " pieces, " << threads << " threads";
    }
  }
  set_thread_count(saved);
}

// A parallel_ranges inside a task of another runs inline on that thread (it used to wait for the pool it
// was part of): every element is still visited once.
TEST(ThreadPool, NestedParallelRangesRunInline) {
  const int saved = thread_count();
  set_thread_count(2);
  std::vector<int> visits(64 * 64, 0);
  parallel_ranges(64, 1, [&](std::size_t outer, std::size_t) {
    parallel_ranges(64, 8, [&](std::size_t first, std::size_t count) {
      for (std::size_t i = first; i < first + count; ++i) ++visits[outer * 64 + i];
    });
  });
  for (int v : visits) EXPECT_EQ(v, 1);
  set_thread_count(saved);
}

// Under OnCallingThread every piece of a job runs on the calling thread and no job wakes the workers, a nested
// guard's end included; once it is gone, a job of two pieces or more does wake them (the control).
TEST(ThreadPool, OnCallingThreadRunsEveryPieceThereAndWakesNoWorker) {
  const int saved = thread_count();
  set_thread_count(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::thread::id> ran(64);
  const std::uint64_t before = pool_shared_jobs();
  {
    const OnCallingThread one_thread;
    parallel_ranges(64, 1, [&](std::size_t first, std::size_t) { ran[first] = std::this_thread::get_id(); });
    { const OnCallingThread nested; }
    parallel_ranges(32, 1, [&](std::size_t first, std::size_t) { ran[32 + first] = std::this_thread::get_id(); });
  }
  for (const std::thread::id& id : ran) EXPECT_EQ(id, caller);
  EXPECT_EQ(pool_shared_jobs(), before);
  parallel_ranges(64, 1, [](std::size_t, std::size_t) {});
  EXPECT_EQ(pool_shared_jobs(), before + 1);
  set_thread_count(saved);
}


// gemm_together: each product comes out bit for bit as from gemm alone (the same blocks), with every
// block's epilogue run once, for 1, 2 and 3 threads; and the reference of the group is the references of
// its products.
TEST(GemmTogether, SameBitsAsOneProductAtATime) {
  const int saved = thread_count();
  // (m, n, k, transpose_a, transpose_b): dW and dA of the MLP's middle layer, two products too small to
  // cut, and one on the plain loops.
  struct Shape { int m, n, k; Transpose ta, tb; };
  const Shape shapes[] = {{256, 128, 128, Transpose::yes, Transpose::no}, {128, 256, 128, Transpose::no, Transpose::yes},
                          {128, 10, 128, Transpose::yes, Transpose::no}, {128, 128, 10, Transpose::no, Transpose::yes},
                          {3, 4, 5, Transpose::no, Transpose::no}};
  std::vector<std::vector<float>> as, bs, alone;
  for (std::size_t s = 0; s < std::size(shapes); ++s) {
    const Shape& sh = shapes[s];
    as.push_back(random_values<float>(static_cast<std::size_t>(sh.m) * sh.k, 40 + s));
    bs.push_back(random_values<float>(static_cast<std::size_t>(sh.k) * sh.n, 50 + s));
    std::vector<float> c(static_cast<std::size_t>(sh.m) * sh.n, 0.5f);
    gemm<float>(sh.ta, sh.tb, sh.m, sh.n, sh.k, 1.0f, as[s].data(), sh.ta == Transpose::no ? sh.k : sh.m,
                bs[s].data(), sh.tb == Transpose::no ? sh.n : sh.k, 0.0f, c.data(), sh.n);
    alone.push_back(std::move(c));
  }
  for (int threads : {1, 2, 3}) {
    set_thread_count(threads);
    std::vector<std::vector<float>> together;
    std::vector<std::vector<int>> covered;
    for (const Shape& sh : shapes) {
      together.emplace_back(static_cast<std::size_t>(sh.m) * sh.n, 0.5f);
      covered.emplace_back(static_cast<std::size_t>(sh.m) * sh.n, 0);
    }
    std::vector<GemmCall<float>> calls;
    std::vector<std::function<void(const Block&)>> counters;
    for (std::size_t s = 0; s < std::size(shapes); ++s)
      counters.push_back([&, s](const Block& block) {
        for (int r = block.first_row; r < block.first_row + block.rows; ++r)
          for (int col = block.first_column; col < block.first_column + block.columns; ++col)
            ++covered[s][static_cast<std::size_t>(r) * shapes[s].n + col];
      });
    std::vector<BlockTask> tasks(counters.begin(), counters.end());
    for (std::size_t s = 0; s < std::size(shapes); ++s) {
      const Shape& sh = shapes[s];
      calls.push_back({sh.ta, sh.tb, sh.m, sh.n, sh.k, 1.0f, as[s].data(), sh.ta == Transpose::no ? sh.k : sh.m,
                       bs[s].data(), sh.tb == Transpose::no ? sh.n : sh.k, 0.0f, together[s].data(), sh.n, &tasks[s]});
    }
    gemm_together(calls.data(), calls.size());
    for (std::size_t s = 0; s < std::size(shapes); ++s) {
      EXPECT_EQ(together[s], alone[s]) << "product " << s << ", " << threads << " threads";
      for (int v : covered[s]) ASSERT_EQ(v, 1) << "product " << s;
    }
  }
  set_thread_count(saved);
  // The reference of the group against the reference of each product.
  for (std::size_t s = 0; s < 2; ++s) {
    const Shape& sh = shapes[s];
    std::vector<float> one(static_cast<std::size_t>(sh.m) * sh.n), group(one.size());
    const int lda = sh.ta == Transpose::no ? sh.k : sh.m, ldb = sh.tb == Transpose::no ? sh.n : sh.k;
    gemm_reference<float>(sh.ta, sh.tb, sh.m, sh.n, sh.k, 1.0f, as[s].data(), lda, bs[s].data(), ldb, 0.0f, one.data(),
                          sh.n);
    const GemmCall<float> call{sh.ta, sh.tb, sh.m, sh.n, sh.k, 1.0f, as[s].data(), lda, bs[s].data(), ldb, 0.0f,
                               group.data(), sh.n, nullptr};
    gemm_together_reference(&call, 1);
    EXPECT_EQ(one, group);
    for (std::size_t i = 0; i < one.size(); i += 61) EXPECT_NEAR(alone[s][i], one[i], 1e-5 * (sh.k + 1));
  }
}


// Products whose A is mostly zeros skip them (kernels/cpu/zero_skip.hpp). A skipped term adds exactly zero, so
// each element must be, bit for bit, one fused multiply-add chain over k = 0..K-1 in order (zeros included),
// then alpha times it plus beta C: checked exactly, for 1, 2 and 3 threads, with the blocks covering C once.
// Shapes: the MLP's (first layer forward, its weight gradient, the middle layer's), and ones whose rows, columns
// and k are not multiples of the groups (4 rows or columns of A), the strips (64 columns) or 64; A with half,
// a tenth and none of its values nonzero, a NaN in A, a padded leading dimension; alpha and beta not 1 and 0.
std::vector<float> fused_chain_reference(Transpose ta, int m, int n, int k, float alpha, const float* a, int lda,
                                         const float* b, int ldb, float beta, const std::vector<float>& c_in) {
  std::vector<float> c = c_in;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float sum = 0.0f;
      for (int p = 0; p < k; ++p) {
        const float a_ip = ta == Transpose::no ? a[static_cast<std::size_t>(i) * lda + p] : a[static_cast<std::size_t>(p) * lda + i];
        sum = std::fma(a_ip, b[static_cast<std::size_t>(p) * ldb + j], sum);
      }
      float& out = c[static_cast<std::size_t>(i) * n + j];
      out = beta == 0.0f ? alpha * sum : alpha * sum + beta * out;
    }
  return c;
}

// The levels of the tiles this CPU can run (avx512, avx2), and the level gemm takes (cpu_level(): the widest,
// or BACKPROP_CPU's, so that a run of the tests forced to a level holds gemm's path at it to the chain too).
std::vector<CpuLevel> tile_levels() {
  std::vector<CpuLevel> levels;
  for (CpuLevel level : {CpuLevel::avx512, CpuLevel::avx2})
    if (cpu_can_run(level)) levels.push_back(level);
  return levels;
}

// A test matrix A (a_rows x lda) whose zeros are as in images and ReLU outputs, where they share rows and columns:
// a value is nonzero (with probability 0.8) only in a row and a column of A each drawn nonzero with probability
// `nonzero`; and a NaN a third of the way in when asked.
std::vector<float> sparse_matrix(int a_rows, int lda, double nonzero, bool nan, std::uint64_t seed) {
  Random random(seed);
  std::vector<char> live_row(a_rows), live_column(lda);
  for (char& live : live_row) live = random.uniform() < nonzero;
  for (char& live : live_column) live = random.uniform() < nonzero;
  std::vector<float> a(static_cast<std::size_t>(a_rows) * lda, 0.0f);
  for (int r = 0; r < a_rows; ++r)
    for (int col = 0; col < lda; ++col)
      if (live_row[r] && live_column[col] && random.uniform() < 0.8)
        a[static_cast<std::size_t>(r) * lda + col] = static_cast<float>(random.uniform(-1.0, 1.0));
  if (nan) a[a.size() / 3] = std::numeric_limits<float>::quiet_NaN();
  return a;
}

struct ZeroSkipCase { int m, n, k; Transpose ta; double nonzero; float alpha, beta; int pad; bool nan; };
const ZeroSkipCase kZeroSkipCases[] = {{128, 256, 784, Transpose::no, 0.5, 1.0f, 0.0f, 0, false},
                                       {784, 256, 128, Transpose::yes, 0.5, 1.0f, 0.0f, 0, false},
                                       {128, 128, 256, Transpose::no, 0.5, 1.0f, 0.0f, 0, false},
                                       {256, 128, 128, Transpose::yes, 0.5, 1.0f, 0.0f, 0, false},
                                       {100, 48, 300, Transpose::no, 0.1, 0.5f, 0.25f, 3, false},
                                       {101, 112, 130, Transpose::yes, 0.5, 0.5f, 0.25f, 5, true},
                                       {13, 16, 4000, Transpose::no, 0.5, 1.0f, 0.0f, 1, true},
                                       {203, 80, 70, Transpose::yes, 0.1, 2.0f, 1.0f, 0, false},
                                       {64, 64, 512, Transpose::no, 0.0, 1.0f, 0.5f, 0, false}};

TEST(GemmZeroSkip, EachElementIsTheFusedChainOverItsNonzeroTerms) {
  const bool skips = cpu_level() != CpuLevel::baseline;
  const int saved = thread_count();
  for (const ZeroSkipCase& cs : kZeroSkipCases) {
    const int a_rows = cs.ta == Transpose::no ? cs.m : cs.k;
    const int lda = (cs.ta == Transpose::no ? cs.k : cs.m) + cs.pad;
    const auto a = sparse_matrix(a_rows, lda, cs.nonzero, cs.nan, 7);
    const int ldb = cs.n + cs.pad;
    const auto b = random_values<float>(static_cast<std::size_t>(cs.k) * ldb, 8);
    const auto c_in = random_values<float>(static_cast<std::size_t>(cs.m) * cs.n, 9);
    const auto expected = fused_chain_reference(cs.ta, cs.m, cs.n, cs.k, cs.alpha, a.data(), lda, b.data(), ldb,
                                                cs.beta, c_in);
    const auto same = [&](float value, float want) { return std::isnan(want) ? std::isnan(value) : value == want; };
    // Block by block (gemm's blocks: kZeroSkipBlockRows rows by all columns) at each level the CPU runs, each
    // must take the path (these A are sparse enough), write its rows exactly, and nothing else.
    std::vector<float> c = c_in;
    const GemmCall<float> call{cs.ta, Transpose::no, cs.m, cs.n, cs.k, cs.alpha, a.data(), lda, b.data(), ldb,
                               cs.beta, c.data(), cs.n, nullptr};
    EXPECT_FALSE(zero_skips_possible(call, CpuLevel::baseline));
    ASSERT_EQ(zero_skips_possible(call, cpu_level()), skips) << cs.m << "x" << cs.n << "x" << cs.k;
    for (CpuLevel level : tile_levels()) {
      ASSERT_TRUE(zero_skips_possible(call, level)) << cpu_level_name(level);
      for (int first = 0; first < cs.m; first += kZeroSkipBlockRows) {
        const Block block{first, std::min(kZeroSkipBlockRows, cs.m - first), 0, cs.n};
        c = c_in;
        ASSERT_TRUE(zero_skip_block(call, block, level))
            << cs.m << "x" << cs.n << "x" << cs.k << " rows from " << first << ", " << cpu_level_name(level);
        for (std::size_t i = 0; i < c.size(); ++i) {
          const int row = static_cast<int>(i) / cs.n;
          const bool inside = row >= first && row < first + block.rows;
          ASSERT_TRUE(same(c[i], inside ? expected[i] : c_in[i]))
              << cs.m << "x" << cs.n << "x" << cs.k << " at " << i << ", " << cpu_level_name(level) << ": " << c[i]
              << " for " << expected[i];
        }
      }
    }
    // Through gemm, at cpu_level(): the blocks cover C once, and the bits are the same for any thread count (and
    // the chain's, where the path is taken; elsewhere another library's order, within the float tolerance of
    // Gemm above).
    for (int threads : {1, 2, 3}) {
      set_thread_count(threads);
      c = c_in;
      std::vector<std::atomic<int>> covered(c.size());
      const auto count = [&](const Block& block) {
        for (int r = block.first_row; r < block.first_row + block.rows; ++r)
          for (int col = block.first_column; col < block.first_column + block.columns; ++col)
            ++covered[static_cast<std::size_t>(r) * cs.n + col];
      };
      gemm<float>(cs.ta, Transpose::no, cs.m, cs.n, cs.k, cs.alpha, a.data(), lda, b.data(), ldb, cs.beta, c.data(),
                  cs.n, count);
      for (const auto& v : covered) ASSERT_EQ(v.load(), 1) << cs.m << "x" << cs.n << "x" << cs.k;
      for (std::size_t i = 0; i < c.size(); ++i) {
        if (skips) {
          ASSERT_TRUE(same(c[i], expected[i])) << cs.m << "x" << cs.n << "x" << cs.k << " at " << i << ", "
                                               << threads << " threads";
        } else if (!std::isnan(expected[i])) {
          ASSERT_NEAR(c[i], expected[i], 1e-5 * (cs.k + 1));
        }
      }
    }
  }
  set_thread_count(saved);
}

// The AVX2 tiles and the AVX-512 tiles give the same bits, NaN payloads and signs included, block by block, on
// the cases above and on ones the fused chain over all k would not give: B with infinities and NaNs (a term whose
// A value is zero is skipped only where the whole group of 4 is zero, so 0 x inf is in some sums and not in
// others: the levels must skip the same terms), and B with values that cancel to zero. Needs a CPU with both.
TEST(GemmZeroSkip, Avx2AndAvx512TilesGiveTheSameBits) {
  if (!cpu_can_run(CpuLevel::avx512) || !cpu_can_run(CpuLevel::avx2))
    GTEST_SKIP() << "needs a CPU that runs both levels (AVX-512 and AVX2 + FMA)";
  for (int variant = 0; variant < 3; ++variant) {
    for (const ZeroSkipCase& cs : kZeroSkipCases) {
      const int a_rows = cs.ta == Transpose::no ? cs.m : cs.k;
      const int lda = (cs.ta == Transpose::no ? cs.k : cs.m) + cs.pad;
      const auto a = sparse_matrix(a_rows, lda, cs.nonzero, cs.nan, 11 + variant);
      const int ldb = cs.n + cs.pad;
      auto b = random_values<float>(static_cast<std::size_t>(cs.k) * ldb, 12 + variant);
      if (variant == 1) {
        for (std::size_t i = 0; i < b.size(); i += 97) b[i] = std::numeric_limits<float>::infinity();
        for (std::size_t i = 5; i < b.size(); i += 389) b[i] = std::numeric_limits<float>::quiet_NaN();
      } else if (variant == 2) {
        for (float& v : b) v = std::round(v * 4.0f);  // small integers: many sums exactly zero
      }
      const auto c_in = random_values<float>(static_cast<std::size_t>(cs.m) * cs.n, 13);
      std::vector<float> wide = c_in, narrow = c_in;
      GemmCall<float> call{cs.ta, Transpose::no, cs.m, cs.n, cs.k, cs.alpha, a.data(), lda, b.data(), ldb,
                           cs.beta, wide.data(), cs.n, nullptr};
      for (int first = 0; first < cs.m; first += kZeroSkipBlockRows) {
        const Block block{first, std::min(kZeroSkipBlockRows, cs.m - first), 0, cs.n};
        call.c = wide.data();
        ASSERT_TRUE(zero_skip_block(call, block, CpuLevel::avx512));
        call.c = narrow.data();
        ASSERT_TRUE(zero_skip_block(call, block, CpuLevel::avx2));
      }
      ASSERT_EQ(std::memcmp(wide.data(), narrow.data(), wide.size() * sizeof(float)), 0)
          << cs.m << "x" << cs.n << "x" << cs.k << ", variant " << variant;
      EXPECT_NE(std::memcmp(wide.data(), c_in.data(), wide.size() * sizeof(float)), 0);  // the tiles wrote C
    }
  }
}

// A dense A's blocks go to the library, writing nothing themselves (and the first look at A keeps the product
// from trying), and so do those of an A whose zeros are scattered; a sparse A of the same shape takes the path.
// Products the path does not cover (B transposed, C's width not a multiple of 16, too small, k above 4096)
// never try.
TEST(GemmZeroSkip, DenseOrUncoveredProductsGoToTheLibrary) {
  const auto a = random_values<float>(784 * 128, 3);
  const auto b = random_values<float>(784 * 256, 4);
  // Half of A's values zero, each on its own: a group of 4 rows (columns) still needs almost every k (94%).
  std::vector<float> scattered = a;
  Random random(5);
  for (float& v : scattered)
    if (random.uniform() < 0.5) v = 0.0f;
  // Half of A's columns (of 784) zero in every row: the first layer's product skips them.
  std::vector<float> sparse_a = a;
  for (std::size_t i = 0; i < sparse_a.size(); i += 2) sparse_a[i] = 0.0f;
  std::vector<float> c(784 * 256, 7.0f);
  const auto call = [&](Transpose ta, Transpose tb, int m, int n, int k, const std::vector<float>& values) {
    return GemmCall<float>{ta, tb, m, n, k, 1.0f, values.data(), ta == Transpose::no ? k : m, b.data(),
                           tb == Transpose::no ? n : k, 0.0f, c.data(), n, nullptr};
  };
  for (CpuLevel level : {CpuLevel::avx512, CpuLevel::avx2, CpuLevel::baseline}) {
    const std::string name = cpu_level_name(level);
    EXPECT_FALSE(zero_skips_possible(call(Transpose::no, Transpose::yes, 128, 256, 784, sparse_a), level)) << name;
    EXPECT_FALSE(zero_skips_possible(call(Transpose::no, Transpose::no, 128, 250, 784, sparse_a), level)) << name;
    EXPECT_FALSE(zero_skips_possible(call(Transpose::no, Transpose::no, 4, 16, 64, sparse_a), level)) << name;
    EXPECT_FALSE(zero_skips_possible(call(Transpose::no, Transpose::no, 2, 16, 4097, sparse_a), level)) << name;
    // A level the CPU cannot run, and the baseline, never try.
    EXPECT_EQ(zero_skips_possible(call(Transpose::no, Transpose::no, 128, 256, 784, sparse_a), level),
              level != CpuLevel::baseline && cpu_can_run(level)) << name;
  }
  for (CpuLevel level : tile_levels()) {
    const std::string name = cpu_level_name(level);
    // The first look sees a dense A; one with zeros, even scattered, is tried block by block.
    EXPECT_FALSE(zero_skips_possible(call(Transpose::no, Transpose::no, 128, 256, 784, a), level)) << name;
    EXPECT_FALSE(zero_skips_possible(call(Transpose::yes, Transpose::no, 784, 256, 128, a), level)) << name;
    EXPECT_TRUE(zero_skips_possible(call(Transpose::no, Transpose::no, 128, 256, 784, scattered), level)) << name;
    EXPECT_TRUE(zero_skips_possible(call(Transpose::yes, Transpose::no, 784, 256, 128, scattered), level)) << name;
    const Block block{0, kZeroSkipBlockRows, 0, 256};
    EXPECT_FALSE(zero_skip_block(call(Transpose::no, Transpose::no, 128, 256, 784, a), block, level)) << name;
    EXPECT_FALSE(zero_skip_block(call(Transpose::yes, Transpose::no, 784, 256, 128, a), block, level)) << name;
    EXPECT_FALSE(zero_skip_block(call(Transpose::no, Transpose::no, 128, 256, 784, scattered), block, level)) << name;
    EXPECT_FALSE(zero_skip_block(call(Transpose::yes, Transpose::no, 784, 256, 128, scattered), block, level))
        << name;
    for (float v : c) ASSERT_EQ(v, 7.0f) << name;
    EXPECT_TRUE(zero_skip_block(call(Transpose::no, Transpose::no, 128, 256, 784, sparse_a), block, level)) << name;
    std::fill(c.begin(), c.end(), 7.0f);
  }
  EXPECT_FALSE(zero_skip_block(call(Transpose::no, Transpose::no, 128, 256, 784, sparse_a),
                               Block{0, kZeroSkipBlockRows, 0, 256}, CpuLevel::baseline));
  for (float v : c) ASSERT_EQ(v, 7.0f);
}

// The level: BACKPROP_CPU's where set (a run of the tests forced to a level), else the widest the CPU runs; a
// wider level implies the narrower ones. The command refuses a name that is no level, and a level this CPU cannot
// run, with exit 2 and a message naming BACKPROP_CPU, before doing anything; it runs at each level the CPU can.
TEST(CpuLevel, ForcedWhereTheCpuRunsItRefusedElsewhere) {
  EXPECT_TRUE(cpu_can_run(CpuLevel::baseline));
  if (cpu_can_run(CpuLevel::avx512)) EXPECT_TRUE(cpu_can_run(CpuLevel::avx2));
  const char* forced = std::getenv("BACKPROP_CPU");
  const std::string saved = forced != nullptr ? forced : "";
  const CpuLevel widest = cpu_can_run(CpuLevel::avx512) ? CpuLevel::avx512
                          : cpu_can_run(CpuLevel::avx2) ? CpuLevel::avx2
                                                        : CpuLevel::baseline;
  EXPECT_EQ(std::string(cpu_level_name(cpu_level())), saved.empty() ? cpu_level_name(widest) : saved);

  ::setenv("BACKPROP_CPU", "avx1024", 1);
  const auto unknown = testing::run_backprop("--version");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out;
  EXPECT_THAT(unknown.out, ::testing::HasSubstr("BACKPROP_CPU: expected avx512, avx2 or baseline, got 'avx1024'"));
  for (CpuLevel level : {CpuLevel::avx512, CpuLevel::avx2, CpuLevel::baseline}) {
    ::setenv("BACKPROP_CPU", cpu_level_name(level), 1);
    const auto result = testing::run_backprop("--version");
    if (cpu_can_run(level)) {
      EXPECT_EQ(result.exit_code, 0) << cpu_level_name(level) << ": " << result.out;
      EXPECT_THAT(result.out, ::testing::HasSubstr("backprop "));
    } else {
      EXPECT_EQ(result.exit_code, 2) << result.out;
      EXPECT_THAT(result.out, ::testing::HasSubstr(std::string("BACKPROP_CPU=") + cpu_level_name(level) +
                                                   ": this CPU cannot run it"));
    }
  }
  if (saved.empty()) {
    ::unsetenv("BACKPROP_CPU");
  } else {
    ::setenv("BACKPROP_CPU", saved.c_str(), 1);
  }
}

// The copy of the hot loops (base/clones.hpp) that a level runs: x86-64-v4's at avx512, v3's at avx2, the
// baseline's at baseline, each where the CPU has that whole x86-64 level (else the next narrower); the one copy of
// a build without copies (clang, BACKPROP_NATIVE) counts as baseline.
CpuLevel copy_for(CpuLevel level) {
  if (!clones::built_with_copies()) return CpuLevel::baseline;
#if BACKPROP_CPU_COPIES  // clang (which checks the tests' syntax) knows no x86-64 levels here
  if (level == CpuLevel::avx512 && __builtin_cpu_supports("x86-64-v4")) return CpuLevel::avx512;
  if (level != CpuLevel::baseline && __builtin_cpu_supports("x86-64-v3")) return CpuLevel::avx2;
#endif
  return CpuLevel::baseline;
}

// In a process of its own (the level is read once): BACKPROP_CPU set to `level`, two small trainings through the
// loops that have copies (a batch of 32 with dropout, momentum and standardized inputs: the gather's conversion,
// the small products, the activations, softmax, the dropout draws, the optimizer, the finiteness checks; one row
// at a time: the one-row products), then on standard error how many loops picked each level's copy and a hash of
// the parameters' bits. Every product here is small (gemm_small's loops, the same bits at every level).
[[noreturn]] void train_at_level(CpuLevel level) {
  ::setenv("BACKPROP_CPU", cpu_level_name(level), 1);
  const Dataset data = testing::rings(200, 3);
  NetworkSpec spec;
  spec.input = 2;
  spec.loss = LossKind::softmax_ce;
  spec.seed = 4;
  spec.layers = {{.units = 16, .activation = Activation::relu, .dropout = 0.2},
                 {.units = 16, .activation = Activation::tanh},
                 {.units = 2, .activation = Activation::softmax}};
  spec.optimizer.type = OptimizerKind::momentum;
  spec.training.epochs = 2;
  spec.training.batch_size = 32;
  Network<float> batched(spec);
  train(batched, data, nullptr, fit_scaling(ScalingKind::standard, data));
  spec.layers[0].dropout = 0.0;
  spec.training.batch_size = 1;
  Network<float> one_row(spec);
  train(one_row, data, nullptr, Scaling{});
  std::uint64_t hash = 1469598103934665603u;  // FNV-1a over the bytes of both networks' parameters
  for (const Network<float>* network : {&batched, &one_row})
    for (float value : network->parameters()) {
      std::uint32_t bits;
      std::memcpy(&bits, &value, sizeof bits);
      for (int byte = 0; byte < 4; ++byte) hash = (hash ^ ((bits >> (8 * byte)) & 0xFFu)) * 1099511628211u;
    }
  std::fprintf(stderr, "loops on baseline %llu avx2 %llu avx512 %llu; parameters %016llx\n",
               static_cast<unsigned long long>(clones::loops_on(CpuLevel::baseline)),
               static_cast<unsigned long long>(clones::loops_on(CpuLevel::avx2)),
               static_cast<unsigned long long>(clones::loops_on(CpuLevel::avx512)),
               static_cast<unsigned long long>(hash));
  std::fflush(stderr);
  std::_Exit(0);
}

// Each level the CPU runs, forced in a fresh process, runs its own copies and no other (every loop that ran picked
// it), and the trainings give the same bits at every level. In this process: the copy of the suite's level.
TEST(CpuCopies, AForcedLevelRunsItsOwnCopiesWithTheSameBits) {
  // Nothing here reads the level before the children are made: each child runs this test again up to its own.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<std::pair<CpuLevel, std::string>> reports;
  for (CpuLevel level : {CpuLevel::avx512, CpuLevel::avx2, CpuLevel::baseline}) {
    if (!cpu_can_run(level)) continue;
    std::string report;
    EXPECT_EXIT(train_at_level(level), ::testing::ExitedWithCode(0),
                ::testing::Truly([&](const std::string& text) {
                  report = text;
                  return true;
                }));
    reports.emplace_back(level, report);
  }
  EXPECT_EQ(clones::copy_level(), copy_for(cpu_level()));
  ASSERT_FALSE(reports.empty());
  unsigned long long first_hash = 0;
  for (const auto& [level, report] : reports) {
    unsigned long long on[3] = {0, 0, 0}, hash = 0;
    const std::size_t at = report.find("loops on");  // after anything else the child wrote
    ASSERT_NE(at, std::string::npos) << cpu_level_name(level) << ": " << report;
    ASSERT_EQ(std::sscanf(report.c_str() + at, "loops on baseline %llu avx2 %llu avx512 %llu; parameters %llx",
                          &on[0], &on[1], &on[2], &hash), 4)
        << cpu_level_name(level) << ": " << report;
    const int copy = static_cast<int>(copy_for(level));
    for (int other = 0; other < 3; ++other) {
      if (other == copy) {
        EXPECT_GE(on[other], 10u) << cpu_level_name(level) << ": " << report;
      } else {
        EXPECT_EQ(on[other], 0u) << cpu_level_name(level) << ": " << report;
      }
    }
    if (level == reports.front().first) first_hash = hash;
    EXPECT_EQ(hash, first_hash) << cpu_level_name(level) << " against " << cpu_level_name(reports.front().first);
  }
}

#ifdef BACKPROP_TEST_ONEDNN
// A forced level below AVX-512 holds oneDNN's kernels to it (unless ONEDNN_MAX_CPU_ISA says otherwise), so that
// the dense products run as on a CPU of that kind: checked in the runs of the tests forced to avx2 and baseline
// (CI's); at the widest level oneDNN is left as it is. A float product through oneDNN first (it reads the level).
TEST(CpuLevel, AForcedLevelHoldsOneDnnToIt) {
  const auto a = random_values<float>(256 * 256, 1), b = random_values<float>(256 * 256, 2);
  std::vector<float> c(256 * 256);
  gemm<float>(Transpose::no, Transpose::yes, 256, 256, 256, 1.0f, a.data(), 256, b.data(), 256, 0.0f, c.data(), 256);
  const CpuLevel widest = cpu_can_run(CpuLevel::avx512) ? CpuLevel::avx512
                          : cpu_can_run(CpuLevel::avx2) ? CpuLevel::avx2
                                                        : CpuLevel::baseline;
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  if (std::getenv("ONEDNN_MAX_CPU_ISA") != nullptr || std::getenv("DNNL_MAX_CPU_ISA") != nullptr) return;
  switch (cpu_level()) {
    case CpuLevel::baseline:
      if (widest != CpuLevel::baseline) EXPECT_EQ(isa, dnnl_cpu_isa_sse41);
      break;
    case CpuLevel::avx2:
      if (widest != CpuLevel::avx2) EXPECT_EQ(isa, dnnl_cpu_isa_avx2);
      break;
    case CpuLevel::avx512:
      EXPECT_NE(isa, dnnl_cpu_isa_avx2);
      EXPECT_NE(isa, dnnl_cpu_isa_sse41);
      break;
  }
}
#endif

// A^T . B with B's rows 1 KiB apart reads a copy with the rows set apart: the same values (so the same bits,
// which EachElementIsTheFusedChainOverItsNonzeroTerms checks through gemm); other calls are left as they are.
TEST(GemmZeroSkip, BRowsSetApartAreACopyOfB) {
  const auto a = random_values<float>(128 * 784, 1);
  const auto b = random_values<float>(128 * 256, 2);
  const GemmCall<float> gradient{Transpose::yes, Transpose::no, 784, 256, 128, 1.0f, a.data(), 784, b.data(), 256,
                                 0.0f, nullptr, 256, nullptr};
  const GemmCall<float> spread = with_b_rows_apart(gradient, 2);
  EXPECT_NE(spread.ldb % 256, 0);
  EXPECT_GE(spread.ldb, 256);
  for (int k = 0; k < 128; ++k)
    for (int j = 0; j < 256; ++j)
      ASSERT_EQ(spread.b[static_cast<std::size_t>(k) * spread.ldb + j], b[static_cast<std::size_t>(k) * 256 + j]);
  EXPECT_EQ(spread.a, gradient.a);
  EXPECT_EQ(spread.k, gradient.k);
  GemmCall<float> forward = gradient;
  forward.transpose_a = Transpose::no;
  EXPECT_EQ(with_b_rows_apart(forward, 2).b, b.data());
  GemmCall<float> narrow = gradient;
  narrow.ldb = narrow.n = 250;
  EXPECT_EQ(with_b_rows_apart(narrow, 2).b, b.data());
}

// relu and leaky_relu, forward and backward, through the vectorised loops: each value is the branch's, bit for bit
// (z > 0 ? z : slope z; da or slope da), on signed zeros, infinities, NaNs, subnormals and random values.
TEST(Elementwise, ReluLoopsGiveTheBranchsBits) {
  std::vector<float> z = {0.0f, -0.0f, std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min()};
  const auto more = random_values<float>(61, 21);
  z.insert(z.end(), more.begin(), more.end());
  auto da = random_values<float>(z.size(), 22);
  da[3] = -0.0f;
  da[5] = std::numeric_limits<float>::infinity();
  const auto same_bits = [](float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; };
  for (const auto& [f, slope] : {std::pair{Activation::relu, 0.0f}, std::pair{Activation::leaky_relu, 0.2f}}) {
    std::vector<float> a(z.size()), dz(z.size());
    activation_forward(a.data(), z.data(), z.size(), f, slope);
    activation_backward(dz.data(), da.data(), z.data(), a.data(), z.size(), f, slope);
    for (std::size_t i = 0; i < z.size(); ++i) {
      const float forward = z[i] > 0.0f ? z[i] : slope * z[i];
      const float backward = z[i] > 0.0f ? da[i] : slope * da[i];
      EXPECT_TRUE(same_bits(a[i], forward)) << i << ": " << a[i] << " for " << forward;
      EXPECT_TRUE(same_bits(dz[i], backward)) << i << ": " << dz[i] << " for " << backward;
    }
  }
}

// all_finite, inline below 65,536 values and on the pool above: a NaN or an infinity anywhere is seen.
TEST(Elementwise, AllFiniteSeesANonFiniteValueAnywhere) {
  for (std::size_t n : {1u, 19u, 65536u, 65537u, 300000u}) {
    std::vector<float> values(n, -3.5f);
    EXPECT_TRUE(all_finite(values.data(), n)) << n;
    for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
      for (float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
        values[at] = bad;
        EXPECT_FALSE(all_finite(values.data(), n)) << n << " at " << at;
        values[at] = std::numeric_limits<float>::max();
        EXPECT_TRUE(all_finite(values.data(), n)) << n << " at " << at;
      }
    }
  }
}

}  // namespace
}  // namespace backprop::kernels
