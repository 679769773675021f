#include "nabla/data/transforms.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace nabla::data {

namespace {

// The batch's sizes; throws std::invalid_argument naming `who` unless images is (N, C, H, W).
struct BatchShape {
  int64_t n, c, h, w;
};
BatchShape batch_shape(const Tensor<float>& images, const std::string& who) {
  if (images.rank() != 4) {
    throw std::invalid_argument(who + ": images must be (N, C, H, W), not " +
                                shape_str(images.shape()));
  }
  return {images.dim(0), images.dim(1), images.dim(2), images.dim(3)};
}

// The source index of position i in a line of n pixels extended by reflection (|overshoot| < n).
int64_t reflect(int64_t i, int64_t n) { return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i); }

// Reverses each of the `rows` rows of `width` pixels starting at image: a left-right mirror.
void mirror(float* image, int64_t rows, int64_t width) {
  for (int64_t row = 0; row < rows; ++row)
    std::reverse(image + row * width, image + (row + 1) * width);
}

const char* padding_name(Padding mode) { return mode == Padding::kZero ? "zero" : "reflect"; }

// out[n, c, y, x] = in[n, c, y + oy[n], x + ox[n]] for out (N, C, oh, ow); a source position
// outside the image is zero or reflected, as `mode` says.
void shifted_window(const Tensor<float>& in, Tensor<float>& out, const std::vector<int64_t>& oy,
                    const std::vector<int64_t>& ox, Padding mode) {
  const int64_t n = in.dim(0), c = in.dim(1), h = in.dim(2), w = in.dim(3);
  const int64_t oh = out.dim(2), ow = out.dim(3);
  for (int64_t i = 0; i < n; ++i) {
    // Columns [x0, x1) of the window read inside the image.
    const int64_t x0 = std::clamp<int64_t>(-ox[i], 0, ow),
                  x1 = std::clamp<int64_t>(w - ox[i], x0, ow);
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* src_plane = in.data() + (i * c + ch) * h * w;
      float* dst_plane = out.data() + (i * c + ch) * oh * ow;
      for (int64_t y = 0; y < oh; ++y) {
        float* dst = dst_plane + y * ow;
        int64_t sy = y + oy[i];
        if (sy < 0 || sy >= h) {
          if (mode == Padding::kZero) {
            std::fill(dst, dst + ow, 0.0f);
            continue;
          }
          sy = reflect(sy, h);
        }
        const float* src = src_plane + sy * w;
        std::memcpy(dst + x0, src + x0 + ox[i], sizeof(float) * static_cast<size_t>(x1 - x0));
        if (mode == Padding::kZero) {
          std::fill(dst, dst + x0, 0.0f);
          std::fill(dst + x1, dst + ow, 0.0f);
        } else {
          for (int64_t x = 0; x < x0; ++x) dst[x] = src[reflect(x + ox[i], w)];
          for (int64_t x = x1; x < ow; ++x) dst[x] = src[reflect(x + ox[i], w)];
        }
      }
    }
  }
}

void check_reflect(Padding mode, int64_t reach, int64_t h, int64_t w, const std::string& who) {
  if (mode == Padding::kReflect && (reach >= h || reach >= w)) {
    throw std::invalid_argument(who + ": reflect padding " + std::to_string(reach) +
                                " needs images larger than that, not " + std::to_string(h) + "x" +
                                std::to_string(w));
  }
}

}  // namespace

Tensor<float> translate(const Tensor<float>& images, int64_t dy, int64_t dx, Padding mode) {
  const auto [n, c, h, w] = batch_shape(images, "translate");
  check_reflect(mode, std::max(std::abs(dy), std::abs(dx)), h, w, "translate");
  Tensor<float> out = Tensor<float>::uninitialized(images.shape());
  shifted_window(images, out, std::vector<int64_t>(static_cast<size_t>(n), -dy),
                 std::vector<int64_t>(static_cast<size_t>(n), -dx), mode);
  return out;
}

Tensor<float> mirrored(const Tensor<float>& images) {
  const auto [n, c, h, w] = batch_shape(images, "mirrored");
  Tensor<float> out = images.clone();
  for (int64_t i = 0; i < n; ++i) mirror(out.data() + i * c * h * w, c * h, w);
  return out;
}

