// Convolution, pooling and 2-D batch norm: fast kernels against the reference on odd shapes,
// float64 gradchecks of the ops and modules, and the ConvNet's shape and parameter count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "nabla/conv.h"
#include "nabla/gradcheck.h"
#include "nabla/kernels.h"
#include "nabla/nn/convnet.h"
#include "nabla/ops.h"
#include "nabla/pool.h"
#include "nabla/profile.h"
#include "test_util.h"

namespace nabla {
namespace {

using V = Variable<double>;

using testing::ConvCase;
using testing::random_normal;

TEST(ConvKernels, FastMatchesReferenceOnOddShapes) {
  Rng rng(1);
  for (const ConvCase& c : testing::odd_conv_cases()) {
    const Tensor<double> x = random_normal(c.x, rng), w = random_normal(c.w, rng),
                         b = random_normal({c.w[0]}, rng);
    const Tensor<double> y = conv2d_forward(x, w, b, c.stride, c.pad);
    const Tensor<double> y_ref = conv2d_forward_reference(x, w, b, c.stride, c.pad);
    ASSERT_EQ(y.shape(), y_ref.shape());
    EXPECT_LT(max_abs_diff(y, y_ref), 1e-12);
    const Tensor<double> dy = random_normal(y.shape(), rng);
    const auto g = conv2d_backward(dy, x, w, c.stride, c.pad, true, true, true);
    const auto g_ref = conv2d_backward_reference(dy, x, w, c.stride, c.pad);
    EXPECT_LT(max_abs_diff(g.dx, g_ref.dx), 1e-12);
    EXPECT_LT(max_abs_diff(g.dweight, g_ref.dweight), 1e-12);
    EXPECT_LT(max_abs_diff(g.dbias, g_ref.dbias), 1e-12);
  }
}

TEST(ConvKernels, FloatPathAgreesWithDouble) {
  Rng rng(2);
  const Tensor<double> x = random_normal({2, 3, 8, 8}, rng), w = random_normal({4, 3, 3, 3}, rng);
  const Tensor<float> y =
      conv2d_forward(tensor_cast<float>(x), tensor_cast<float>(w), Tensor<float>(), 1, 1);
  const Tensor<double> y_ref = conv2d_forward_reference(x, w, Tensor<double>(), 1, 1);
  EXPECT_LT(max_abs_diff(tensor_cast<double>(y), y_ref), 1e-4);
}

TEST(ConvKernels, ShapeErrors) {
  const Tensor<double> x({1, 3, 8, 8}), w({4, 2, 3, 3});
  EXPECT_THROW(conv2d_forward(x, w, Tensor<double>(), 1, 1), std::invalid_argument);
  EXPECT_THROW(conv2d_forward(Tensor<double>({3, 8, 8}), w, Tensor<double>(), 1, 1),
               std::invalid_argument);
  PoolArgmax arg;
  EXPECT_THROW(max_pool2d_forward(x, 3, 2, 2, arg), std::invalid_argument);
}

TEST(MaxPool, PaddedCellsNeverWinAndValues) {
  // All-negative input: with padding, a padded zero would win if it took part.
  Tensor<double> x({1, 1, 2, 2}, {-4, -3, -2, -1});
  PoolArgmax arg;
  const Tensor<double> y = max_pool2d_forward(x, 3, 2, 1, arg);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 1, 1}));
  EXPECT_EQ(y[0], -1);
  EXPECT_EQ(arg[0], 3);
  Tensor<double> z({1, 1, 32, 32});
  EXPECT_EQ(max_pool2d_forward(z, 3, 2, 1, arg).shape(), (Shape{1, 1, 16, 16}));
}

