// Initialisations (nn/init.h), the symmetric eigen-decomposition under them (linalg.h), and the
// Scale layer.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/conv.h"
#include "nabla/gradcheck.h"
#include "nabla/linalg.h"
#include "nabla/nn/init.h"
#include "nabla/nn/scale.h"
#include "test_util.h"

namespace nabla {
namespace {

// A known matrix: the 3x3 second-difference matrix [[2,-1,0],[-1,2,-1],[0,-1,2]] has
// eigenvalues 2 - sqrt 2, 2, 2 + sqrt 2 with eigenvectors (1, sqrt 2, 1)/2, (1, 0, -1)/sqrt 2 and
// (1, -sqrt 2, 1)/2 (each up to its sign).
TEST(Linalg, SymmetricEigenOfAKnownMatrix) {
  const Tensor<double> a({3, 3}, {2, -1, 0, -1, 2, -1, 0, -1, 2});
  const SymmetricEigen e = symmetric_eigen(a);
  const double r2 = std::sqrt(2.0);
  const double want_values[3] = {2 - r2, 2, 2 + r2};
  const double want_vectors[3][3] = {{0.5, r2 / 2, 0.5}, {1 / r2, 0, -1 / r2}, {0.5, -r2 / 2, 0.5}};
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(e.values[k], want_values[k], 1e-12);
    const double sign = e.vectors[0 * 3 + k] * want_vectors[k][0] >= 0 ? 1.0 : -1.0;
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(sign * e.vectors[i * 3 + k], want_vectors[k][i], 1e-12) << "vector " << k;
    }
  }
  // A random symmetric matrix: A V = V diag(values), V orthonormal.
  Rng rng(3);
  const int64_t n = 12;
  Tensor<double> m({n, n});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j <= i; ++j) m[i * n + j] = m[j * n + i] = rng.normal();
  }
  const SymmetricEigen r = symmetric_eigen(m);
  for (int64_t k = 0; k < n; ++k) {
    if (k > 0) {
      EXPECT_LE(r.values[k - 1], r.values[k]);
    }
    for (int64_t i = 0; i < n; ++i) {
      double av = 0;
      for (int64_t j = 0; j < n; ++j) av += m[i * n + j] * r.vectors[j * n + k];
      EXPECT_NEAR(av, r.values[k] * r.vectors[i * n + k], 1e-10);
    }
    for (int64_t l = 0; l < n; ++l) {
      double dot = 0;
      for (int64_t i = 0; i < n; ++i) dot += r.vectors[i * n + k] * r.vectors[i * n + l];
      EXPECT_NEAR(dot, k == l ? 1.0 : 0.0, 1e-12);
    }
  }
  EXPECT_THROW(symmetric_eigen(Tensor<double>({2, 3})), std::invalid_argument);
  EXPECT_THROW(symmetric_eigen(Tensor<double>({1, 1}, {NAN})), std::invalid_argument);
}

TEST(Init, DiracMakesIdentityFiltersOfTheFirstOnes) {
  Rng rng(4);
  Tensor<float> w({5, 3, 3, 3});
  for (float& v : w.values()) v = static_cast<float>(rng.normal());
  const Tensor<float> before = w.clone();
  nn::init::dirac(w, 3);
  const Tensor<float> x = [&] {
    Tensor<float> t({2, 3, 6, 6});
    for (float& v : t.values()) v = static_cast<float>(rng.normal());
    return t;
  }();
  const Tensor<float> y = conv2d_forward_reference(x, w, Tensor<float>(), 1, 1);
  // The first three output channels are the input's channels.
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t i = 0; i < 36; ++i) ASSERT_EQ(y[(n * 5 + c) * 36 + i], x[(n * 3 + c) * 36 + i]);
    }
  }
  for (int64_t i = 3 * 27; i < w.numel(); ++i) ASSERT_EQ(w[i], before[i]);  // the rest untouched
  Tensor<float> even({2, 2, 2, 2});
  nn::init::dirac(even);  // an even kernel: the tap below and right of the centre, as PyTorch
  EXPECT_EQ(even[0 * 8 + 0 * 4 + 3], 1.0F);
  EXPECT_EQ(even[1 * 8 + 1 * 4 + 3], 1.0F);
  EXPECT_THROW(nn::init::dirac(w, 4), std::invalid_argument);
  Tensor<float> flat({4, 3});
  EXPECT_THROW(nn::init::dirac(flat), std::invalid_argument);
}

// The whitening filters decorrelate the patches: the first K filters applied to the images give
// channels with covariance diag(l / (l + eps)), close to the identity; the last K are their
// negatives.
TEST(Init, WhiteningFiltersDecorrelatePatches) {
  Rng rng(5);
  const int64_t N = 40, C = 3, H = 9, W = 8;
  Tensor<double> images({N, C, H, W});
  // Correlated channels and neighbours: a smooth random field plus channel mixing.
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t y = 0; y < H; ++y) {
      double carry = rng.normal();
      for (int64_t x = 0; x < W; ++x) {
        carry = 0.8 * carry + 0.6 * rng.normal();
        const double other = rng.normal();
        for (int64_t c = 0; c < C; ++c) {
          images[((n * C + c) * H + y) * W + x] =
              carry * (1.0 + 0.5 * c) + 0.3 * c * other + 0.2 * rng.normal();
        }
      }
    }
  }
  const double eps = 1e-9;
  const Tensor<double> filters = nn::init::whitening_filters(images, 2, 2, eps);
  const int64_t K = C * 4;
  ASSERT_EQ(filters.shape(), (Shape{2 * K, C, 2, 2}));
  for (int64_t i = 0; i < K * K; ++i) ASSERT_EQ(filters[K * K + i], -filters[i]);
  const Tensor<double> out = conv2d_forward_reference(images, filters, Tensor<double>(), 1, 0);
  const int64_t P = (H - 1) * (W - 1);
  for (int64_t a = 0; a < K; ++a) {
    for (int64_t b = 0; b <= a; ++b) {
      double s = 0;
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t p = 0; p < P; ++p) {
          s += out[(n * 2 * K + a) * P + p] * out[(n * 2 * K + b) * P + p];
        }
      }
      EXPECT_NEAR(s / static_cast<double>(N * P), a == b ? 1.0 : 0.0, 1e-6) << a << "," << b;
    }
  }
  EXPECT_THROW(nn::init::whitening_filters(images, 10, 2, eps), std::invalid_argument);
}

TEST(Layers, ScaleMultipliesAndHasItsGradient) {
  Rng rng(6);
  nn::Scale<double> scale(1.0 / 9);
  const Variable<double> x(testing::random_normal({3, 4}, rng), true);
  EXPECT_TRUE(scale.named_parameters().empty());
  EXPECT_DOUBLE_EQ(scale(x).value()[5], x.value()[5] / 9);
  const GradcheckResult r = gradcheck([&] { return scale(x); }, {{"x", x}});
  EXPECT_TRUE(r.ok) << r.message;
}

}  // namespace
}  // namespace nabla
