#include "train/data.h"

#include "nabla/data/cifar100.h"
#include "nabla/data/idx.h"
#include "nabla/data/image_folder.h"
#include "nabla/error.h"

namespace nabla {

namespace {

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = {"cifar10", "cifar100",      "cifar100-coarse",
                                                 "mnist",   "fashion-mnist", "folder"};
  return names;
}

}  // namespace

void validate(const DataConfig& c) {
  const auto& names = dataset_names();
  if (std::find(names.begin(), names.end(), c.dataset) == names.end()) {
    throw ConfigError(
        "--dataset: must be cifar10, cifar100, cifar100-coarse, mnist, fashion-mnist or folder, "
        "not '" +
        c.dataset + "'");
  }
  if (c.dataset == "folder" && c.data_dir.empty()) {
    throw ConfigError("--data_dir: --dataset folder needs the folder (with train/ and test/)");
  }
  if (c.normalize != "meanimage" && c.normalize != "channel") {
    throw ConfigError("--normalize: must be meanimage or channel, not '" + c.normalize + "'");
  }
  if (c.image_size < 1 || c.image_size > 4096) {
    throw ConfigError("--image_size: must be in 1..4096");
  }
  if (c.image_size != 32 && c.dataset != "folder") {
    throw ConfigError("--image_size: only --dataset folder resizes its images");
  }
  try {
    // The syntax; sizes are checked against the images in make_augmentation.
    data::parse_augmentation(c.augment, 4096, 4096);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("--augment: ") + e.what());
  }
}

void add_to_json(const DataConfig& c, nlohmann::json& j) {
  const DataConfig course;
  j["data_dir"] = c.data_dir;
  if (c.dataset != course.dataset) j["dataset"] = c.dataset;
  if (c.augment != course.augment) j["augment"] = c.augment;
  if (c.normalize != course.normalize) j["normalize"] = c.normalize;
  if (c.image_size != course.image_size) j["image_size"] = c.image_size;
}

void Preprocessing::apply(Tensor<float>& images) const {
  Rng unused(0);
  if (kind == "meanimage") {
    data::SubtractMeanImage(mean_image).apply(images, unused);
  } else {
    data::Normalize(channel.mean, channel.std).apply(images, unused);
  }
}

std::vector<NamedTensor> Preprocessing::tensors() const {
  if (kind == "meanimage") return {{"mean_image", mean_image}};
  const auto as_tensor = [](const std::vector<float>& v) {
    return Tensor<float>({static_cast<int64_t>(v.size())}, v);
  };
  return {{"channel_mean", as_tensor(channel.mean)}, {"channel_std", as_tensor(channel.std)}};
}

Preprocessing fit_preprocessing(const std::string& kind, const Tensor<float>& train_images) {
  Preprocessing p;
  p.kind = kind;
  if (kind == "meanimage") {
    p.mean_image = data::mean_image(train_images);
  } else if (kind == "channel") {
    p.channel = data::channel_stats(train_images);
    for (float& s : p.channel.std) s = std::max(s, 1e-6f);  // a constant channel stays finite
  } else {
    throw ConfigError("--normalize: must be meanimage or channel, not '" + kind + "'");
  }
  return p;
}

TrainData::TrainData(Cifar10 data)
    : classes(kCifarClassNames, kCifarClassNames + kCifarClasses),
      train(std::move(data.train)),
      test(std::move(data.test)),
      validation(std::move(data.validation)) {
  preprocessing.mean_image = std::move(data.mean_image);
}

Shape TrainData::input_shape() const {
  const Shape& s = train.images.shape();
  return {s.at(1), s.at(2), s.at(3)};
}

TrainData prepare_data(data::ImageSplits splits, const std::string& normalize) {
  TrainData d;
  d.dataset = splits.name;
  d.classes = std::move(splits.classes);
  d.preprocessing = fit_preprocessing(normalize, splits.train.images);
  d.train = std::move(splits.train);
  d.test = std::move(splits.test);
  d.preprocessing.apply(d.train.images);
  d.preprocessing.apply(d.test.images);
  return d;
}

data::ImageSplits load_splits(const DataConfig& c) {
  if (c.dataset == "cifar10") return read_cifar10_splits(resolve_data_dir(c.data_dir));
  if (c.dataset == "folder") return data::load_image_folder(c.data_dir, c.image_size, c.image_size);
  const std::filesystem::path dir = !c.data_dir.empty()                 ? c.data_dir
                                    : c.dataset.starts_with("cifar100") ? "data/cifar-100-binary"
                                                                        : "data/" + c.dataset;
  if (c.dataset == "cifar100" || c.dataset == "cifar100-coarse") {
    const bool coarse = c.dataset == "cifar100-coarse";
    data::ImageSplits splits = data::load_cifar100(
        dir, coarse ? data::Cifar100Labels::kCoarse : data::Cifar100Labels::kFine);
    splits.name = c.dataset;
    return splits;
  }
  return data::load_mnist(dir, c.dataset);
}

TrainData load_train_data(const DataConfig& c) {
  // The course's path, as before these flags existed: the same bits.
  if (c.dataset == "cifar10" && c.normalize == "meanimage") {
    return load_cifar10(resolve_data_dir(c.data_dir));
  }
  return prepare_data(load_splits(c), c.normalize);
}

void add_data_metadata(const TrainData& data, std::map<std::string, std::string>& metadata) {
  if (data.dataset == "cifar10" && data.preprocessing.kind == "meanimage") return;
  metadata["dataset"] = data.dataset;
  metadata["classes"] = nlohmann::json(data.classes).dump();
  metadata["input_shape"] = nlohmann::json(data.input_shape()).dump();
  metadata["normalize"] = data.preprocessing.kind;
}

void split_validation(TrainData& data, int64_t n) {
  LabeledImages held_out = split_front(data.train, n);
  if (n > 0) data.validation = std::move(held_out);
}

std::shared_ptr<const data::Transform> make_augmentation(const DataConfig& c,
                                                         const Shape& input_shape) {
  try {
    return data::parse_augmentation(c.augment, input_shape.at(1), input_shape.at(2));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("--augment: ") + e.what());
  }
}

}  // namespace nabla
