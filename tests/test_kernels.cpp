// The fast float32 kernels against plain references on odd sizes (not a multiple of the vector
// width, a single element, batch 1, one channel), on every instruction set this CPU can run.
// CMake registers this binary three times: as is, and with NABLA_MAX_ISA capping both kernel
// families (nabla's own and oneDNN's) at AVX2 and at plain x86-64 / SSE4.1, so that the fallbacks
// run here too.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "nabla/conv.h"
#include "nabla/kernels.h"
#include "nabla/machine.h"
#include "nabla/rng.h"
#include "simd/simd.h"
#include "tensor/gemm_kernel.h"
#include "test_util.h"

namespace nabla {
namespace {

std::vector<float> random_values(int64_t n, Rng& rng, double scale = 1.0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(rng.normal(0.0, scale));
  return v;
}

const int64_t kSizes[] = {0, 1, 15, 17, 31, 33, 1000, 65537, 200003};

std::vector<simd::Isa> runnable_isas() {
  std::vector<simd::Isa> out;
  for (simd::Isa isa : {simd::Isa::kGeneric, simd::Isa::kAvx2, simd::Isa::kAvx512}) {
    if (simd::cpu_supports(isa) && isa <= simd::active_isa()) out.push_back(isa);
  }
  return out;
}

// Runs `body` once per instruction set, restoring the active one afterwards.
template <typename F>
void for_each_isa(F body) {
  const simd::Isa saved = simd::active_isa();
  for (simd::Isa isa : runnable_isas()) {
    SCOPED_TRACE("isa " + simd::isa_name(isa));
    simd::set_isa(isa);
    body();
  }
  simd::set_isa(saved);
}

TEST(SimdKernels, CapFromEnvironmentIsInForce) {
  const char* cap = std::getenv("NABLA_MAX_ISA");
  if (cap == nullptr) GTEST_SKIP() << "no cap set for this registration";
  EXPECT_EQ(simd::isa_name(simd::active_isa()), cap);
  const std::string conv = conv_backend_isa();
  EXPECT_EQ(conv.find("avx512"), std::string::npos) << conv;
  if (std::string(cap) == "generic") {
    EXPECT_EQ(conv.find("avx2"), std::string::npos) << conv;
  }
}

TEST(SimdKernels, ActivationsMatchScalarBitForBit) {
  Rng rng(1);
  for_each_isa([&] {
    for (int64_t n : kSizes) {
      const std::vector<float> x = random_values(n, rng), dy = random_values(n, rng);
      std::vector<float> y(x.size()), dx(x.size()), ly(x.size()), ldx(x.size());
      simd::relu_forward(x.data(), y.data(), n);
      simd::relu_backward(y.data(), dy.data(), dx.data(), n);
      simd::leaky_relu_forward(x.data(), ly.data(), n, 0.02F);
      simd::leaky_relu_backward(x.data(), dy.data(), ldx.data(), n, 0.02F);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(y[i], x[i] > 0 ? x[i] : 0.0F) << "n " << n << " i " << i;
        ASSERT_EQ(dx[i], x[i] > 0 ? dy[i] : 0.0F);
        ASSERT_EQ(ly[i], x[i] > 0 ? x[i] : 0.02F * x[i]);
        ASSERT_EQ(ldx[i], x[i] > 0 ? dy[i] : 0.02F * dy[i]);
      }
    }
  });
}

// The float GELU evaluates erf and exp from a fit: within 1e-6 of the exact function (double,
// std::erf) at every magnitude, and the same bits on every instruction set.
TEST(SimdKernels, GeluMatchesExactFunctionAndIsTheSameOnEveryIsa) {
  Rng rng(5);
  const int64_t n = 4099;
  std::vector<float> x = random_values(n, rng, 3.0), dy = random_values(n, rng);
  x[0] = 0.0F;
  x[1] = -12.0F;
  x[2] = 12.0F;
  x[3] = -90.0F;
  x[4] = 1e-20F;
  std::vector<float> first_y, first_dx;
  for_each_isa([&] {
    std::vector<float> y(x.size()), dx(x.size());
    simd::gelu_forward(x.data(), y.data(), n);
    simd::gelu_backward(x.data(), dy.data(), dx.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double v = x[i], cdf = 0.5 * (1 + std::erf(v / std::sqrt(2.0)));
      const double pdf = std::exp(-0.5 * v * v) / std::sqrt(2 * M_PI);
      ASSERT_NEAR(y[i], v * cdf, 1e-6 * std::max(1.0, std::abs(v))) << "x " << v;
      ASSERT_NEAR(dx[i], dy[i] * (cdf + v * pdf), 1e-6 * std::max(1.0, std::abs(double{dy[i]})))
          << "x " << v;
    }
    if (first_y.empty()) {
      first_y = y;
      first_dx = dx;
    }
    ASSERT_EQ(y, first_y);
    ASSERT_EQ(dx, first_dx);
    // NaN stays NaN (and reaches no integer conversion: UBSan would flag it).
    const float nan = std::numeric_limits<float>::quiet_NaN(), one = 1.0F;
    float ny = 0, ndx = 0;
    simd::gelu_forward(&nan, &ny, 1);
    simd::gelu_backward(&nan, &one, &ndx, 1);
    EXPECT_TRUE(std::isnan(ny));
    EXPECT_TRUE(std::isnan(ndx));
  });
}

TEST(SimdKernels, OptimizerUpdatesMatchScalarBitForBit) {
  Rng rng(2);
  const simd::AdamArgs a{0.9F, 0.999F, 1e-3F / 0.19F, std::sqrt(0.002999F), 1e-8F, 0.01F};
  for_each_isa([&] {
    for (int64_t n : kSizes) {
      const std::vector<float> w0 = random_values(n, rng), g = random_values(n, rng);
      const std::vector<float> m0 = random_values(n, rng, 0.1);
      std::vector<float> v0(static_cast<size_t>(n));
      for (float& x : v0) x = static_cast<float>(std::abs(rng.normal(0.0, 0.1)));
      std::vector<float> w = w0, m = m0, v = v0, w_sgd = w0, y = w0;
      simd::adam(a, w.data(), g.data(), m.data(), v.data(), n);
      simd::sgd(0.01F, 0.001F, w_sgd.data(), g.data(), n);
      simd::axpy(-0.5F, g.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const float d = g[i] + a.weight_decay * w0[i];
        const float mi = a.beta1 * m0[i] + (1.0F - a.beta1) * d;
        const float vi = a.beta2 * v0[i] + (1.0F - a.beta2) * d * d;
        ASSERT_EQ(m[i], mi) << "n " << n << " i " << i;
        ASSERT_EQ(v[i], vi);
        ASSERT_EQ(w[i], w0[i] - a.step_size * mi / (std::sqrt(vi) / a.bias2_sqrt + a.eps));
        ASSERT_EQ(w_sgd[i], w0[i] - 0.01F * (g[i] + 0.001F * w0[i]));
        ASSERT_EQ(y[i], w0[i] + -0.5F * g[i]);
      }
    }
  });
}

TEST(SimdKernels, AllFiniteFindsEveryBadValue) {
  Rng rng(3);
  for_each_isa([&] {
    for (int64_t n : kSizes) {
      std::vector<float> x = random_values(n, rng);
      EXPECT_TRUE(simd::all_finite(x.data(), n));
      for (float bad :
           {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
            -std::numeric_limits<float>::infinity()}) {
        for (int64_t at : {int64_t{0}, n / 2, n - 1}) {
          if (n == 0) continue;
          const float saved = x[at];
          x[at] = bad;
          EXPECT_FALSE(simd::all_finite(x.data(), n)) << "n " << n << " at " << at;
          x[at] = saved;
        }
      }
    }
  });
}

// The batch-norm kernels against their definitions in simd.h, bit for bit: sums over 8
// interleaved double lanes combined as ((0+1)+(2+3))+((4+5)+(6+7)), elementwise results with the
// same float operations, on every instruction set.
TEST(SimdKernels, BatchNormKernelsMatchTheirDefinitionBitForBit) {
  Rng rng(6);
  const auto lanes = [](int64_t n, const auto& f) {
    double a[8] = {};
    for (int64_t i = 0; i < n; ++i) a[i % 8] += f(i);
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  };
  for_each_isa([&] {
    for (int64_t n : kSizes) {
      const std::vector<float> x = random_values(n, rng, 3.0), dy = random_values(n, rng);
      const double mean = 0.25;
      const simd::Planes one{1, n, n};
      EXPECT_EQ(simd::kernels().sum(x.data(), one),
                lanes(n, [&](int64_t i) { return double{x[i]}; }));
      EXPECT_EQ(simd::kernels().sq_dev(x.data(), one, mean),
                lanes(n, [&](int64_t i) { return (x[i] - mean) * (x[i] - mean); }));
      for (bool relu : {false, true}) {
        const simd::BatchNormArgs a{0.3F, 0.7F, -1.3F, 0.2F, relu};
        const auto xhat = [&](int64_t i) { return (x[i] - a.mean) * a.inv_std; };
        const auto dz = [&](int64_t i) {
          return !relu || a.gamma * xhat(i) + a.beta > 0.0F ? dy[i] : 0.0F;
        };
        std::vector<float> y(static_cast<size_t>(n)), dx(static_cast<size_t>(n));
        simd::kernels().batch_norm_forward(a, x.data(), y.data(), one);
        double sum = 0, dot = 0;
        simd::kernels().batch_norm_backward_sums(a, x.data(), dy.data(), one, &sum, &dot);
        EXPECT_EQ(sum, lanes(n, [&](int64_t i) { return double{dz(i)}; }));
        EXPECT_EQ(dot, lanes(n, [&](int64_t i) { return double{dz(i)} * xhat(i); }));
        simd::kernels().batch_norm_backward_dx(a, x.data(), dy.data(), dx.data(), one, 0.9F, 0.1F,
                                               -0.4F);
        for (int64_t i = 0; i < n; ++i) {
          const float v = a.gamma * xhat(i) + a.beta;
          ASSERT_EQ(y[i], relu ? std::max(v, 0.0F) : v) << "n " << n << " at " << i;
          ASSERT_EQ(dx[i], 0.9F * (dz(i) - 0.1F - xhat(i) * -0.4F)) << "n " << n << " at " << i;
        }
      }
    }
  });
  // The fused ReLU keeps a NaN, as std::max(NaN, 0) does.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  float y = 0;
  simd::kernels().batch_norm_forward({0, 1, 1, 0, true}, &nan, &y, {1, 1, 1});
  EXPECT_TRUE(std::isnan(y));
}

// A channel of several planes, strided: each plane's lane sums, added in plane order; the
// elementwise kernels touch the planes and nothing between them.
TEST(SimdKernels, BatchNormKernelsWalkStridedPlanes) {
  Rng rng(7);
  for_each_isa([&] {
    for (int64_t size : {1, 4, 17, 300}) {
      const simd::Planes planes{3, size, size + 5};
      const int64_t total = planes.count * planes.stride;
      const std::vector<float> x = random_values(total, rng), dy = random_values(total, rng);
      const simd::BatchNormArgs a{0.1F, 1.2F, 0.8F, -0.1F, true};
      double sum = 0, sq = 0, s = 0, d = 0;
      for (int64_t p = 0; p < planes.count; ++p) {
        const simd::Planes one{1, size, size};
        const int64_t off = p * planes.stride;
        sum += simd::kernels().sum(x.data() + off, one);
        sq += simd::kernels().sq_dev(x.data() + off, one, 0.5);
        double ps = 0, pd = 0;
        simd::kernels().batch_norm_backward_sums(a, x.data() + off, dy.data() + off, one, &ps, &pd);
        s += ps;
        d += pd;
      }
      EXPECT_EQ(simd::kernels().sum(x.data(), planes), sum);
      EXPECT_EQ(simd::kernels().sq_dev(x.data(), planes, 0.5), sq);
      double got_s = 0, got_d = 0;
      simd::kernels().batch_norm_backward_sums(a, x.data(), dy.data(), planes, &got_s, &got_d);
      EXPECT_EQ(got_s, s);
      EXPECT_EQ(got_d, d);
      std::vector<float> y(static_cast<size_t>(total), -7.0F),
          dx(static_cast<size_t>(total), -7.0F);
      simd::kernels().batch_norm_forward(a, x.data(), y.data(), planes);
      simd::kernels().batch_norm_backward_dx(a, x.data(), dy.data(), dx.data(), planes, 1, 0, 0);
      for (int64_t i = 0; i < total; ++i) {
        const bool inside = i % planes.stride < size;
        EXPECT_EQ(y[i] == -7.0F, !inside) << i;
        EXPECT_EQ(dx[i] == -7.0F, !inside) << i;
      }
    }
  });
}

// Largest |a - b| relative to the largest |b|.
double relative_error(const Tensor<float>& a, const Tensor<double>& b) {
  double scale = 0;
  for (double v : b.values()) scale = std::max(scale, std::abs(v));
  return max_abs_diff(tensor_cast<double>(a), b) / std::max(scale, 1e-30);
}

using testing::ConvCase;
using testing::random_normal;

// Shapes for every float32 convolution path: the odd shapes (oneDNN) and Winograd's.
std::vector<ConvCase> float_conv_cases() {
  std::vector<ConvCase> cases = testing::odd_conv_cases();
  cases.insert(
      cases.end(),
      {ConvCase{{1, 33, 2, 2}, {17, 33, 3, 3}, 1, 1}, ConvCase{{3, 64, 4, 4}, {48, 64, 3, 3}, 1, 1},
       // Winograd F(4x4, 3x3) (at least 128 tiles): maps that are and are not multiples of the
       // 4x4 tile, batch 1, channels not a multiple of the 16 lanes.
       ConvCase{{8, 16, 16, 16}, {16, 16, 3, 3}, 1, 1},
       ConvCase{{2, 17, 37, 29}, {19, 17, 3, 3}, 1, 1},
       ConvCase{{1, 33, 45, 46}, {16, 33, 3, 3}, 1, 1},
       ConvCase{{32, 64, 8, 8}, {32, 64, 3, 3}, 1, 1},
       // Winograd F(2x2, 3x3): too few 4x4 tiles, at least 32 of 2x2; maps of 2x2 and 3x3.
       ConvCase{{32, 64, 4, 4}, {48, 64, 3, 3}, 1, 1},
       ConvCase{{8, 20, 7, 9}, {17, 20, 3, 3}, 1, 1},
       ConvCase{{32, 64, 2, 2}, {48, 64, 3, 3}, 1, 1},
       ConvCase{{16, 20, 3, 3}, {17, 20, 3, 3}, 1, 1},
       // oneDNN, with its weight gradient summed over groups of several images (11 images).
       ConvCase{{11, 3, 9, 7}, {5, 3, 3, 3}, 1, 1}});
  return cases;
}

// Enough tiles for the blocked Winograd forward pass (the evaluation's): whole blocks, and a last
// block cut short; F(4x4, 3x3) and F(2x2, 3x3); maps whose last tile row and column stick out
// (37x29); a map wider than a block's tiles (tiles_w 275: blocks of one tile row). Their backward
// passes are checked for the same bits with the forward pass's saved state and for each gradient
// alone, not against the (slow) float64 reference.
std::vector<ConvCase> blocked_conv_cases() {
  return {ConvCase{{16, 16, 32, 32}, {16, 16, 3, 3}, 1, 1},
          ConvCase{{17, 17, 32, 32}, {19, 17, 3, 3}, 1, 1},
          ConvCase{{1030, 16, 2, 2}, {16, 16, 3, 3}, 1, 1},
          ConvCase{{13, 16, 37, 29}, {17, 16, 3, 3}, 1, 1},
          ConvCase{{1, 16, 16, 1100}, {16, 16, 3, 3}, 1, 1}};
}

// The float32 convolutions (Winograd or oneDNN) against the float64 direct reference.
TEST(ConvKernels, FloatFastPathMatchesReferenceOnOddShapes) {
  Rng rng(4);
  std::vector<ConvCase> cases = float_conv_cases();
  const size_t first_blocked = cases.size();
  for (const ConvCase& c : blocked_conv_cases()) cases.push_back(c);
  for (size_t k = 0; k < cases.size(); ++k) {
    const ConvCase& c = cases[k];
    SCOPED_TRACE("x " + shape_str(c.x) + " w " + shape_str(c.w));
    const Tensor<double> x = random_normal(c.x, rng), w = random_normal(c.w, rng),
                         b = random_normal({c.w[0]}, rng);
    const Tensor<float> xf = tensor_cast<float>(x), wf = tensor_cast<float>(w);
    const Tensor<float> y = conv2d_forward(xf, wf, tensor_cast<float>(b), c.stride, c.pad);
    const Tensor<double> y_ref = conv2d_forward_reference(x, w, b, c.stride, c.pad);
    ASSERT_EQ(y.shape(), y_ref.shape());
    EXPECT_LT(relative_error(y, y_ref), 1e-5);
    const Tensor<double> dy = random_normal(y.shape(), rng);
    const auto g =
        conv2d_backward(tensor_cast<float>(dy), xf, wf, c.stride, c.pad, true, true, true);
    if (k < first_blocked) {
      const auto g_ref = conv2d_backward_reference(dy, x, w, c.stride, c.pad);
      EXPECT_LT(relative_error(g.dx, g_ref.dx), 1e-5);
      EXPECT_LT(relative_error(g.dweight, g_ref.dweight), 1e-5);
      EXPECT_LT(relative_error(g.dbias, g_ref.dbias), 1e-5);
    }
    // With the forward pass's saved transforms, the backward pass gives the same bits.
    Conv2dSaved saved;
    const Tensor<float> y_kept =
        conv2d_forward(xf, wf, tensor_cast<float>(b), c.stride, c.pad, &saved);
    EXPECT_EQ(max_abs_diff(y_kept, y), 0.0F);
    const auto g_kept =
        conv2d_backward(tensor_cast<float>(dy), xf, wf, c.stride, c.pad, true, true, true, &saved);
    EXPECT_EQ(max_abs_diff(g_kept.dx, g.dx), 0.0F);
    EXPECT_EQ(max_abs_diff(g_kept.dweight, g.dweight), 0.0F);
    EXPECT_EQ(max_abs_diff(g_kept.dbias, g.dbias), 0.0F);
    // Only the wanted gradients.
    const auto only_w =
        conv2d_backward(tensor_cast<float>(dy), xf, wf, c.stride, c.pad, false, true, false);
    EXPECT_TRUE(only_w.dx.empty());
    EXPECT_TRUE(only_w.dbias.empty());
    EXPECT_EQ(max_abs_diff(only_w.dweight, g.dweight), 0.0F);
    const auto only_x =
        conv2d_backward(tensor_cast<float>(dy), xf, wf, c.stride, c.pad, true, false, false);
    EXPECT_TRUE(only_x.dweight.empty());
    EXPECT_EQ(max_abs_diff(only_x.dx, g.dx), 0.0F);
  }
}

// More images than one block of the Winograd backward pass holds (34 of these a block): the
// weight gradient summed over the blocks, the last one partial, and dx block by block, against the
// float64 reference; the same bits on 1 and 3 threads and whichever gradients are wanted.
TEST(ConvKernels, WinogradBackwardOverSeveralBlocksMatchesReference) {
  Rng rng(41);
  const ConvCase c{{40, 17, 32, 32}, {19, 17, 3, 3}, 1, 1};
  const Tensor<double> x = random_normal(c.x, rng), w = random_normal(c.w, rng);
  const Tensor<float> xf = tensor_cast<float>(x), wf = tensor_cast<float>(w);
  const Tensor<double> dy = random_normal({40, 19, 32, 32}, rng);
  const Tensor<float> dyf = tensor_cast<float>(dy);
  const auto g_ref = conv2d_backward_reference(dy, x, w, c.stride, c.pad);
  const int threads_before = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = conv2d_backward(dyf, xf, wf, c.stride, c.pad, true, true, false);
  omp_set_num_threads(3);
  const auto three = conv2d_backward(dyf, xf, wf, c.stride, c.pad, true, true, false);
  const auto only_w = conv2d_backward(dyf, xf, wf, c.stride, c.pad, false, true, false);
  const auto only_x = conv2d_backward(dyf, xf, wf, c.stride, c.pad, true, false, false);
  omp_set_num_threads(threads_before);
  EXPECT_LT(relative_error(one.dx, g_ref.dx), 1e-5);
  EXPECT_LT(relative_error(one.dweight, g_ref.dweight), 1e-5);
  EXPECT_EQ(max_abs_diff(three.dx, one.dx), 0.0F);
  EXPECT_EQ(max_abs_diff(three.dweight, one.dweight), 0.0F);
  EXPECT_EQ(max_abs_diff(only_w.dweight, one.dweight), 0.0F);
  EXPECT_EQ(max_abs_diff(only_x.dx, one.dx), 0.0F);
}

// A batch of 4214 tiles, where the AVX-512 build runs the Winograd products on LIBXSMM
// (src/tensor/winograd_impl.h's small_gemm_for): the blocked forward pass (blocks of 27 tile rows
// of 7, the last one partial), and the backward pass over 15 blocks of 6 images (294 tiles; the
// last of 2) whose weight gradient sums slices of 256 tiles, the last of each block partial,
// against the float64 reference; the same bits on 1 and 3 threads. Odd channel counts: masked
// lanes; 28-pixel rows: runs of 16 values across rows in the strips.
TEST(ConvKernels, WinogradOnLibxsmmShapesMatchesReference) {
  // The other builds run these shapes on oneDNN, as the other tests' (and the test is slow under
  // the sanitizers: 180 s).
  if (simd::active_isa() != simd::Isa::kAvx512) GTEST_SKIP() << "LIBXSMM runs in the AVX-512 build";
  Rng rng(43);
  const ConvCase c{{86, 17, 28, 28}, {19, 17, 3, 3}, 1, 1};
  const Tensor<double> x = random_normal(c.x, rng), w = random_normal(c.w, rng),
                       b = random_normal({19}, rng);
  const Tensor<float> xf = tensor_cast<float>(x), wf = tensor_cast<float>(w),
                      bf = tensor_cast<float>(b);
  const Tensor<double> dy = random_normal({86, 19, 28, 28}, rng);
  const Tensor<float> dyf = tensor_cast<float>(dy);
  const Tensor<double> y_ref = conv2d_forward_reference(x, w, b, c.stride, c.pad);
  const auto g_ref = conv2d_backward_reference(dy, x, w, c.stride, c.pad);
  const int threads_before = omp_get_max_threads();
  omp_set_num_threads(1);
  const Tensor<float> y_one = conv2d_forward(xf, wf, bf, c.stride, c.pad);
  const auto one = conv2d_backward(dyf, xf, wf, c.stride, c.pad, true, true, false);
  omp_set_num_threads(3);
  const Tensor<float> y_three = conv2d_forward(xf, wf, bf, c.stride, c.pad);
  const auto three = conv2d_backward(dyf, xf, wf, c.stride, c.pad, true, true, false);
  omp_set_num_threads(threads_before);
  EXPECT_LT(relative_error(y_one, y_ref), 1e-5);
  EXPECT_LT(relative_error(one.dx, g_ref.dx), 1e-5);
  EXPECT_LT(relative_error(one.dweight, g_ref.dweight), 1e-5);
  EXPECT_EQ(max_abs_diff(y_three, y_one), 0.0F);
  EXPECT_EQ(max_abs_diff(three.dx, one.dx), 0.0F);
  EXPECT_EQ(max_abs_diff(three.dweight, one.dweight), 0.0F);
}

// Every float32 path gives the same bits on 1, 2 and 3 threads, forward and backward.
TEST(ConvKernels, SameBitsOnAnyThreadCount) {
  Rng rng(16);
  const int threads_before = omp_get_max_threads();
  for (const ConvCase& c : float_conv_cases()) {
    SCOPED_TRACE("x " + shape_str(c.x) + " w " + shape_str(c.w));
    const Tensor<float> x = tensor_cast<float>(random_normal(c.x, rng)),
                        w = tensor_cast<float>(random_normal(c.w, rng)),
                        b = tensor_cast<float>(random_normal({c.w[0]}, rng));
    Tensor<float> dy;
    Conv2dGrads<float> first;
    Tensor<float> y_first;
    for (int threads = 1; threads <= 3; ++threads) {
      omp_set_num_threads(threads);
      const Tensor<float> y = conv2d_forward(x, w, b, c.stride, c.pad);
      if (threads == 1) dy = tensor_cast<float>(random_normal(y.shape(), rng));
      const auto g = conv2d_backward(dy, x, w, c.stride, c.pad, true, true, true);
      if (threads == 1) {
        y_first = y;
        first = g;
        continue;
      }
      EXPECT_EQ(max_abs_diff(y, y_first), 0.0F) << threads << " threads";
      EXPECT_EQ(max_abs_diff(g.dx, first.dx), 0.0F) << threads << " threads";
      EXPECT_EQ(max_abs_diff(g.dweight, first.dweight), 0.0F) << threads << " threads";
      EXPECT_EQ(max_abs_diff(g.dbias, first.dbias), 0.0F) << threads << " threads";
    }
  }
  omp_set_num_threads(threads_before);
}

// Batch norm (eval mode) and ReLU folded into the convolution, against the three steps done one
// after the other on the float64 reference convolution; every float32 path and float64.
TEST(ConvKernels, FoldedBatchNormMatchesConvThenBatchNorm) {
  Rng rng(14);
  std::vector<ConvCase> cases = float_conv_cases();
  for (const ConvCase& c : blocked_conv_cases()) cases.push_back(c);
  for (const ConvCase& c : cases) {
    SCOPED_TRACE("x " + shape_str(c.x) + " w " + shape_str(c.w));
    const int64_t O = c.w[0];
    const Tensor<double> x = random_normal(c.x, rng), w = random_normal(c.w, rng),
                         b = random_normal({O}, rng), gamma = random_normal({O}, rng),
                         beta = random_normal({O}, rng), mean = random_normal({O}, rng);
    Tensor<double> var = random_normal({O}, rng);
    for (double& v : var.values()) v = 0.5 + v * v;
    const double eps = 1e-5;
    const Tensor<double> conv = conv2d_forward_reference(x, w, b, c.stride, c.pad);
    for (bool relu : {false, true}) {
      SCOPED_TRACE(relu ? "relu" : "no relu");
      Tensor<double> expected = conv.clone();
      const int64_t plane = conv.dim(2) * conv.dim(3);
      for (int64_t i = 0; i < expected.numel(); ++i) {
        const int64_t o = i / plane % O;
        const double v = (conv[i] - mean[o]) / std::sqrt(var[o] + eps) * gamma[o] + beta[o];
        expected[i] = relu && v < 0 ? 0 : v;
      }
      const Tensor<double> y64 =
          conv2d_bn_inference(x, w, b, c.stride, c.pad, {gamma, beta, mean, var, eps}, relu);
      EXPECT_LT(max_abs_diff(y64, expected), 1e-12);
      const auto f = [](const Tensor<double>& t) { return tensor_cast<float>(t); };
      const Tensor<float> gf = f(gamma), bf = f(beta), mf = f(mean), vf = f(var);
      const Tensor<float> y32 =
          conv2d_bn_inference(f(x), f(w), f(b), c.stride, c.pad, {gf, bf, mf, vf, 1e-5F}, relu);
      ASSERT_EQ(y32.shape(), expected.shape());
      EXPECT_LT(relative_error(y32, expected), 1e-5);
    }
  }
  const Tensor<float> x({1, 2, 4, 4}), w({3, 2, 3, 3}), three({3}), two({2});
  EXPECT_THROW(
      conv2d_bn_inference(x, w, Tensor<float>(), 1, 1, {three, three, two, three, 1e-5F}, true),
      std::invalid_argument);
  EXPECT_THROW(conv2d_bn_inference(x, w, two, 1, 1, {three, three, three, three, 1e-5F}, true),
               std::invalid_argument);
}

// GEMM (oneDNN's SGEMM for float) against the three-loop reference, every transpose.
TEST(GemmKernels, FloatMatchesReferenceOnOddShapes) {
  Rng rng(5);
  for (const auto& [M, N, K] :
       {std::tuple{1, 1, 1}, std::tuple{17, 5, 33}, std::tuple{200, 100, 307},
        std::tuple{3, 129, 2}, std::tuple{65, 1, 19}}) {
    for (Trans ta : {Trans::kNo, Trans::kYes}) {
      for (Trans tb : {Trans::kNo, Trans::kYes}) {
        const std::vector<float> a = random_values(M * K, rng), b = random_values(K * N, rng);
        std::vector<float> c = random_values(M * N, rng);
        std::vector<float> c_ref = c;
        const int64_t lda = ta == Trans::kNo ? K : M, ldb = tb == Trans::kNo ? N : K;
        gemm(ta, tb, M, N, K, 0.5F, a.data(), lda, b.data(), ldb, 0.25F, c.data(), N);
        gemm_reference(ta, tb, M, N, K, 0.5F, a.data(), lda, b.data(), ldb, 0.25F, c_ref.data(), N);
        for (int64_t i = 0; i < M * N; ++i) {
          ASSERT_NEAR(c[i], c_ref[i], 1e-4 * (1 + std::sqrt(static_cast<double>(K))))
              << M << "x" << N << "x" << K;
        }
      }
    }
  }
}

// nabla's own GEMM (src/tensor/gemm_kernel.h) against a float64 product, on every instruction
// set: A and B row-major and transposed, leading dimensions wider than the matrices, sizes around
// the micro-kernel's block (rows, columns) and the packed depth, accumulation, and K = 0. Entries
// of C's leading-dimension padding stay as they were.
TEST(GemmKernels, OwnKernelMatchesFloat64ProductOnEveryIsa) {
  Rng rng(23);
  for_each_isa([&] {
    const detail::GemmShape shape = detail::gemm_build().shape;
    const int64_t mr = shape.mr, nr = shape.nr;
    for (const auto& [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                                  {mr, nr, 24},
                                  {mr + 1, nr - 1, 7},
                                  {3 * mr - 1, 2 * nr + 3, 257},
                                  {24 * mr + 5, nr + 1, 3},
                                  {5, 3 * nr, 600},
                                  {2, 7, 0}}) {
      for (const bool a_transposed : {false, true}) {
        for (const bool b_transposed : {false, true}) {
          for (const bool accumulate : {false, true}) {
            SCOPED_TRACE(std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) +
                         (a_transposed ? " A^T" : "") + (b_transposed ? " B^T" : "") +
                         (accumulate ? " +=" : ""));
            const int64_t lda = (a_transposed ? M : K) + 3, ldb = (b_transposed ? K : N) + 2,
                          ldc = N + 5;
            const std::vector<float> a = random_values((a_transposed ? K : M) * lda + 1, rng);
            const std::vector<float> b = random_values((b_transposed ? N : K) * ldb + 1, rng);
            std::vector<float> c = random_values(M * ldc, rng);
            const std::vector<float> c_before = c;
            detail::gemm_f32({.M = M,
                              .N = N,
                              .K = K,
                              .a = a.data(),
                              .a_row = a_transposed ? 1 : lda,
                              .a_col = a_transposed ? lda : 1,
                              .b = b.data(),
                              .b_row = b_transposed ? 1 : ldb,
                              .b_col = b_transposed ? ldb : 1,
                              .c = c.data(),
                              .ldc = ldc,
                              .accumulate = accumulate});
            for (int64_t i = 0; i < M; ++i) {
              for (int64_t j = 0; j < ldc; ++j) {
                const size_t at = static_cast<size_t>(i * ldc + j);
                if (j >= N) {
                  ASSERT_EQ(c[at], c_before[at]) << "padding of row " << i;
                  continue;
                }
                double sum = accumulate ? c_before[at] : 0.0, magnitude = std::abs(sum);
                for (int64_t k = 0; k < K; ++k) {
                  const double x = a[static_cast<size_t>(a_transposed ? k * lda + i : i * lda + k)];
                  const double y = b[static_cast<size_t>(b_transposed ? j * ldb + k : k * ldb + j)];
                  sum += x * y;
                  magnitude += std::abs(x * y);
                }
                ASSERT_NEAR(c[at], sum, 1e-6 * magnitude + 1e-30) << "C(" << i << ", " << j << ")";
              }
            }
          }
        }
      }
    }
  });
  const std::vector<float> a(16), b(16);
  std::vector<float> c(16);
  EXPECT_THROW(detail::gemm_f32({.M = 2,
                                 .N = 2,
                                 .K = 2,
                                 .a = a.data(),
                                 .a_row = 4,
                                 .a_col = 2,
                                 .b = b.data(),
                                 .b_row = 2,
                                 .b_col = 1,
                                 .c = c.data(),
                                 .ldc = 2}),
               std::invalid_argument);
}

// The machine's ceiling is measured, whatever the machine: positive, finite figures (their size
// depends on the machine and its load, so nothing more is asserted of them).
TEST(MachinePeak, MeasuresPositiveFiniteRates) {
  const MachinePeak peak = measure_machine_peak(1);
  EXPECT_GE(peak.threads, 1);
  for (const double v : {peak.gflops_one_core, peak.gflops_all_threads, peak.bandwidth_gbs}) {
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_GT(v, 0.0);
  }
}

}  // namespace
}  // namespace nabla
