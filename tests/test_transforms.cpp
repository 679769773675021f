// The batch transforms against plain per-pixel references: crops, flips, translations and cutout
// exactly, normalisation to 1e-6.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "nabla/data/transforms.h"

namespace nabla::data {
namespace {

Tensor<float> random_batch(Shape shape, uint64_t seed) {
  Rng rng(seed);
  Tensor<float> t(std::move(shape));
  for (float& v : t.values()) v = static_cast<float>(rng.uniform(0, 255));
  return t;
}

float at(const Tensor<float>& t, int64_t n, int64_t c, int64_t y, int64_t x) {
  return t[((n * t.dim(1) + c) * t.dim(2) + y) * t.dim(3) + x];
}

// The pixel of image (n, c) at row y, column x of the image padded without limit: zero or
// mirrored (numpy.pad's "reflect") outside.
float padded(const Tensor<float>& t, int64_t n, int64_t c, int64_t y, int64_t x, Padding mode) {
  const int64_t h = t.dim(2), w = t.dim(3);
  if (mode == Padding::kZero) return y < 0 || y >= h || x < 0 || x >= w ? 0.0f : at(t, n, c, y, x);
  const auto mirror = [](int64_t i, int64_t size) {
    return i < 0 ? -i : (i >= size ? 2 * size - 2 - i : i);
  };
  return at(t, n, c, mirror(y, h), mirror(x, w));
}

void expect_window(const Tensor<float>& in, const Tensor<float>& out,
                   const std::vector<std::pair<int64_t, int64_t>>& offsets, Padding mode) {
  for (int64_t n = 0; n < out.dim(0); ++n) {
    const auto [oy, ox] = offsets[n];
    for (int64_t c = 0; c < out.dim(1); ++c) {
      for (int64_t y = 0; y < out.dim(2); ++y) {
        for (int64_t x = 0; x < out.dim(3); ++x) {
          ASSERT_EQ(at(out, n, c, y, x), padded(in, n, c, y + oy, x + ox, mode))
              << "image " << n << " channel " << c << " at " << y << "," << x;
        }
      }
    }
  }
}

TEST(Transforms, RandomCropMatchesThePaddedWindow) {
  for (Padding mode : {Padding::kZero, Padding::kReflect}) {
    for (const auto& [h, w, padding, out_h, out_w] :
         std::vector<std::array<int64_t, 5>>{{8, 8, 4, 8, 8}, {6, 7, 2, 5, 4}, {5, 5, 0, 3, 5}}) {
      const Tensor<float> in = random_batch({6, 3, h, w}, 1);
      Tensor<float> out = in.clone();
      Rng rng(7), draws(7);
      RandomCrop(out_h, out_w, padding, mode).apply(out, rng);
      ASSERT_EQ(out.shape(), (Shape{6, 3, out_h, out_w}));
      std::vector<std::pair<int64_t, int64_t>> offsets;
      for (int64_t n = 0; n < 6; ++n) {
        const auto dy =
            static_cast<int64_t>(draws.below(static_cast<uint64_t>(h + 2 * padding - out_h + 1)));
        const auto dx =
            static_cast<int64_t>(draws.below(static_cast<uint64_t>(w + 2 * padding - out_w + 1)));
        offsets.emplace_back(dy - padding, dx - padding);
      }
      expect_window(in, out, offsets, mode);
    }
  }
}

TEST(Transforms, RandomCropReachesEveryOffset) {
  // In a 5x5 image padded by 2, the window's centre pixel is the image's pixel (2 + oy, 2 + ox):
  // its value tells the offset, and all 25 offsets turn up.
  Tensor<float> in({1, 1, 5, 5});
  for (int64_t i = 0; i < 25; ++i) in[i] = static_cast<float>(i + 1);
  std::set<float> centres;
  Rng rng(3);
  for (int trial = 0; trial < 2000; ++trial) {
    Tensor<float> out = in.clone();
    RandomCrop(5, 5, 2, Padding::kZero).apply(out, rng);
    centres.insert(out[12]);
  }
  EXPECT_EQ(centres.size(), 25u);
}

TEST(Transforms, FlipMirrorsTheChosenImages) {
  const Tensor<float> in = random_batch({40, 2, 3, 5}, 2);
  Tensor<float> out = in.clone();
  Rng rng(11), draws(11);
  RandomHorizontalFlip(0.5).apply(out, rng);
  int flipped = 0;
  for (int64_t n = 0; n < 40; ++n) {
    const bool flip = draws.uniform() < 0.5;
    flipped += flip;
    for (int64_t c = 0; c < 2; ++c) {
      for (int64_t y = 0; y < 3; ++y) {
        for (int64_t x = 0; x < 5; ++x) {
          ASSERT_EQ(at(out, n, c, y, x), at(in, n, c, y, flip ? 4 - x : x));
        }
      }
    }
  }
  EXPECT_GT(flipped, 5);
  EXPECT_LT(flipped, 35);
  Tensor<float> never = in.clone(), always = in.clone();
  RandomHorizontalFlip(0.0).apply(never, rng);
  RandomHorizontalFlip(1.0).apply(always, rng);
  EXPECT_EQ(never.values()[7], in.values()[7]);
  EXPECT_EQ(at(always, 3, 1, 2, 0), at(in, 3, 1, 2, 4));
}

// Each image keeps one random orientation and the whole set flips every other epoch: any two
// epochs in a row show each image both ways; the choice depends on the seed and the image's index,
// not on where it sits in the batch.
TEST(Transforms, AlternatingFlipShowsEachImageBothWaysInTwoEpochs) {
  const Tensor<float> in = random_batch({200, 2, 3, 5}, 3);
  std::vector<int64_t> indices(200), reversed(200);
  for (int64_t i = 0; i < 200; ++i) indices[i] = i, reversed[i] = 199 - i;
  const AlternatingFlip flip;
  Rng rng(1);
  const auto run = [&](int64_t epoch, uint64_t seed, const std::vector<int64_t>& order) {
    Tensor<float> batch(in.shape());
    for (int64_t k = 0; k < 200; ++k) {
      std::copy_n(in.data() + order[k] * 30, 30, batch.data() + k * 30);
    }
    flip.apply_to_batch(batch, rng, {seed, epoch, order});
    return batch;
  };
  const auto is_mirrored = [&](const Tensor<float>& out, int64_t k, int64_t source) {
    bool same = true, mirrored = true;
    for (int64_t c = 0; c < 2; ++c) {
      for (int64_t y = 0; y < 3; ++y) {
        for (int64_t x = 0; x < 5; ++x) {
          same = same && at(out, k, c, y, x) == at(in, source, c, y, x);
          mirrored = mirrored && at(out, k, c, y, x) == at(in, source, c, y, 4 - x);
        }
      }
    }
    EXPECT_NE(same, mirrored) << "image " << source << " is neither itself nor its mirror";
    return mirrored;
  };
  const Tensor<float> e0 = run(0, 7, indices), e1 = run(1, 7, indices), e2 = run(2, 7, indices);
  const Tensor<float> e0_reversed = run(0, 7, reversed), other_seed = run(0, 8, indices);
  int flipped = 0, differ = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const bool f0 = is_mirrored(e0, i, i);
    flipped += f0;
    EXPECT_NE(is_mirrored(e1, i, i), f0) << i;
    EXPECT_EQ(is_mirrored(e2, i, i), f0) << i;
    EXPECT_EQ(is_mirrored(e0_reversed, 199 - i, i), f0) << i;
    differ += is_mirrored(other_seed, i, i) != f0;
  }
  EXPECT_GT(flipped, 70);
  EXPECT_LT(flipped, 130);
  EXPECT_GT(differ, 50);
  Tensor<float> alone = in.clone();
  EXPECT_THROW(flip.apply(alone, rng), std::logic_error);
  EXPECT_THROW(flip.apply_to_batch(alone, rng, {7, 0, std::span<const int64_t>(indices).first(3)}),
               std::invalid_argument);
}

// The deterministic shifts and mirrors of test-time augmentation, against the padded reference.
TEST(Transforms, TranslateAndMirroredAreExact) {
  const Tensor<float> in = random_batch({3, 2, 5, 6}, 4);
  for (Padding mode : {Padding::kZero, Padding::kReflect}) {
    for (const auto& [dy, dx] :
         std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {-1, -1}, {2, -1}}) {
      const Tensor<float> out = translate(in, dy, dx, mode);
      expect_window(in, out, std::vector<std::pair<int64_t, int64_t>>(3, {-dy, -dx}), mode);
    }
  }
  const Tensor<float> m = mirrored(in);
  EXPECT_EQ(at(m, 2, 1, 3, 0), at(in, 2, 1, 3, 5));
  EXPECT_EQ(at(m, 0, 0, 0, 2), at(in, 0, 0, 0, 3));
  EXPECT_THROW(translate(in, 5, 0, Padding::kReflect), std::invalid_argument);
  EXPECT_THROW(mirrored(Tensor<float>({2, 3})), std::invalid_argument);
}

