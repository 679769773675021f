// The CIFAR-10 reader, preprocessing, batching and the PNG sheet converter.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "nabla/data/cifar10.h"
#include "nabla/data/png_sheets.h"
#include "nabla/io/image.h"
#include "test_util.h"

namespace nabla {
namespace {

using testing::TempDir;

constexpr int64_t kRecords = 20;

TEST(Cifar10Reader, ReadsLabelsAndPlanes) {
  TempDir dir("reader");
  Rng rng(3);
  const auto bytes = testing::synthetic_records(kRecords, rng);
  testing::write_bytes(dir.path() / "b.bin", bytes);
  const CifarRaw raw = read_cifar10_file(dir.path() / "b.bin", kRecords);
  ASSERT_EQ(raw.count(), kRecords);
  for (int64_t r = 0; r < kRecords; ++r) {
    EXPECT_EQ(raw.labels[r], bytes[r * kCifarRecordBytes]);
    // The G plane's pixel (row 5, column 7) of record r.
    EXPECT_EQ(raw.pixels[r * kCifarImageBytes + 1024 + 5 * 32 + 7],
              bytes[r * kCifarRecordBytes + 1 + 1024 + 5 * 32 + 7]);
  }
}

TEST(Cifar10Reader, MeanImageSubtractedFromTrainAndTest) {
  TempDir dir("mean");
  testing::write_synthetic_cifar(dir.path(), kRecords);
  const Cifar10 data = load_cifar10(dir.path(), kRecords);
  EXPECT_EQ(data.train.images.shape(), (Shape{5 * kRecords, 3, 32, 32}));
  EXPECT_EQ(data.test.images.shape(), (Shape{kRecords, 3, 32, 32}));
  EXPECT_EQ(data.mean_image.shape(), (Shape{3, 32, 32}));
  // Every pixel of the training set now averages to zero.
  for (int64_t j : {0, 1, 1023, 1024, 3071}) {
    double sum = 0;
    for (int64_t i = 0; i < 5 * kRecords; ++i) sum += data.train.images[i * kCifarImageBytes + j];
    EXPECT_NEAR(sum / (5 * kRecords), 0.0, 1e-4);
  }
  // Test images are raw pixels minus the training mean, not their own mean.
  const CifarRaw raw = read_cifar10_file(dir.path() / "test_batch.bin", kRecords);
  for (int64_t j : {0, 517, 3071}) {
    EXPECT_FLOAT_EQ(data.test.images[3 * kCifarImageBytes + j] + data.mean_image[j],
                    static_cast<float>(raw.pixels[3 * kCifarImageBytes + j]));
  }
  EXPECT_EQ(data.test.labels, raw.labels);
}

TEST(Cifar10Reader, BadFilesNameTheFileAndTheProblem) {
  TempDir dir("bad");
  const auto expect_error = [&](const std::string& file, const std::string& what) {
    try {
      read_cifar10_file(dir.path() / file, kRecords);
      ADD_FAILURE() << "no error for " << file;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error("missing.bin", "no such file");
  Rng rng(1);
  auto bytes = testing::synthetic_records(kRecords, rng);
  auto short_bytes = bytes;
  short_bytes.resize(bytes.size() - 100);
  testing::write_bytes(dir.path() / "short.bin", short_bytes);
  expect_error("short.bin", "truncated");
  auto long_bytes = bytes;
  long_bytes.push_back(0);
  testing::write_bytes(dir.path() / "long.bin", long_bytes);
  expect_error("long.bin", "wrong size");
  auto bad_label = bytes;
  bad_label[3 * kCifarRecordBytes] = 10;
  testing::write_bytes(dir.path() / "label.bin", bad_label);
  expect_error("label.bin", "record 3 has label 10");
  std::filesystem::create_directory(dir.path() / "folder.bin");
  expect_error("folder.bin", "not a regular file");
}

TEST(Cifar10Reader, MissingFolderAndMissingBatch) {
  TempDir dir("missing");
  EXPECT_THROW(load_cifar10(dir.path() / "nope", kRecords), DataError);
  testing::write_synthetic_cifar(dir.path(), kRecords);
  std::filesystem::remove(dir.path() / "data_batch_4.bin");
  try {
    load_cifar10(dir.path(), kRecords);
    ADD_FAILURE();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("data_batch_4.bin"), std::string::npos);
  }
}

TEST(Cifar10Reader, ValidationIsTheFirstTrainingExamples) {
  TempDir dir("val");
  testing::write_synthetic_cifar(dir.path(), kRecords);
  Cifar10 data = load_cifar10(dir.path(), kRecords);
  const Cifar10 all = data;
  split_validation(data, 30);
  EXPECT_EQ(data.validation.images.dim(0), 30);
  EXPECT_EQ(data.train.images.dim(0), 5 * kRecords - 30);
  EXPECT_EQ(data.validation.labels[29], all.train.labels[29]);
  EXPECT_EQ(data.train.labels[0], all.train.labels[30]);
  EXPECT_EQ(data.train.images[0], all.train.images[30 * kCifarImageBytes]);
  EXPECT_THROW(split_validation(data, 5 * kRecords), std::invalid_argument);
}

TEST(Cifar10Reader, DataDirResolution) {
  EXPECT_EQ(resolve_data_dir("/x/y"), std::filesystem::path("/x/y"));
  const char* old = std::getenv("CIFAR10_DIR");
  const std::string saved = old ? old : "";
  ::setenv("CIFAR10_DIR", "/from/env", 1);
  EXPECT_EQ(resolve_data_dir(""), std::filesystem::path("/from/env"));
  ::unsetenv("CIFAR10_DIR");
  EXPECT_EQ(resolve_data_dir(""), std::filesystem::path("data/cifar-10-batches-bin"));
  if (old) ::setenv("CIFAR10_DIR", saved.c_str(), 1);
}

LabeledImages numbered(int64_t n) {
  LabeledImages d{Tensor<float>({n, 2}), std::vector<int32_t>(static_cast<size_t>(n))};
  for (int64_t i = 0; i < n; ++i) {
    d.images[2 * i] = static_cast<float>(i);
    d.labels[i] = static_cast<int32_t>(i % 10);
  }
  return d;
}

TEST(DataSet, FirstEpochInOrderThenEveryExampleOncePerEpoch) {
  DataSet ds(numbered(12), 5);
  for (int64_t i = 0; i < 3; ++i) {
    const auto b = ds.next_batch(4);
    for (int64_t k = 0; k < 4; ++k) EXPECT_EQ(b.images[2 * k], static_cast<float>(4 * i + k));
  }
  EXPECT_EQ(ds.epochs_completed(), 0);
  std::vector<int> prev;
  for (int epoch = 1; epoch <= 3; ++epoch) {
    std::vector<int> seen;
    for (int i = 0; i < 3; ++i) {
      const auto b = ds.next_batch(4);
      for (int64_t k = 0; k < 4; ++k) {
        seen.push_back(static_cast<int>(b.images[2 * k]));
        EXPECT_EQ(b.labels[k], seen.back() % 10);
      }
    }
    EXPECT_EQ(ds.epochs_completed(), epoch);
    std::vector<int> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < 12; ++i) EXPECT_EQ(sorted[i], i);
    EXPECT_NE(seen, prev);
    prev = seen;
  }
}

TEST(DataSet, PartialTailIsSkippedAndNothingRepeatsWithinAnEpoch) {
  DataSet ds(numbered(10), 1);
  for (int epoch = 0; epoch < 4; ++epoch) {
    std::set<int> seen;
    for (int i = 0; i < 3; ++i) {
      const auto b = ds.next_batch(3);
      for (int64_t k = 0; k < 3; ++k)
        EXPECT_TRUE(seen.insert(static_cast<int>(b.images[2 * k])).second);
    }
  }
  EXPECT_THROW(ds.next_batch(11), std::invalid_argument);
  EXPECT_THROW(ds.next_batch(0), std::invalid_argument);
}

TEST(DataSet, SameSeedSameOrder) {
  DataSet a(numbered(30), 9), b(numbered(30), 9);
  for (int i = 0; i < 20; ++i) {
    const auto x = a.next_batch(7), y = b.next_batch(7);
    EXPECT_EQ(x.labels, y.labels);
    EXPECT_EQ(x.images[0], y.images[0]);
  }
}

// A sheet of kRecords images (1024 x kRecords, R,G,B interleaved) made from known records must
// convert back to exactly those records.
TEST(PngSheets, ConvertsToTheOfficialBinaryLayout) {
  TempDir dir("sheets");
  Rng rng(11);
  std::vector<std::vector<uint8_t>> expected;
  std::vector<int> train_labels, test_labels;
  const auto make_sheet = [&](const std::string& name, std::vector<int>& labels) {
    auto records = testing::synthetic_records(kRecords, rng);
    RgbImage sheet{1024, kRecords, std::vector<uint8_t>(1024 * 3 * kRecords)};
    for (int64_t r = 0; r < kRecords; ++r) {
      const uint8_t* rec = records.data() + r * kCifarRecordBytes;
      labels.push_back(rec[0]);
      for (int64_t p = 0; p < 1024; ++p) {
        for (int64_t c = 0; c < 3; ++c)
          sheet.pixels[(r * 1024 + p) * 3 + c] = rec[1 + c * 1024 + p];
      }
    }
    write_png_rgb(dir.path() / name, sheet);
    expected.push_back(records);
  };
  for (int b = 1; b <= 5; ++b) make_sheet("data_batch_" + std::to_string(b) + ".png", train_labels);
  make_sheet("test_batch.png", test_labels);
  std::ofstream(dir.path() / "train_lables.json") << nlohmann::json(train_labels).dump();
  std::ofstream(dir.path() / "test_lables.json") << nlohmann::json(test_labels).dump();

  convert_png_sheets(dir.path(), dir.path() / "bin", kRecords);
  for (int b = 1; b <= 5; ++b) {
    const auto bytes =
        testing::read_text(dir.path() / "bin" / ("data_batch_" + std::to_string(b) + ".bin"));
    EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.end()), expected[b - 1]) << "batch " << b;
  }
  const auto test = testing::read_text(dir.path() / "bin" / "test_batch.bin");
  EXPECT_EQ(std::vector<uint8_t>(test.begin(), test.end()), expected[5]);
  EXPECT_NO_THROW(load_cifar10(dir.path() / "bin", kRecords));

