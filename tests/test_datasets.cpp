// The readers of CIFAR-100, IDX (MNIST, Fashion-MNIST) and image folders, on small files written
// here in the real formats.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <functional>
#include <thread>

#include "nabla/data/cifar100.h"
#include "nabla/data/idx.h"
#include "nabla/data/image_folder.h"
#include "nabla/error.h"
#include "nabla/io/image.h"
#include "test_util.h"

namespace nabla::data {
namespace {

namespace fs = std::filesystem;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

// Runs f, which must throw DataError whose message contains every one of `parts`.
void expect_data_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no DataError; expected one mentioning " << parts.at(0);
  } catch (const DataError& e) {
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "\"" << part << "\" not in: " << e.what();
    }
  }
}

// A tensor's values as a vector, for comparing with EXPECT_EQ.
std::vector<float> values(const Tensor<float>& t) { return {t.values().begin(), t.values().end()}; }

// ---- CIFAR-100 ----

// Record r: coarse label r % 20, fine label (7 r + 3) % 100, pixel i of the planes (31 r + 13 i).
std::vector<uint8_t> cifar100_records(int64_t records) {
  std::vector<uint8_t> bytes;
  for (int64_t r = 0; r < records; ++r) {
    bytes.push_back(static_cast<uint8_t>(r % 20));
    bytes.push_back(static_cast<uint8_t>((7 * r + 3) % 100));
    for (int64_t i = 0; i < kCifar100ImageBytes; ++i) {
      bytes.push_back(static_cast<uint8_t>(31 * r + 13 * i));
    }
  }
  return bytes;
}

void write_cifar100(const fs::path& dir, int64_t train, int64_t test) {
  write_bytes(dir / "train.bin", cifar100_records(train));
  write_bytes(dir / "test.bin", cifar100_records(test));
}

