// The data pipeline through the command line: training on MNIST IDX files, a CIFAR-100 folder and
// an image folder (written here in their real formats), with augmentation and per-channel
// normalisation; model files that record the data set, so eval and predict work on them; `nabla
// data check` for each format; and bad flags and files named in the error.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "nabla/io/image.h"
#include "nabla/io/safetensors.h"
#include "test_util.h"

namespace nabla {
namespace {

using testing::TempDir;

const std::string kBin = NABLA_BINARY;

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(v >> shift));
}

// MNIST-style IDX files in `dir`: n training and m test images of 28x28 whose brightness follows
// the label, so a model can learn them.
void write_mnist(const std::filesystem::path& dir, int64_t n, int64_t m, Rng& rng) {
  std::filesystem::create_directories(dir);
  for (const auto& [prefix, count] : {std::pair<std::string, int64_t>{"train", n}, {"t10k", m}}) {
    std::vector<uint8_t> images, labels;
    put_u32(images, 0x803);
    put_u32(images, static_cast<uint32_t>(count));
    put_u32(images, 28);
    put_u32(images, 28);
    put_u32(labels, 0x801);
    put_u32(labels, static_cast<uint32_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      const auto label = static_cast<uint8_t>(rng.below(10));
      labels.push_back(label);
      for (int k = 0; k < 28 * 28; ++k) {
        images.push_back(
            static_cast<uint8_t>(std::min<double>(255, 20 * label + rng.uniform(0, 40))));
      }
    }
    testing::write_bytes(dir / (prefix + "-images-idx3-ubyte"), images);
    testing::write_bytes(dir / (prefix + "-labels-idx1-ubyte"), labels);
  }
}

// DIR/train/<class>/ and DIR/test/<class>/ with small PNGs of different sizes: "dark" images are
// dark, "light" ones light.
void write_folder(const std::filesystem::path& dir, Rng& rng) {
  for (const char* split : {"train", "test"}) {
    for (const char* cls : {"light", "dark"}) {
      const auto folder = dir / split / cls;
      std::filesystem::create_directories(folder);
      for (int i = 0; i < 6; ++i) {
        RgbImage img{10 + i, 9, std::vector<uint8_t>(static_cast<size_t>((10 + i) * 9 * 3))};
        for (auto& p : img.pixels) {
          p = static_cast<uint8_t>(rng.uniform(0, 60) + (std::string(cls) == "light" ? 190 : 0));
        }
        write_png_rgb(folder / ("img" + std::to_string(i) + ".png"), img);
      }
    }
  }
}

nlohmann::json summary(const std::filesystem::path& out) {
  return nlohmann::json::parse(testing::read_text(out / "summary.json"));
}

// "test_acc=0.1234 ..." -> 0.1234.
double printed_acc(const std::string& output) {
  const size_t at = output.find("test_acc=");
  return at == std::string::npos ? -1 : std::stod(output.substr(at + 9));
}

