/// \file
/// CIFAR-10, official binary version: reading, the course's preprocessing, and batching.
/// A record is 3,073 bytes: a label byte, then 1,024 R, 1,024 G and 1,024 B bytes (32x32,
/// row-major).
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "nabla/data/dataset.h"
#include "nabla/error.h"
#include "nabla/rng.h"
#include "nabla/tensor.h"

namespace nabla {

/// Bytes of one image: 3 channels of 32x32.
inline constexpr int64_t kCifarImageBytes = 3 * 32 * 32;
/// Bytes of one record: the label byte, then the image.
inline constexpr int64_t kCifarRecordBytes = 1 + kCifarImageBytes;
/// Records in each official batch file.
inline constexpr int64_t kCifarRecordsPerFile = 10000;
/// Training images in the official release: five files of kCifarRecordsPerFile.
inline constexpr int64_t kCifarTrainImages = 5 * kCifarRecordsPerFile;
/// The number of classes; labels are 0..9.
inline constexpr int kCifarClasses = 10;
/// The class names by label: "airplane", "automobile", ..., "truck".
extern const char* const kCifarClassNames[kCifarClasses];

/// One batch file as stored: pixels (count, 3, 32, 32) as bytes, and labels.
struct CifarRaw {
  std::vector<uint8_t> pixels;  ///< count * 3,072 bytes: each image's R, G and B planes
  std::vector<int32_t> labels;  ///< one per image, in 0..9
  /// The number of images.
  int64_t count() const { return static_cast<int64_t>(labels.size()); }
};

/// Reads a batch file that must hold exactly `records` records. Throws DataError.
CifarRaw read_cifar10_file(const std::filesystem::path& file,
                           int64_t records = kCifarRecordsPerFile);

/// The same from bytes in memory; `name` is used in error messages.
CifarRaw parse_cifar10(const uint8_t* bytes, size_t size, int64_t records, const std::string& name);

/// The whole data set, preprocessed as the course's utilities do: float32, NCHW, the per-pixel
/// mean image of the training set subtracted from train and test images, no other scaling.
struct Cifar10 {
  LabeledImages train;       ///< data_batch_1..5, less the validation examples
  LabeledImages test;        ///< test_batch
  Tensor<float> mean_image;  ///< (3, 32, 32), in raw pixel units
  LabeledImages validation;  ///< empty unless split_validation was called
};

/// Holds out the first n training examples as the validation set, as the course's utilities do
/// (after the mean image of all training examples was subtracted). n = 0 does nothing.
void split_validation(Cifar10& data, int64_t n);

/// Reads data_batch_1..5.bin (train) and test_batch.bin (test) from `dir` as raw pixel values,
/// without preprocessing. Throws DataError naming the file.
data::ImageSplits read_cifar10_splits(const std::filesystem::path& dir,
                                      int64_t records_per_file = kCifarRecordsPerFile);

/// Reads data_batch_1..5.bin and test_batch.bin from `dir` and subtracts the training set's mean
/// image from both. Throws DataError.
Cifar10 load_cifar10(const std::filesystem::path& dir,
                     int64_t records_per_file = kCifarRecordsPerFile);

/// The data folder: `flag` when given, else $CIFAR10_DIR, else data/cifar-10-batches-bin.
std::filesystem::path resolve_data_dir(const std::string& flag);

/// Walks the examples in order, and reshuffles (seeded) when an epoch runs out, as the course's
/// DataSet.next_batch: a batch never straddles two epochs; the tail that does not fill a batch is
/// skipped for that epoch.
class DataSet {
 public:
  /// Starts at the first example in the stored order; seed seeds the reshuffles.
  DataSet(LabeledImages data, uint64_t seed);

  /// The next batch_size examples, copied; throws std::invalid_argument unless
  /// 1 <= batch_size <= size().
  LabeledImages next_batch(int64_t batch_size);
  /// The number of examples.
  int64_t size() const { return static_cast<int64_t>(data_.labels.size()); }
  /// How many times the walk has run out and reshuffled.
  int64_t epochs_completed() const { return epochs_completed_; }
  /// All examples, in their stored order.
  const LabeledImages& data() const { return data_; }

  /// Where the walk is: enough to continue it exactly after a restart.
  struct State {
    std::vector<int64_t> order;    ///< the current permutation of the examples
    int64_t index_in_epoch = 0;    ///< where the next batch starts in order
    int64_t epochs_completed = 0;  ///< as epochs_completed()
    Rng::State rng{};              ///< the reshuffling generator
  };
  /// The walk's current state, for set_state.
  State state() const { return {order_, index_in_epoch_, epochs_completed_, rng_.state()}; }
  /// Throws std::invalid_argument when the state does not fit this data set.
  void set_state(const State& state);

 private:
  LabeledImages data_;
  std::vector<int64_t> order_;
  int64_t index_in_epoch_ = 0;
  int64_t epochs_completed_ = 0;
  Rng rng_;
};

}  // namespace nabla