TEST(Transforms, TranslateShiftsWithinTheRange) {
  for (Padding mode : {Padding::kZero, Padding::kReflect}) {
    const Tensor<float> in = random_batch({10, 3, 6, 6}, 4);
    Tensor<float> out = in.clone();
    Rng rng(5), draws(5);
    RandomTranslate(2, mode).apply(out, rng);
    ASSERT_EQ(out.shape(), in.shape());
    std::vector<std::pair<int64_t, int64_t>> offsets;
    for (int64_t n = 0; n < 10; ++n) {
      const auto dy = static_cast<int64_t>(draws.below(5)) - 2;
      const auto dx = static_cast<int64_t>(draws.below(5)) - 2;
      offsets.emplace_back(dy, dx);
    }
    expect_window(in, out, offsets, mode);
  }
}

TEST(Transforms, CutoutZeroesOneClippedSquare) {
  const Tensor<float> in = random_batch({20, 3, 8, 8}, 6);
  Tensor<float> out = in.clone();
  Rng rng(8), draws(8);
  Cutout(4).apply(out, rng);
  for (int64_t n = 0; n < 20; ++n) {
    const auto cy = static_cast<int64_t>(draws.below(8)), cx = static_cast<int64_t>(draws.below(8));
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t y = 0; y < 8; ++y) {
        for (int64_t x = 0; x < 8; ++x) {
          const bool cut = y >= cy - 2 && y < cy + 2 && x >= cx - 2 && x < cx + 2;
          ASSERT_EQ(at(out, n, c, y, x), cut ? 0.0f : at(in, n, c, y, x));
        }
      }
    }
  }
}

