// Optimizer update rules on hand-computed cases, and PyTorch parity of Nesterov SGD, AdamW,
// parameter groups and the learning-rate schedules (fixture optim_parity.json).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "nabla/error.h"
#include "nabla/function.h"
#include "nabla/ops.h"
#include "nabla/optim/optimizer.h"
#include "nabla/optim/schedule.h"

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


// Against PyTorch float64 (fixture optim_parity.json): five steps of Nesterov SGD, AdamW and
// parameter groups with their own learning rate and weight decay.
class OptimParity : public ::testing::Test {
 protected:
  static nlohmann::json fixture() {
    std::ifstream in(std::string(NABLA_FIXTURES_DIR) + "/optim_parity.json");
    EXPECT_TRUE(in.good());
    return nlohmann::json::parse(in);
  }
  static Tensor<double> tensor(const nlohmann::json& j) {
    return Tensor<double>(j["shape"].get<Shape>(), j["values"].get<std::vector<double>>());
  }
  // The fixture's loss: sum(c w1^2) + sum(sin w2) + 0.1 (sum(w1) w2[0])^2.
  static Variable<double> loss(const Variable<double>& w1, const Variable<double>& w2) {
    std::vector<double> c(12);
    for (int i = 0; i < 12; ++i) c[static_cast<size_t>(i)] = 0.5 + 1.5 * i / 11.0;
    const Variable<double> cw(Tensor<double>({3, 4}, c));
    const Variable<double> w2_0 = sum(w2 * Variable<double>(Tensor<double>({5}, {1, 0, 0, 0, 0})));
    const Variable<double> cross = sum(w1) * w2_0;
    return sum(cw * w1 * w1) + sum(sin_of(w2)) + cross * cross * 0.1;
  }
  static Variable<double> sin_of(const Variable<double>& x) { return apply<SinFunction>({x}); }
  // sin, which nabla has no op for, as a custom function.
  struct SinFunction {
    using Scalar = double;
    static Tensor<double> forward(FunctionContext<double>& ctx, const std::vector<Tensor<double>>& in) {
      ctx.save_for_backward({in[0]});
      Tensor<double> y(in[0].shape());
      for (int64_t i = 0; i < y.numel(); ++i) y[i] = std::sin(in[0][i]);
      return y;
    }
    static std::vector<Tensor<double>> backward(FunctionContext<double>& ctx, const Tensor<double>& dy) {
      const Tensor<double>& x = ctx.saved_tensors()[0];
      Tensor<double> dx(x.shape());
      for (int64_t i = 0; i < x.numel(); ++i) dx[i] = dy[i] * std::cos(x[i]);
      return {dx};
    }
  };

  void run(const std::string& name, const std::function<std::unique_ptr<Optimizer<double>>(
                                        Variable<double>&, Variable<double>&)>& make) {
    const nlohmann::json j = fixture();
    Variable<double> w1(tensor(j["initial"]["w1"]), true), w2(tensor(j["initial"]["w2"]), true);
    const auto opt = make(w1, w2);
    const auto& steps = j["optimizers"][name];
    ASSERT_EQ(steps.size(), 5u);
    for (const auto& want : steps) {
      opt->zero_grad();
      loss(w1, w2).backward();
      opt->step();
      const auto w1_want = want["w1"].get<std::vector<double>>();
      const auto w2_want = want["w2"].get<std::vector<double>>();
      const auto expect_near = [&name](const Tensor<double>& got, const std::vector<double>& w) {
        for (size_t i = 0; i < w.size(); ++i) {
          EXPECT_NEAR(got[static_cast<int64_t>(i)], w[i], 1e-12 * (1 + std::abs(w[i]))) << name;
        }
      };
      expect_near(w1.value(), w1_want);
      expect_near(w2.value(), w2_want);
    }
  }
};

TEST_F(OptimParity, SgdNesterovWithWeightDecay) {
  run("sgd_nesterov", [](Variable<double>& w1, Variable<double>& w2) {
    return std::make_unique<SGD<double>>(std::vector<Variable<double>>{w1, w2}, 0.05, 0.9, 0.01,
                                         /*nesterov=*/true);
  });
}

TEST_F(OptimParity, SgdParameterGroups) {
  run("sgd_groups", [](Variable<double>& w1, Variable<double>& w2) {
    return std::make_unique<SGD<double>>(
        std::vector<ParamGroup<double>>{{{w1}, 0.05, 0.02}, {{w2}, 0.02, 0.0}}, 0.8);
  });
}

TEST_F(OptimParity, AdamParameterGroups) {
  run("adam_groups", [](Variable<double>& w1, Variable<double>& w2) {
    return std::make_unique<Adam<double>>(
        std::vector<ParamGroup<double>>{{{w1}, 0.01, 0.1}, {{w2}, 0.03, 0.0}});
  });
}

TEST_F(OptimParity, AdamW) {
  run("adamw", [](Variable<double>& w1, Variable<double>& w2) {
    return std::make_unique<AdamW<double>>(std::vector<Variable<double>>{w1, w2}, 0.02, 0.9, 0.999,
                                           1e-8, 0.3);
  });
}

