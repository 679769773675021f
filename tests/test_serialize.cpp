// State dicts (Module::state_dict / load_state_dict) and model files (nabla::save / nabla::load).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "nabla/error.h"
#include "nabla/kernels.h"
#include "nabla/nn/convnet.h"
#include "nabla/nn/serialize.h"
#include "test_util.h"

namespace nabla {
namespace {

using testing::TempDir;

// conv (2->3), bn, relu, flatten, linear: every kind of entry a state dict holds.
std::shared_ptr<nn::Sequential<float>> small_net(uint64_t seed) {
  Rng rng(seed);
  auto net = std::make_shared<nn::Sequential<float>>();
  net->add("conv", std::make_shared<nn::Conv2d<float>>(2, 3, 3, 1, 1, rng));
  net->add("bn", std::make_shared<nn::BatchNorm2d<float>>(3));
  net->add("relu", std::make_shared<nn::ReLU<float>>());
  net->add("flatten", std::make_shared<nn::Flatten<float>>());
  net->add("fc", std::make_shared<nn::Linear<float>>(3 * 4 * 4, 2, rng));
  return net;
}

Tensor<float> input(uint64_t seed) {
  Rng rng(seed);
  Tensor<float> x({2, 2, 4, 4});
  for (float& v : x.values()) v = static_cast<float>(rng.normal());
  return x;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(StateDict, NamesAndOrderAreTorchs) {
  const auto net = small_net(1);
  std::vector<std::string> names;
  for (const auto& e : net->state_dict()) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv.weight", "conv.bias", "bn.weight", "bn.bias",
                                             "bn.running_mean", "bn.running_var",
                                             "bn.num_batches_tracked", "fc.weight", "fc.bias"}));
  // The entries share the module's storage.
  net->state_dict()[0].value[0] = 42;
  EXPECT_EQ(net->named_parameters()[0].second.value()[0], 42);
}

TEST(StateDict, LoadCopiesEverythingAndCountsBatches) {
  const auto a = small_net(1), b = small_net(2);
  (*a)(Variable<float>(input(3)));  // training mode: running statistics and the count move
  (*a)(Variable<float>(input(4)));
  b->load_state_dict(a->state_dict());
  const auto sa = a->state_dict(), sb = b->state_dict();
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(max_abs_diff(sa[i].value, sb[i].value), 0.0F) << sa[i].name;
    EXPECT_FALSE(sa[i].value.same_storage(sb[i].value));
  }
  EXPECT_EQ(sb[6].value[0], 2.0F);  // bn.num_batches_tracked
  a->eval();
  b->eval();
  const NoGradGuard no_grad;
  EXPECT_EQ(max_abs_diff((*a)(Variable<float>(input(5))).value(),
                         (*b)(Variable<float>(input(5))).value()),
            0.0F);
}

