// The autograd engine: every op's gradient checked in float64, broadcasting, the tape itself.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/broadcast.h"
#include "nabla/function.h"
#include "nabla/gradcheck.h"
#include "nabla/ops.h"
#include "nabla/rng.h"

namespace nabla {
namespace {

using V = Variable<double>;

V randn(Shape shape, Rng& rng, double scale = 1.0, bool requires_grad = true) {
  Tensor<double> t(std::move(shape));
  for (double& v : t.values()) v = rng.normal(0.0, scale);
  return V(t, requires_grad);
}

// Values bounded away from zero (for log, sqrt, pow, div, relu kinks).
V positive(Shape shape, Rng& rng, bool requires_grad = true) {
  Tensor<double> t(std::move(shape));
  for (double& v : t.values()) v = rng.uniform(0.5, 2.0);
  return V(t, requires_grad);
}

V away_from_zero(Shape shape, Rng& rng) {
  Tensor<double> t(std::move(shape));
  for (double& v : t.values()) {
    v = rng.normal();
    v += v > 0 ? 0.1 : -0.1;
  }
  return V(t, true);
}

void expect_gradcheck(const std::function<V()>& f, const std::vector<NamedInput>& inputs,
                      GradcheckOptions options = {}) {
  const GradcheckResult r = gradcheck(f, inputs, options);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_LT(r.relative_error, 1e-6);
}

TEST(Broadcast, ShapesAndValues) {
  EXPECT_EQ(broadcast_shapes({3, 1, 5}, {4, 1}), (Shape{3, 4, 5}));
  EXPECT_EQ(broadcast_shapes({}, {2, 3}), (Shape{2, 3}));
  EXPECT_THROW(broadcast_shapes({2, 3}, {4}), std::invalid_argument);
  const Tensor<double> a({2, 1}, {1, 2}), b({3}, {10, 20, 30});
  const Tensor<double> c = broadcast_binary(a, b, BinaryOp::kAdd);
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(c.at({1, 2}), 32);
  EXPECT_EQ(sum_to_shape(c, {3}).at({2}), 63);
  EXPECT_EQ(sum_to_shape(c, {2, 1}).at({0, 0}), 63);
  EXPECT_EQ(sum_dims(c, {0}, false).shape(), (Shape{3}));
  EXPECT_EQ(sum_dims(c, {}, false).shape(), (Shape{}));
  EXPECT_EQ(sum_dims(c, {-1}, true).shape(), (Shape{2, 1}));
}

TEST(AutogradOps, MatmulAndLinear) {
  Rng rng(1);
  V a = randn({3, 4}, rng), b = randn({4, 2}, rng);
  expect_gradcheck([&] { return matmul(a, b); }, {{"a", a}, {"b", b}});
  V x = randn({3, 4}, rng), w = randn({5, 4}, rng), bias = randn({5}, rng);
  expect_gradcheck([&] { return linear(x, w, bias); }, {{"x", x}, {"w", w}, {"bias", bias}});
  EXPECT_THROW(linear(x, b, bias), std::invalid_argument);
}

TEST(AutogradOps, BinaryWithBroadcasting) {
  Rng rng(2);
  V a = randn({3, 1, 4}, rng), b = randn({2, 4}, rng), c = positive({1, 4}, rng);
  expect_gradcheck([&] { return add(a, b); }, {{"a", a}, {"b", b}});
  expect_gradcheck([&] { return sub(a, b); }, {{"a", a}, {"b", b}});
  expect_gradcheck([&] { return mul(a, b); }, {{"a", a}, {"b", b}});
  expect_gradcheck([&] { return div(a, c); }, {{"a", a}, {"c", c}});
  V s = randn({}, rng);
  expect_gradcheck([&] { return mul(b, s) + 2.0; }, {{"b", b}, {"s", s}});
}

TEST(AutogradOps, Unary) {
  Rng rng(3);
  V x = randn({2, 3}, rng), p = positive({2, 3}, rng), k = away_from_zero({2, 3}, rng);
  expect_gradcheck([&] { return neg(x); }, {{"x", x}});
  expect_gradcheck([&] { return exp(x); }, {{"x", x}});
  expect_gradcheck([&] { return log(p); }, {{"p", p}});
  expect_gradcheck([&] { return pow(p, 2.5); }, {{"p", p}});
  expect_gradcheck([&] { return pow(p, -1.0); }, {{"p", p}});
  expect_gradcheck([&] { return sqrt(p); }, {{"p", p}});
  expect_gradcheck([&] { return relu(k); }, {{"k", k}});
  expect_gradcheck([&] { return leaky_relu(k, 0.02); }, {{"k", k}});
}

TEST(AutogradOps, Reductions) {
  Rng rng(4);
  V x = randn({3, 4, 2}, rng);
  expect_gradcheck([&] { return sum(x); }, {{"x", x}});
  expect_gradcheck([&] { return sum(x, {0, 2}, true); }, {{"x", x}});
  expect_gradcheck([&] { return mean(x, {1}); }, {{"x", x}});
  expect_gradcheck([&] { return var(x, {0}, false, true); }, {{"x", x}});
  expect_gradcheck([&] { return var(x, {0, 2}, true); }, {{"x", x}});
  expect_gradcheck([&] { return max(x, 1); }, {{"x", x}});
  expect_gradcheck([&] { return max(x, -1, true); }, {{"x", x}});
}

TEST(AutogradOps, ReductionValues) {
  V x(Tensor<double>({2, 3}, {1, 2, 3, 4, 6, 8}), true);
  EXPECT_DOUBLE_EQ(mean(x).item(), 4.0);
  EXPECT_DOUBLE_EQ(var(x, {1}, false).value()[1], 8.0 / 3.0);
  EXPECT_DOUBLE_EQ(var(x, {1}, true).value()[1], 4.0);
  EXPECT_EQ(max(x, 0).value()[2], 8);
  EXPECT_THROW(var(V(Tensor<double>({1, 3})), {0}, true), std::invalid_argument);
}

TEST(AutogradOps, ShapeOps) {
  Rng rng(5);
  V x = randn({2, 3, 2}, rng);
  expect_gradcheck([&] { return reshape(x, {3, 4}); }, {{"x", x}});
  expect_gradcheck([&] { return mul(flatten(x), flatten(x)); }, {{"x", x}});
  EXPECT_EQ(flatten(x).shape(), (Shape{2, 6}));
}

TEST(AutogradOps, LogSoftmaxAndCrossEntropy) {
  Rng rng(6);
  V z = randn({4, 5}, rng, 2.0);
  expect_gradcheck([&] { return log_softmax(z); }, {{"z", z}});
  const std::vector<int32_t> labels{1, 4, 0, 4};
  expect_gradcheck([&] { return cross_entropy(z, labels); }, {{"z", z}});
  // The fused loss equals the composed one, and stays finite for huge logits.
  const double composed =
      -mean(sum(log_softmax(z) * V(Tensor<double>({4, 5}, {0, 1, 0, 0, 0, 0, 0, 0, 0, 1,
                                                           1, 0, 0, 0, 0, 0, 0, 0, 0, 1})),
                {1}))
           .item();
  EXPECT_NEAR(cross_entropy(z, labels).item(), composed, 1e-12);
  V huge(Tensor<double>({1, 3}, {1000, -1000, 0}), true);
  EXPECT_NEAR(cross_entropy(huge, {0}).item(), 0.0, 1e-12);
  EXPECT_NEAR(cross_entropy(huge, {2}).item(), 1000.0, 1e-9);
  EXPECT_THROW(cross_entropy(z, {1, 2}), std::invalid_argument);
  EXPECT_THROW(cross_entropy(z, {1, 2, 3, 5}), std::out_of_range);
}

// Label smoothing e: the target is (1 - e) onehot + e / C; summed or averaged over the batch.
TEST(AutogradOps, CrossEntropyWithLabelSmoothingAndSum) {
  Rng rng(7);
  V z = randn({4, 5}, rng, 2.0);
  const std::vector<int32_t> labels{1, 4, 0, 4};
  for (Reduction r : {Reduction::kMean, Reduction::kSum}) {
    const CrossEntropyOptions o{0.2, r};
    expect_gradcheck([&] { return cross_entropy(z, labels, o); }, {{"z", z}});
    Tensor<double> target({4, 5});
    for (int64_t s = 0; s < 4; ++s) {
      for (int64_t c = 0; c < 5; ++c) target[s * 5 + c] = 0.2 / 5 + (c == labels[s] ? 0.8 : 0.0);
    }
    V per_example = -sum(log_softmax(z) * V(target), {1});
    const double want = (r == Reduction::kSum ? sum(per_example) : mean(per_example)).item();
    EXPECT_NEAR(cross_entropy(z, labels, o).item(), want, 1e-12);
  }
  EXPECT_EQ(cross_entropy(z, labels, {0.0, Reduction::kMean}).item(),
            cross_entropy(z, labels).item());
  EXPECT_THROW(cross_entropy(z, labels, {1.5, Reduction::kMean}), std::invalid_argument);
  EXPECT_THROW(cross_entropy(z, labels, {-0.1, Reduction::kSum}), std::invalid_argument);
}

TEST(AutogradOps, LargeInputsUseRandomProjections) {
  Rng rng(7);
  V a = randn({40, 30}, rng), b = randn({30, 50}, rng);
  GradcheckOptions options;
  options.full_jacobian_limit = 100;
  expect_gradcheck([&] { return matmul(a, b); }, {{"a", a}, {"b", b}}, options);
}

// A function whose backward is deliberately wrong must be caught, naming the input.
struct WrongSquare {
  using Scalar = double;
  static Tensor<double> forward(FunctionContext<double>& ctx,
                                const std::vector<Tensor<double>>& in) {
    ctx.save_for_backward({in[0]});
    Tensor<double> y(in[0].shape());
    for (int64_t i = 0; i < y.numel(); ++i) y[i] = in[0][i] * in[0][i];
    return y;
  }
  static std::vector<Tensor<double>> backward(FunctionContext<double>& ctx,
                                              const Tensor<double>& dy) {
    const Tensor<double>& x = ctx.saved_tensors()[0];
    Tensor<double> dx(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) dx[i] = dy[i] * 2 * x[i] * (i == 2 ? 1.01 : 1.0);
    return {dx};
  }
};

TEST(Gradcheck, CatchesAWrongBackwardAndNamesIt) {
  Rng rng(8);
  V x = randn({4}, rng);
  const GradcheckResult r = gradcheck([&] { return apply<WrongSquare>({x}); }, {{"x", x}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("x element 2"), std::string::npos) << r.message;
  GradcheckOptions projected;
  projected.full_jacobian_limit = 1;
  EXPECT_FALSE(gradcheck([&] { return apply<WrongSquare>({x}); }, {{"x", x}}, projected).ok);
}

TEST(Tape, AccumulatesFreesAndRespectsNoGrad) {
  V x(Tensor<double>({2}, {1, 2}), true);
  V y = x * x + x;  // x used twice: gradients add up
  V loss = sum(y);
  loss.backward();
  EXPECT_EQ(x.grad()[0], 3);
  EXPECT_EQ(x.grad()[1], 5);
  EXPECT_TRUE(y.node()->inputs.empty());  // the graph was freed
  sum(x * 2.0).backward();                // a second graph accumulates into .grad
  EXPECT_EQ(x.grad()[0], 5);
  {
    NoGradGuard no_grad;
    EXPECT_FALSE((x * x).requires_grad());
  }
  EXPECT_TRUE((x * x).requires_grad());
  EXPECT_THROW(V(Tensor<double>({2})).backward(), std::logic_error);
  EXPECT_THROW((x * x).backward(), std::invalid_argument);  // not a scalar
}

// A long chain must not overflow the stack: the walk is iterative.
TEST(Tape, DeepGraphWithoutRecursion) {
  V x(Tensor<double>(Shape{}, {1.0}), true);
  V h = x;
  for (int i = 0; i < 200000; ++i) h = h * 1.0;
  h.backward();
  EXPECT_EQ(x.grad()[0], 1.0);
}

// A grad-ready hook runs once per backward pass, when the parameter's gradient is complete: after
// every op that uses it has added its share (here two uses), never before.
TEST(Autograd, GradReadyHooksRunOnceTheGradientIsComplete) {
  Rng rng(9);
  V w = randn({3}, rng), x = randn({3}, rng, 1.0, false);
  std::vector<double> seen;
  const int64_t handle = w.add_grad_ready_hook([&] { seen.push_back(sum(V(w.grad())).item()); });
  for (int pass = 0; pass < 2; ++pass) {
    w.zero_grad();
    sum(w * x + w * w).backward();
    const V expected = x + w * 2.0;  // d/dw of w.x + w.w
    ASSERT_EQ(seen.size(), static_cast<size_t>(pass + 1));
    EXPECT_NEAR(seen.back(), sum(expected).item(), 1e-12);
  }
  w.remove_grad_ready_hook(handle);
  sum(w * x).backward();
  EXPECT_EQ(seen.size(), 2u);
}

// replica_sum on a single replica (a ReplicaSum that leaves values as they are) is the identity,
// its gradient too; the sums it asks for are counted.
TEST(Autograd, ReplicaSumOfOneReplicaIsTheIdentity) {
  Rng rng(10);
  V x = randn({2, 3}, rng);
  int calls = 0;
  const ReplicaSum one = [&calls](std::span<double>) { ++calls; };
  const auto r = gradcheck([&] { return replica_sum(x, one) * x; }, {{"x", x}});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(calls, 0);
  EXPECT_THROW(replica_sum(x, ReplicaSum()), std::invalid_argument);
}

}  // namespace
}  // namespace nabla
