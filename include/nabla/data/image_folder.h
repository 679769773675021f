/// \file
/// ImageFolder: labelled images stored as ROOT/CLASS/FILE, PNG or JPEG, as torchvision's
/// ImageFolder; and a data set of two such folders, DIR/train and DIR/test.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "nabla/data/dataset.h"

namespace nabla::data {

/// The images under ROOT/CLASS/, each decoded when asked for and resized to height x width.
/// Classes are the subfolders sorted by name; the files of a class are sorted by name. Files
/// ending in .png, .jpg or .jpeg (any case) are images; other files, and names starting with a
/// dot, are skipped. get() and get_batch() are const and share no mutable state, so several
/// threads may call them at once.
class ImageFolder : public Dataset {
 public:
  /// Lists ROOT/CLASS/ with the classes of its subfolders. Throws DataError when root is
  /// missing, has no class folder, or a class folder has no image; std::invalid_argument when
  /// height or width is below 1.
  ImageFolder(const std::filesystem::path& root, int64_t height, int64_t width);
  /// The same with the classes given (labels index them), e.g. those of the training folder:
  /// every subfolder of root must be one of them (DataError naming it otherwise); a class
  /// without a subfolder has no examples.
  ImageFolder(const std::filesystem::path& root, int64_t height, int64_t width,
              std::vector<std::string> classes);

  /// The number of images.
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  /// (3, height, width).
  Shape example_shape() const override { return {3, height_, width_}; }
  /// Image `index` decoded and resized, raw pixel values 0-255; throws std::out_of_range
  /// outside 0..size()-1, DataError naming the file when it cannot be read or decoded.
  Example get(int64_t index) const override;

  /// The class names, indexed by label.
  const std::vector<std::string>& classes() const { return classes_; }
  /// The image files in example order.
  const std::vector<std::filesystem::path>& files() const { return files_; }
  /// The label of every file, in example order.
  const std::vector<int32_t>& labels() const { return labels_; }

 private:
  void list(const std::filesystem::path& root, bool classes_given);

  int64_t height_;
  int64_t width_;
  std::vector<std::string> classes_;
  std::vector<std::filesystem::path> files_;
  std::vector<int32_t> labels_;
};

/// Reads DIR/train/CLASS/ and DIR/test/CLASS/ into memory as ImageSplits named "folder":
/// images (N, 3, height, width), the classes those of train. A test class folder that train
/// lacks is a DataError naming it, as is every error of ImageFolder.
ImageSplits load_image_folder(const std::filesystem::path& dir, int64_t height, int64_t width);

}  // namespace nabla::data