TEST(StateDict, MismatchesAreAllNamedAndNothingIsCopied) {
  const auto net = small_net(1);
  nn::StateDict<float> dict = small_net(2)->state_dict();
  dict.erase(dict.begin() + 3);                          // bn.bias missing
  dict[0].value = Tensor<float>({3, 2, 3, 1});           // conv.weight mis-shaped
  dict.push_back({"extra.weight", Tensor<float>({1})});  // unexpected
  const float before = net->state_dict()[1].value[0];
  const std::string msg = message_of([&] { net->load_state_dict(dict); });
  EXPECT_NE(msg.find("missing bn.bias"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected extra.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("conv.weight has shape [3, 2, 3, 1], expected [3, 2, 3, 3]"),
            std::string::npos)
      << msg;
  EXPECT_EQ(net->state_dict()[1].value[0], before);  // conv.bias untouched
  // Not strict: missing and unexpected entries are allowed, a wrong shape never is.
  EXPECT_THROW(net->load_state_dict(dict, /*strict=*/false), ConfigError);
  dict[0].value = Tensor<float>({3, 2, 3, 3}, std::vector<float>(54, 0.5F));
  net->load_state_dict(dict, /*strict=*/false);
  EXPECT_EQ(net->state_dict()[0].value[0], 0.5F);
}

TEST(StateDict, TiedParametersAreListedOnceAndNamesMustBeNew) {
  Rng rng(1);
  nn::Sequential<float> net;
  auto shared = std::make_shared<nn::Linear<float>>(3, 3, rng);
  net.add("a", shared);
  net.add("b", shared);  // the same layer twice: its weight is tied
  EXPECT_EQ(net.parameters().size(), 2u);  // a.weight and a.bias, not b's again
  EXPECT_EQ(net.named_parameters()[0].first, "a.weight");
  EXPECT_THROW(net.add("a", std::make_shared<nn::ReLU<float>>()), ConfigError);
  EXPECT_THROW(net.add("x.y", std::make_shared<nn::ReLU<float>>()), ConfigError);
  nn::StateDict<float> dict = small_net(2)->state_dict();
  dict.push_back(dict[0]);
  const auto target = small_net(1);
  const std::string msg = message_of([&] { target->load_state_dict(dict); });
  EXPECT_NE(msg.find("conv.weight is given twice"), std::string::npos) << msg;
  TempDir dir("dup");
  EXPECT_THROW(save_safetensors(dir.path() / "d.safetensors",
                                {{"w", Tensor<float>({1})}, {"w", Tensor<float>({1})}}),
               std::invalid_argument);
}

TEST(StateDict, AMissingCountIsZeroAsInOlderTorchFiles) {
  const auto net = small_net(1);
  (*net)(Variable<float>(input(3)));
  nn::StateDict<float> dict = small_net(2)->state_dict();
  dict.erase(dict.begin() + 6);  // bn.num_batches_tracked
  net->load_state_dict(dict);
  EXPECT_EQ(net->state_dict()[6].value[0], 0.0F);
}

TEST(ModelFile, SaveAndLoadRoundTripWithExtrasAndMetadata) {
  TempDir dir("save");
  const auto a = small_net(1);
  (*a)(Variable<float>(input(3)));
  const auto file = dir.path() / "net.safetensors";
  save(*a, file, {{"model", "small"}}, {{"mean_image", Tensor<float>({2, 4, 4})}});
  const SafetensorsFile raw = load_safetensors(file);
  ASSERT_NE(raw.find("bn.num_batches_tracked"), nullptr);
  EXPECT_EQ(raw.tensors[6].dtype, DType::kI64);
  EXPECT_EQ(raw.tensors.back().name, "mean_image");

  const auto b = small_net(2);
  const SafetensorsFile loaded = load(*b, file, /*strict=*/true, {"mean_image"});
  EXPECT_EQ(loaded.metadata.at("model"), "small");
  EXPECT_NE(loaded.find("mean_image"), nullptr);
  const auto sa = a->state_dict(), sb = b->state_dict();
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_EQ(max_abs_diff(sa[i].value, sb[i].value), 0.0F);
  // Without naming the extra tensor, strict loading refuses it, naming the file and the tensor.
  const std::string msg = message_of([&] { load(*b, file); });
  EXPECT_NE(msg.find("net.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected mean_image"), std::string::npos) << msg;
  EXPECT_THROW(load(*b, file), DataError);
}

TEST(ModelFile, CorruptAndTruncatedFilesNameTheFile) {
  TempDir dir("corrupt");
  const auto net = small_net(1);
  const auto file = dir.path() / "net.safetensors";
  save(*net, file);
  const std::string bytes = testing::read_text(file);
  testing::write_bytes(dir.path() / "cut.safetensors",
                       std::vector<uint8_t>(bytes.begin(), bytes.end() - 5));
  const std::string msg = message_of([&] { load(*net, dir.path() / "cut.safetensors"); });
  EXPECT_NE(msg.find("cut.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensor 'fc.bias'"), std::string::npos) << msg;  // the one cut short
}

// The layers of tests/fixtures/make_fixtures.py's small_sequential, named as nn.Sequential names
// them ("0".."5").
std::shared_ptr<nn::Sequential<float>> torch_sequential() {
  Rng rng(0);  // every value comes from the file
  auto net = std::make_shared<nn::Sequential<float>>();
  net->add("0", std::make_shared<nn::Conv2d<float>>(3, 4, 3, 1, 1, rng));
  net->add("1", std::make_shared<nn::BatchNorm2d<float>>(4));
  net->add("2", std::make_shared<nn::ReLU<float>>());
  net->add("3", std::make_shared<nn::MaxPool2d<float>>(3, 2, 1));
  net->add("4", std::make_shared<nn::Flatten<float>>());
  net->add("5", std::make_shared<nn::Linear<float>>(4 * 4 * 4, 5, rng));
  return net;
}

// Files that PyTorch wrote (the format of safetensors.torch.save_file) from a model's state dict
// in F32, F16 and BF16, each with the I64 num_batches_tracked, load strictly into the same layers
// and give PyTorch's eval-mode logits.
TEST(TorchStateDict, LoadsWhatPyTorchWritesInEveryPrecision) {
  const std::string dir = NABLA_FIXTURES_DIR;
  std::ifstream in(dir + "/torch_state_dict.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json j = nlohmann::json::parse(in);
  const auto x_values = j["input"]["values"].get<std::vector<double>>();
  Tensor<float> x(j["input"]["shape"].get<Shape>());
  for (size_t i = 0; i < x_values.size(); ++i) x[static_cast<int64_t>(i)] = static_cast<float>(x_values[i]);
  for (const std::string suffix : {"", "_f16", "_bf16"}) {
    const auto net = torch_sequential();
    const SafetensorsFile file = load(*net, dir + "/torch_state_dict" + suffix + ".safetensors");
    EXPECT_EQ(file.find("1.num_batches_tracked") != nullptr, true);
    EXPECT_EQ(net->state_dict()[6].value[0], j["num_batches_tracked"].get<float>()) << suffix;
    net->eval();
    const NoGradGuard no_grad;
    const Tensor<float> logits = (*net)(Variable<float>(x)).value();
    const auto want = j["logits" + suffix]["values"].get<std::vector<double>>();
    ASSERT_EQ(logits.numel(), static_cast<int64_t>(want.size()));
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_NEAR(logits[static_cast<int64_t>(i)], want[i], 1e-5 * (1 + std::abs(want[i])))
          << suffix << " logit " << i;
    }
  }
}

}  // namespace
}  // namespace nabla
