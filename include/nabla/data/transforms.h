/// \file
/// Transforms of whole batches of images (N, C, H, W), as torchvision.transforms but one call per
/// batch: random crop with zero or reflect padding, random horizontal flip, random translate,
/// cutout, per-channel normalisation and the course's mean-image subtraction, composable.
/// Random transforms draw from the generator they are given, image by image in batch order, so a
/// batch's augmentation depends only on that generator's seed. A single image (C, H, W) is a batch
/// of one (apply_to_image). Nothing here runs in parallel: DataLoader's workers call them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nabla/rng.h"
#include "nabla/tensor.h"

namespace nabla::data {

/// Where a batch comes from, for transforms whose choices depend on more than the batch's
/// generator (AlternatingFlip). A DataLoader passes it.
struct BatchInfo {
  uint64_t seed = 0;                 ///< the loader's seed
  int64_t epoch = 0;                 ///< the epoch the batch belongs to
  std::span<const int64_t> indices;  ///< the data set's index of each image, in batch order
};

/// A transform of a batch of images (N, C, H, W).
class Transform {
 public:
  virtual ~Transform() = default;
  /// Transforms `images` (N, C, H, W), in place or by replacing it (a crop may change H and W);
  /// random choices come from rng. Throws std::invalid_argument for a shape it cannot take.
  virtual void apply(Tensor<float>& images, Rng& rng) const = 0;
  /// The same, for a batch whose origin is known; most transforms ignore `info` (the default).
  virtual void apply_to_batch(Tensor<float>& images, Rng& rng, const BatchInfo& info) const {
    (void)info;
    apply(images, rng);
  }
  /// A short description, e.g. "RandomCrop(32x32, padding 4, zero)".
  virtual std::string name() const = 0;
};

/// `image` (C, H, W) transformed as a batch of one; returns (C, H', W').
Tensor<float> apply_to_image(const Transform& transform, const Tensor<float>& image, Rng& rng);

/// Several transforms, applied in order.
class Compose : public Transform {
 public:
  /// The transforms, in the order they apply.
  explicit Compose(std::vector<std::shared_ptr<const Transform>> transforms);
  /// Applies each transform in turn.
  void apply(Tensor<float>& images, Rng& rng) const override;
  /// Applies each transform in turn, passing `info` on.
  void apply_to_batch(Tensor<float>& images, Rng& rng, const BatchInfo& info) const override;
  /// "Compose(a, b, ...)".
  std::string name() const override;
  /// The transforms, in order.
  const std::vector<std::shared_ptr<const Transform>>& transforms() const { return transforms_; }

 private:
  std::vector<std::shared_ptr<const Transform>> transforms_;
};

/// What fills the border a crop or translation reaches beyond the image.
enum class Padding {
  kZero,     ///< zeros (the mean colour once the images are normalised)
  kReflect,  ///< the image mirrored at its edge, without repeating the edge pixel (PyTorch's
             ///< reflect)
};

/// Every image of `images` (N, C, H, W) shifted by dy rows and dx columns: out[y][x] =
/// in[y - dy][x - dx], the uncovered border filled as `mode` says (reflect needs |dy|, |dx| below
/// H and W). For test-time augmentation; throws std::invalid_argument for a shape it cannot take.
Tensor<float> translate(const Tensor<float>& images, int64_t dy, int64_t dx, Padding mode);
/// Every image of `images` (N, C, H, W) mirrored left to right.
Tensor<float> mirrored(const Tensor<float>& images);

/// Pads each image by `padding` on every side and cuts a height x width window at a random
/// offset (uniform over the (H + 2 padding - height + 1) x (W + 2 padding - width + 1) offsets),
/// as torchvision's RandomCrop(size, padding). Draws the row offset, then the column offset.
class RandomCrop : public Transform {
 public:
  /// Output height x width; padding >= 0 (reflect needs padding < H and < W).
  RandomCrop(int64_t height, int64_t width, int64_t padding, Padding mode = Padding::kZero);
  /// Crops each image at its own offset.
  void apply(Tensor<float>& images, Rng& rng) const override;
  /// "RandomCrop(HxW, padding P, zero|reflect)".
  std::string name() const override;

 private:
  int64_t height_, width_, padding_;
  Padding mode_;
};

/// Mirrors each image left to right with probability p (one uniform draw per image).
class RandomHorizontalFlip : public Transform {
 public:
  /// p in [0, 1].
  explicit RandomHorizontalFlip(double p = 0.5);
  /// Flips the chosen images in place.
  void apply(Tensor<float>& images, Rng& rng) const override;
  /// "RandomHorizontalFlip(p)".
  std::string name() const override;