Tensor<float> apply_to_image(const Transform& transform, const Tensor<float>& image, Rng& rng) {
  if (image.rank() != 3) {
    throw std::invalid_argument(transform.name() + ": an image must be (C, H, W), not " +
                                shape_str(image.shape()));
  }
  Tensor<float> batch = image.clone().reshape({1, image.dim(0), image.dim(1), image.dim(2)});
  transform.apply(batch, rng);
  return batch.reshape({batch.dim(1), batch.dim(2), batch.dim(3)});
}

Compose::Compose(std::vector<std::shared_ptr<const Transform>> transforms)
    : transforms_(std::move(transforms)) {
  for (const auto& t : transforms_) {
    if (!t) throw std::invalid_argument("Compose: a transform is null");
  }
}

void Compose::apply(Tensor<float>& images, Rng& rng) const {
  for (const auto& t : transforms_) t->apply(images, rng);
}

void Compose::apply_to_batch(Tensor<float>& images, Rng& rng, const BatchInfo& info) const {
  for (const auto& t : transforms_) t->apply_to_batch(images, rng, info);
}

std::string Compose::name() const {
  std::string s = "Compose(";
  for (size_t i = 0; i < transforms_.size(); ++i) {
    if (i > 0) s += ", ";
    s += transforms_[i]->name();
  }
  return s + ")";
}

RandomCrop::RandomCrop(int64_t height, int64_t width, int64_t padding, Padding mode)
    : height_(height), width_(width), padding_(padding), mode_(mode) {
  if (height < 1 || width < 1 || padding < 0) {
    throw std::invalid_argument("RandomCrop: needs a size >= 1 and padding >= 0");
  }
}

void RandomCrop::apply(Tensor<float>& images, Rng& rng) const {
  const auto [n, c, h, w] = batch_shape(images, name());
  if (height_ > h + 2 * padding_ || width_ > w + 2 * padding_) {
    throw std::invalid_argument(name() + ": larger than the padded " + std::to_string(h) + "x" +
                                std::to_string(w) + " images");
  }
  check_reflect(mode_, padding_, h, w, name());
  std::vector<int64_t> oy(static_cast<size_t>(n)), ox(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    oy[i] = static_cast<int64_t>(rng.below(static_cast<uint64_t>(h + 2 * padding_ - height_ + 1))) -
            padding_;
    ox[i] = static_cast<int64_t>(rng.below(static_cast<uint64_t>(w + 2 * padding_ - width_ + 1))) -
            padding_;
  }
  Tensor<float> out = Tensor<float>::uninitialized({n, c, height_, width_});
  shifted_window(images, out, oy, ox, mode_);
  images = std::move(out);
}

std::string RandomCrop::name() const {
  return "RandomCrop(" + std::to_string(height_) + "x" + std::to_string(width_) + ", padding " +
         std::to_string(padding_) + ", " + padding_name(mode_) + ")";
}

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  if (!(p >= 0 && p <= 1)) throw std::invalid_argument("RandomHorizontalFlip: p must be in [0, 1]");
}

void RandomHorizontalFlip::apply(Tensor<float>& images, Rng& rng) const {
  const auto [n, c, h, w] = batch_shape(images, name());
  for (int64_t i = 0; i < n; ++i) {
    if (rng.uniform() < p_) mirror(images.data() + i * c * h * w, c * h, w);
  }
}

void AlternatingFlip::apply(Tensor<float>&, Rng&) const {
  throw std::logic_error(name() + ": needs the batch's epoch and image indices (apply_to_batch)");
}

void AlternatingFlip::apply_to_batch(Tensor<float>& images, Rng&, const BatchInfo& info) const {
  const auto [n, c, h, w] = batch_shape(images, name());
  if (static_cast<int64_t>(info.indices.size()) != n) {
    throw std::invalid_argument(name() + ": " + std::to_string(info.indices.size()) +
                                " indices for a batch of " + std::to_string(n));
  }
  constexpr uint64_t kStream = 0x616c74666c697031ULL;  // "altflip1"
  const bool odd_epoch = info.epoch % 2 == 1;
  for (int64_t i = 0; i < n; ++i) {
    Rng own(info.seed ^ kStream ^
            (static_cast<uint64_t>(info.indices[static_cast<size_t>(i)]) * 0x9e3779b97f4a7c15ULL));
    if ((own.uniform() < 0.5) != odd_epoch) mirror(images.data() + i * c * h * w, c * h, w);
  }
}

std::string AlternatingFlip::name() const { return "AlternatingFlip"; }

std::string RandomHorizontalFlip::name() const {
  return "RandomHorizontalFlip(" + std::to_string(p_) + ")";
}

