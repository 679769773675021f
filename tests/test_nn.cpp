// nn modules, the three batch norms of report Section 3, and the manual-vs-autograd MLP.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/gradcheck.h"
#include "nabla/kernels.h"
#include "nabla/manual/mlp.h"
#include "nabla/nn/batchnorm.h"
#include "nabla/nn/mlp.h"
#include "nabla/ops.h"

namespace nabla::nn {
namespace {

using V = Variable<double>;

Tensor<double> randn(Shape shape, Rng& rng, double mean = 0, double scale = 1.0) {
  Tensor<double> t(std::move(shape));
  for (double& v : t.values()) v = rng.normal(mean, scale);
  return t;
}

std::vector<NamedInput> inputs_of(Module<double>& m, const V& x) {
  std::vector<NamedInput> in{{"x", x}};
  for (auto& [name, p] : m.named_parameters()) in.push_back({name, p});
  return in;
}

void expect_module_gradcheck(Module<double>& m, const V& x) {
  const GradcheckResult r = gradcheck([&] { return m(x); }, inputs_of(m, x));
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Modules, LinearInitialisationAndGradcheck) {
  Rng rng(1);
  Linear<double> big(400, 300, rng);
  const double bound = 1.0 / 20.0;
  double lo = 1, hi = -1;
  for (double w : big.weight().value().values()) {
    lo = std::min(lo, w);
    hi = std::max(hi, w);
  }
  EXPECT_GE(lo, -bound);
  EXPECT_LE(hi, bound);
  EXPECT_LT(lo, -0.99 * bound);
  EXPECT_GT(hi, 0.99 * bound);
  for (double b : big.bias().value().values()) EXPECT_LE(std::abs(b), bound);

  Linear<double> layer(4, 3, rng);
  expect_module_gradcheck(layer, V(randn({5, 4}, rng), true));
}

TEST(Modules, ActivationsAndSequential) {
  Rng rng(2);
  Tensor<double> t = randn({3, 4}, rng);
  for (double& v : t.values()) v += v > 0 ? 0.1 : -0.1;
  const V x(t, true);
  ReLU<double> relu_module;
  LeakyReLU<double> leaky(0.1);
  expect_module_gradcheck(relu_module, x);
  expect_module_gradcheck(leaky, x);
  Sequential<double> seq;
  seq.add("fc1", std::make_shared<Linear<double>>(4, 6, rng));
  seq.add("act", std::make_shared<LeakyReLU<double>>(0.05));
  seq.add("fc2", std::make_shared<Linear<double>>(6, 2, rng));
  expect_module_gradcheck(seq, x);
  const auto names = seq.named_parameters();
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names[0].first, "fc1.weight");
  EXPECT_EQ(names[3].first, "fc2.bias");
}

TEST(Modules, TrainEvalAndZeroGrad) {
  Rng rng(3);
  MLP<double> mlp(6, {5}, 3, 0.02, BatchNormKind::kManual, rng);
  EXPECT_TRUE(mlp.training());
  mlp.eval();
  EXPECT_FALSE(mlp.training());
  mlp.train();
  sum(mlp(V(randn({4, 6}, rng)))).backward();
  for (auto& p : mlp.parameters()) EXPECT_FALSE(p.grad().empty());
  mlp.zero_grad();
  for (auto& p : mlp.parameters()) EXPECT_TRUE(p.grad().empty());
}

TEST(Modules, MlpNamesAndGradcheckForEveryBatchNorm) {
  for (BatchNormKind kind :
       {BatchNormKind::kNone, BatchNormKind::kAutograd, BatchNormKind::kManual}) {
    Rng rng(4);
    MLP<double> mlp(6, {5, 4}, 3, 0.1, kind, rng);
    std::vector<std::string> names;
    for (auto& [name, p] : mlp.named_parameters()) names.push_back(name);
    if (kind == BatchNormKind::kNone) {
      EXPECT_EQ(names, (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                                 "fc3.weight", "fc3.bias"}));
    } else {
      EXPECT_EQ(names, (std::vector<std::string>{"fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias",
                                                 "fc2.weight", "fc2.bias", "bn2.weight", "bn2.bias",
                                                 "fc3.weight", "fc3.bias"}));
    }
    const V x(randn({7, 2, 3}, rng), true);  // flattened to (7, 6)
    expect_module_gradcheck(mlp, x);
  }
  EXPECT_THROW(parse_batchnorm_kind("both"), std::invalid_argument);
}

