// airbench's parts in the library: the network (names, shapes, frozen and identity filters) and
// the lookahead average.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nabla/error.h"
#include "nabla/nn/airbench.h"
#include "nabla/nn/init.h"
#include "nabla/nn/linear.h"
#include "nabla/ops.h"
#include "nabla/optim/lookahead.h"
#include "test_util.h"
#include "train/airbench.h"

namespace nabla {
namespace {

TEST(AirbenchNet, HasPyTorchsNamesShapesAndFrozenParts) {
  Rng rng(1);
  nn::AirbenchNet<float> net(3, 10, rng, {{8, 16, 16}});
  std::vector<std::string> names;
  for (const auto& e : net.state_dict()) names.push_back(e.name);
  const std::vector<std::string> first{"0.weight",
                                       "0.bias",
                                       "2.conv1.weight",
                                       "2.norm1.weight",
                                       "2.norm1.bias",
                                       "2.norm1.running_mean",
                                       "2.norm1.running_var",
                                       "2.norm1.num_batches_tracked",
                                       "2.conv2.weight"};
  ASSERT_GE(names.size(), first.size());
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 9), first);
  EXPECT_EQ(names.back(), "7.weight");
  const auto params = net.named_parameters();
  std::vector<std::string> trained;
  for (const auto& [name, p] : params) {
    if (p.requires_grad()) trained.push_back(name);
  }
  // The whitening weight and every batch norm weight are frozen.
  EXPECT_EQ(trained,
            (std::vector<std::string>{
                "0.bias", "2.conv1.weight", "2.norm1.bias", "2.conv2.weight", "2.norm2.bias",
                "3.conv1.weight", "3.norm1.bias", "3.conv2.weight", "3.norm2.bias",
                "4.conv1.weight", "4.norm1.bias", "4.conv2.weight", "4.norm2.bias", "7.weight"}));
  // Identity filters on the first C_in outputs of each 3x3 conv; the whitening bias starts at 0.
  const Tensor<float>& w = params[2].second.value();  // 2.conv1.weight (8, 24, 3, 3)
  EXPECT_EQ(w[(5 * 24 + 5) * 9 + 4], 1.0F);
  EXPECT_EQ(w[(5 * 24 + 6) * 9 + 4], 0.0F);
  EXPECT_EQ(params[1].second.value()[3], 0.0F);
  const Tensor<float> images = [&] {
    Tensor<float> t({4, 3, 32, 32});
    for (float& v : t.values()) v = static_cast<float>(rng.normal());
    return t;
  }();
  net.whiten(images);
  const Tensor<float> want = nn::init::whitening_filters(images, 2, 2, 5e-4);
  ASSERT_EQ(params[0].second.value().shape(), want.shape());
  for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(params[0].second.value()[i], want[i]);
  EXPECT_THROW(net.whiten(Tensor<float>({4, 1, 32, 32})), std::invalid_argument);
  const Variable<float> logits = net(Variable<float>(images));
  EXPECT_EQ(logits.shape(), (Shape{4, 10}));
  cross_entropy(logits, {1, 2, 3, 4}, {0.2, Reduction::kSum}).backward();
  EXPECT_TRUE(params[0].second.grad().empty());
  EXPECT_FALSE(params[1].second.grad().empty());
  EXPECT_TRUE(params[3].second.grad().empty());  // 2.norm1.weight
}

