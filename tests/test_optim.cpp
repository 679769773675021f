// Optimizer update rules on hand-computed cases (PyTorch parity is in test_parity.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/optim/optimizer.h"

namespace nabla::optim {
namespace {

using V = Variable<double>;

V param(std::vector<double> value, std::vector<double> grad) {
  const auto n = static_cast<int64_t>(value.size());
  V p(Tensor<double>({n}, std::move(value)), true);
  p.grad() = Tensor<double>({n}, std::move(grad));
  return p;
}

TEST(Sgd, PlainMomentumAndWeightDecay) {
  V p = param({1.0, -2.0}, {0.5, 0.25});
  SGD<double> plain({p}, 0.1);
  plain.step();
  EXPECT_DOUBLE_EQ(p.value()[0], 1.0 - 0.05);
  EXPECT_DOUBLE_EQ(p.value()[1], -2.0 - 0.025);

  V q = param({1.0}, {1.0});
  SGD<double> momentum({q}, 0.1, 0.9, 0.5);
  momentum.step();  // d = 1 + 0.5 * 1 = 1.5; buf = 1.5
  EXPECT_DOUBLE_EQ(q.value()[0], 1.0 - 0.15);
  q.grad()[0] = 1.0;
  momentum.step();  // d = 1 + 0.5 * 0.85 = 1.425; buf = 0.9 * 1.5 + 1.425
  EXPECT_NEAR(q.value()[0], 0.85 - 0.1 * (0.9 * 1.5 + 1.425), 1e-15);
}

TEST(Adam, FirstStepMovesByLearningRate) {
  // After one step m_hat = g and v_hat = g^2, so the update is lr * g / (|g| + eps).
  V p = param({1.0, 1.0}, {0.3, -4.0});
  Adam<double> adam({p}, 0.01);
  adam.step();
  EXPECT_NEAR(p.value()[0], 1.0 - 0.01 * 0.3 / (0.3 + 1e-8), 1e-12);
  EXPECT_NEAR(p.value()[1], 1.0 + 0.01 * 4.0 / (4.0 + 1e-8), 1e-12);
}

TEST(Optimizers, SkipParametersWithoutGradientAndZeroGrad) {
  V p(Tensor<double>({1}, {3.0}), true);
  V q = param({1.0}, {1.0});
  Adam<double> adam({p, q}, 0.1);
  adam.step();
  EXPECT_EQ(p.value()[0], 3.0);
  EXPECT_NE(q.value()[0], 1.0);
  adam.zero_grad();
  EXPECT_TRUE(q.grad().empty());
}

}  // namespace
}  // namespace nabla::optim