// The separable max pooling against the direct reference: values and argmax, on odd maps, every
// window geometry the checks allow, and many ties (values on a coarse grid, half of them 0 as
// after a ReLU), where the first maximum in row-major order must win.
// With autograd off or an input that needs no gradient, the op keeps no argmax: the same values.
TEST(MaxPool, OpWithoutGradientGivesTheSameValues) {
  Rng rng(16);
  const Tensor<double> x = random_normal({2, 3, 9, 8}, rng);
  const V with_grad = max_pool2d(V(x, true), 3, 2, 1);
  EXPECT_EQ(max_abs_diff(max_pool2d(V(x, false), 3, 2, 1).value(), with_grad.value()), 0.0);
  NoGradGuard no_grad;
  const V without = max_pool2d(V(x, true), 3, 2, 1);
  EXPECT_FALSE(without.requires_grad());
  EXPECT_EQ(max_abs_diff(without.value(), with_grad.value()), 0.0);
}

// Also the path without argmax (inference), which the op takes when no gradient is wanted.
TEST(MaxPool, FastMatchesReferenceWithTies) {
  Rng rng(13);
  for (const Shape& shape : {Shape{2, 3, 7, 9}, Shape{1, 1, 1, 1}, Shape{3, 2, 32, 32},
                             Shape{1, 4, 2, 5}, Shape{2, 1, 13, 4}}) {
    Tensor<float> x(shape);
    for (int64_t i = 0; i < x.numel(); ++i) {
      x[i] = std::max(0.0F, static_cast<float>(std::round(rng.normal(0.0, 2.0))));
    }
    for (int64_t kernel = 1; kernel <= 4; ++kernel) {
      for (int64_t stride = 1; stride <= 3; ++stride) {
        for (int64_t pad = 0; 2 * pad <= kernel; ++pad) {
          if (shape[2] + 2 * pad < kernel || shape[3] + 2 * pad < kernel) continue;
          SCOPED_TRACE(shape_str(shape) + " kernel " + std::to_string(kernel) + " stride " +
                       std::to_string(stride) + " pad " + std::to_string(pad));
          PoolArgmax arg, arg_ref;
          const Tensor<float> y = max_pool2d_forward(x, kernel, stride, pad, arg);
          const Tensor<float> y_ref = max_pool2d_forward_reference(x, kernel, stride, pad, arg_ref);
          ASSERT_EQ(y.shape(), y_ref.shape());
          EXPECT_EQ(max_abs_diff(y, y_ref), 0.0F);
          EXPECT_TRUE(std::equal(arg.begin(), arg.end(), arg_ref.begin(), arg_ref.end()));
          // Without the argmax (inference): the same maxima.
          const Tensor<float> y_values = max_pool2d_forward(x, kernel, stride, pad);
          ASSERT_EQ(y_values.shape(), y_ref.shape());
          EXPECT_EQ(max_abs_diff(y_values, y_ref), 0.0F);
        }
      }
    }
  }
}

TEST(ConvOps, Gradchecks) {
  Rng rng(3);
  V x(random_normal({2, 3, 5, 4}, rng), true), w(random_normal({2, 3, 3, 3}, rng), true),
      b(random_normal({2}, rng), true);
  const auto r = gradcheck([&] { return conv2d(x, w, b, 1, 1); }, {{"x", x}, {"w", w}, {"b", b}});
  EXPECT_TRUE(r.ok) << r.message;
  const auto r2 = gradcheck([&] { return conv2d(x, w, V(), 2, 0); }, {{"x", x}, {"w", w}});
  EXPECT_TRUE(r2.ok) << r2.message;
  // Distinct values, so no window has a tie (a kink of max).
  Tensor<double> distinct({2, 2, 5, 5});
  const auto perm = rng.permutation(distinct.numel());
  for (int64_t i = 0; i < distinct.numel(); ++i) distinct[i] = 0.1 * static_cast<double>(perm[i]);
  V p(distinct, true);
  const auto r3 = gradcheck([&] { return max_pool2d(p, 3, 2, 1); }, {{"x", p}});
  EXPECT_TRUE(r3.ok) << r3.message;
}

