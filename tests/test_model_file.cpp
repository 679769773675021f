// Model files end to end on a tiny trained ConvNet and MLPs: what training writes, loading it
// back (nabla eval gives the numbers training reported), --init_from, and predict.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "nabla/io/image.h"
#include "nabla/kernels.h"
#include "test_util.h"
#include "train/cnn.h"
#include "train/model_file.h"

namespace nabla {
namespace {

using testing::TempDir;

struct TinyRun {
  TempDir dir{"model-file"};
  Cifar10 data;
  CnnConfig config;
  RunSummary summary;

  TinyRun() {
    testing::write_synthetic_cifar(dir.path(), 8);  // 40 training, 8 test images
    data = load_cifar10(dir.path(), 8);
    config.max_steps = 3;
    config.batch_size = 4;
    config.eval_freq = 2;
    config.learning_rate = 1e-3;
    config.out = (dir.path() / "cnn").string();
    config.quiet = true;
    summary = train_cnn(config, data);
  }
  std::filesystem::path model() const { return dir.path() / "cnn" / "model.safetensors"; }
};

TinyRun& tiny() {
  static TinyRun run;
  return run;
}

TEST(ModelFile, CnnFileHasTable1NamesBuffersAndMetadata) {
  const SafetensorsFile f = load_safetensors(tiny().model());
  EXPECT_EQ(f.metadata.at("model"), "cnn");
  EXPECT_EQ(f.tensors.front().name, "conv1.weight");
  for (const char* name :
       {"conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
        "conv5_b.weight", "bn5_b.running_var", "linear.weight", "linear.bias", "mean_image"}) {
    EXPECT_NE(f.find(name), nullptr) << name;
  }
  EXPECT_EQ(f.find("conv3_a.weight")->shape(), (Shape{256, 128, 3, 3}));
  EXPECT_EQ(f.find("linear.weight")->shape(), (Shape{10, 512}));
}

TEST(ModelFile, EvalMatchesWhatTrainingReported) {
  LoadedModel loaded = load_model(tiny().model());
  EXPECT_EQ(loaded.kind, "cnn");
  const Evaluation e = evaluate_model(loaded, read_cifar10_splits(tiny().dir.path(), 8).test);
  EXPECT_DOUBLE_EQ(e.accuracy, tiny().summary.final_test_acc);
  EXPECT_DOUBLE_EQ(e.loss, tiny().summary.final_test_loss);
}

TEST(ModelFile, InitFromStartsWhereTheFileLeftOff) {
  CnnConfig c = tiny().config;
  c.init_from = tiny().model().string();
  c.max_steps = 1;
  c.learning_rate = 1e-12;  // a step that changes (almost) nothing
  c.out = (tiny().dir.path() / "resumed").string();
  train_cnn(c, tiny().data);
  // The parameters start from the file: after one step of learning rate 1e-12 they are still
  // the file's (a fresh initialisation would differ by far more).
  const SafetensorsFile before = load_safetensors(tiny().model());
  const SafetensorsFile after = load_safetensors(c.out + "/model.safetensors");
  for (const char* name : {"conv1.weight", "bn3_a.weight", "conv5_b.bias", "linear.weight"}) {
    EXPECT_LT(max_abs_diff(*before.find(name), *after.find(name)), 1e-6) << name;
  }
}

TEST(ModelFile, MisfittingTensorsAreNamed) {
  SafetensorsFile f = load_safetensors(tiny().model());
  std::vector<NamedTensor> tensors;
  for (auto& t : f.tensors) {
    if (t.name == "bn2.bias") continue;                          // missing
    if (t.name == "linear.bias") t.value = Tensor<float>({11});  // mis-shaped
    tensors.push_back(t);
  }
  tensors.push_back({"extra.weight", Tensor<float>({2})});  // extra
  const auto bad = tiny().dir.path() / "bad.safetensors";
  save_safetensors(bad, tensors, f.metadata);
  try {
    load_model(bad);
    ADD_FAILURE();
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing bn2.bias"), std::string::npos) << msg;
    EXPECT_NE(msg.find("linear.bias has shape [11]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected extra.weight"), std::string::npos) << msg;
  }
  save_safetensors(bad, tensors, {});
  EXPECT_THROW(load_model(bad), DataError);  // no metadata: not a nabla model
}

TEST(ModelFile, CraftedSizesAreRefusedBeforeAllocating) {
  // A few bytes that claim an MLP on 3x4096x4096 images with 100,000 hidden units: refused from
  // the header, before 5e12 weights are allocated.
  const auto file = tiny().dir.path() / "crafted.safetensors";
  save_safetensors(file,
                   {{"fc1.weight", Tensor<float>({2, 2})},
                    {"channel_mean", Tensor<float>({3})},
                    {"channel_std", Tensor<float>::full({3}, 1.0f)}},
                   {{"format", "nabla"},
                    {"model", "mlp"},
                    {"config", R"({"dnn_hidden_units": [100000], "neg_slope": 0.02})"},
                    {"dataset", "folder"},
                    {"classes", R"(["a", "b"])"},
                    {"input_shape", "[3, 4096, 4096]"},
                    {"normalize", "channel"}});
  try {
    load_model(file);
    FAIL() << "loaded";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("fc1.weight must have shape [100000, 50331648]"),
              std::string::npos)
        << e.what();
  }
}

TEST(ModelFile, PredictPngAndJpegAnySize) {
  LoadedModel loaded = load_model(tiny().model());
  const auto dir = tiny().dir.path();
  Rng rng(3);
  RgbImage img{48, 40, std::vector<uint8_t>(48 * 40 * 3)};
  for (auto& p : img.pixels) p = static_cast<uint8_t>(rng.below(256));
  write_png_rgb(dir / "a.png", img);
  ASSERT_TRUE(stbi_write_jpg((dir / "b.jpg").string().c_str(), 48, 40, 3, img.pixels.data(), 95));
  for (const char* name : {"a.png", "b.jpg"}) {
    const Tensor<float> x = read_image_for(loaded, dir / name);
    EXPECT_EQ(x.shape(), (Shape{3, 32, 32}));
    const auto top = predict(loaded, x);
    ASSERT_EQ(top.size(), 3u);
    EXPECT_GE(top[0].probability, top[1].probability);
    EXPECT_GE(top[1].probability, top[2].probability);
    EXPECT_LE(top[0].probability + top[1].probability + top[2].probability, 1.0 + 1e-6);
  }
  // A 32x32 image is taken as it is.
  RgbImage small{32, 32, std::vector<uint8_t>(32 * 32 * 3)};
  for (size_t i = 0; i < small.pixels.size(); ++i) small.pixels[i] = static_cast<uint8_t>(i % 251);
  write_png_rgb(dir / "s.png", small);
  const Tensor<float> s = read_image_for(loaded, dir / "s.png");
  EXPECT_EQ(s[(1 * 32 + 5) * 32 + 7], static_cast<float>(small.pixels[(5 * 32 + 7) * 3 + 1]));
  testing::write_bytes(dir / "c.jpg", {0xFF, 0xD8, 0xFF, 0x00, 0x01});
  EXPECT_THROW(read_image_for(loaded, dir / "c.jpg"), DataError);
  testing::write_bytes(dir / "d.gif", {'G', 'I', 'F'});
  EXPECT_THROW(read_image_for(loaded, dir / "d.gif"), DataError);
}

TEST(ModelFile, MlpFilesEvaluateAsTrainingReported) {
  for (const char* model : {"mlp-manual", "mlp"}) {
    MlpConfig c;
    c.model = model;
    c.dnn_hidden_units = {16};
    c.learning_rate = 1e-4;
    c.batchnorm = std::string(model) == "mlp" ? "manual" : "none";
    c.max_steps = 20;
    c.batch_size = 10;
    c.eval_freq = 20;
    c.quiet = true;
    c.out = (tiny().dir.path() / model).string();
    const RunSummary s =
        std::string(model) == "mlp" ? train_mlp(c, tiny().data) : train_mlp_manual(c, tiny().data);
    LoadedModel loaded = load_model(c.out + "/model.safetensors");
    const Evaluation e = evaluate_model(loaded, read_cifar10_splits(tiny().dir.path(), 8).test);
    EXPECT_NEAR(e.accuracy, s.final_test_acc, 1e-12) << model;
    EXPECT_NEAR(e.loss, s.final_test_loss, 1e-5) << model;  // fused vs separate softmax + log
  }
}

TEST(ModelFile, CliEvalAndPredict) {
  const std::string bin = NABLA_BINARY;
  const auto r = testing::run_command(bin + " predict --model " + tiny().model().string() + " " +
                                      (tiny().dir.path() / "missing.png").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("missing.png"), std::string::npos) << r.output;
  const auto r2 = testing::run_command(bin + " eval --model " +
                                       (tiny().dir.path() / "none.safetensors").string());
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_NE(r2.output.find("none.safetensors"), std::string::npos) << r2.output;
  EXPECT_EQ(testing::run_command(bin + " eval").exit_code, 2);  // --model is required
}

}  // namespace
}  // namespace nabla