RandomTranslate::RandomTranslate(int64_t max_shift, Padding mode)
    : max_shift_(max_shift), mode_(mode) {
  if (max_shift < 0) throw std::invalid_argument("RandomTranslate: max_shift must be >= 0");
}

void RandomTranslate::apply(Tensor<float>& images, Rng& rng) const {
  const auto [n, c, h, w] = batch_shape(images, name());
  check_reflect(mode_, max_shift_, h, w, name());
  const auto span = static_cast<uint64_t>(2 * max_shift_ + 1);
  std::vector<int64_t> oy(static_cast<size_t>(n)), ox(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    oy[i] = static_cast<int64_t>(rng.below(span)) - max_shift_;
    ox[i] = static_cast<int64_t>(rng.below(span)) - max_shift_;
  }
  Tensor<float> out = Tensor<float>::uninitialized({n, c, h, w});
  shifted_window(images, out, oy, ox, mode_);
  images = std::move(out);
}

std::string RandomTranslate::name() const {
  return "RandomTranslate(" + std::to_string(max_shift_) + ", " + padding_name(mode_) + ")";
}

Cutout::Cutout(int64_t size) : size_(size) {
  if (size < 1) throw std::invalid_argument("Cutout: size must be >= 1");
}

void Cutout::apply(Tensor<float>& images, Rng& rng) const {
  const auto [n, c, h, w] = batch_shape(images, name());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t cy = static_cast<int64_t>(rng.below(static_cast<uint64_t>(h)));
    const int64_t cx = static_cast<int64_t>(rng.below(static_cast<uint64_t>(w)));
    const int64_t y0 = std::max<int64_t>(0, cy - size_ / 2),
                  y1 = std::min(h, cy - size_ / 2 + size_);
    const int64_t x0 = std::max<int64_t>(0, cx - size_ / 2),
                  x1 = std::min(w, cx - size_ / 2 + size_);
    for (int64_t ch = 0; ch < c; ++ch) {
      float* plane = images.data() + (i * c + ch) * h * w;
      for (int64_t y = y0; y < y1; ++y) std::fill(plane + y * w + x0, plane + y * w + x1, 0.0f);
    }
  }
}

std::string Cutout::name() const { return "Cutout(" + std::to_string(size_) + ")"; }

Normalize::Normalize(std::vector<float> mean, std::vector<float> std)
    : mean_(std::move(mean)), std_(std::move(std)) {
  if (mean_.empty() || mean_.size() != std_.size()) {
    throw std::invalid_argument("Normalize: needs one mean and one std per channel");
  }
  for (float s : std_) {
    if (!(s > 0)) throw std::invalid_argument("Normalize: every std must be > 0");
  }
}

void Normalize::apply(Tensor<float>& images, Rng&) const {
  const auto [n, c, h, w] = batch_shape(images, name());
  if (c != static_cast<int64_t>(mean_.size())) {
    throw std::invalid_argument(name() + ": images have " + std::to_string(c) + " channels, not " +
                                std::to_string(mean_.size()));
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      float* plane = images.data() + (i * c + ch) * h * w;
      const float m = mean_[ch], s = std_[ch];
      for (int64_t k = 0; k < h * w; ++k) plane[k] = (plane[k] - m) / s;
    }
  }
}

std::string Normalize::name() const {
  std::string m, s;
  for (size_t i = 0; i < mean_.size(); ++i) {
    if (i > 0) {
      m += ",";
      s += ",";
    }
    m += std::to_string(mean_[i]);
    s += std::to_string(std_[i]);
  }
  return "Normalize(mean " + m + ", std " + s + ")";
}

SubtractMeanImage::SubtractMeanImage(Tensor<float> mean_image)
    : mean_image_(std::move(mean_image)) {
  if (mean_image_.rank() != 3) {
    throw std::invalid_argument("SubtractMeanImage: the mean image must be (C, H, W), not " +
                                shape_str(mean_image_.shape()));
  }
}

void SubtractMeanImage::apply(Tensor<float>& images, Rng&) const {
  const auto [n, c, h, w] = batch_shape(images, name());
  if (Shape{c, h, w} != mean_image_.shape()) {
    throw std::invalid_argument(name() + ": images " + shape_str(images.shape()) +
                                " do not fit the mean image");
  }
  const int64_t row = c * h * w;
  float* p = images.data();
  const float* mean = mean_image_.data();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < row; ++j) p[i * row + j] -= mean[j];
  }
}

