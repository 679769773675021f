// PyTorch parity: C++ against fixtures written by tests/fixtures/make_fixtures.py with Debian's
// PyTorch, in float64: MLP forward, loss and every gradient, five SGD and Adam steps, batch norm,
// the ConvNet; and the float32 ConvNet at batch 32 (the fast kernels) against the float64 answer.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "nabla/kernels.h"
#include "nabla/nn/batchnorm.h"
#include "nabla/nn/convnet.h"
#include "nabla/nn/mlp.h"
#include "nabla/ops.h"
#include "nabla/optim/optimizer.h"

namespace nabla {
namespace {

using V = Variable<double>;
using nlohmann::json;

json load(const std::string& name) {
  std::ifstream in(std::string(NABLA_FIXTURES_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << "missing fixture " << name;
  return json::parse(in);
}

Tensor<double> tensor(const json& j) {
  return Tensor<double>(j["shape"].get<Shape>(), j["values"].get<std::vector<double>>());
}

void expect_close(const Tensor<double>& got, const json& want, double tol,
                  const std::string& what) {
  const Tensor<double> w = tensor(want);
  ASSERT_EQ(got.shape(), w.shape()) << what;
  EXPECT_LT(max_abs_diff(got, w), tol) << what;
}

struct Fixture {
  json j;
  std::unique_ptr<nn::MLP<double>> model;
  std::vector<std::pair<std::string, V>> params;

  explicit Fixture(const std::string& file) : j(load(file)) {
    Rng rng(0);
    const auto kind =
        j["batchnorm"].get<bool>() ? nn::BatchNormKind::kManual : nn::BatchNormKind::kNone;
    model = std::make_unique<nn::MLP<double>>(
        j["n_inputs"].get<int64_t>(), j["hidden"].get<std::vector<int64_t>>(),
        j["n_classes"].get<int64_t>(), j["neg_slope"].get<double>(), kind, rng);
    params = model->named_parameters();
    reset();
  }
  void reset() {
    EXPECT_EQ(params.size(), j["params"].size());
    for (auto& [name, p] : params) p.value() = tensor(j["params"][name]);
  }
  std::vector<int32_t> labels() const { return j["labels"].get<std::vector<int32_t>>(); }
};

class MlpParity : public ::testing::TestWithParam<std::string> {};

TEST_P(MlpParity, ForwardLossAndEveryGradient) {
  Fixture f(GetParam());
  V x(tensor(f.j["x"]), true);
  V logits = (*f.model)(x);
  V loss = cross_entropy(logits, f.labels());
  loss.backward();
  expect_close(logits.value(), f.j["logits"], 1e-12, "logits");
  EXPECT_NEAR(loss.item(), f.j["loss"].get<double>(), 1e-12);
  expect_close(x.grad(), f.j["dx"], 1e-12, "dx");
  for (auto& [name, p] : f.params) expect_close(p.grad(), f.j["grads"][name], 1e-12, name);
}

TEST_P(MlpParity, FiveSgdAndAdamSteps) {
  Fixture f(GetParam());
  const Tensor<double> x = tensor(f.j["x"]);
  for (const std::string opt_name : {"sgd", "adam"}) {
    f.reset();
    std::vector<V> ps;
    for (auto& [name, p] : f.params) ps.push_back(p);
    std::unique_ptr<optim::Optimizer<double>> opt;
    if (opt_name == "sgd") {
      opt = std::make_unique<optim::SGD<double>>(ps, 0.1, 0.9, 0.01);
    } else {
      opt = std::make_unique<optim::Adam<double>>(ps, 0.01, 0.9, 0.999, 1e-8, 0.01);
    }
    const auto want = f.j[opt_name]["losses"].get<std::vector<double>>();
    for (size_t step = 0; step < want.size(); ++step) {
      opt->zero_grad();
      V loss = cross_entropy((*f.model)(V(x)), f.labels());
      loss.backward();
      opt->step();
      EXPECT_NEAR(loss.item(), want[step], 1e-11) << opt_name << " step " << step;
    }
    for (auto& [name, p] : f.params) {
      expect_close(p.value(), f.j[opt_name]["final_params"][name], 1e-11, opt_name + " " + name);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MlpParity,
                         ::testing::Values("mlp_parity.json", "mlp_bn_parity.json"),
                         [](const auto& info) { return info.index == 0 ? "Plain" : "BatchNorm"; });

TEST(BatchNormParity, AllThreeMatchPyTorch) {
  const json j = load("batchnorm_parity.json");
  const Tensor<double> dy = tensor(j["dy"]);
  for (int way = 0; way < 3; ++way) {
    V x(tensor(j["x"]), true);
    V gamma, beta, y;
    if (way == 0) {
      nn::CustomBatchNormAutograd<double> m(5);
      m.gamma().value() = tensor(j["gamma"]);
      m.beta().value() = tensor(j["beta"]);
      gamma = m.gamma();
      beta = m.beta();
      y = m(x);
    } else if (way == 1) {
      gamma = V(tensor(j["gamma"]), true);
      beta = V(tensor(j["beta"]), true);
      y = apply<nn::CustomBatchNormManualFunction<double>>({x, gamma, beta}, 1e-5);
    } else {
      nn::CustomBatchNormManualModule<double> m(5);
      m.gamma().value() = tensor(j["gamma"]);
      m.beta().value() = tensor(j["beta"]);
      gamma = m.gamma();
      beta = m.beta();
      y = m(x);
    }
    y.backward(dy);
    const std::string w = "way " + std::to_string(way);
    expect_close(y.value(), j["y"], 1e-12, w + " y");
    expect_close(x.grad(), j["dx"], 1e-12, w + " dx");
    expect_close(gamma.grad(), j["dgamma"], 1e-12, w + " dgamma");
    expect_close(beta.grad(), j["dbeta"], 1e-12, w + " dbeta");
  }
}

}  // namespace
}  // namespace nabla

namespace nabla {
namespace {

// The same deterministic weights as make_fixtures.py's formula_fill.
void formula_fill(nn::Module<double>& model) {
  const auto params = model.named_parameters();
  std::map<std::string, int64_t> fan_in;
  for (const auto& [name, p] : params) {
    if (p.value().rank() > 1) fan_in[name] = p.numel() / p.dim(0);
  }
  int64_t k = 0;
  for (auto [name, p] : params) {
    Tensor<double>& v = p.value();
    const bool bn = name.rfind("bn", 0) == 0;
    const bool weight = name.size() >= 6 && name.substr(name.size() - 6) == "weight";
    const std::string weight_name = name.substr(0, name.rfind('.')) + ".weight";
    for (int64_t i = 0; i < v.numel(); ++i) {
      const double wave = std::sin(0.7 * static_cast<double>(i) + static_cast<double>(k));
      if (bn) {
        v[i] = weight ? 1 + 0.1 * wave : 0.1 * wave;
      } else {
        v[i] = wave / std::sqrt(static_cast<double>(fan_in.at(weight_name)));
      }
    }
    ++k;
  }
}

void expect_summary(const Tensor<double>& t, const json& want, const std::string& what) {
  double sum = 0, sq = 0;
  for (double v : t.values()) {
    sum += v;
    sq += v * v;
  }
  const double norm = want["norm"].get<double>();
  EXPECT_NEAR(sum, want["sum"].get<double>(), 1e-9 * std::max(1.0, norm)) << what;
  EXPECT_NEAR(std::sqrt(sq), norm, 1e-9 * std::max(1.0, norm)) << what;
  const auto idx = want["index"].get<std::vector<int64_t>>();
  const auto values = want["values"].get<std::vector<double>>();
  for (size_t j = 0; j < idx.size(); ++j) {
    EXPECT_NEAR(t[idx[j]], values[j], 1e-9 * std::max(1.0, std::abs(values[j]))) << what;
  }
}

TEST(ConvNetParity, ForwardGradientsBuffersAdamAndEval) {
  const json j = load("convnet_parity.json");
  Rng rng(0);
  nn::ConvNet<double> net(3, 10, rng);
  formula_fill(net);
  Tensor<double> x({2, 3, 32, 32});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = 2 * std::sin(0.013 * static_cast<double>(i));
  const auto labels = j["labels"].get<std::vector<int32_t>>();

  V logits = net(V(x));
  V loss = cross_entropy(logits, labels);
  loss.backward();
  expect_close(logits.value(), j["logits"], 1e-9, "logits");
  EXPECT_NEAR(loss.item(), j["loss"].get<double>(), 1e-10);
  for (auto& [name, p] : net.named_parameters()) expect_summary(p.grad(), j["grads"][name], name);
  for (auto& [name, b] : net.named_buffers()) {
    if (name.ends_with("num_batches_tracked")) {
      EXPECT_EQ(b[0], 1.0) << name;  // PyTorch counts the one training batch
    } else {
      expect_summary(b, j["buffers"][name], name);
    }
  }

  // Three Adam steps from the same start (running statistics reset).
  net.zero_grad();
  formula_fill(net);
  for (auto& [name, b] : net.named_buffers()) {
    b.fill(name.find("running_var") != std::string::npos ? 1.0 : 0.0);
  }
  optim::Adam<double> adam(net.parameters(), 1e-3);
  const auto want = j["adam_losses"].get<std::vector<double>>();
  for (size_t step = 0; step < want.size(); ++step) {
    adam.zero_grad();
    V step_loss = cross_entropy(net(V(x)), labels);
    step_loss.backward();
    adam.step();
    EXPECT_NEAR(step_loss.item(), want[step], 1e-9) << "adam step " << step;
  }
  net.eval();
  NoGradGuard no_grad;
  expect_close(net(V(x)).value(), j["eval_logits"], 1e-8, "eval logits");
}

// max |got - want| over the entries of want (an index list, or all), relative to the root mean
// square of want.
double rms_error(const Tensor<float>& got, const std::vector<int64_t>& index,
                 const std::vector<double>& want) {
  double worst = 0, sq = 0;
  for (size_t k = 0; k < want.size(); ++k) {
    const int64_t at = index.empty() ? static_cast<int64_t>(k) : index[k];
    worst = std::max(worst, std::abs(static_cast<double>(got[at]) - want[k]));
    sq += want[k] * want[k];
  }
  return worst / std::sqrt(sq / static_cast<double>(want.size()));
}

// The float32 ConvNet at the training batch size, where the convolutions run Winograd F(4x4,3x3)
// and F(2x2,3x3) and oneDNN: its distance from PyTorch's float64 answer, against how far
// PyTorch's own float32 run lands from it (both recorded by make_fixtures.py).
TEST(ConvNetParity, Float32AtTheTrainingBatchSize) {
  const json j = load("convnet_float32_parity.json");
  const json& torch_error = j["torch_float32_error"];
  Rng rng(0);
  nn::ConvNet<double> exact(3, 10, rng);
  formula_fill(exact);
  nn::ConvNet<float> net(3, 10, rng);
  const auto exact_params = exact.named_parameters();
  auto params = net.named_parameters();
  ASSERT_EQ(params.size(), exact_params.size());
  for (size_t k = 0; k < params.size(); ++k) {
    params[k].second.value() = tensor_cast<float>(exact_params[k].second.value());
  }
  Tensor<float> x({32, 3, 32, 32});
  for (int64_t i = 0; i < x.numel(); ++i) {
    x[i] = static_cast<float>(2 * std::sin(0.013 * static_cast<double>(i)));
  }
  const auto labels = j["labels"].get<std::vector<int32_t>>();
  // Allowed: 2e-5 of the typical value, or twice PyTorch's own float32 error where that is larger
  // (conv1's weight gradient: 6.6e-5 for PyTorch). Measured for nabla when this test was written:
  // at most 6.4e-6 except conv1's 6.4e-5; the Winograd transforms add rounding, up to ~9x
  // PyTorch's error on some batch-norm gradients, all far below the 1e-3 and more that a wrong
  // transform coefficient or index gives.
  const auto allowed = [](double torch) { return std::max(2e-5, 2 * torch); };

  Variable<float> logits = net(Variable<float>(x));
  cross_entropy(logits, labels).backward();
  const double logits_error = rms_error(logits.value(), {}, j["logits"]["values"]);
  EXPECT_LT(logits_error, allowed(torch_error["logits"].get<double>()));
  for (auto& [name, p] : params) {
    // A conv bias's gradient is exactly 0 (the batch norm after it removes any per-channel
    // constant): both float32 runs leave rounding noise there, with no scale to compare.
    if (name.rfind("conv", 0) == 0 && name.find("bias") != std::string::npos) continue;
    const json& want = j["grads"][name];
    const double err = rms_error(p.grad(), want["index"].get<std::vector<int64_t>>(),
                                 want["values"].get<std::vector<double>>());
    EXPECT_LT(err, allowed(torch_error["grads"][name].get<double>())) << name;
  }
  net.eval();
  NoGradGuard no_grad;
  const double eval_error =
      rms_error(net(Variable<float>(x)).value(), {}, j["eval_logits"]["values"]);
  EXPECT_LT(eval_error, allowed(torch_error["eval_logits"].get<double>()));
}

}  // namespace
}  // namespace nabla