TEST(Cifar100Reader, ReadsPixelsAndBothLabels) {
  TempDir dir("c100");
  write_cifar100(dir.path(), 5, 3);
  const ImageSplits fine = load_cifar100(dir.path());
  EXPECT_EQ(fine.name, "cifar100");
  ASSERT_EQ(fine.classes.size(), 100u);
  EXPECT_EQ(fine.classes[0], "apple");
  EXPECT_EQ(fine.classes[1], "aquarium_fish");
  EXPECT_EQ(fine.classes[99], "worm");
  ASSERT_EQ(fine.train.images.shape(), (Shape{5, 3, 32, 32}));
  ASSERT_EQ(fine.test.images.shape(), (Shape{3, 3, 32, 32}));
  const auto bytes = cifar100_records(5);
  for (int64_t r = 0; r < 5; ++r) {
    EXPECT_EQ(fine.train.labels[r], (7 * r + 3) % 100);
    for (int64_t i = 0; i < kCifar100ImageBytes; ++i) {
      ASSERT_EQ(fine.train.images[r * kCifar100ImageBytes + i],
                static_cast<float>(bytes[r * kCifar100RecordBytes + 2 + i]))
          << "record " << r << " byte " << i;
    }
  }
  EXPECT_EQ(fine.test.labels, (std::vector<int32_t>{3, 10, 17}));

  const ImageSplits coarse = load_cifar100(dir.path(), Cifar100Labels::kCoarse);
  ASSERT_EQ(coarse.classes.size(), 20u);
  EXPECT_EQ(coarse.classes[0], "aquatic_mammals");
  EXPECT_EQ(coarse.classes[19], "vehicles_2");
  EXPECT_EQ(coarse.train.labels, (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(values(coarse.train.images), values(fine.train.images));
}

TEST(Cifar100Reader, ClassNamesFromTheFolderWhenPresent) {
  TempDir dir("c100names");
  write_cifar100(dir.path(), 2, 1);
  {
    std::ofstream out(dir.path() / "fine_label_names.txt");
    for (int c = 0; c < 100; ++c) out << "fine" << c << "\r\n";
    out << "\n";  // a trailing blank line is allowed
  }
  const ImageSplits fine = load_cifar100(dir.path());
  ASSERT_EQ(fine.classes.size(), 100u);
  EXPECT_EQ(fine.classes[0], "fine0");
  EXPECT_EQ(fine.classes[99], "fine99");

  const fs::path coarse = dir.path() / "coarse_label_names.txt";
  {
    std::ofstream out(coarse);
    for (int c = 0; c < 19; ++c) out << "coarse" << c << "\n";
  }
  expect_data_error([&] { load_cifar100(dir.path(), Cifar100Labels::kCoarse); },
                    {coarse.string(), "19 class names where 20"});
  {
    std::ofstream out(coarse);
    for (int c = 0; c < 20; ++c) out << (c == 4 ? "" : "coarse" + std::to_string(c)) << "\n";
  }
  expect_data_error([&] { load_cifar100(dir.path(), Cifar100Labels::kCoarse); },
                    {coarse.string(), "line 5 is empty"});
}

TEST(Cifar100Reader, BadFilesNameTheFileAndTheProblem) {
  TempDir dir("c100bad");
  write_cifar100(dir.path(), 3, 2);
  const fs::path train = dir.path() / "train.bin";
  const auto good = cifar100_records(3);

  auto truncated = good;
  truncated.resize(truncated.size() - 10);
  write_bytes(train, truncated);
  expect_data_error([&] { load_cifar100(dir.path()); }, {train.string(), "truncated"});

  auto oversized = good;
  oversized.push_back(0);
  write_bytes(train, oversized);
  expect_data_error([&] { load_cifar100(dir.path()); }, {train.string(), "oversized"});

  write_bytes(train, {});
  expect_data_error([&] { load_cifar100(dir.path()); }, {train.string(), "empty"});

  auto fine = good;
  fine[2 * kCifar100RecordBytes + 1] = 100;
  write_bytes(train, fine);
  expect_data_error([&] { load_cifar100(dir.path()); },
                    {train.string(), "record 2 has fine label 100"});

  auto coarse = good;
  coarse[kCifar100RecordBytes] = 20;
  write_bytes(train, coarse);
  expect_data_error([&] { load_cifar100(dir.path(), Cifar100Labels::kCoarse); },
                    {train.string(), "record 1 has coarse label 20"});

  write_bytes(train, good);
  fs::remove(dir.path() / "test.bin");
  expect_data_error([&] { load_cifar100(dir.path()); }, {"test.bin", "no such file"});
  expect_data_error([&] { load_cifar100(dir.path() / "absent"); }, {"absent", "not found"});

  // The parser alone, as the fuzzer calls it.
  expect_data_error([&] { parse_cifar100(good.data(), 3074 * 2 + 5, "memory.bin"); },
                    {"memory.bin", "wrong size"});
  EXPECT_EQ(parse_cifar100(good.data(), good.size(), "memory.bin").count(), 3);
}

// ---- IDX: MNIST and Fashion-MNIST ----

// An unsigned-byte IDX file's bytes: magic 00 00 08 rank, big-endian sizes, the values.
std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& v) {
  std::vector<uint8_t> out{0, 0, 8, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(d >> shift));
  }
  out.insert(out.end(), v.begin(), v.end());
  return out;
}

void write_gzip(const fs::path& file, const std::vector<uint8_t>& bytes) {
  gzFile gz = gzopen(file.string().c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
}

std::string as_string(const std::vector<uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

// n images of 5x4 pixels, pixel i of image k = 17 k + 3 i; labels (2 k + 1) % 10.
std::vector<uint8_t> mnist_pixels(int64_t n) {
  std::vector<uint8_t> v;
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t i = 0; i < 20; ++i) v.push_back(static_cast<uint8_t>(17 * k + 3 * i));
  }
  return v;
}
std::vector<uint8_t> mnist_labels(int64_t n) {
  std::vector<uint8_t> v;
  for (int64_t k = 0; k < n; ++k) v.push_back(static_cast<uint8_t>((2 * k + 1) % 10));
  return v;
}

// Train files plain, test files gzip: 6 training and 4 test images of 5x4.
void write_mnist(const fs::path& dir) {
  write_bytes(dir / "train-images-idx3-ubyte", idx_bytes({6, 5, 4}, mnist_pixels(6)));
  write_bytes(dir / "train-labels-idx1-ubyte", idx_bytes({6}, mnist_labels(6)));
  write_gzip(dir / "t10k-images-idx3-ubyte.gz", idx_bytes({4, 5, 4}, mnist_pixels(4)));
  write_gzip(dir / "t10k-labels-idx1-ubyte.gz", idx_bytes({4}, mnist_labels(4)));
}