TEST(ConvOps, BatchNorm2dTrainingAndEval) {
  Rng rng(4);
  V x(random_normal({3, 2, 4, 3}, rng, 2.0), true), g(random_normal({2}, rng), true),
      b(random_normal({2}, rng), true);
  Tensor<double> rm({2}), rv = Tensor<double>::full({2}, 1.0);
  const auto train = gradcheck([&] { return batch_norm2d(x, g, b, rm, rv, true, 0.1, 1e-5); },
                               {{"x", x}, {"gamma", g}, {"beta", b}});
  EXPECT_TRUE(train.ok) << train.message;
  const auto eval = gradcheck([&] { return batch_norm2d(x, g, b, rm, rv, false, 0.1, 1e-5); },
                              {{"x", x}, {"gamma", g}, {"beta", b}});
  EXPECT_TRUE(eval.ok) << eval.message;
  // Fused with ReLU: the same as relu after batch norm, and its own gradient check.
  for (bool training : {true, false}) {
    const V fused = batch_norm2d(x, g, b, rm, rv, training, 0.1, 1e-5, true);
    const V plain = relu(batch_norm2d(x, g, b, rm, rv, training, 0.1, 1e-5));
    EXPECT_EQ(max_abs_diff(fused.value(), plain.value()), 0.0);
    const auto check =
        gradcheck([&] { return batch_norm2d(x, g, b, rm, rv, training, 0.1, 1e-5, true); },
                  {{"x", x}, {"gamma", g}, {"beta", b}});
    EXPECT_TRUE(check.ok) << check.message;
  }

  // One training call updates the running statistics with momentum 0.1 and unbiased variance.
  Tensor<double> mean({2}), var = Tensor<double>::full({2}, 1.0);
  batch_norm2d(x, g, b, mean, var, true, 0.1, 1e-5);
  const int64_t M = 3 * 4 * 3;
  double s = 0, sq = 0;
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t i = 0; i < 12; ++i) s += x.value()[(n * 2 + 1) * 12 + i];
  const double mu = s / M;
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t i = 0; i < 12; ++i) sq += std::pow(x.value()[(n * 2 + 1) * 12 + i] - mu, 2);
  EXPECT_NEAR(mean[1], 0.1 * mu, 1e-12);
  EXPECT_NEAR(var[1], 0.9 + 0.1 * sq / (M - 1), 1e-12);
  EXPECT_THROW(batch_norm2d(x, g, b, mean, var, true, 0.1, 1e-5).backward(), std::invalid_argument);
  EXPECT_THROW(batch_norm2d(V(Tensor<double>({3, 5})), g, b, mean, var, true, 0.1, 1e-5),
               std::invalid_argument);
}

// The float32 batch norm (vectorised kernels, xhat and the ReLU's mask recomputed in the
// backward pass) against the float64 op, on planes that are and are not multiples of the kernels'
// 8 lanes and 256-value blocks.
TEST(ConvOps, BatchNorm2dFloatMatchesFloat64) {
  Rng rng(12);
  for (const Shape& shape : {Shape{3, 5, 7, 9}, Shape{2, 3, 20, 17}, Shape{1, 2, 1, 2}}) {
    const Tensor<double> x = random_normal(shape, rng, 2.0), r = random_normal(shape, rng),
                         gamma = random_normal({shape[1]}, rng),
                         beta = random_normal({shape[1]}, rng);
    for (bool training : {true, false}) {
      for (bool relu : {false, true}) {
        SCOPED_TRACE(shape_str(shape) + (training ? " training" : " eval") + (relu ? " relu" : ""));
        const auto run = [&](auto zero) {
          using T = decltype(zero);
          Variable<T> xv(tensor_cast<T>(x), true), g(tensor_cast<T>(gamma), true),
              b(tensor_cast<T>(beta), true);
          Tensor<T> rm = Tensor<T>::full({shape[1]}, T(0.1)),
                    rv = Tensor<T>::full({shape[1]}, T(1.5));
          const Variable<T> y = batch_norm2d(xv, g, b, rm, rv, training, T(0.1), T(1e-5), relu);
          sum(mul(y, Variable<T>(tensor_cast<T>(r)))).backward();
          return std::vector<Tensor<double>>{
              tensor_cast<double>(y.value()), tensor_cast<double>(xv.grad()),
              tensor_cast<double>(g.grad()), tensor_cast<double>(b.grad())};
        };
        const auto f = run(0.0F), d = run(0.0);
        for (size_t i = 0; i < f.size(); ++i) {
          EXPECT_LT(max_abs_diff(f[i], d[i]), 1e-4) << "output " << i;
        }
      }
    }
  }
}