std::string SubtractMeanImage::name() const {
  return "SubtractMeanImage(" + shape_str(mean_image_.shape()) + ")";
}

Tensor<float> mean_image(const Tensor<float>& images) {
  const auto [n, c, h, w] = batch_shape(images, "mean_image");
  if (n == 0) throw std::invalid_argument("mean_image: no images");
  const int64_t row = c * h * w;
  std::vector<double> sum(static_cast<size_t>(row), 0.0);
  const float* p = images.data();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < row; ++j) sum[j] += p[i * row + j];
  }
  Tensor<float> mean({c, h, w});
  for (int64_t j = 0; j < row; ++j) mean[j] = static_cast<float>(sum[j] / static_cast<double>(n));
  return mean;
}

ChannelStats channel_stats(const Tensor<float>& images) {
  const auto [n, c, h, w] = batch_shape(images, "channel_stats");
  if (n == 0 || h * w == 0) throw std::invalid_argument("channel_stats: no pixels");
  ChannelStats stats;
  const double count = static_cast<double>(n * h * w);
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* plane = images.data() + (i * c + ch) * h * w;
      for (int64_t k = 0; k < h * w; ++k) sum += plane[k];
    }
    const double mean = sum / count;
    double squares = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* plane = images.data() + (i * c + ch) * h * w;
      for (int64_t k = 0; k < h * w; ++k) squares += (plane[k] - mean) * (plane[k] - mean);
    }
    stats.mean.push_back(static_cast<float>(mean));
    stats.std.push_back(static_cast<float>(std::sqrt(squares / count)));
  }
  return stats;
}

namespace {

// "crop4-reflect" -> {"crop", 4, kReflect}; false when `item` is not <word><digits>[-reflect].
bool split_item(const std::string& item, std::string& word, int64_t& size, Padding& mode) {
  std::string rest = item;
  mode = Padding::kZero;
  const std::string reflect_suffix = "-reflect";
  if (rest.size() > reflect_suffix.size() &&
      rest.compare(rest.size() - reflect_suffix.size(), reflect_suffix.size(), reflect_suffix) ==
          0) {
    mode = Padding::kReflect;
    rest.resize(rest.size() - reflect_suffix.size());
  }
  size_t digits = rest.size();
  while (digits > 0 && std::isdigit(static_cast<unsigned char>(rest[digits - 1]))) --digits;
  word = rest.substr(0, digits);
  if (digits == rest.size()) {
    size = -1;
    return true;
  }
  if (rest.size() - digits > 6) return false;
  size = std::stoll(rest.substr(digits));
  return true;
}

}  // namespace

std::shared_ptr<const Transform> parse_augmentation(const std::string& spec, int64_t height,
                                                    int64_t width) {
  std::vector<std::shared_ptr<const Transform>> parts;
  size_t begin = 0;
  while (begin <= spec.size() && !spec.empty()) {
    const size_t end = std::min(spec.find(',', begin), spec.size());
    const std::string item = spec.substr(begin, end - begin);
    begin = end + 1;
    std::string word;
    int64_t size = -1;
    Padding mode = Padding::kZero;
    const auto bad = [&](const std::string& why) {
      return std::invalid_argument(
          "'" + item + "': " + why +
          " (known: flip, altflip, crop<P>, crop<P>-reflect, translate<S>, "
          "translate<S>-reflect, cutout<S>)");
    };
    if (!split_item(item, word, size, mode)) throw bad("size too large");
    if (word == "flip" && size < 0 && mode == Padding::kZero) {
      parts.push_back(std::make_shared<RandomHorizontalFlip>(0.5));
    } else if (word == "altflip" && size < 0 && mode == Padding::kZero) {
      parts.push_back(std::make_shared<AlternatingFlip>());
    } else if (word == "crop" && size >= 0) {
      parts.push_back(std::make_shared<RandomCrop>(height, width, size, mode));
    } else if (word == "translate" && size >= 0) {
      parts.push_back(std::make_shared<RandomTranslate>(size, mode));
    } else if (word == "cutout" && size >= 1 && mode == Padding::kZero) {
      parts.push_back(std::make_shared<Cutout>(size));
    } else {
      throw bad("not an augmentation");
    }
    if (mode == Padding::kReflect && (size >= height || size >= width)) {
      throw bad("reflect padding must be smaller than the images");
    }
  }
  if (parts.empty()) return nullptr;
  if (parts.size() == 1) return parts.front();
  return std::make_shared<Compose>(std::move(parts));
}

}  // namespace nabla::data