TEST(AirbenchSteps, RefuseStepsOutsideTheScheduleAndBadFlags) {
  Rng rng(3);
  nn::AirbenchNet<float> net(3, 10, rng, {{8, 16, 16}});
  const AirbenchConfig config;
  EXPECT_THROW(AirbenchSteps<float>(net, config, 0, 10), std::invalid_argument);
  AirbenchSteps<float> steps(net, config, 2, 4);
  Tensor<float> x({2, 3, 32, 32});
  EXPECT_THROW(steps.step(x, {0, 1}, 5), std::invalid_argument);
  EXPECT_THROW(steps.step(x, {0, 1}, 0), std::invalid_argument);
  const auto refused = [](AirbenchConfig c, const std::string& flag) {
    try {
      validate(c);
      ADD_FAILURE() << flag << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  };
  AirbenchConfig c;
  c.momentum = 0;
  refused(c, "--momentum");
  c = {};
  c.widths = "64,256,256,";
  refused(c, "--widths");
  c = {};
  c.widths = "64,256";
  refused(c, "--widths");
  c = {};
  c.tta_level = 3;
  refused(c, "--tta_level");
  c = {};
  c.epochs = 0;
  refused(c, "--epochs");
}

TEST(Lookahead, AveragesTheWholeStateAndResetsTheModel) {
  Rng rng(2);
  nn::Linear<float> model(3, 2, rng);
  optim::Lookahead<float> lookahead(model);
  const Tensor<float> start = model.named_parameters()[0].second.value().clone();
  Tensor<float>& w = model.named_parameters()[0].second.value();
  for (float& v : w.values()) v += 1.0F;
  lookahead.update(0.75);  // a quarter of the way to the model
  for (int64_t i = 0; i < w.numel(); ++i) {
    EXPECT_FLOAT_EQ(w[i], start[i] + 0.25F);
    EXPECT_FLOAT_EQ(lookahead.average()[0].second[i], start[i] + 0.25F);
  }
  for (float& v : w.values()) v += 4.0F;
  lookahead.update(1.0);  // back to the average
  for (int64_t i = 0; i < w.numel(); ++i) EXPECT_FLOAT_EQ(w[i], start[i] + 0.25F);
  EXPECT_THROW(lookahead.update(1.5), std::invalid_argument);
  std::map<std::string, Tensor<float>> saved;
  for (const auto& [name, t] : lookahead.average()) saved[name] = t;
  for (float& v : w.values()) v -= 3.0F;  // the model moves on; a restored average must not
  optim::Lookahead<float> restored(model);
  EXPECT_NE(restored.average()[0].second[0], saved["weight"][0]);
  restored.load_average(saved);
  for (int64_t i = 0; i < w.numel(); ++i) {
    EXPECT_EQ(restored.average()[0].second[i], saved["weight"][i]);
  }
  saved.erase("bias");
  EXPECT_THROW(restored.load_average(saved), std::invalid_argument);
}

Tensor<double> fixture_tensor(const nlohmann::json& j) {
  return Tensor<double>(j["shape"].get<Shape>(), j["values"].get<std::vector<double>>());
}

// Six float64 steps of the recipe (two groups of Nesterov SGD, label smoothing summed, the
// schedule, the whitening bias frozen after the first epoch, lookahead at step 5 and at the end)
// against PyTorch's from the same start (tests/fixtures/make_fixtures.py, airbench_fixture).
TEST(AirbenchParity, SixStepsFollowPyTorch) {
  std::ifstream in(std::string(NABLA_FIXTURES_DIR) + "/airbench_parity.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json f = nlohmann::json::parse(in);
  const auto widths = f["widths"].get<std::vector<int64_t>>();
  Rng rng(0);
  nn::AirbenchNet<double> model(3, 10, rng, {{widths[0], widths[1], widths[2]}});
  nn::StateDict<double> start;
  for (const auto& [name, t] : f["initial"].items()) start.push_back({name, fixture_tensor(t)});
  model.load_state_dict(start);
  std::vector<std::string> trained;
  for (const auto& [name, p] : model.named_parameters()) {
    if (p.requires_grad()) trained.push_back(name);
  }
  EXPECT_EQ(trained, f["trained"].get<std::vector<std::string>>());

  AirbenchConfig config;
  const int64_t total = f["total"].get<int64_t>(), batch = 8, image = 3 * 32 * 32;
  config.batch_size = batch;
  config.whiten_bias_epochs = 1;
  AirbenchSteps<double> steps(model, config, f["per_epoch"].get<int64_t>(), total);
  const auto labels = f["labels"].get<std::vector<int32_t>>();
  const auto losses = f["losses"].get<std::vector<double>>();
  for (int64_t s = 0; s < total; ++s) {
    Tensor<double> x({batch, 3, 32, 32});
    for (int64_t k = 0; k < batch * image; ++k) {
      const auto i = static_cast<double>(s * batch * image + k);
      x[k] = std::sin(0.37 * i) + 0.5 * std::cos(0.011 * i);
    }
    const std::vector<int32_t> y(labels.begin() + s * batch, labels.begin() + (s + 1) * batch);
    const double loss = steps.step(x, y, s + 1).first;
    EXPECT_NEAR(loss, losses[static_cast<size_t>(s)], 1e-9 * std::abs(loss)) << "step " << s + 1;
  }
  for (const auto& e : model.state_dict()) {
    if (e.kind != nn::BufferKind::kValue) continue;
    SCOPED_TRACE(e.name);
    const Tensor<double> want = fixture_tensor(f["final"][e.name]);
    ASSERT_EQ(e.value.shape(), want.shape());
    for (int64_t i = 0; i < want.numel(); ++i) {
      ASSERT_NEAR(e.value[i], want[i], 1e-9 * (1 + std::abs(want[i]))) << i;
    }
  }
}

}  // namespace
}  // namespace nabla