// The course's tests: batches of 32 to 128 rows and 1 to 9 features.
TEST(BatchNorm, AutogradAndModuleNormalise) {
  Rng rng(5);
  for (int64_t B : {32, 64, 128}) {
    for (int64_t C = 1; C <= 9; C += 2) {
      const V x(randn({B, C}, rng, 5.0, 3.0), true);
      CustomBatchNormAutograd<double> a(C);
      CustomBatchNormManualModule<double> m(C);
      for (const V& y : {a(x), m(x)}) {
        const Tensor<double> mu = mean(y, {0}).value();
        const Tensor<double> v = var(y, {0}, false).value();
        for (int64_t c = 0; c < C; ++c) {
          EXPECT_LT(std::abs(mu[c]), 1e-5);
          EXPECT_LT(std::abs(v[c] - 1), 0.1);
        }
      }
    }
  }
}

TEST(BatchNorm, ManualFunctionWithGammaAndBeta) {
  Rng rng(6);
  for (int64_t B : {32, 128}) {
    for (int64_t C : {1, 4, 9}) {
      Tensor<double> gamma({C}), beta({C});
      for (int64_t c = 0; c < C; ++c) {
        gamma[c] = std::sqrt(10.0 * static_cast<double>(c));
        beta[c] = 100.0 * static_cast<double>(c);
      }
      const V x(randn({B, C}, rng, 5.0, 3.0), true), g(gamma, true), b(beta, true);
      const V y = apply<CustomBatchNormManualFunction<double>>({x, g, b}, 1e-5);
      const Tensor<double> mu = mean(y, {0}).value();
      const Tensor<double> v = var(y, {0}, false).value();
      for (int64_t c = 0; c < C; ++c) {
        EXPECT_NEAR(mu[c], beta[c], 1e-6);
        EXPECT_NEAR(v[c], gamma[c] * gamma[c], 0.1 * std::max(1.0, gamma[c] * gamma[c]));
      }
      if (B == 32) {
        const auto r = gradcheck(
            [&] {
              return apply<CustomBatchNormManualFunction<double>>({x, g, b}, 1e-5);
            },
            {{"x", x}, {"gamma", g}, {"beta", b}});
        EXPECT_TRUE(r.ok) << r.message;
      }
    }
  }
}

// The three agree to 1e-10 in float64, in values and in every gradient.
TEST(BatchNorm, ThreeWaysAgree) {
  Rng rng(7);
  const Tensor<double> xv = randn({16, 5}, rng, 1.0, 2.0), dy = randn({16, 5}, rng);
  const Tensor<double> gamma = randn({5}, rng, 1.0, 0.3), beta = randn({5}, rng);
  struct Out {
    Tensor<double> y, dx, dgamma, dbeta;
  };
  const auto run = [&](auto make) {
    V x(xv.clone(), true), g(gamma.clone(), true), b(beta.clone(), true);
    V y = make(x, g, b);
    y.backward(dy);
    return Out{y.value(), x.grad(), g.grad(), b.grad()};
  };
  const Out a = run([](V& x, V& g, V& b) {
    CustomBatchNormAutograd<double> m(5);
    m.gamma().value() = g.value();
    m.beta().value() = b.value();
    V y = m(x);
    // Route the module's parameter gradients to g and b for comparison.
    g = m.gamma();
    b = m.beta();
    return y;
  });
  const Out f = run([](V& x, V& g, V& b) {
    return apply<CustomBatchNormManualFunction<double>>({x, g, b}, 1e-5);
  });
  const Out m = run([](V& x, V& g, V& b) {
    CustomBatchNormManualModule<double> mod(5);
    mod.gamma().value() = g.value();
    mod.beta().value() = b.value();
    V y = mod(x);
    g = mod.gamma();
    b = mod.beta();
    return y;
  });
  for (const Out* o : {&f, &m}) {
    EXPECT_LT(max_abs_diff(a.y, o->y), 1e-10);
    EXPECT_LT(max_abs_diff(a.dx, o->dx), 1e-10);
    EXPECT_LT(max_abs_diff(a.dgamma, o->dgamma), 1e-10);
    EXPECT_LT(max_abs_diff(a.dbeta, o->dbeta), 1e-10);
  }
}

