// The hand-written modules of report Section 1: float64 gradient checks of every module and of the
// whole MLP, and the course's checks of the loss and the layers.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/gradcheck.h"
#include "nabla/kernels.h"
#include "nabla/manual/mlp.h"

namespace nabla::manual {
namespace {

Tensor<double> randn(Shape shape, Rng& rng, double scale = 1.0) {
  Tensor<double> t(std::move(shape));
  for (double& v : t.values()) v = rng.normal(0.0, scale);
  return t;
}

// <a, b>: turns a tensor output into a scalar with a random upstream gradient.
double dot(const Tensor<double>& a, const Tensor<double>& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += a[i] * b[i];
  return s;
}

void expect_ok(const GradcheckResult& r) {
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_LT(r.relative_error, 1e-6);
}

TEST(ManualLinear, GradcheckInputWeightBias) {
  Rng rng(1);
  Linear<double> layer(5, 4, rng);
  // Larger weights than the 1e-4 initialisation, so every gradient is well above round-off.
  layer.weight() = randn({4, 5}, rng);
  layer.bias() = randn({4}, rng);
  Tensor<double> x = randn({3, 5}, rng);
  const Tensor<double> g = randn({3, 4}, rng);
  auto loss = [&] { return dot(layer.forward(x), g); };
  layer.forward(x);
  const Tensor<double> dx = layer.backward(g);
  const Tensor<double> dw = layer.dweight().clone(), db = layer.dbias().clone();
  expect_ok(check_gradient(loss, x, dx, "x"));
  expect_ok(check_gradient(loss, layer.weight(), dw, "weight"));
  expect_ok(check_gradient(loss, layer.bias(), db, "bias"));
}

TEST(ManualLinear, InitialisationAndSkippedInputGradient) {
  Rng rng(2);
  Linear<double> layer(300, 200, rng, /*input_grad=*/false);
  double sum = 0, sum2 = 0;
  for (double w : layer.weight().values()) {
    sum += w;
    sum2 += w * w;
  }
  const double n = 300.0 * 200.0;
  EXPECT_NEAR(sum / n, 0.0, 3e-6);
  EXPECT_NEAR(std::sqrt(sum2 / n), 1e-4, 2e-6);
  for (double b : layer.bias().values()) EXPECT_EQ(b, 0.0);
  layer.forward(randn({2, 300}, rng));
  EXPECT_TRUE(layer.backward(randn({2, 200}, rng)).empty());
  EXPECT_EQ(layer.dweight().shape(), (Shape{200, 300}));
}

TEST(ManualLeakyReLU, GradcheckAwayFromKink) {
  Rng rng(3);
  Tensor<double> x = randn({4, 6}, rng);
  for (double& v : x.values()) v += v > 0 ? 0.1 : -0.1;  // keep |x| > 0.1 > step
  const Tensor<double> g = randn({4, 6}, rng);
  LeakyReLU<double> act(0.02);
  auto loss = [&] { return dot(act.forward(x), g); };
  act.forward(x);
  expect_ok(check_gradient(loss, x, act.backward(g), "x"));
}

TEST(ManualLeakyReLU, Values) {
  LeakyReLU<double> act(0.5);
  const Tensor<double> y = act.forward(Tensor<double>({3}, {-2, 0, 3}));
  EXPECT_EQ(y[0], -1);
  EXPECT_EQ(y[1], 0);
  EXPECT_EQ(y[2], 3);
}

TEST(ManualSoftMax, Gradcheck) {
  Rng rng(4);
  Tensor<double> x = randn({3, 5}, rng);
  const Tensor<double> g = randn({3, 5}, rng);
  SoftMax<double> sm;
  auto loss = [&] { return dot(sm.forward(x), g); };
  sm.forward(x);
  expect_ok(check_gradient(loss, x, sm.backward(g), "x"));
}

TEST(ManualSoftMax, RowsSumToOneAndLargeInputsAreStable) {
  SoftMax<double> sm;
  const Tensor<double> y = sm.forward(Tensor<double>({2, 3}, {1000, 1001, 1002, -5, 0, 5}));
  for (int s = 0; s < 2; ++s) {
    double sum = 0;
    for (int c = 0; c < 3; ++c) {
      EXPECT_TRUE(std::isfinite(y.at({s, c})));
      sum += y.at({s, c});
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
  // Shifting a row by a constant changes nothing.
  EXPECT_NEAR(y.at({0, 2}), std::exp(2.0) / (1 + std::exp(1.0) + std::exp(2.0)), 1e-12);
}

TEST(ManualCrossEntropy, ValuesAndGradcheck) {
  CrossEntropy<double> ce;
  // Uniform probabilities over C classes give log(C).
  EXPECT_NEAR(ce.forward(Tensor<double>::full({4, 10}, 0.1), {0, 3, 9, 2}), std::log(10.0), 1e-12);
  EXPECT_NEAR(ce.forward(Tensor<double>({2, 2}, {0.25, 0.75, 0.5, 0.5}), {1, 0}),
              -(std::log(0.75) + std::log(0.5)) / 2, 1e-12);
  Rng rng(5);
  SoftMax<double> sm;
  Tensor<double> p = sm.forward(randn({3, 4}, rng));
  const std::vector<int32_t> labels{2, 0, 3};
  auto loss = [&] { return ce.forward(p, labels); };
  ce.forward(p, labels);
  expect_ok(check_gradient(loss, p, ce.backward(), "probs"));
  EXPECT_THROW(ce.forward(p, {1, 2}), std::invalid_argument);
}

// The whole MLP, every parameter, with a random upstream gradient on the probabilities.
TEST(ManualMLP, GradcheckEveryParameter) {
  Rng rng(6);
  MLP<double> mlp(6, {5, 4}, 3, 0.02, rng);
  for (auto& p : mlp.parameters()) *p.value = randn(p.value->shape(), rng, 0.5);
  const Tensor<double> x = randn({4, 6}, rng);
  const Tensor<double> g = randn({4, 3}, rng);
  auto loss = [&] { return dot(mlp.forward(x), g); };
  mlp.forward(x);
  mlp.backward(g);
  for (auto& p : mlp.parameters()) {
    const Tensor<double> analytic = p.grad->clone();
    expect_ok(check_gradient(loss, *p.value, analytic, p.name));
  }
}

TEST(ManualMLP, GradcheckThroughTheLoss) {
  Rng rng(7);
  MLP<double> mlp(8, {6}, 4, 0.1, rng);
  for (auto& p : mlp.parameters()) *p.value = randn(p.value->shape(), rng, 0.5);
  const Tensor<double> x = randn({5, 8}, rng);
  const std::vector<int32_t> labels{0, 3, 1, 1, 2};
  CrossEntropy<double> ce;
  auto loss = [&] { return ce.forward(mlp.forward(x), labels); };
  loss();
  mlp.backward(ce.backward());
  for (auto& p : mlp.parameters()) {
    const Tensor<double> analytic = p.grad->clone();
    expect_ok(check_gradient(loss, *p.value, analytic, p.name));
  }
}

TEST(ManualMLP, NamesShapesAndSgd) {
  Rng rng(8);
  MLP<float> mlp(12, {7, 5}, 3, 0.02f, rng);
  auto params = mlp.parameters();
  ASSERT_EQ(params.size(), 6u);
  EXPECT_EQ(params[0].name, "fc1.weight");
  EXPECT_EQ(params[0].value->shape(), (Shape{7, 12}));
  EXPECT_EQ(params[5].name, "fc3.bias");
  EXPECT_EQ(params[5].value->shape(), (Shape{3}));
  EXPECT_THROW(mlp.forward(Tensor<float>({2, 11})), std::invalid_argument);

  // One SGD step lowers the loss on a fixed batch.
  Tensor<float> x({8, 12});
  for (float& v : x.values()) v = static_cast<float>(rng.normal());
  const std::vector<int32_t> labels{0, 1, 2, 0, 1, 2, 0, 1};
  for (auto& p : mlp.parameters()) {
    for (float& v : p.value->values()) v = static_cast<float>(rng.normal(0, 0.3));
  }
  CrossEntropy<float> ce;
  const float before = ce.forward(mlp.forward(x), labels);
  mlp.backward(ce.backward());
  sgd_step(mlp.parameters(), 0.05f);
  EXPECT_LT(ce.forward(mlp.forward(x), labels), before);
}

}  // namespace
}  // namespace nabla::manual
