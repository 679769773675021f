// ONNX export: every model nabla trains and a user's residual model written as ONNX, read back
// with ONNX's own classes, and run in ONNX Runtime (the npm package onnxruntime-node, installed
// by `make ort`; the tests that need it skip with a message without Node or the package),
// whose outputs must equal nabla's. Refusals: a layer no exporter knows, bad shapes.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nabla/error.h"
#include "nabla/nn/adaptive_avgpool2d.h"
#include "nabla/nn/airbench.h"
#include "nabla/nn/avgpool2d.h"
#include "nabla/nn/batchnorm1d.h"
#include "nabla/nn/batchnorm2d.h"
#include "nabla/nn/conv2d.h"
#include "nabla/nn/convnet.h"
#include "nabla/nn/dropout.h"
#include "nabla/nn/flatten.h"
#include "nabla/nn/gelu.h"
#include "nabla/nn/leaky_relu.h"
#include "nabla/nn/linear.h"
#include "nabla/nn/maxpool2d.h"
#include "nabla/nn/mlp.h"
#include "nabla/nn/relu.h"
#include "nabla/nn/residual.h"
#include "nabla/nn/scale.h"
#include "nabla/nn/sequential.h"
#include "nabla/onnx.h"
#include "nabla/ops.h"
#include "test_util.h"
#include "train/cnn.h"

namespace nabla {
namespace {

using testing::TempDir;
using Net = std::shared_ptr<nn::Module<float>>;

// Batch norms that are not at their initial state, so that exporting any part wrongly shows:
// every vector parameter (gammas, betas and biases) drawn from 0.5..1.5, running means from
// N(0, 0.5^2), running variances from 0.001..1.5 (where eps = 1e-5 in the wrong place shows).
void randomise_batchnorm_stats(nn::Module<float>& m, Rng& rng) {
  for (auto& [name, t] : m.named_buffers()) {
    if (name.ends_with("running_mean")) {
      for (float& v : t.values()) v = static_cast<float>(rng.normal(0.0, 0.5));
    } else if (name.ends_with("running_var")) {
      for (float& v : t.values()) v = static_cast<float>(0.001 + 1.5 * rng.uniform());
    }
  }
  for (auto& [name, p] : m.named_parameters()) {
    if (p.value().rank() == 1) {
      for (float& v : p.value().values()) v = static_cast<float>(0.5 + rng.uniform());
    }
  }
}

// A user's model: residual blocks of library layers, every kind of pooling and activation.
Net residual_model(Rng& rng) {
  using namespace nn;
  auto net = std::make_shared<Sequential<float>>();
  net->add("stem",
           std::make_shared<Conv2d<float>>(3, 8, 3, rng, Conv2dOptions{1, Padding::same()}));
  net->add("bn", std::make_shared<BatchNorm2d<float>>(8));
  net->add("relu", std::make_shared<ReLU<float>>());
  auto body = std::make_shared<Sequential<float>>();
  body->add(std::make_shared<Conv2d<float>>(8, 8, 3, rng, Conv2dOptions{1, 1, false}));
  body->add(std::make_shared<BatchNorm2d<float>>(8));
  body->add(std::make_shared<GELU<float>>());
  body->add(std::make_shared<Conv2d<float>>(8, 8, 2, rng, Conv2dOptions{1, Padding::same()}));
  net->add("block1", std::make_shared<Residual<float>>(body));
  auto down = std::make_shared<Sequential<float>>();
  down->add(std::make_shared<Conv2d<float>>(8, 16, 3, rng, Conv2dOptions{2, 1}));
  down->add(std::make_shared<LeakyReLU<float>>(0.1F));
  net->add("block2",
           std::make_shared<Residual<float>>(
               down, std::make_shared<Conv2d<float>>(8, 16, 1, rng, Conv2dOptions{2, 0})));
  net->add("maxpool", std::make_shared<MaxPool2d<float>>(3, 1, 1));
  net->add("avgpool", std::make_shared<AvgPool2d<float>>(2, 2, 1));
  net->add("adaptive", std::make_shared<AdaptiveAvgPool2d<float>>(3));
  net->add("flatten", std::make_shared<Flatten<float>>());
  net->add("drop", std::make_shared<Dropout<float>>(0.3));
  net->add("fc1", std::make_shared<Linear<float>>(16 * 9, 32, rng));
  net->add("bn1d", std::make_shared<BatchNorm1d<float>>(32));
  net->add("act", std::make_shared<GELU<float>>());
  net->add("fc2", std::make_shared<Linear<float>>(32, 10, rng, false));
  net->add("scale", std::make_shared<Scale<float>>(0.5F));
  return net;
}

struct Case {
  std::string name;
  Net model;
};

std::vector<Case> every_model() {
  Rng rng(7);
  std::vector<Case> cases;
  cases.push_back({"cnn", std::make_shared<nn::ConvNet<float>>(3, 10, rng)});
  for (const auto bn :
       {nn::BatchNormKind::kNone, nn::BatchNormKind::kAutograd, nn::BatchNormKind::kManual}) {
    cases.push_back(
        {"mlp-" + nn::to_string(bn),
         std::make_shared<nn::MLP<float>>(3072, std::vector<int64_t>{64, 32}, 10, 0.02F, bn, rng)});
  }
  cases.push_back({"airbench", std::make_shared<nn::AirbenchNet<float>>(
                                   3, 10, rng, nn::AirbenchOptions{{16, 32, 32}})});
  cases.push_back({"residual", residual_model(rng)});
  // Global average pooling, and a batch norm without weight and bias.
  auto global = std::make_shared<nn::Sequential<float>>();
  global->add(std::make_shared<nn::Conv2d<float>>(3, 10, 3, 1, 1, rng));
  global->add(std::make_shared<nn::BatchNorm2d<float>>(10, nn::BatchNormOptions{.affine = false}));
  global->add(std::make_shared<nn::AdaptiveAvgPool2d<float>>(1));
  global->add(std::make_shared<nn::Flatten<float>>());
  cases.push_back({"global-pool", global});
  for (Case& c : cases) {
    randomise_batchnorm_stats(*c.model, rng);
    c.model->eval();
  }
  return cases;
}

// Per-channel normalisation of raw pixels, as `--normalize channel` does.
onnx::ExportOptions channel_normalization() {
  onnx::ExportOptions options;
  options.output_name = "logits";
  options.normalization.subtract = Tensor<float>({3, 1, 1}, {125.3F, 123.0F, 113.9F});
  options.normalization.divide = Tensor<float>({3, 1, 1}, {63.0F, 62.1F, 66.7F});
  options.class_names = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
  return options;
}

// Raw pixel values 0..255: the first n CIFAR-10 test images when the data is here, else draws.
Tensor<float> raw_images(int64_t n, Rng& rng) {
  Tensor<float> x({n, 3, 32, 32});
  if (const std::string dir = testing::real_data_dir(); !dir.empty()) {
    const CifarRaw raw = read_cifar10_file(std::filesystem::path(dir) / "test_batch.bin");
    for (int64_t i = 0; i < x.numel(); ++i) x[i] = raw.pixels[static_cast<size_t>(i)];
  } else {
    for (float& v : x.values()) v = static_cast<float>(std::floor(rng.uniform() * 256.0));
  }
  return x;
}

// nabla's logits for raw images: the normalisation, then the model in eval mode.
Tensor<float> nabla_logits(nn::Module<float>& model, Tensor<float> x,
                           const onnx::InputNormalization& norm) {
  const int64_t c = x.dim(1), plane = x.dim(2) * x.dim(3);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t ch = (i / plane) % c;
    x[i] = (x[i] - norm.subtract[ch]) / norm.divide[ch];
  }
  NoGradGuard no_grad;
  return model(Variable<float>(x)).value();
}

::onnx::ModelProto read_model(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  ::onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromIstream(&in)) << file;
  return model;
}

