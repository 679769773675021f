// PyTorch parity: C++ against fixtures written by tests/fixtures/make_fixtures.py with Debian's
// PyTorch, in float64: MLP forward, loss and every gradient, five SGD and Adam steps, batch norm.
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
  for (auto& [name, b] : net.named_buffers()) expect_summary(b, j["buffers"][name], name);

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

}  // namespace
}  // namespace nabla
