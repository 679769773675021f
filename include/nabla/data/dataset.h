/// \file
/// Dataset: the interface every source of labelled images implements (its size and one example at
/// a time, as torch.utils.data.Dataset), a Dataset over tensors already in memory, and a data set
/// as a whole (train and test parts with their class names), as its readers return it.
/// Images are float tensors (C, H, W) of raw pixel values 0-255; preprocessing and augmentation
/// happen later (data/transforms.h), on whole batches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nabla/tensor.h"

namespace nabla {

/// Images (N, C, H, W) as float32 and one label per image.
struct LabeledImages {
  Tensor<float> images;         ///< (N, C, H, W)
  std::vector<int32_t> labels;  ///< N labels, each in 0..classes-1
};

/// Rows `indices` of images (N, ...) and their labels, copied; every index must be in 0..N-1.
LabeledImages gather(const LabeledImages& data, const std::vector<int64_t>& indices);

/// Removes the first n examples of `data` and returns them (as the course holds out its validation
/// set); throws std::invalid_argument unless 0 <= n < N.
LabeledImages split_front(LabeledImages& data, int64_t n);

namespace data {

/// One example: an image (C, H, W) and its label.
struct Example {
  Tensor<float> image;  ///< (C, H, W)
  int32_t label = 0;    ///< in 0..classes-1
};

/// A source of labelled images, indexed 0..size()-1. Every example has the shape example_shape().
/// get and get_batch may be called from several threads at once (DataLoader's workers do).
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// The number of examples.
  virtual int64_t size() const = 0;
  /// The shape (C, H, W) of every image.
  virtual Shape example_shape() const = 0;
  /// Example `index`; throws std::out_of_range outside 0..size()-1, DataError when a source file
  /// cannot be read (naming it).
  virtual Example get(int64_t index) const = 0;
  /// Examples `indices` stacked into a batch (N, C, H, W); by default one get() per index.
  virtual LabeledImages get_batch(const std::vector<int64_t>& indices) const;
};

/// A Dataset over images already in memory; get_batch copies rows.
class TensorDataset : public Dataset {
 public:
  /// Takes images (N, C, H, W) and N labels; throws std::invalid_argument when they disagree.
  explicit TensorDataset(LabeledImages data);
  /// The number of examples.
  int64_t size() const override { return static_cast<int64_t>(data_.labels.size()); }
  /// (C, H, W).
  Shape example_shape() const override;
  /// Example `index`, copied.
  Example get(int64_t index) const override;
  /// Rows `indices`, copied in one pass.
  LabeledImages get_batch(const std::vector<int64_t>& indices) const override;
  /// All examples, in their stored order.
  const LabeledImages& data() const { return data_; }

 private:
  LabeledImages data_;
};

/// A data set as its reader returns it: raw pixel values (0-255) as float, train and test parts,
/// and the class names by label.
struct ImageSplits {
  std::string name;                  ///< "cifar10", "cifar100", "mnist", "fashion-mnist", "folder"
  std::vector<std::string> classes;  ///< class names, indexed by label
  LabeledImages train;               ///< (N, C, H, W)
  LabeledImages test;                ///< (M, C, H, W), the same C, H, W
};

/// Checks that labels lie in 0..classes-1 and images are (N, C, H, W) with N labels; throws
/// DataError naming `source` and the first bad example.
void check_labeled_images(const LabeledImages& data, int64_t classes, const std::string& source);

}  // namespace data
}  // namespace nabla