TEST(IdxReader, ParsesLabelsAndImages) {
  const IdxArray labels = parse_idx(as_string(idx_bytes({3}, {7, 0, 9})), "l");
  EXPECT_EQ(labels.dims, (std::vector<int64_t>{3}));
  EXPECT_EQ(labels.values, (std::vector<uint8_t>{7, 0, 9}));
  const IdxArray images = parse_idx(as_string(idx_bytes({2, 5, 4}, mnist_pixels(2))), "i");
  EXPECT_EQ(images.dims, (std::vector<int64_t>{2, 5, 4}));
  EXPECT_EQ(images.values, mnist_pixels(2));
}

TEST(IdxReader, RejectsBadHeadersAndSizes) {
  const auto good = idx_bytes({2, 5, 4}, mnist_pixels(2));
  auto truncated = good;
  truncated.pop_back();
  expect_data_error([&] { parse_idx(as_string(truncated), "t.idx"); }, {"t.idx", "truncated"});
  auto oversized = good;
  oversized.push_back(1);
  expect_data_error([&] { parse_idx(as_string(oversized), "o.idx"); },
                    {"o.idx", "oversized", "1 extra"});
  auto float_type = good;
  float_type[2] = 0x0d;
  expect_data_error([&] { parse_idx(as_string(float_type), "f.idx"); },
                    {"f.idx", "wrong magic 0x00000d03"});
  auto two_dims = good;
  two_dims[3] = 2;
  expect_data_error([&] { parse_idx(as_string(two_dims), "d.idx"); }, {"d.idx", "wrong magic"});
  expect_data_error(
      [&] {
        parse_idx(as_string(idx_bytes({2, 0, 4}, {})), "z.idx");
      },
      {"z.idx", "dimension 1 is 0"});
  expect_data_error([&] { parse_idx(std::string("\0\0\x08", 3), "s.idx"); },
                    {"s.idx", "truncated"});
  expect_data_error(
      [&] {
        parse_idx(as_string({0, 0, 8, 3, 0, 0}), "h.idx");
      },
      {"h.idx", "truncated"});
  // Sizes whose product overflows 64 bits.
  expect_data_error(
      [&] {
        parse_idx(as_string(idx_bytes({0xffffffff, 0xffffffff, 0xffffffff}, {1})), "x.idx");
      },
      {"x.idx", "truncated"});
}

TEST(IdxReader, GzipDecompressesAndRefusesBombsAndCorruption) {
  TempDir dir("idxgz");
  const auto bytes = idx_bytes({3}, {1, 2, 3});
  EXPECT_EQ(decompress_if_gzip(as_string(bytes), "plain"), as_string(bytes));
  write_gzip(dir.path() / "a.gz", bytes);
  const std::string gz = testing::read_text(dir.path() / "a.gz");
  EXPECT_EQ(decompress_if_gzip(gz, "a.gz"), as_string(bytes));
  EXPECT_EQ(decompress_if_gzip(gz + gz, "twice.gz"), as_string(bytes) + as_string(bytes));
  expect_data_error([&] { decompress_if_gzip(gz.substr(0, gz.size() - 6), "cut.gz"); },
                    {"cut.gz", "truncated gzip"});
  expect_data_error([&] { decompress_if_gzip(gz + "xyz", "tail.gz"); },
                    {"tail.gz", "3 bytes after the end"});
  std::string corrupt = gz;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x55);
  corrupt[13] = static_cast<char>(corrupt[13] ^ 0x55);
  EXPECT_THROW(decompress_if_gzip(corrupt, "corrupt.gz"), DataError);

  write_gzip(dir.path() / "bomb.gz", std::vector<uint8_t>(1 << 20, 0));
  const std::string bomb = testing::read_text(dir.path() / "bomb.gz");
  expect_data_error([&] { decompress_if_gzip(bomb, "bomb.gz", 100000); },
                    {"bomb.gz", "more than 100000 bytes"});
  EXPECT_EQ(decompress_if_gzip(bomb, "bomb.gz", 1 << 20).size(), size_t{1} << 20);
}