TEST(Pipeline, MnistWithAugmentationAndChannelNormalisation) {
  TempDir dir("pipeline-mnist");
  Rng rng(1);
  write_mnist(dir.path() / "mnist", 64, 24, rng);
  const auto out = dir.path() / "run";
  const std::string train = kBin + " train cnn --dataset mnist --data_dir " +
                            (dir.path() / "mnist").string() +
                            " --max_steps 4 --batch_size 8 --eval_freq 2 --augment flip,crop2"
                            " --normalize channel --quiet --out ";
  const auto r = testing::run_command(train + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const SafetensorsFile f = load_safetensors(out / "model.safetensors");
  EXPECT_EQ(f.metadata.at("dataset"), "mnist");
  EXPECT_EQ(f.metadata.at("input_shape"), "[1,28,28]");
  EXPECT_EQ(f.metadata.at("normalize"), "channel");
  EXPECT_EQ(nlohmann::json::parse(f.metadata.at("classes")).size(), 10u);
  EXPECT_NE(f.find("channel_mean"), nullptr);
  EXPECT_EQ(f.find("mean_image"), nullptr);
  EXPECT_EQ(f.find("conv1.weight")->shape(), (Shape{64, 1, 3, 3}));

  // The same flags give the same metrics; without --augment they differ.
  const auto again = testing::run_command(train + (dir.path() / "again").string());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(testing::without_elapsed(testing::read_text(out / "metrics.csv")),
            testing::without_elapsed(testing::read_text(dir.path() / "again" / "metrics.csv")));
  std::string plain_cmd = train;
  plain_cmd.replace(plain_cmd.find(" --augment flip,crop2"), 21, "");
  ASSERT_EQ(testing::run_command(plain_cmd + (dir.path() / "plain").string()).exit_code, 0);
  EXPECT_NE(testing::without_elapsed(testing::read_text(out / "metrics.csv")),
            testing::without_elapsed(testing::read_text(dir.path() / "plain" / "metrics.csv")));

  // eval reads the data set the file records and repeats its preprocessing.
  const auto e =
      testing::run_command(kBin + " eval --model " + (out / "model.safetensors").string() +
                           " --data_dir " + (dir.path() / "mnist").string());
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NEAR(printed_acc(e.output), summary(out)["final_test_acc"].get<double>(), 5e-5);

  // predict takes a colour PNG of another size: grey, resized to 28x28, and MNIST's class names.
  RgbImage img{40, 30, std::vector<uint8_t>(40 * 30 * 3, 120)};
  write_png_rgb(dir.path() / "digit.png", img);
  const auto p =
      testing::run_command(kBin + " predict --model " + (out / "model.safetensors").string() + " " +
                           (dir.path() / "digit.png").string());
  ASSERT_EQ(p.exit_code, 0) << p.output;
  EXPECT_NE(p.output.find("digit.png: "), std::string::npos) << p.output;
}

TEST(Pipeline, ImageFolderTrainsEvaluatesAndPredicts) {
  TempDir dir("pipeline-folder");
  Rng rng(2);
  write_folder(dir.path() / "pics", rng);
  const auto out = dir.path() / "run";
  const auto r = testing::run_command(
      kBin + " train mlp --dataset folder --image_size 8 --data_dir " +
      (dir.path() / "pics").string() + " --dnn_hidden_units 8 --max_steps 30 --batch_size 4" +
      " --eval_freq 10 --learning_rate 0.01 --optimizer adam --quiet --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const SafetensorsFile f = load_safetensors(out / "model.safetensors");
  EXPECT_EQ(f.metadata.at("classes"), R"(["dark","light"])");  // sorted by name
  EXPECT_EQ(f.metadata.at("input_shape"), "[3,8,8]");
  EXPECT_EQ(f.find("mean_image")->shape(), (Shape{3, 8, 8}));
  EXPECT_EQ(summary(out)["final_test_acc"].get<double>(), 1.0);  // dark and light are easy

  // eval labels the test images by the model's classes, even when the training folder has gained
  // a class since ("aardvark" would come first and shift the labels).
  std::filesystem::create_directories(dir.path() / "pics" / "train" / "aardvark");
  std::filesystem::copy_file(dir.path() / "pics" / "train" / "dark" / "img0.png",
                             dir.path() / "pics" / "train" / "aardvark" / "img0.png");
  const auto e =
      testing::run_command(kBin + " eval --model " + (out / "model.safetensors").string() +
                           " --data_dir " + (dir.path() / "pics").string());
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_DOUBLE_EQ(printed_acc(e.output), 1.0);
  const auto p =
      testing::run_command(kBin + " predict --model " + (out / "model.safetensors").string() + " " +
                           (dir.path() / "pics" / "test" / "light" / "img0.png").string());
  ASSERT_EQ(p.exit_code, 0) << p.output;
  EXPECT_NE(p.output.find("img0.png: light "), std::string::npos) << p.output;

  // An unreadable image is named.
  testing::write_bytes(dir.path() / "pics" / "train" / "dark" / "broken.png",
                       {0x89, 'P', 'N', 'G'});
  const auto bad = testing::run_command(kBin + " data check --dataset folder --data_dir " +
                                        (dir.path() / "pics").string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("broken.png"), std::string::npos) << bad.output;
}

TEST(Pipeline, DataCheckReadsEveryFormatAndNamesBadFiles) {
  TempDir dir("pipeline-check");
  Rng rng(3);
  write_mnist(dir.path() / "fashion", 12, 5, rng);
  auto r = testing::run_command(kBin + " data check --dataset fashion-mnist --data_dir " +
                                (dir.path() / "fashion").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("fashion-mnist: train 12 images, test 5 images, each [1, 28, 28], 10 "
                          "classes (T-shirt/top ... Ankle boot)"),
            std::string::npos)
      << r.output;

  // CIFAR-100: coarse label, fine label, then the planes.
  std::filesystem::create_directories(dir.path() / "c100");
  for (const auto& [file, count] : {std::pair<std::string, int>{"train.bin", 7}, {"test.bin", 3}}) {
    std::vector<uint8_t> bytes;
    for (int i = 0; i < count; ++i) {
      bytes.push_back(static_cast<uint8_t>(i % 20));
      bytes.push_back(static_cast<uint8_t>(i * 13 % 100));
      for (int k = 0; k < 3072; ++k) bytes.push_back(static_cast<uint8_t>(rng.below(256)));
    }
    testing::write_bytes(dir.path() / "c100" / file, bytes);
  }
  r = testing::run_command(kBin + " data check --dataset cifar100 --data_dir " +
                           (dir.path() / "c100").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("cifar100: train 7 images, test 3 images, each [3, 32, 32], 100 classes"),
            std::string::npos)
      << r.output;
  r = testing::run_command(kBin + " train mlp --dataset cifar100-coarse --data_dir " +
                           (dir.path() / "c100").string() +
                           " --max_steps 2 --batch_size 3 --eval_freq 2 --quiet --out " +
                           (dir.path() / "coarse").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(
      load_safetensors(dir.path() / "coarse" / "model.safetensors").find("fc2.weight")->dim(0), 20);

  // A truncated IDX file is named.
  const auto labels = dir.path() / "fashion" / "t10k-labels-idx1-ubyte";
  std::string bytes = testing::read_text(labels);
  bytes.pop_back();
  testing::write_bytes(labels, std::vector<uint8_t>(bytes.begin(), bytes.end()));
  r = testing::run_command(kBin + " data check --dataset fashion-mnist --data_dir " +
                           (dir.path() / "fashion").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("t10k-labels-idx1-ubyte"), std::string::npos) << r.output;
}

TEST(Pipeline, BadDataFlagsAreUsageErrorsNamingTheFlag) {
  TempDir dir("pipeline-flags");
  for (const auto& [flags, named] :
       std::vector<std::pair<std::string, std::string>>{{"--dataset imagenet", "--dataset"},
                                                        {"--augment flip,blur3", "--augment"},
                                                        {"--normalize zscore", "--normalize"},
                                                        {"--image_size 16", "--image_size"},
                                                        {"--dataset folder", "--data_dir"}}) {
    const auto r = testing::run_command(kBin + " train cnn " + flags + " --out " +
                                        (dir.path() / "x").string());
    EXPECT_EQ(r.exit_code, 2) << flags << ": " << r.output;
    EXPECT_NE(r.output.find(named), std::string::npos) << flags << ": " << r.output;
  }
}

}  // namespace
}  // namespace nabla
