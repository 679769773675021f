// safetensors model files: round trip, the exact layout, and bad files.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "nabla/data/cifar10.h"
#include "nabla/io/safetensors.h"
#include "test_util.h"

namespace nabla {
namespace {

using testing::TempDir;

std::vector<NamedTensor> sample() {
  return {{"fc1.weight", Tensor<float>({2, 3}, {1, 2, 3, 4, 5, 6})},
          {"fc1.bias", Tensor<float>({2}, {-1, 0.5f})},
          {"scalar", Tensor<float>(Shape{}, {7})}};
}

TEST(Safetensors, RoundTripKeepsOrderValuesAndMetadata) {
  TempDir dir("st");
  save_safetensors(dir.path() / "m.safetensors", sample(), {{"model", "mlp"}});
  const SafetensorsFile f = load_safetensors(dir.path() / "m.safetensors");
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors[0].name, "fc1.weight");
  EXPECT_EQ(f.tensors[1].name, "fc1.bias");
  EXPECT_EQ(f.tensors[0].value.shape(), (Shape{2, 3}));
  EXPECT_EQ(f.tensors[1].value[1], 0.5f);
  EXPECT_EQ(f.find("scalar")->numel(), 1);
  EXPECT_EQ(f.find("absent"), nullptr);
  EXPECT_EQ(f.metadata.at("model"), "mlp");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "m.safetensors.tmp"));
}

TEST(Safetensors, LayoutIsTheSafetensorsFormat) {
  TempDir dir("layout");
  save_safetensors(dir.path() / "m.safetensors", sample());
  const std::string bytes = testing::read_text(dir.path() / "m.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["fc1.weight"]["dtype"], "F32");
  EXPECT_EQ(header["fc1.weight"]["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(header["fc1.weight"]["data_offsets"], nlohmann::json({0, 24}));
  EXPECT_EQ(header["fc1.bias"]["data_offsets"], nlohmann::json({24, 32}));
  EXPECT_EQ(bytes.size(), 8 + n + 36);
  float v;
  std::memcpy(&v, bytes.data() + 8 + n + 24, 4);
  EXPECT_EQ(v, -1.0f);
}

TEST(Safetensors, BadFilesGiveClearErrors) {
  TempDir dir("badst");
  const auto expect_error = [&](const std::string& bytes, const std::string& what) {
    const auto file = dir.path() / "bad.safetensors";
    testing::write_bytes(file, std::vector<uint8_t>(bytes.begin(), bytes.end()));
    try {
      load_safetensors(file);
      ADD_FAILURE() << "no error for: " << what;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos);
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  const auto with_header = [](const std::string& json, size_t data_bytes) {
    std::string out(8, '\0');
    const uint64_t n = json.size();
    std::memcpy(out.data(), &n, 8);
    return out + json + std::string(data_bytes, '\0');
  };
  expect_error("abc", "too short");
  expect_error(std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}", "past the end");
  expect_error(with_header("{not json", 0), "not valid JSON");
  expect_error(with_header("[1,2]", 0), "not a JSON object");
  expect_error(with_header(R"({"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}})", 1), "dtype");
  expect_error(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8),
               "bytes for shape");
  expect_error(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 4),
               "outside");
  expect_error(with_header(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
               "bad dimension");
  expect_error(
      with_header(
          R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})", 4),
      "shape");
  expect_error(with_header(R"({"a":{"dtype":"F32"}})", 4), "lacks");
  expect_error(with_header(R"({"__metadata__":{"k":1}})", 0), "metadata");
}

}  // namespace
}  // namespace nabla