  // Bad inputs: a sheet of the wrong size, a label out of range, a missing label file.
  write_png_rgb(dir.path() / "data_batch_3.png",
                RgbImage{32, 32, std::vector<uint8_t>(32 * 32 * 3)});
  try {
    convert_png_sheets(dir.path(), dir.path() / "bin2", kRecords);
    ADD_FAILURE();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("data_batch_3.png"), std::string::npos) << e.what();
  }
  train_labels[7] = 12;
  std::ofstream(dir.path() / "train_lables.json") << nlohmann::json(train_labels).dump();
  EXPECT_THROW(convert_png_sheets(dir.path(), dir.path() / "bin3", kRecords), DataError);
  std::filesystem::remove(dir.path() / "test_lables.json");
  EXPECT_THROW(convert_png_sheets(dir.path(), dir.path() / "bin4", kRecords), DataError);
}

TEST(PngSheets, NotAPng) {
  TempDir dir("notpng");
  testing::write_bytes(dir.path() / "x.png", {1, 2, 3, 4});
  EXPECT_THROW(read_png_rgb(dir.path() / "x.png"), DataError);
  EXPECT_THROW(read_png_rgb(dir.path() / "absent.png"), DataError);
}

// The official files, when present: sizes, and the first labels that everyone knows.
TEST(Cifar10Real, OfficialFilesLoad) {
  const std::string dir = testing::real_data_dir();
  if (dir.empty()) GTEST_SKIP() << "no CIFAR-10 data (set CIFAR10_DIR)";
  const CifarRaw train1 = read_cifar10_file(std::filesystem::path(dir) / "data_batch_1.bin");
  const CifarRaw test = read_cifar10_file(std::filesystem::path(dir) / "test_batch.bin");
  EXPECT_EQ(train1.count(), 10000);
  EXPECT_EQ(train1.labels[0], 6);  // frog
  EXPECT_EQ(test.labels[0], 3);    // cat
  std::vector<int> counts(10, 0);
  for (int32_t l : test.labels) counts[l]++;
  for (int c : counts) EXPECT_EQ(c, 1000);
}

}  // namespace
}  // namespace nabla