TEST(BatchNorm, ModulesGradcheckAndComputeOnlyNeededGradients) {
  Rng rng(8);
  const V x(randn({6, 3}, rng), true);
  CustomBatchNormAutograd<double> a(3);
  CustomBatchNormManualModule<double> m(3);
  for (auto* mod : std::vector<Module<double>*>{&a, &m}) {
    for (auto& p : mod->parameters()) p.value() = randn(p.shape(), rng, 1.0, 0.5);
    expect_module_gradcheck(*mod, x);
  }
  // x without a gradient: the function is told so, and x gets none.
  const V frozen(randn({6, 3}, rng), false);
  V g(Tensor<double>::full({3}, 1.0), true), b(Tensor<double>({3}), false);
  sum(apply<CustomBatchNormManualFunction<double>>({frozen, g, b}, 1e-5)).backward();
  EXPECT_TRUE(frozen.grad().empty());
  EXPECT_TRUE(b.grad().empty());
  EXPECT_FALSE(g.grad().empty());
}

TEST(BatchNorm, WrongInputsGetClearErrors) {
  CustomBatchNormAutograd<double> a(4);
  CustomBatchNormManualModule<double> m(4);
  for (auto* mod : std::vector<Module<double>*>{&a, &m}) {
    try {
      (*mod)(V(Tensor<double>({2, 4, 1})));
      ADD_FAILURE();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("rank 3"), std::string::npos) << e.what();
    }
    try {
      (*mod)(V(Tensor<double>({8, 5})));
      ADD_FAILURE();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("5 features, expected 4"), std::string::npos);
    }
  }
}

// The hand-written MLP of Section 1 and the autograd MLP, given the same weights, compute the same
// gradients. (The manual MLP ends in SoftMax + CrossEntropy, the autograd one in fused
// cross_entropy: the same function.)
TEST(ManualVsAutograd, SameGradientsFromSameWeights) {
  Rng rng(9);
  manual::MLP<double> hand(10, {7, 5}, 4, 0.02, rng);
  MLP<double> auto_mlp(10, {7, 5}, 4, 0.02, BatchNormKind::kNone, rng);
  auto hand_params = hand.parameters();
  auto auto_params = auto_mlp.named_parameters();
  ASSERT_EQ(hand_params.size(), auto_params.size());
  for (size_t i = 0; i < hand_params.size(); ++i) {
    EXPECT_EQ(hand_params[i].name, auto_params[i].first);
    *hand_params[i].value = randn(hand_params[i].value->shape(), rng, 0, 0.5);
    auto_params[i].second.value() = hand_params[i].value->clone();
  }
  const Tensor<double> x = randn({6, 10}, rng);
  const std::vector<int32_t> labels{0, 3, 2, 2, 1, 0};
  manual::CrossEntropy<double> ce;
  const double hand_loss = ce.forward(hand.forward(x), labels);
  hand.backward(ce.backward());
  V loss = cross_entropy(auto_mlp(V(x)), labels);
  loss.backward();
  EXPECT_NEAR(hand_loss, loss.item(), 1e-12);
  for (size_t i = 0; i < hand_params.size(); ++i) {
    EXPECT_LT(max_abs_diff(*hand_params[i].grad, auto_params[i].second.grad()), 1e-12)
        << hand_params[i].name;
  }
}

// The report's batch norms, synchronised over a single replica (a ReplicaSum that leaves values as
// they are): the plain outputs, and their own float64 gradient checks; evaluation never sums.
TEST(BatchNorm, SynchronisedOnOneReplicaIsThePlainBatchNorm) {
  Rng rng(15);
  const V x(randn({6, 4}, rng, 0.5, 2.0), true);
  int calls = 0;
  const ReplicaSum one = [&calls](std::span<double>) { ++calls; };
  CustomBatchNormAutograd<double> autograd_bn(4);
  CustomBatchNormManualModule<double> manual_bn(4);
  for (BatchNormParameters<double>* bn :
       std::vector<BatchNormParameters<double>*>{&autograd_bn, &manual_bn}) {
    bn->gamma().value() = randn({4}, rng, 1.0, 0.3);
    bn->beta().value() = randn({4}, rng);
    const Tensor<double> plain = (*bn)(x).value().clone();
    bn->set_replica_sum(one);
    calls = 0;
    EXPECT_LT(max_abs_diff((*bn)(x).value(), plain), 1e-12);
    EXPECT_GT(calls, 0);
    const auto check = gradcheck([&] { return (*bn)(x); }, inputs_of(*bn, x));
    EXPECT_TRUE(check.ok) << check.message;
    bn->eval();
    calls = 0;
    (*bn)(x);
    EXPECT_EQ(calls, 0);
  }
}

}  // namespace
}  // namespace nabla::nn