TEST(IdxMnist, LoadsPlainAndGzipFiles) {
  TempDir dir("mnist");
  write_mnist(dir.path());
  const ImageSplits mnist = load_mnist(dir.path(), "mnist");
  EXPECT_EQ(mnist.name, "mnist");
  ASSERT_EQ(mnist.classes.size(), 10u);
  EXPECT_EQ(mnist.classes[0], "0");
  EXPECT_EQ(mnist.classes[9], "9");
  ASSERT_EQ(mnist.train.images.shape(), (Shape{6, 1, 5, 4}));
  ASSERT_EQ(mnist.test.images.shape(), (Shape{4, 1, 5, 4}));
  const auto pixels = mnist_pixels(6);
  for (size_t i = 0; i < pixels.size(); ++i) {
    ASSERT_EQ(mnist.train.images[static_cast<int64_t>(i)], static_cast<float>(pixels[i])) << i;
  }
  EXPECT_EQ(mnist.train.labels, (std::vector<int32_t>{1, 3, 5, 7, 9, 1}));
  EXPECT_EQ(mnist.test.labels, (std::vector<int32_t>{1, 3, 5, 7}));
  for (size_t i = 0; i < 80; ++i) {
    ASSERT_EQ(mnist.test.images[static_cast<int64_t>(i)], static_cast<float>(pixels[i])) << i;
  }

  const ImageSplits fashion = load_mnist(dir.path(), "fashion-mnist");
  EXPECT_EQ(fashion.name, "fashion-mnist");
  ASSERT_EQ(fashion.classes.size(), 10u);
  EXPECT_EQ(fashion.classes[0], "T-shirt/top");
  EXPECT_EQ(fashion.classes[9], "Ankle boot");
  EXPECT_THROW(load_mnist(dir.path(), "emnist"), ConfigError);

  // The plain file wins when both exist.
  write_bytes(dir.path() / "train-labels-idx1-ubyte.gz", {0x1f, 0x8b, 1, 2});
  EXPECT_EQ(load_mnist(dir.path()).train.labels, mnist.train.labels);
}

TEST(IdxMnist, BadFilesNameTheFileAndTheProblem) {
  TempDir dir("mnistbad");
  write_mnist(dir.path());
  const fs::path train_labels = dir.path() / "train-labels-idx1-ubyte";
  const fs::path train_images = dir.path() / "train-images-idx3-ubyte";

  auto labels = mnist_labels(6);
  labels[2] = 10;
  write_bytes(train_labels, idx_bytes({6}, labels));
  expect_data_error([&] { load_mnist(dir.path()); }, {train_labels.string(), "label 2 is 10"});

  write_bytes(train_labels, idx_bytes({5}, mnist_labels(5)));
  expect_data_error([&] { load_mnist(dir.path()); },
                    {train_labels.string(), "5 labels for the 6 images"});

  write_bytes(train_labels, idx_bytes({6}, mnist_labels(6)));
  auto truncated = idx_bytes({6, 5, 4}, mnist_pixels(6));
  truncated.resize(truncated.size() - 7);
  write_bytes(train_images, truncated);
  expect_data_error([&] { load_mnist(dir.path()); }, {train_images.string(), "truncated"});

  auto wrong_magic = idx_bytes({6, 5, 4}, mnist_pixels(6));
  wrong_magic[1] = 1;
  write_bytes(train_images, wrong_magic);
  expect_data_error([&] { load_mnist(dir.path()); }, {train_images.string(), "wrong magic"});

  write_bytes(train_images, idx_bytes({6}, mnist_labels(6)));  // labels where images belong
  expect_data_error([&] { load_mnist(dir.path()); },
                    {train_images.string(), "1 dimension(s) where images need 3"});

  write_bytes(train_images, idx_bytes({6, 4, 5}, mnist_pixels(6)));
  expect_data_error(
      [&] { load_mnist(dir.path()); },
      {"t10k-images-idx3-ubyte.gz", "images of 5x4 where the training images are 4x5"});

  // A truncated gzip file.
  write_bytes(train_images, idx_bytes({6, 5, 4}, mnist_pixels(6)));
  const fs::path test_images = dir.path() / "t10k-images-idx3-ubyte.gz";
  const std::string gz = testing::read_text(test_images);
  write_bytes(test_images, std::vector<uint8_t>(gz.begin(), gz.begin() + 20));
  expect_data_error([&] { load_mnist(dir.path()); }, {test_images.string(), "gzip"});

  fs::remove(test_images);
  expect_data_error([&] { load_mnist(dir.path()); },
                    {"t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz", "neither"});
  expect_data_error([&] { load_mnist(dir.path() / "absent"); }, {"absent", "not found"});
}

// ---- Image folders ----

// A width x height image of one colour.
RgbImage solid(int64_t width, int64_t height, uint8_t r, uint8_t g, uint8_t b) {
  RgbImage image{width, height, {}};
  for (int64_t i = 0; i < width * height; ++i) image.pixels.insert(image.pixels.end(), {r, g, b});
  return image;
}

