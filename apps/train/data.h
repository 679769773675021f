// What a training command reads: the data set named by its flags (--dataset, --data_dir,
// --normalize, --augment, --image_size), preprocessed, split into train, validation and test,
// with its class names; and the preprocessing that model files record, so that `nabla eval` and
// `nabla predict` repeat it.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nabla/data/cifar10.h"
#include "nabla/data/dataset.h"
#include "nabla/data/transforms.h"
#include "nabla/io/safetensors.h"

namespace nabla {

// The data flags every training command shares; the defaults are the course's.
struct DataConfig {
  // cifar10, cifar100 (fine labels), cifar100-coarse, mnist, fashion-mnist, folder
  std::string dataset = "cifar10";
  std::string data_dir;                 // empty: the data set's default folder
  std::string augment;                  // e.g. "flip,crop4"; empty: none
  std::string normalize = "meanimage";  // or channel
  int64_t image_size = 32;              // folder: images are resized to this square
};

// Throws ConfigError naming the flag.
void validate(const DataConfig& config);
// Adds the settings that differ from the course's defaults (so the report's runs write the same
// files as before these flags existed); data_dir is added always.
void add_to_json(const DataConfig& config, nlohmann::json& j);

// How images are preprocessed before training, evaluation and prediction.
struct Preprocessing {
  std::string kind = "meanimage";  // meanimage (the course's) or channel
  Tensor<float> mean_image;        // meanimage: (C, H, W) in raw pixel units
  data::ChannelStats channel;      // channel: each channel's mean and standard deviation

  // Applies it to images (N, C, H, W) in place.
  void apply(Tensor<float>& images) const;
  // The tensors a model file holds for it: mean_image, or channel_mean and channel_std.
  std::vector<NamedTensor> tensors() const;
};

// Fitted on raw training images. Throws ConfigError for an unknown kind.
Preprocessing fit_preprocessing(const std::string& kind, const Tensor<float>& train_images);

struct TrainData {
  std::string dataset = "cifar10";
  std::vector<std::string> classes;
  LabeledImages train, test, validation;  // preprocessed
  Preprocessing preprocessing;

  TrainData() = default;
  // The course's CIFAR-10, centred by its mean image as load_cifar10 does.
  TrainData(Cifar10 data);  // NOLINT: implicit, so the course's data passes where this is taken
  // (C, H, W) of every image.
  Shape input_shape() const;
  int64_t n_classes() const { return static_cast<int64_t>(classes.size()); }
};

// Raw splits preprocessed as `normalize` says, fitted on the training images.
TrainData prepare_data(data::ImageSplits splits, const std::string& normalize);

// The raw data set the config names, from its folder. Throws DataError naming the file.
data::ImageSplits load_splits(const DataConfig& config);

// Loads and prepares the data set (validate(config) first).
TrainData load_train_data(const DataConfig& config);

// Records what eval and predict need in a model file's metadata: dataset, classes (JSON),
// input_shape (JSON) and normalize. A file without them means the course's CIFAR-10 centred by its
// mean image, so the report's model files stay as they were.
void add_data_metadata(const TrainData& data, std::map<std::string, std::string>& metadata);

// Holds out the first n training examples as the validation set (n = 0 does nothing).
void split_validation(TrainData& data, int64_t n);

// The augmentation the config names for these images, or nullptr. Throws ConfigError.
std::shared_ptr<const data::Transform> make_augmentation(const DataConfig& config,
                                                         const Shape& input_shape);

}  // namespace nabla
