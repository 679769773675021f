// The generic layers of nabla::nn: PyTorch parity of the hand-written backward passes (fixture
// layers_parity.json), float64 gradient checks of every layer, and the fast paths that any
// Sequential gets (fusion) giving the unfused layers' answers.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "nabla/error.h"
#include "nabla/gradcheck.h"
#include "nabla/kernels.h"
#include "nabla/nn/layers.h"
#include "nabla/ops.h"
#include "test_util.h"

namespace nabla::nn {
namespace {

using V = Variable<double>;
using nlohmann::json;
using testing::random_normal;

Tensor<double> tensor(const json& j) {
  return Tensor<double>(j["shape"].get<Shape>(), j["values"].get<std::vector<double>>());
}

void expect_close(const Tensor<double>& got, const json& want, const std::string& what) {
  const Tensor<double> w = tensor(want);
  ASSERT_EQ(got.shape(), w.shape()) << what;
  EXPECT_LT(max_abs_diff(got, w), 1e-10) << what;
}

std::shared_ptr<Module<double>> make_layer(const std::string& name, Rng& rng) {
  if (name == "gelu") return std::make_shared<GELU<double>>();
  if (name == "avg_pool2d_k3_s2_p1") return std::make_shared<AvgPool2d<double>>(3, 2, 1);
  if (name == "avg_pool2d_k2") return std::make_shared<AvgPool2d<double>>(2);
  if (name == "adaptive_avg_pool2d_3x2") return std::make_shared<AdaptiveAvgPool2d<double>>(3, 2);
  if (name == "adaptive_avg_pool2d_1") return std::make_shared<AdaptiveAvgPool2d<double>>(1);
  if (name == "conv2d_same_k4") {
    return std::make_shared<Conv2d<double>>(2, 3, 4, rng, Conv2dOptions{1, Padding::same()});
  }
  if (name == "conv2d_same_k3_nobias") {
    return std::make_shared<Conv2d<double>>(2, 3, 3, rng,
                                            Conv2dOptions{1, Padding::same(), /*bias=*/false});
  }
  if (name == "conv2d_valid_k2_s2") {
    return std::make_shared<Conv2d<double>>(3, 2, 2, rng, Conv2dOptions{2, Padding::valid()});
  }
  if (name == "batch_norm1d_2d") return std::make_shared<BatchNorm1d<double>>(3);
  if (name == "batch_norm1d_3d") return std::make_shared<BatchNorm1d<double>>(2);
  return nullptr;
}

// Against PyTorch float64: y, dx and every parameter's gradient of sum(y * upstream).
TEST(LayersParity, ForwardAndBackwardMatchPyTorch) {
  std::ifstream in(std::string(NABLA_FIXTURES_DIR) + "/layers_parity.json");
  ASSERT_TRUE(in.good());
  const json fixture = json::parse(in);
  ASSERT_GE(fixture.size(), 11u);
  for (const auto& [name, c] : fixture.items()) {
    SCOPED_TRACE(name);
    Rng rng(0);
    const std::shared_ptr<Module<double>> layer = make_layer(name, rng);
    V x(tensor(c["x"]), true);
    V y;
    if (name.starts_with("pad2d")) {
      y = pad2d(x, 1, 2, 0, 3);
    } else {
      ASSERT_NE(layer, nullptr) << "no nabla layer for fixture case " << name;
      ASSERT_EQ(layer->named_parameters().size(), c["params"].size());
      for (auto& [pname, p] : layer->named_parameters()) p.value() = tensor(c["params"][pname]);
      y = (*layer)(x);
    }
    expect_close(y.value(), c["y"], "y");
    Tensor<double> upstream(y.shape());
    for (int64_t i = 0; i < upstream.numel(); ++i) upstream[i] = std::cos(0.7 * static_cast<double>(i));
    y.backward(upstream);
    expect_close(x.grad(), c["dx"], "dx");
    if (layer) {
      for (auto& [pname, p] : layer->named_parameters()) expect_close(p.grad(), c["grads"][pname], pname);
    }
    if (c.contains("running_mean")) {
      const auto buffers = layer->named_buffers();
      expect_close(buffers[0].second, c["running_mean"], "running_mean");
      expect_close(buffers[1].second, c["running_var"], "running_var");
    }
  }
}

void expect_gradcheck(Module<double>& m, const V& x) {
  std::vector<NamedInput> inputs{{"x", x}};
  for (auto& [name, p] : m.named_parameters()) {
    if (p.requires_grad()) inputs.push_back({name, p});
  }
  const GradcheckResult r = gradcheck([&] { return m(x); }, inputs);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(LayersGradcheck, EveryLayerInFloat64) {
  Rng rng(11);
  const V x4(random_normal({2, 3, 6, 5}, rng), true);
  const V x2(random_normal({4, 6}, rng), true);
  GELU<double> gelu_layer;
  expect_gradcheck(gelu_layer, x2);
  LeakyReLU<double> leaky(0.1);
  expect_gradcheck(leaky, x2);
  AvgPool2d<double> avg(3, 2, 1);
  expect_gradcheck(avg, x4);
  AdaptiveAvgPool2d<double> adaptive(4, 3);
  expect_gradcheck(adaptive, x4);
  for (const Conv2dOptions& o : {Conv2dOptions{1, Padding::same()}, Conv2dOptions{2, 0, false},
                                 Conv2dOptions{1, Padding::valid()}}) {
    Conv2d<double> conv2(3, 2, 2, rng, o);
    expect_gradcheck(conv2, x4);
  }
  Linear<double> no_bias(6, 3, rng, /*bias=*/false);
  EXPECT_EQ(no_bias.named_parameters().size(), 1u);
  expect_gradcheck(no_bias, x2);
  BatchNorm1d<double> bn1(6);
  expect_gradcheck(bn1, x2);
  BatchNorm1d<double> bn1_3d(3);
  expect_gradcheck(bn1_3d, V(random_normal({4, 3, 5}, rng), true));
  // A frozen weight gets no gradient; without affine there are no parameters at all.
  BatchNorm2d<double> frozen(3, {.train_weight = false});
  expect_gradcheck(frozen, x4);
  frozen(x4).backward(Tensor<double>::full(x4.shape(), 1.0));
  EXPECT_TRUE(frozen.named_parameters()[0].second.grad().empty());
  EXPECT_FALSE(frozen.named_parameters()[1].second.grad().empty());
  BatchNorm2d<double> plain(3, {.affine = false});
  EXPECT_TRUE(plain.named_parameters().empty());
  EXPECT_EQ(plain.state_dict().size(), 3u);  // running_mean, running_var, num_batches_tracked
  expect_gradcheck(plain, x4);
  auto body = std::make_shared<Sequential<double>>();
  // No bias before the batch norm: its gradient would be 0 in theory, round-off in practice.
  body->add(std::make_shared<Conv2d<double>>(3, 4, 3, rng, Conv2dOptions{1, 1, false}));
  body->add(std::make_shared<BatchNorm2d<double>>(4));
  body->add(std::make_shared<ReLU<double>>());
  Residual<double> residual(body, std::make_shared<Conv2d<double>>(3, 4, 1, rng));
  expect_gradcheck(residual, x4);
  EXPECT_EQ(residual.state_dict()[0].name, "body.0.weight");
  EXPECT_EQ(residual.state_dict().back().name, "shortcut.bias");
}

TEST(Layers, DropoutScalesKeepsAndIsReproducible) {
  Dropout<double> drop(0.25, /*seed=*/3);
  V x(Tensor<double>::full({200, 50}, 1.0), true);
  V y = drop(x);
  int64_t zeros = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    const double v = y.value()[i];
    EXPECT_TRUE(v == 0.0 || std::abs(v - 1 / 0.75) < 1e-15) << v;
    zeros += v == 0.0;
  }
  EXPECT_NEAR(static_cast<double>(zeros) / 10000.0, 0.25, 0.02);
  y.backward(Tensor<double>::full(y.shape(), 1.0));
  EXPECT_EQ(max_abs_diff(x.grad(), y.value()), 0.0);  // dx = the mask times 1/(1-p)
  Dropout<double> same(0.25, 3);
  EXPECT_EQ(max_abs_diff(same(V(x.value())).value(), y.value()), 0.0);
  drop.eval();
  EXPECT_EQ(max_abs_diff(drop(x).value(), x.value()), 0.0);
  EXPECT_THROW(Dropout<double>(1.0), ConfigError);
}

TEST(Layers, BadSettingsAndShapesAreNamed) {
  Rng rng(1);
  EXPECT_THROW(Conv2d<float>(3, 4, 3, rng, Conv2dOptions{2, Padding::same()}), ConfigError);
  EXPECT_THROW(Conv2d<float>(3, 4, 0, rng), ConfigError);
  BatchNorm1d<double> bn(3);
  EXPECT_THROW(bn(V(Tensor<double>({2, 3, 4, 5}))), std::invalid_argument);
  Residual<double> r(std::make_shared<Linear<double>>(4, 3, rng));
  EXPECT_THROW(r(V(Tensor<double>({2, 4}))), std::invalid_argument);
}

// A user's Sequential of Conv2d, BatchNorm2d and ReLU (float32) gets the fused kernels: the same
// bits as the layers run one by one in training, and the folded convolution at evaluation.
TEST(LayersFusion, AnySequentialFusesConvBatchNormRelu) {
  Rng rng(5);
  Sequential<float> net;
  auto conv = net.add(std::make_shared<Conv2d<float>>(3, 8, 3, rng, Conv2dOptions{1, 1}));
  auto bn = net.add(std::make_shared<BatchNorm2d<float>>(8));
  auto relu_layer = net.add(std::make_shared<ReLU<float>>());
  Tensor<float> x({4, 3, 10, 10});
  for (float& v : x.values()) v = static_cast<float>(rng.normal());

  Variable<float> xg(x, true);
  const Variable<float> fused = net(xg);
  EXPECT_STREQ(fused.node()->op, "batch_norm2d_relu");
  // The same layers one by one (the batch norm's running statistics move twice more).
  const Variable<float> separate = (*relu_layer)((*bn)((*conv)(xg)));
  EXPECT_EQ(max_abs_diff(fused.value(), separate.value()), 0.0F);

  net.eval();
  const NoGradGuard no_grad;
  const Variable<float> folded = net(Variable<float>(x));
  EXPECT_STREQ(folded.node()->op, "conv2d_bn_relu");
  const Variable<float> unfolded = (*relu_layer)((*bn)((*conv)(Variable<float>(x))));
  EXPECT_LT(max_abs_diff(folded.value(), unfolded.value()), 1e-4F);
}

}  // namespace
}  // namespace nabla::nn