TEST(OnnxExport, EveryModelWritesACheckedFileWithDynamicBatchAndMetadata) {
  TempDir dir("onnx");
  for (Case& c : every_model()) {
    SCOPED_TRACE(c.name);
    const auto file = dir.path() / (c.name + ".onnx");
    onnx::export_model(*c.model, {2, 3, 32, 32}, file, channel_normalization());
    const ::onnx::ModelProto model = read_model(file);
    ASSERT_EQ(model.opset_import_size(), 1);
    EXPECT_EQ(model.opset_import(0).version(), onnx::kOpset);
    const auto& graph = model.graph();
    ASSERT_EQ(graph.input_size(), 1);
    const auto& in = graph.input(0).type().tensor_type().shape();
    ASSERT_EQ(in.dim_size(), 4);
    EXPECT_EQ(in.dim(0).dim_param(), "batch");
    EXPECT_EQ(in.dim(1).dim_value(), 3);
    ASSERT_EQ(graph.output_size(), 1);
    EXPECT_EQ(graph.output(0).name(), "logits");
    EXPECT_EQ(graph.output(0).type().tensor_type().shape().dim(1).dim_value(), 10);
    // The preprocessing is the first node, on the raw input.
    ASSERT_GT(graph.node_size(), 2);
    EXPECT_EQ(graph.node(0).op_type(), "Sub");
    EXPECT_EQ(graph.node(0).input(0), "input");
    EXPECT_EQ(graph.node(1).op_type(), "Div");
    ASSERT_EQ(model.metadata_props_size(), 1);
    EXPECT_EQ(model.metadata_props(0).key(), "classes");
    EXPECT_EQ(nlohmann::json::parse(model.metadata_props(0).value()).size(), 10U);
  }
}