// A width x height image whose pixels all differ: (x + 10 y + seed, 2 x, 3 y).
RgbImage pattern(int64_t width, int64_t height, uint8_t seed) {
  RgbImage image{width, height, {}};
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      image.pixels.insert(image.pixels.end(),
                          {static_cast<uint8_t>(x + 10 * y + seed), static_cast<uint8_t>(2 * x),
                           static_cast<uint8_t>(3 * y)});
    }
  }
  return image;
}

void write_jpeg(const fs::path& file, const RgbImage& image) {
  ASSERT_TRUE(stbi_write_jpg(file.string().c_str(), static_cast<int>(image.width),
                             static_cast<int>(image.height), 3, image.pixels.data(), 100));
}

// root/train/{cat,ant}, root/test/{ant}: PNGs of 6x4 (width x height), one JPEG, a text file.
void write_folder(const fs::path& root) {
  fs::create_directories(root / "train" / "cat");
  fs::create_directories(root / "train" / "ant");
  fs::create_directories(root / "test" / "ant");
  write_png_rgb(root / "train" / "cat" / "b.png", pattern(6, 4, 50));
  write_png_rgb(root / "train" / "cat" / "a.png", pattern(6, 4, 0));
  std::ofstream(root / "train" / "cat" / "notes.txt") << "not an image";
  write_png_rgb(root / "train" / "ant" / "x.PNG", pattern(6, 4, 100));
  write_jpeg(root / "train" / "ant" / "y.jpeg", solid(6, 4, 200, 100, 50));
  write_png_rgb(root / "test" / "ant" / "t.png", pattern(6, 4, 7));
}

// The image tensor (3, H, W) element (c, y, x) of a pattern image of `seed`.
float pattern_value(int64_t c, int64_t y, int64_t x, uint8_t seed) {
  const uint8_t v[3] = {static_cast<uint8_t>(x + 10 * y + seed), static_cast<uint8_t>(2 * x),
                        static_cast<uint8_t>(3 * y)};
  return v[c];
}

TEST(ImageFolder, ClassesAndFilesSortedOtherFilesSkipped) {
  TempDir dir("folder");
  write_folder(dir.path());
  const ImageFolder train(dir.path() / "train", 4, 6);
  EXPECT_EQ(train.classes(), (std::vector<std::string>{"ant", "cat"}));
  ASSERT_EQ(train.size(), 4);
  EXPECT_EQ(train.example_shape(), (Shape{3, 4, 6}));
  std::vector<std::string> names;
  for (const fs::path& f : train.files()) names.push_back(f.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"x.PNG", "y.jpeg", "a.png", "b.png"}));
  EXPECT_EQ(train.labels(), (std::vector<int32_t>{0, 0, 1, 1}));

  // PNG pixels exactly, at their own size.
  const uint8_t seeds[4] = {100, 0, 0, 50};
  for (int64_t i : {0, 2, 3}) {
    const Example e = train.get(i);
    EXPECT_EQ(e.label, train.labels()[static_cast<size_t>(i)]);
    ASSERT_EQ(e.image.shape(), (Shape{3, 4, 6}));
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t y = 0; y < 4; ++y) {
        for (int64_t x = 0; x < 6; ++x) {
          ASSERT_EQ(e.image[(c * 4 + y) * 6 + x], pattern_value(c, y, x, seeds[i]))
              << "example " << i << " (" << c << ", " << y << ", " << x << ")";
        }
      }
    }
  }
  // The JPEG of one colour, within JPEG's rounding.
  const Example jpeg = train.get(1);
  for (int64_t j = 0; j < 24; ++j) {
    EXPECT_NEAR(jpeg.image[j], 200, 3);
    EXPECT_NEAR(jpeg.image[24 + j], 100, 3);
    EXPECT_NEAR(jpeg.image[48 + j], 50, 3);
  }
  EXPECT_THROW(train.get(4), std::out_of_range);
  EXPECT_THROW(train.get(-1), std::out_of_range);
}