TEST(ConvModules, GradchecksOfConvAndBatchNorm) {
  Rng rng(5);
  nn::Conv2d<double> conv(2, 3, 3, 1, 1, rng);
  V x(random_normal({2, 2, 4, 4}, rng), true);
  std::vector<NamedInput> inputs{{"x", x}};
  for (auto& [n, p] : conv.named_parameters()) inputs.push_back({n, p});
  const auto r = gradcheck([&] { return conv(x); }, inputs);
  EXPECT_TRUE(r.ok) << r.message;
  nn::BatchNorm2d<double> bn(2);
  std::vector<NamedInput> bn_inputs{{"x", x}};
  for (auto& [n, p] : bn.named_parameters()) bn_inputs.push_back({n, p});
  const auto r2 = gradcheck([&] { return bn(x); }, bn_inputs);
  EXPECT_TRUE(r2.ok) << r2.message;
  const auto buffers = bn.named_buffers();
  ASSERT_EQ(buffers.size(), 3u);
  EXPECT_EQ(buffers[0].first, "running_mean");
  EXPECT_NE(buffers[0].second[0], 0.0);  // updated in place by the calls above
  EXPECT_EQ(buffers[2].first, "num_batches_tracked");
  EXPECT_GT(buffers[2].second[0], 0.0);  // one per training-mode call, as PyTorch counts
}

// Table 1: conv weights 3*3*in*out + out biases, batch norm 2 per channel, linear 512*10 + 10.
TEST(ConvNet, ShapeParameterCountAndNames) {
  Rng rng(6);
  nn::ConvNet<float> net(3, 10, rng);
  int64_t count = 0;
  for (auto& p : net.parameters()) count += p.numel();
  const int64_t convs =
      (3 * 64 + 64 * 128 + 128 * 256 + 256 * 256 + 256 * 512 + 3 * 512 * 512) * 9 +
      (64 + 128 + 256 + 256 + 512 + 512 + 512 + 512);
  const int64_t bns = 2 * (64 + 128 + 256 + 256 + 512 + 512 + 512 + 512);
  EXPECT_EQ(count, convs + bns + 512 * 10 + 10);
  EXPECT_EQ(count, 9231114);
  const auto params = net.named_parameters();
  EXPECT_EQ(params.front().first, "conv1.weight");
  EXPECT_EQ(params.front().second.shape(), (Shape{64, 3, 3, 3}));
  EXPECT_EQ(params[2].first, "bn1.weight");
  EXPECT_EQ(params.back().first, "linear.bias");
  const auto buffers = net.named_buffers();
  EXPECT_EQ(buffers.size(), 24u);
  EXPECT_EQ(buffers[0].first, "bn1.running_mean");
  EXPECT_EQ(buffers.back().first, "bn5_b.num_batches_tracked");
  // PyTorch's state-dict order: each module's parameters, then its buffers, module by module.
  const auto state = net.state_dict();
  ASSERT_EQ(state.size(), params.size() + buffers.size());
  const char* const first_block[] = {"conv1.weight",
                                     "conv1.bias",
                                     "bn1.weight",
                                     "bn1.bias",
                                     "bn1.running_mean",
                                     "bn1.running_var",
                                     "bn1.num_batches_tracked",
                                     "conv2.weight"};
  for (size_t i = 0; i < std::size(first_block); ++i) EXPECT_EQ(state[i].name, first_block[i]);
  EXPECT_EQ(state[6].kind, nn::BufferKind::kCount);
  EXPECT_EQ(state[6].value.shape(), Shape{});
  Tensor<float> x({2, 3, 32, 32});
  for (float& v : x.values()) v = static_cast<float>(rng.normal());
  EXPECT_EQ(net(Variable<float>(x)).shape(), (Shape{2, 10}));
}