TEST(OnnxExport, ExportingLeavesTheModelAsItWas) {
  Rng rng(3);
  Net net = residual_model(rng);
  net->train();
  auto& frozen = *net->named_children()[1].second;  // the batch norm, left in eval mode
  frozen.eval();
  const auto before = net->state_dict();
  std::vector<std::vector<float>> values;
  for (const auto& e : before)
    values.emplace_back(e.value.values().begin(), e.value.values().end());
  TempDir dir("onnx-modes");
  onnx::export_model(*net, {4, 3, 32, 32}, dir.path() / "m.onnx");
  EXPECT_TRUE(net->training());
  EXPECT_FALSE(frozen.training());
  EXPECT_TRUE(net->named_children()[3].second->training());
  const auto after = net->state_dict();
  for (size_t i = 0; i < after.size(); ++i) {
    const auto now = after[i].value.values();
    EXPECT_EQ(std::vector<float>(now.begin(), now.end()), values[i]) << after[i].name;
  }
}

// A layer of the user's own that no exporter knows.
class Doubler : public nn::Module<float> {
 public:
  Variable<float> forward(const Variable<float>& x) override { return x * 2.0F; }
};

TEST(OnnxExport, UnknownLayerIsNamedAndWritesNoFileUntilRegistered) {
  Rng rng(1);
  auto net = std::make_shared<nn::Sequential<float>>();
  net->add("fc", std::make_shared<nn::Linear<float>>(4, 3, rng));
  net->add("double", std::make_shared<Doubler>());
  TempDir dir("onnx-unknown");
  const auto file = dir.path() / "m.onnx";
  try {
    onnx::export_model(*net, {1, 4}, file);
    FAIL() << "exported a layer no exporter knows";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("double"), std::string::npos) << what;
    EXPECT_NE(what.find("Doubler"), std::string::npos) << what;
  }
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  onnx::ExportOptions options;
  options.add_layer<Doubler>([](nn::Module<float>&, const std::string& name, const std::string& in,
                                onnx::GraphBuilder& g) {
    return g.node("Mul", name, {in, g.constant(name + ".two", Tensor<float>({1}, {2.0F}))});
  });
  onnx::export_model(*net, {1, 4}, file, options);
  const ::onnx::ModelProto model = read_model(file);
  EXPECT_EQ(model.graph().node(model.graph().node_size() - 1).op_type(), "Mul");
}

TEST(OnnxExport, BadShapesAreRefusedWithTheirNames) {
  Rng rng(2);
  nn::ConvNet<float> cnn(3, 10, rng);
  TempDir dir("onnx-bad");
  const auto file = dir.path() / "m.onnx";
  EXPECT_THROW(onnx::export_model(cnn, {0, 3, 32, 32}, file), ConfigError);
  EXPECT_THROW(onnx::export_model(cnn, {1, 5, 32, 32}, file), ConfigError);
  onnx::ExportOptions options;
  options.normalization.subtract = Tensor<float>({4, 1, 1});
  try {
    onnx::export_model(cnn, {1, 3, 32, 32}, file, options);
    FAIL() << "a 4-channel mean for 3 channels";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("subtract"), std::string::npos) << e.what();
  }
  nn::Sequential<float> pool;
  pool.add(std::make_shared<nn::AdaptiveAvgPool2d<float>>(3));
  EXPECT_THROW(onnx::export_model(pool, {1, 2, 7, 7}, file), ConfigError);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(OnnxExport, CliExportsATrainedModelFileAndRefusesABadOne) {
  TempDir dir("onnx-cli");
  testing::write_synthetic_cifar(dir.path(), 8);
  CnnConfig config;
  config.max_steps = 2;
  config.batch_size = 4;
  config.eval_freq = 2;
  config.out = (dir.path() / "cnn").string();
  config.quiet = true;
  train_cnn(config, load_cifar10(dir.path(), 8));
  const std::string bin = NABLA_BINARY;
  const auto out = dir.path() / "cnn.onnx";
  const auto ok = testing::run_command(bin + " export --model '" +
                                       (dir.path() / "cnn" / "model.safetensors").string() +
                                       "' --out '" + out.string() + "'");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  const ::onnx::ModelProto model = read_model(out);
  EXPECT_EQ(model.graph().output(0).name(), "logits");
  EXPECT_EQ(model.graph().node(0).op_type(), "Sub");  // the mean image
  std::map<std::string, std::string> meta;
  for (const auto& p : model.metadata_props()) meta[p.key()] = p.value();
  EXPECT_EQ(meta["dataset"], "cifar10");
  EXPECT_EQ(meta["model"], "cnn");
  EXPECT_EQ(nlohmann::json::parse(meta["classes"]).at(3), "cat");

  const auto missing = dir.path() / "missing.onnx";
  const auto bad = testing::run_command(bin + " export --model '" +
                                        (dir.path() / "nothing.safetensors").string() +
                                        "' --out '" + missing.string() + "'");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("nothing.safetensors"), std::string::npos) << bad.output;
  EXPECT_FALSE(std::filesystem::exists(missing));
}

