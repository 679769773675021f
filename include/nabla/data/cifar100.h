/// \file
/// CIFAR-100, official binary version (the folder cifar-100-binary/: train.bin, test.bin and the
/// class names in fine_label_names.txt and coarse_label_names.txt). A record is 3,074 bytes: the
/// coarse label byte (0..19), the fine label byte (0..99), then 1,024 R, 1,024 G and 1,024 B bytes
/// (32x32, row-major).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "nabla/data/dataset.h"

namespace nabla::data {

/// Bytes of one image: 3 channels of 32x32.
inline constexpr int64_t kCifar100ImageBytes = 3 * 32 * 32;
/// Bytes of one record: the coarse and fine label bytes, then the image.
inline constexpr int64_t kCifar100RecordBytes = 2 + kCifar100ImageBytes;
/// The number of fine classes; fine labels are 0..99.
inline constexpr int kCifar100FineClasses = 100;
/// The number of coarse classes (superclasses); coarse labels are 0..19.
inline constexpr int kCifar100CoarseClasses = 20;
/// The official fine class names by label: "apple", "aquarium_fish", "baby", ..., "worm".
extern const char* const kCifar100FineNames[kCifar100FineClasses];
/// The official coarse class names by label: "aquatic_mammals", "fish", ..., "vehicles_2".
extern const char* const kCifar100CoarseNames[kCifar100CoarseClasses];

/// Which of the two labels of a CIFAR-100 image a data set uses.
enum class Cifar100Labels {
  kFine,   ///< the 100 classes
  kCoarse  ///< the 20 superclasses
};

/// One file as stored: pixels (count, 3, 32, 32) as bytes, and both labels of every image.
struct Cifar100Raw {
  std::vector<uint8_t> pixels;         ///< count * 3,072 bytes: each image's R, G and B planes
  std::vector<int32_t> fine_labels;    ///< one per image, in 0..99
  std::vector<int32_t> coarse_labels;  ///< one per image, in 0..19
  /// The number of images.
  int64_t count() const { return static_cast<int64_t>(fine_labels.size()); }
};

/// Parses records from bytes in memory: `size` must be a positive multiple of 3,074, every label
/// byte in range. `name` (the file) starts every error message. Throws DataError.
Cifar100Raw parse_cifar100(const uint8_t* bytes, size_t size, const std::string& name);

/// Reads a file of records (train.bin or test.bin); a file above 1 GiB is refused unread.
/// Throws DataError naming the file.
Cifar100Raw read_cifar100_file(const std::filesystem::path& file);

/// Reads a class-name file: one name per line, exactly `expected` non-empty lines (a final line
/// break and trailing blank lines are allowed). Throws DataError naming the file.
std::vector<std::string> read_class_names(const std::filesystem::path& file, size_t expected);

/// Reads train.bin and test.bin from `dir` (the cifar-100-binary folder) as ImageSplits named
/// "cifar100", labelled by the fine (100) or coarse (20) classes. The class names come from
/// fine_label_names.txt or coarse_label_names.txt when the folder has it, else from the official
/// tables. Throws DataError naming the folder or the bad file.
ImageSplits load_cifar100(const std::filesystem::path& dir,
                          Cifar100Labels labels = Cifar100Labels::kFine);

}  // namespace nabla::data
