// safetensors model files: round trip, the exact layout, and bad files.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "nabla/data/cifar10.h"
#include "nabla/io/image.h"
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

// A file with one tensor per dtype PyTorch writes, each holding values whose float32 form is known.
TEST(Safetensors, ReadsEveryDtypePyTorchWritesAsFloat) {
  std::string json = "{";
  std::string data;
  const auto add = [&](const std::string& name, const std::string& dtype, const std::string& bytes,
                       size_t count) {
    if (json.size() > 1) json += ",";
    json += "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" +
            std::to_string(count) + "],\"data_offsets\":[" + std::to_string(data.size()) + "," +
            std::to_string(data.size() + bytes.size()) + "]}";
    data += bytes;
  };
  const auto raw = [](const auto& values) {
    return std::string(reinterpret_cast<const char*>(values.data()),
                       values.size() * sizeof(values[0]));
  };
  add("f64", "F64", raw(std::vector<double>{0.1, -2.5}), 2);
  // F16: 1.0 (0x3c00), -2.0 (0xc000), 65504 (0x7bff, the largest), 2^-24 (0x0001, subnormal).
  add("f16", "F16", raw(std::vector<uint16_t>{0x3c00, 0xc000, 0x7bff, 0x0001}), 4);
  // BF16: the top half of a float: 1.0 (0x3f80), -0.15625 (0xbe20).
  add("bf16", "BF16", raw(std::vector<uint16_t>{0x3f80, 0xbe20}), 2);
  add("i64", "I64", raw(std::vector<int64_t>{0, 7, -3}), 3);
  add("i32", "I32", raw(std::vector<int32_t>{12345, -1}), 2);
  add("u8", "U8", raw(std::vector<uint8_t>{0, 255}), 2);
  add("bool", "BOOL", raw(std::vector<uint8_t>{1, 0}), 2);
  json += "}";
  std::string bytes(8, '\0');
  const uint64_t n = json.size();
  std::memcpy(bytes.data(), &n, 8);
  const SafetensorsFile f = parse_safetensors(bytes + json + data, "dtypes");
  const auto values = [&f](const std::string& name) {
    const Tensor<float>* t = f.find(name);
    return t ? std::vector<float>(t->values().begin(), t->values().end()) : std::vector<float>{};
  };
  EXPECT_EQ(values("f64"), (std::vector<float>{0.1F, -2.5F}));
  EXPECT_EQ(values("f16"), (std::vector<float>{1.0F, -2.0F, 65504.0F, std::ldexp(1.0F, -24)}));
  EXPECT_EQ(values("bf16"), (std::vector<float>{1.0F, -0.15625F}));
  EXPECT_EQ(values("i64"), (std::vector<float>{0, 7, -3}));
  EXPECT_EQ(values("i32"), (std::vector<float>{12345, -1}));
  EXPECT_EQ(values("u8"), (std::vector<float>{0, 255}));
  EXPECT_EQ(values("bool"), (std::vector<float>{1, 0}));
  for (const auto& t : f.tensors) {
    std::string upper = t.name;
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    EXPECT_EQ(dtype_name(t.dtype), upper);  // the dtype each tensor had in the file
  }
}

TEST(Safetensors, WritesCountsAsI64) {
  TempDir dir("i64");
  save_safetensors(dir.path() / "c.safetensors",
                   {{"w", Tensor<float>({2}, {1.5F, 2}), DType::kF32},
                    {"n", Tensor<float>(Shape{}, {123456}), DType::kI64}});
  const std::string bytes = testing::read_text(dir.path() / "c.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["n"]["dtype"], "I64");
  EXPECT_EQ(header["n"]["shape"], nlohmann::json::array());
  int64_t count = 0;
  std::memcpy(&count, bytes.data() + 8 + n + 8, 8);
  EXPECT_EQ(count, 123456);
  const SafetensorsFile f = load_safetensors(dir.path() / "c.safetensors");
  EXPECT_EQ(f.tensors[1].dtype, DType::kI64);
  EXPECT_EQ((*f.find("n"))[0], 123456.0F);
  EXPECT_THROW(save_safetensors(dir.path() / "x.safetensors",
                                {{"h", Tensor<float>({1}), DType::kF16}}),
               std::invalid_argument);
}

TEST(Image, TensorResizesAndRefusesEmptyImages) {
  RgbImage img{2, 1, {0, 10, 20, 30, 40, 50}};
  const Tensor<float> same = image_tensor(img, 1, 2);
  EXPECT_EQ(same.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(same[1], 30.0F);  // channel 0, pixel 1
  EXPECT_EQ(same[2], 10.0F);  // channel 1, pixel 0
  EXPECT_EQ(image_tensor(img, 1, 4).shape(), (Shape{3, 1, 4}));
  EXPECT_THROW(image_tensor(RgbImage{0, 0, {}}, 32, 32), std::invalid_argument);
  EXPECT_THROW(image_tensor(RgbImage{2, 2, {1, 2, 3}}, 32, 32), std::invalid_argument);
  EXPECT_THROW(image_tensor(img, 0, 32), std::invalid_argument);
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
  expect_error(with_header(R"({"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,4]}})", 4),
               "tensor 'a' has 4 bytes for shape");
  expect_error(with_header(R"({"flag":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", 0) +
                   std::string("\x01\x02"),
               "tensor 'flag' is BOOL but holds the byte 2");
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