// ONNX Runtime, through tests/onnx/run_onnx.js, or the reason it cannot run here.
struct Runtime {
  std::string modules, skip;
  bool skip_is_failure = false;
  Runtime() {
    const char* env = std::getenv("ORT_NODE_MODULES");
    modules = env ? env : NABLA_ORT_NODE_MODULES;
    if (std::getenv("NABLA_REQUIRE_ORT") != nullptr) {
      // `make test` installs ONNX Runtime: there, not finding it is a failure, not a skip.
      skip_is_failure = true;
    }
    if (testing::run_command("node --version").exit_code != 0) {
      skip = "no node on PATH (`make ort` installs Node.js and onnxruntime-node)";
    } else if (!std::filesystem::exists(std::filesystem::path(modules) / "onnxruntime-node")) {
      skip = "no onnxruntime-node in " + modules + " (`make ort` installs it)";
    }
  }
  Tensor<float> logits(const std::filesystem::path& model, const Tensor<float>& x, int64_t classes,
                       const std::filesystem::path& work) const {
    const auto input = work / "input.f32", output = work / "output.f32";
    {
      std::ofstream out(input, std::ios::binary);
      out.write(reinterpret_cast<const char*>(x.data()),
                static_cast<std::streamsize>(x.numel() * 4));
    }
    const auto r = testing::run_command(
        "ORT_NODE_MODULES='" + modules + "' node '" NABLA_RUN_ONNX_JS "' logits '" +
        model.string() + "' '" + input.string() + "' " + std::to_string(x.dim(0)) + " " +
        std::to_string(x.dim(1)) + " " + std::to_string(x.dim(2)) + " " + std::to_string(x.dim(3)) +
        " '" + output.string() + "'");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    Tensor<float> y({x.dim(0), classes});
    std::ifstream in(output, std::ios::binary);
    in.read(reinterpret_cast<char*>(y.data()), static_cast<std::streamsize>(y.numel() * 4));
    EXPECT_TRUE(in.good()) << "ONNX Runtime wrote too few outputs";
    return y;
  }
};

TEST(OnnxRuntime, LogitsEqualNablasForEveryModel) {
  const Runtime ort;
  if (!ort.skip.empty()) {
    if (ort.skip_is_failure) FAIL() << ort.skip << " (NABLA_REQUIRE_ORT is set)";
    GTEST_SKIP() << ort.skip;
  }
  TempDir dir("onnx-ort");
  Rng rng(11);
  // 1,000 images in the script's chunks of 500, the model exported for a batch of 1.
  constexpr int64_t kImages = 1000;
  const Tensor<float> x = raw_images(kImages, rng);
  for (Case& c : every_model()) {
    SCOPED_TRACE(c.name);
    const auto file = dir.path() / (c.name + ".onnx");
    const onnx::ExportOptions options = channel_normalization();
    onnx::export_model(*c.model, {1, 3, 32, 32}, file, options);
    // Batch statistics (the MLP's own batch norms) depend on the batch: nabla gets ORT's chunks.
    Tensor<float> expected({kImages, 10});
    for (int64_t first = 0; first < kImages; first += 500) {
      const int64_t end = std::min<int64_t>(first + 500, kImages);
      const Tensor<float> y =
          nabla_logits(*c.model, x.slice_rows(first, end), options.normalization);
      std::copy(y.values().begin(), y.values().end(), expected.values().begin() + first * 10);
    }
    const Tensor<float> got = ort.logits(file, x, 10, dir.path());
    // Each image's logits within 1e-4 of their largest magnitude.
    for (int64_t i = 0; i < kImages; ++i) {
      float scale = 0, worst = 0;
      for (int64_t k = 0; k < 10; ++k) {
        scale = std::max(scale, std::abs(expected[i * 10 + k]));
        worst = std::max(worst, std::abs(got[i * 10 + k] - expected[i * 10 + k]));
      }
      ASSERT_LE(worst, 1e-4F * scale) << "image " << i;
    }
  }
}

}  // namespace
}  // namespace nabla