// In eval mode with autograd off, each conv + batch norm + ReLU runs as one folded convolution:
// the same logits as the separate ops (autograd on) up to rounding; training mode is untouched.
TEST(ConvNet, EvaluationFoldsBatchNormIntoTheConvolutions) {
  Rng rng(15);
  nn::ConvNet<float> net(3, 10, rng);
  Tensor<float> x({4, 3, 32, 32});
  for (float& v : x.values()) v = static_cast<float>(rng.normal());
  net(Variable<float>(x));  // training mode: the running statistics move off 0 and 1
  for (auto& [name, t] : net.named_buffers()) {
    for (float& v : t.values()) v += static_cast<float>(0.1 * std::abs(rng.normal()));
  }
  net.eval();
  const Tensor<float> separate = net(Variable<float>(x)).value();
  Tensor<float> folded;
  {
    NoGradGuard no_grad;
    folded = net(Variable<float>(x)).value();
  }
  double scale = 0;
  for (float v : separate.values()) scale = std::max(scale, std::abs(static_cast<double>(v)));
  EXPECT_GT(max_abs_diff(folded, separate), 0.0F);          // a different computation ...
  EXPECT_LT(max_abs_diff(folded, separate) / scale, 1e-4);  // ... of the same function
  NoGradGuard no_grad;
  const Variable<float> w(Tensor<float>({2, 2, 3, 3})), b(Tensor<float>({2}));
  const Tensor<float> two = Tensor<float>::full({2}, 1.0F);
  EXPECT_NO_THROW(conv2d_bn_inference(Variable<float>(Tensor<float>({1, 2, 4, 4})), w, b, 1, 1,
                                      BatchNormStats<float>{two, two, two, two, 1e-5F}, true));
}

TEST(ConvNet, FoldedInferenceRefusesAutograd) {
  const Variable<float> x(Tensor<float>({1, 2, 4, 4})), w(Tensor<float>({2, 2, 3, 3})),
      b(Tensor<float>({2}));
  const Tensor<float> ones = Tensor<float>::full({2}, 1.0F);
  EXPECT_THROW(conv2d_bn_inference(x, w, b, 1, 1,
                                   BatchNormStats<float>{ones, ones, ones, ones, 1e-5F}, true),
               std::logic_error);
}

// The synchronised path (a ReplicaSum) on a single replica: the same values as the plain path and
// its own float64 gradient check; each training pass sums over the replicas three times forward
// (count, sums, squared deviations) and once backward.
TEST(ConvOps, BatchNorm2dSynchronisedPathOnOneReplica) {
  Rng rng(14);
  V x(random_normal({3, 2, 4, 3}, rng, 2.0), true), g(random_normal({2}, rng), true),
      b(random_normal({2}, rng), true);
  int calls = 0;
  const ReplicaSum one = [&calls](std::span<double>) { ++calls; };
  for (bool relu : {false, true}) {
    Tensor<double> rm({2}), rv = Tensor<double>::full({2}, 1.0);
    Tensor<double> rm_sync({2}), rv_sync = Tensor<double>::full({2}, 1.0);
    const V plain = batch_norm2d(x, g, b, rm, rv, true, 0.1, 1e-5, relu);
    calls = 0;
    V synced = batch_norm2d(x, g, b, rm_sync, rv_sync, true, 0.1, 1e-5, relu, one);
    EXPECT_EQ(calls, 3);
    EXPECT_LT(max_abs_diff(synced.value(), plain.value()), 1e-12);
    EXPECT_LT(max_abs_diff(rm_sync, rm), 1e-12);
    EXPECT_LT(max_abs_diff(rv_sync, rv), 1e-12);
    sum(synced).backward();
    EXPECT_EQ(calls, 4);
    const auto check =
        gradcheck([&] { return batch_norm2d(x, g, b, rm, rv, true, 0.1, 1e-5, relu, one); },
                  {{"x", x}, {"gamma", g}, {"beta", b}});
    EXPECT_TRUE(check.ok) << check.message;
  }
}