TEST(Transforms, NormalizeAndMeanImageMatchDoubleReferences) {
  const Tensor<float> in = random_batch({7, 3, 4, 5}, 9);
  const ChannelStats stats = channel_stats(in);
  for (int64_t c = 0; c < 3; ++c) {
    double sum = 0, squares = 0;
    const double count = 7 * 4 * 5;
    for (int64_t n = 0; n < 7; ++n)
      for (int64_t k = 0; k < 20; ++k) sum += at(in, n, c, k / 5, k % 5);
    for (int64_t n = 0; n < 7; ++n)
      for (int64_t k = 0; k < 20; ++k)
        squares += std::pow(at(in, n, c, k / 5, k % 5) - sum / count, 2);
    EXPECT_NEAR(stats.mean[c], sum / count, 1e-6 * sum / count);
    EXPECT_NEAR(stats.std[c], std::sqrt(squares / count), 1e-6 * std::sqrt(squares / count));
  }
  Tensor<float> out = in.clone();
  Rng rng(0);
  Normalize(stats.mean, stats.std).apply(out, rng);
  for (int64_t i = 0; i < in.numel(); ++i) {
    const int64_t c = (i / 20) % 3;
    const double expected = (in[i] - static_cast<double>(stats.mean[c])) / stats.std[c];
    ASSERT_NEAR(out[i], expected, 1e-6 * std::max(1.0, std::abs(expected)));
  }
  // Normalised by its own statistics, each channel has mean 0 and standard deviation 1.
  const ChannelStats after = channel_stats(out);
  for (int64_t c = 0; c < 3; ++c) {
    EXPECT_NEAR(after.mean[c], 0.0, 1e-5);
    EXPECT_NEAR(after.std[c], 1.0, 1e-5);
  }
  const Tensor<float> mean = mean_image(in);
  ASSERT_EQ(mean.shape(), (Shape{3, 4, 5}));
  Tensor<float> centred = in.clone();
  SubtractMeanImage(mean).apply(centred, rng);
  for (int64_t j = 0; j < 60; ++j) {
    double sum = 0;
    for (int64_t n = 0; n < 7; ++n) sum += in[n * 60 + j];
    EXPECT_EQ(mean[j], static_cast<float>(sum / 7));
    for (int64_t n = 0; n < 7; ++n) EXPECT_EQ(centred[n * 60 + j], in[n * 60 + j] - mean[j]);
  }
  EXPECT_THROW(Normalize({1, 2}, {1, 1}).apply(out, rng), std::invalid_argument);
  EXPECT_THROW(Normalize({1}, {0}), std::invalid_argument);
  EXPECT_THROW(SubtractMeanImage(Tensor<float>({3, 4, 4})).apply(out, rng), std::invalid_argument);
}