 private:
  double p_;
};

/// airbench's alternating flip: every image has a fixed random orientation (flipped or not, one
/// fair draw from the loader's seed and the image's index) and the whole data set flips every
/// other epoch, so that each image is seen both ways in any two epochs in a row. Needs the batch's
/// origin (apply_to_batch, as a DataLoader calls it); apply alone throws std::logic_error.
class AlternatingFlip : public Transform {
 public:
  /// Throws std::logic_error: the flips depend on the epoch and the images' indices.
  void apply(Tensor<float>& images, Rng& rng) const override;
  /// Flips image k when its own draw, or the epoch being odd, says so (but not both).
  void apply_to_batch(Tensor<float>& images, Rng& rng, const BatchInfo& info) const override;
  /// "AlternatingFlip".
  std::string name() const override;
};

/// Shifts each image by dy, dx drawn uniformly from -max_shift..max_shift (row shift first); the
/// uncovered border is filled as `mode` says. The size stays the same.
class RandomTranslate : public Transform {
 public:
  /// max_shift >= 0 (reflect needs max_shift < H and < W).
  explicit RandomTranslate(int64_t max_shift, Padding mode = Padding::kZero);
  /// Shifts each image by its own offset.
  void apply(Tensor<float>& images, Rng& rng) const override;
  /// "RandomTranslate(S, zero|reflect)".
  std::string name() const override;

 private:
  int64_t max_shift_;
  Padding mode_;
};

/// Cutout (DeVries and Taylor, 2017): sets a size x size square of every channel to zero, its
/// centre drawn uniformly over the image (row, then column), clipped at the edges.
class Cutout : public Transform {
 public:
  /// size >= 1.
  explicit Cutout(int64_t size);
  /// Cuts one square per image.
  void apply(Tensor<float>& images, Rng& rng) const override;
  /// "Cutout(S)".
  std::string name() const override;

 private:
  int64_t size_;
};

/// (x - mean[c]) / std[c] for every pixel of channel c, as torchvision's Normalize.
class Normalize : public Transform {
 public:
  /// One mean and one standard deviation (> 0) per channel.
  Normalize(std::vector<float> mean, std::vector<float> std);
  /// Normalises in place; throws std::invalid_argument when C differs from the channel count.
  void apply(Tensor<float>& images, Rng& rng) const override;
  /// "Normalize(mean, std)".
  std::string name() const override;
  /// The per-channel means.
  const std::vector<float>& mean() const { return mean_; }
  /// The per-channel standard deviations.
  const std::vector<float>& std() const { return std_; }

 private:
  std::vector<float> mean_, std_;
};

/// x - mean_image at every pixel: the course's preprocessing.
class SubtractMeanImage : public Transform {
 public:
  /// mean_image (C, H, W).
  explicit SubtractMeanImage(Tensor<float> mean_image);
  /// Subtracts in place; throws std::invalid_argument unless each image has the mean's shape.
  void apply(Tensor<float>& images, Rng& rng) const override;
  /// "SubtractMeanImage(CxHxW)".
  std::string name() const override;
  /// The subtracted image (C, H, W).
  const Tensor<float>& mean_image() const { return mean_image_; }

 private:
  Tensor<float> mean_image_;
};

/// The per-pixel mean (C, H, W) of images (N, C, H, W), summed in double (the order of
/// summation does not matter), as the course computes it on the training set.
Tensor<float> mean_image(const Tensor<float>& images);

/// The mean and standard deviation of each channel over all images and pixels (population
/// standard deviation, summed in double).
struct ChannelStats {
  std::vector<float> mean;  ///< one per channel
  std::vector<float> std;   ///< one per channel
};
/// The statistics of images (N, C, H, W); throws std::invalid_argument for an empty batch.
ChannelStats channel_stats(const Tensor<float>& images);

/// Parses a list of augmentations such as "flip,crop4": flip (RandomHorizontalFlip(0.5)),
/// altflip (AlternatingFlip),
/// cropP (RandomCrop to the same size, zero padding P, e.g. crop4), cropP-reflect (reflect
/// padding), translateS and translateS-reflect (RandomTranslate by up to S), cutoutS (Cutout(S)).
/// `height` x `width` is the images' size. An empty text gives nullptr (no augmentation). Throws
/// std::invalid_argument naming the item it cannot read.
std::shared_ptr<const Transform> parse_augmentation(const std::string& spec, int64_t height,
                                                    int64_t width);

}  // namespace nabla::data