// With profiling on, every convolution pass is added up under its layer's geometry and pass
// (`nabla bench --layers`): the direct convolution's FLOPs, and for Winograd its GEMMs' FLOPs
// (36 positions x tiles x C x O x 2) and thread-seconds; off, nothing is recorded.
TEST(ConvProfile, EveryPassIsRecordedUnderItsLayer) {
  Rng rng(31);
  const Tensor<float> x = tensor_cast<float>(testing::random_normal({8, 16, 16, 16}, rng));
  const Tensor<float> w = tensor_cast<float>(testing::random_normal({32, 16, 3, 3}, rng));
  const Tensor<float> rgb = tensor_cast<float>(testing::random_normal({2, 3, 8, 8}, rng));
  const Tensor<float> w_rgb = tensor_cast<float>(testing::random_normal({4, 3, 3, 3}, rng));
  const auto run = [&] {
    const Tensor<float> y = conv2d_forward(x, w, Tensor<float>(), 1, 1);
    conv2d_backward(y, x, w, 1, 1, true, true, false);
    const Tensor<float> y_rgb = conv2d_forward(rgb, w_rgb, Tensor<float>(), 1, 1);
    conv2d_backward(y_rgb, rgb, w_rgb, 1, 1, true, true, false);
  };
  profile::take();
  run();
  EXPECT_TRUE(profile::take().kernels.empty());
  profile::enable(true);
  run();
  run();
  const profile::Totals totals = profile::take();
  profile::enable(false);
  const std::string layer = "3x3 conv 16->32 on 16x16, stride 1, batch 8";
  const double direct = 2.0 * 8 * 32 * 16 * 16 * 16 * 9;
  // 16x16 maps: 4 x 4 tiles of 4 x 4 a map, 128 tiles (enough for F(4,3)).
  const double gemm = 2.0 * 36 * 128 * 16 * 32;
  for (const char* pass : {"forward", "input gradient", "weight gradient"}) {
    SCOPED_TRACE(pass);
    const auto it = totals.kernels.find({layer, pass});
    ASSERT_NE(it, totals.kernels.end());
    EXPECT_EQ(it->second.algorithm, "winograd F(4,3)");
    EXPECT_EQ(it->second.calls, 2);
    EXPECT_DOUBLE_EQ(it->second.flops, 2 * direct);
    EXPECT_DOUBLE_EQ(it->second.gemm_flops, 2 * gemm);
    EXPECT_GT(it->second.seconds, 0.0);
    EXPECT_GT(it->second.gemm_seconds, 0.0);
  }
  const auto dy = totals.kernels.find({layer, "backward: transform of dy"});
  ASSERT_NE(dy, totals.kernels.end());
  EXPECT_EQ(dy->second.flops, 0.0);
  for (const char* pass : {"forward", "input gradient", "weight gradient"}) {
    SCOPED_TRACE(pass);
    const auto it = totals.kernels.find({"3x3 conv 3->4 on 8x8, stride 1, batch 2", pass});
    ASSERT_NE(it, totals.kernels.end());
    EXPECT_EQ(it->second.algorithm, std::string(pass) == "weight gradient"
                                        ? "im2col + GEMM by image groups"
                                        : "oneDNN direct");
    EXPECT_DOUBLE_EQ(it->second.flops, 2 * (2.0 * 2 * 4 * 8 * 8 * 3 * 9));
    EXPECT_EQ(it->second.gemm_seconds, 0.0);
  }
}

}  // namespace
}  // namespace nabla