TEST(ImageFolder, ResizesToTheGivenSize) {
  TempDir dir("folderresize");
  write_folder(dir.path());
  const ImageFolder small(dir.path() / "train", 3, 2);
  for (int64_t i = 0; i < small.size(); ++i) {
    const Example e = small.get(i);
    ASSERT_EQ(e.image.shape(), (Shape{3, 3, 2}));
    const Tensor<float> expected =
        image_tensor(read_image_rgb(small.files()[static_cast<size_t>(i)]), 3, 2);
    EXPECT_EQ(values(e.image), values(expected)) << i;
  }
  // A solid PNG stays exactly its colour at any size.
  fs::create_directories(dir.path() / "solid" / "red");
  write_png_rgb(dir.path() / "solid" / "red" / "r.png", solid(5, 7, 255, 0, 9));
  const Example red = ImageFolder(dir.path() / "solid", 11, 3).get(0);
  for (int64_t j = 0; j < 33; ++j) {
    EXPECT_EQ(red.image[j], 255);
    EXPECT_EQ(red.image[33 + j], 0);
    EXPECT_EQ(red.image[66 + j], 9);
  }
}

TEST(ImageFolder, ThreadsMayReadAtOnce) {
  TempDir dir("folderthreads");
  write_folder(dir.path());
  const ImageFolder train(dir.path() / "train", 8, 8);
  const LabeledImages expected = train.get_batch({0, 1, 2, 3});
  std::vector<LabeledImages> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] { got[t] = train.get_batch({0, 1, 2, 3}); });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) {
    EXPECT_EQ(values(g.images), values(expected.images));
    EXPECT_EQ(g.labels, expected.labels);
  }
}

TEST(ImageFolder, BadFoldersAndFilesAreNamed) {
  TempDir dir("folderbad");
  expect_data_error([&] { ImageFolder(dir.path() / "absent", 4, 4); }, {"absent", "not found"});
  fs::create_directories(dir.path() / "flat");
  write_png_rgb(dir.path() / "flat" / "a.png", solid(2, 2, 1, 2, 3));
  expect_data_error([&] { ImageFolder(dir.path() / "flat", 4, 4); },
                    {(dir.path() / "flat").string(), "no class folders"});
  fs::create_directories(dir.path() / "root" / "empty");
  std::ofstream(dir.path() / "root" / "empty" / "readme.txt") << "no images here";
  expect_data_error([&] { ImageFolder(dir.path() / "root", 4, 4); },
                    {(dir.path() / "root" / "empty").string(), "no .png"});
  EXPECT_THROW(ImageFolder(dir.path() / "flat", 0, 4), std::invalid_argument);

  fs::create_directories(dir.path() / "broken" / "c");
  const fs::path broken = dir.path() / "broken" / "c" / "bad.jpg";
  write_bytes(broken, {0xff, 0xd8, 0xff, 0x00, 0x01});
  const ImageFolder folder(dir.path() / "broken", 4, 4);
  expect_data_error([&] { folder.get(0); }, {broken.string()});
  expect_data_error([&] { folder.get_batch({0}); }, {broken.string()});
}

TEST(ImageFolderSplits, LoadsTrainAndTestIntoMemory) {
  TempDir dir("foldersplits");
  write_folder(dir.path());
  const ImageSplits splits = load_image_folder(dir.path(), 4, 6);
  EXPECT_EQ(splits.name, "folder");
  EXPECT_EQ(splits.classes, (std::vector<std::string>{"ant", "cat"}));
  ASSERT_EQ(splits.train.images.shape(), (Shape{4, 3, 4, 6}));
  ASSERT_EQ(splits.test.images.shape(), (Shape{1, 3, 4, 6}));
  EXPECT_EQ(splits.train.labels, (std::vector<int32_t>{0, 0, 1, 1}));
  EXPECT_EQ(splits.test.labels, (std::vector<int32_t>{0}));
  EXPECT_EQ(splits.train.images[2 * 72 + 13], pattern_value(0, 2, 1, 0));  // a.png
  EXPECT_EQ(splits.test.images[72 - 1], pattern_value(2, 3, 5, 7));

  // A test class that train lacks.
  fs::create_directories(dir.path() / "test" / "bee");
  write_png_rgb(dir.path() / "test" / "bee" / "b.png", solid(6, 4, 1, 1, 1));
  expect_data_error([&] { load_image_folder(dir.path(), 4, 6); },
                    {(dir.path() / "test" / "bee").string(), "not among"});
  fs::remove_all(dir.path() / "test");
  expect_data_error([&] { load_image_folder(dir.path(), 4, 6); }, {"test", "not found"});
}

}  // namespace
}  // namespace nabla::data
