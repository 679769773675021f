#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nabla/kernels.h"
#include "nabla/rng.h"
#include "nabla/tensor.h"

namespace nabla {
namespace {

TEST(Tensor, ShapeAndZeros) {
  Tensor<float> t({2, 3, 4});
  EXPECT_EQ(t.rank(), 3);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.dim(-1), 4);
  EXPECT_THROW(t.dim(3), std::out_of_range);
  for (float v : t.values()) EXPECT_EQ(v, 0.0f);
}

TEST(Tensor, ValuesMustMatchShape) {
  EXPECT_THROW(Tensor<double>({2, 2}, {1, 2, 3}), std::invalid_argument);
}

TEST(Tensor, ReshapeIsAViewCloneIsACopy) {
  Tensor<double> t({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor<double> v = t.reshape({3, -1});
  EXPECT_EQ(v.shape(), (Shape{3, 2}));
  EXPECT_TRUE(v.same_storage(t));
  v[5] = 50;
  EXPECT_EQ(t.at({1, 2}), 50);
  Tensor<double> c = t.clone();
  c[0] = -1;
  EXPECT_EQ(t[0], 0);
  EXPECT_THROW(t.reshape({4, 2}), std::invalid_argument);
}

TEST(Tensor, AtChecksBounds) {
  Tensor<float> t({2, 3});
  EXPECT_THROW(t.at({2, 0}), std::out_of_range);
  EXPECT_THROW(t.at({0}), std::out_of_range);
}

TEST(Tensor, SliceRowsCopies) {
  Tensor<float> t({3, 2}, {0, 1, 2, 3, 4, 5});
  Tensor<float> s = t.slice_rows(1, 3);
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  EXPECT_EQ(s[0], 2);
  EXPECT_EQ(s[3], 5);
  EXPECT_THROW(t.slice_rows(2, 4), std::out_of_range);
}

// The CBLAS path against the three-loop oracle, on odd shapes and every transpose combination.
TEST(Kernels, GemmMatchesReference) {
  Rng rng(1);
  for (auto [M, N, K] : {std::tuple{1, 1, 1}, {7, 5, 3}, {17, 1, 33}, {1, 31, 9}, {64, 70, 65}}) {
    for (Trans ta : {Trans::kNo, Trans::kYes}) {
      for (Trans tb : {Trans::kNo, Trans::kYes}) {
        Tensor<double> a(ta == Trans::kNo ? Shape{M, K} : Shape{K, M});
        Tensor<double> b(tb == Trans::kNo ? Shape{K, N} : Shape{N, K});
        for (double& v : a.values()) v = rng.normal();
        for (double& v : b.values()) v = rng.normal();
        Tensor<double> fast({M, N}), slow({M, N});
        for (int64_t i = 0; i < M * N; ++i) fast[i] = slow[i] = rng.normal();
        gemm(ta, tb, M, N, K, 0.5, a.data(), a.dim(1), b.data(), b.dim(1), 2.0, fast.data(), N);
        gemm_reference(ta, tb, M, N, K, 0.5, a.data(), a.dim(1), b.data(), b.dim(1), 2.0,
                       slow.data(), N);
        EXPECT_LT(max_abs_diff(fast, slow), 1e-12) << M << "x" << N << "x" << K;
      }
    }
  }
}

TEST(Kernels, MatmulFloatAndShapeErrors) {
  Tensor<float> a({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor<float> b({3, 2}, {1, 0, 0, 1, 1, 1});
  Tensor<float> c = matmul(a, b);
  EXPECT_EQ(c.shape(), (Shape{2, 2}));
  EXPECT_EQ(c.at({0, 0}), 4);
  EXPECT_EQ(c.at({1, 1}), 11);
  EXPECT_THROW(matmul(a, a), std::invalid_argument);
  EXPECT_EQ(matmul(a, a, Trans::kNo, Trans::kYes).at({0, 1}), 32);
}

TEST(Kernels, RowHelpers) {
  Tensor<double> x({2, 3}, {1, 5, 2, 7, 0, 7});
  Tensor<double> s = sum_rows(x);
  EXPECT_EQ(s.shape(), (Shape{3}));
  EXPECT_EQ(s[0], 8);
  EXPECT_EQ(s[2], 9);
  EXPECT_EQ(argmax_rows(x), (std::vector<int64_t>{1, 0}));  // the first of equal maxima
  add_row_vector(x, Tensor<double>({3}, {1, 1, 1}));
  EXPECT_EQ(x[0], 2);
  EXPECT_THROW(add_row_vector(x, Tensor<double>({2})), std::invalid_argument);
}

TEST(Rng, SameSeedSameStream) {
  Rng a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(Rng(7).next_u64(), c.next_u64());
}

TEST(Rng, StateRoundTrip) {
  Rng a(3);
  a.normal();  // leaves a spare normal in the state
  const Rng::State s = a.state();
  const double expected = a.normal();
  Rng b(99);
  b.set_state(s);
  EXPECT_EQ(b.normal(), expected);
}

TEST(Rng, UniformAndNormalMoments) {
  Rng rng(42);
  const int n = 200000;
  double sum = 0, sum2 = 0, usum = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    usum += u;
    const double z = rng.normal(1.0, 2.0);
    sum += z;
    sum2 += z * z;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(usum / n, 0.5, 0.005);
  EXPECT_NEAR(mean, 1.0, 0.02);
  EXPECT_NEAR(var, 4.0, 0.06);
}

TEST(Rng, PermutationAndBelow) {
  Rng rng(5);
  std::vector<int64_t> p = rng.permutation(1000);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(p, iota);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 30000; ++i) counts[rng.below(3)]++;
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
}

}  // namespace
}  // namespace nabla