TEST_F(OptimParity, AdamWParameterGroups) {
  run("adamw_groups", [](Variable<double>& w1, Variable<double>& w2) {
    return std::make_unique<AdamW<double>>(
        std::vector<ParamGroup<double>>{{{w1}, 0.02, 0.5}, {{w2}, 0.01, 0.0}}, 0.8, 0.99, 1e-6);
  });
}

// Against PyTorch's schedulers: the learning rate at each of 30 steps, base 0.1.
TEST_F(OptimParity, SchedulesMatchTorchSchedulers) {
  const nlohmann::json j = fixture()["schedules"];
  const std::map<std::string, Schedule> schedules = {
      {"step", step_decay(7, 0.5)},
      {"cosine", cosine(30, 0.001 / 0.1)},
      {"warmup", linear_warmup(5, 0.1)},
      {"warmup_then_cosine", sequence({linear_warmup(5, 0.1), cosine(25)}, {5})},
      {"warmup_times_step", chain({linear_warmup(4, 0.25), step_decay(10, 0.3)})},
      {"piecewise", piecewise_linear({{0, 0.0}, {6, 1.0}, {30, 0.1}})},
  };
  ASSERT_EQ(j.size(), schedules.size());
  for (const auto& [name, schedule] : schedules) {
    Variable<double> w(Tensor<double>({1}), true);
    SGD<double> opt({w}, 0.1);
    LRScheduler<double> scheduler(opt, schedule);
    const auto want = j[name].get<std::vector<double>>();
    for (size_t s = 0; s < want.size(); ++s) {
      EXPECT_NEAR(opt.param_groups()[0].lr, want[s], 1e-12) << name << " step " << s;
      opt.step();
      scheduler.step();
    }
  }
}

// Each parameter counts its own Adam steps, as PyTorch does: one whose first gradient comes at
// the third step still moves by the learning rate on that step (bias corrections at t = 1).
TEST(Adam, AParameterThatStartsLateCountsItsOwnSteps) {
  Variable<double> a(Tensor<double>({1}, {1.0}), true), b(Tensor<double>({1}, {1.0}), true);
  Adam<double> adam({a, b}, 0.1);
  for (int step = 1; step <= 3; ++step) {
    adam.zero_grad();
    a.grad() = Tensor<double>({1}, {0.5});
    if (step == 3) b.grad() = Tensor<double>({1}, {0.5});
    adam.step();
  }
  EXPECT_NEAR(b.value()[0], 1.0 - 0.1, 1e-7);
  const auto scalars = adam.state_scalars();
  EXPECT_EQ(scalars.at("0.step"), 3.0);
  EXPECT_EQ(scalars.at("1.step"), 1.0);
  Adam<double> resumed({a, b}, 0.1);
  resumed.load_state({{"0.m", Tensor<double>({1})}, {"0.v", Tensor<double>({1})}}, {{"t", 7}});
  EXPECT_EQ(resumed.state_scalars().at("0.step"), 7.0);  // an older checkpoint's shared count
  EXPECT_EQ(resumed.state_scalars().count("1.step"), 0u);
}

TEST(Scheduler, StateRestoresTheStepAndBadSettingsAreRefused) {
  Variable<float> w(Tensor<float>({1}), true), b(Tensor<float>({1}), true);
  SGD<float> opt(std::vector<ParamGroup<float>>{{{w}, 0.1F, 0.F}, {{b}, 0.4F, 0.F}});
  LRScheduler<float> a(opt, cosine(10));
  for (int i = 0; i < 4; ++i) a.step();
  const auto saved = a.state();
  const float lr_w = opt.param_groups()[0].lr, lr_b = opt.param_groups()[1].lr;
  SGD<float> fresh(std::vector<ParamGroup<float>>{{{w}, 0.1F, 0.F}, {{b}, 0.4F, 0.F}});
  LRScheduler<float> resumed(fresh, cosine(10));
  resumed.load_state(saved);
  EXPECT_EQ(resumed.steps_done(), 4);
  EXPECT_EQ(fresh.param_groups()[0].lr, lr_w);
  EXPECT_EQ(fresh.param_groups()[1].lr, lr_b);  // each group from its own base
  EXPECT_FLOAT_EQ(lr_b / lr_w, 4.0F);
  EXPECT_THROW(resumed.load_state({}), std::invalid_argument);
  EXPECT_THROW(step_decay(0, 0.5), ConfigError);
  EXPECT_THROW(piecewise_linear({{5, 1.0}, {5, 0.0}}), ConfigError);
  EXPECT_THROW(sequence({cosine(5)}, {3}), ConfigError);
  EXPECT_THROW(SGD<float>({w}, 0.1F, 0.0F, 0.0F, /*nesterov=*/true), ConfigError);
  EXPECT_THROW(SGD<float>({w}, -0.1F), ConfigError);
}

}  // namespace
}  // namespace nabla::optim