TEST(Transforms, ComposeAppliesInOrderAndOneImageIsABatchOfOne) {
  const Tensor<float> in = random_batch({4, 3, 8, 8}, 12);
  auto flip = std::make_shared<RandomHorizontalFlip>(0.5);
  auto crop = std::make_shared<RandomCrop>(8, 8, 2, Padding::kReflect);
  Tensor<float> composed = in.clone(), by_hand = in.clone();
  Rng a(21), b(21);
  Compose({flip, crop}).apply(composed, a);
  flip->apply(by_hand, b);
  crop->apply(by_hand, b);
  EXPECT_EQ(composed.values()[100], by_hand.values()[100]);
  for (int64_t i = 0; i < in.numel(); ++i) ASSERT_EQ(composed[i], by_hand[i]);

  const Tensor<float> image = in.slice_rows(0, 1).reshape({3, 8, 8});
  Rng c(5), d(5);
  const Tensor<float> one = apply_to_image(*crop, image, c);
  Tensor<float> batch = image.clone().reshape({1, 3, 8, 8});
  crop->apply(batch, d);
  ASSERT_EQ(one.shape(), (Shape{3, 8, 8}));
  for (int64_t i = 0; i < one.numel(); ++i) ASSERT_EQ(one[i], batch[i]);
}

TEST(Transforms, ParsesAugmentationLists) {
  EXPECT_EQ(parse_augmentation("", 32, 32), nullptr);
  EXPECT_EQ(parse_augmentation("flip,crop4", 32, 32)->name(),
            "Compose(RandomHorizontalFlip(0.500000), RandomCrop(32x32, padding 4, zero))");
  EXPECT_EQ(parse_augmentation("crop2-reflect", 28, 28)->name(),
            "RandomCrop(28x28, padding 2, reflect)");
  EXPECT_EQ(parse_augmentation("translate3,cutout8", 32, 32)->name(),
            "Compose(RandomTranslate(3, zero), Cutout(8))");
  EXPECT_EQ(parse_augmentation("altflip,translate2-reflect", 32, 32)->name(),
            "Compose(AlternatingFlip, RandomTranslate(2, reflect))");
  for (const char* bad : {"flop", "crop", "cutout0", "flip,", "crop40-reflect", "flip2", "altflip2",
                          "crop-4", "crop99999999999"}) {
    EXPECT_THROW(parse_augmentation(bad, 32, 32), std::invalid_argument) << bad;
  }
  try {
    parse_augmentation("flip,blur3", 32, 32);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'blur3'"), std::string::npos) << e.what();
  }
}

TEST(Transforms, RejectShapesTheyCannotTake) {
  Rng rng(0);
  Tensor<float> flat({4, 12});
  EXPECT_THROW(RandomHorizontalFlip().apply(flat, rng), std::invalid_argument);
  Tensor<float> small({2, 1, 3, 3});
  EXPECT_THROW(RandomCrop(8, 8, 1).apply(small, rng), std::invalid_argument);
  EXPECT_THROW(RandomCrop(3, 3, 3, Padding::kReflect).apply(small, rng), std::invalid_argument);
  EXPECT_THROW(RandomCrop(3, 3, -1), std::invalid_argument);
  EXPECT_THROW(Cutout(0), std::invalid_argument);
}

}  // namespace
}  // namespace nabla::data
