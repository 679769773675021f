#include "nabla/data/cifar100.h"

#include <cstring>

#include "data/file_bytes.h"
#include "nabla/error.h"

namespace nabla::data {

const char* const kCifar100FineNames[kCifar100FineClasses] = {
    "apple",       "aquarium_fish", "baby",      "bear",       "beaver",       "bed",
    "bee",         "beetle",        "bicycle",   "bottle",     "bowl",         "boy",
    "bridge",      "bus",           "butterfly", "camel",      "can",          "castle",
    "caterpillar", "cattle",        "chair",     "chimpanzee", "clock",        "cloud",
    "cockroach",   "couch",         "crab",      "crocodile",  "cup",          "dinosaur",
    "dolphin",     "elephant",      "flatfish",  "forest",     "fox",          "girl",
    "hamster",     "house",         "kangaroo",  "keyboard",   "lamp",         "lawn_mower",
    "leopard",     "lion",          "lizard",    "lobster",    "man",          "maple_tree",
    "motorcycle",  "mountain",      "mouse",     "mushroom",   "oak_tree",     "orange",
    "orchid",      "otter",         "palm_tree", "pear",       "pickup_truck", "pine_tree",
    "plain",       "plate",         "poppy",     "porcupine",  "possum",       "rabbit",
    "raccoon",     "ray",           "road",      "rocket",     "rose",         "sea",
    "seal",        "shark",         "shrew",     "skunk",      "skyscraper",   "snail",
    "snake",       "spider",        "squirrel",  "streetcar",  "sunflower",    "sweet_pepper",
    "table",       "tank",          "telephone", "television", "tiger",        "tractor",
    "train",       "trout",         "tulip",     "turtle",     "wardrobe",     "whale",
    "willow_tree", "wolf",          "woman",     "worm"};

const char* const kCifar100CoarseNames[kCifar100CoarseClasses] = {"aquatic_mammals",
                                                                  "fish",
                                                                  "flowers",
                                                                  "food_containers",
                                                                  "fruit_and_vegetables",
                                                                  "household_electrical_devices",
                                                                  "household_furniture",
                                                                  "insects",
                                                                  "large_carnivores",
                                                                  "large_man-made_outdoor_things",
                                                                  "large_natural_outdoor_scenes",
                                                                  "large_omnivores_and_herbivores",
                                                                  "medium_mammals",
                                                                  "non-insect_invertebrates",
                                                                  "people",
                                                                  "reptiles",
                                                                  "small_mammals",
                                                                  "trees",
                                                                  "vehicles_1",
                                                                  "vehicles_2"};

namespace fs = std::filesystem;

namespace {

// The official train.bin is 153,700,000 bytes; anything past this is not a CIFAR-100 file.
constexpr uint64_t kMaxFileBytes = uint64_t{1} << 30;

}  // namespace

Cifar100Raw parse_cifar100(const uint8_t* bytes, size_t size, const std::string& name) {
  const auto n = static_cast<int64_t>(size);
  if (n == 0) throw DataError(name + ": empty file, no CIFAR-100 records");
  if (n % kCifar100RecordBytes != 0) {
    throw DataError(name + ": wrong size, " + std::to_string(n) + " bytes is not a whole number " +
                    "of " + std::to_string(kCifar100RecordBytes) + "-byte records (" +
                    std::to_string(n % kCifar100RecordBytes) +
                    " bytes left over: truncated or oversized file)");
  }
  const int64_t records = n / kCifar100RecordBytes;
  Cifar100Raw raw;
  raw.pixels.resize(static_cast<size_t>(records * kCifar100ImageBytes));
  raw.fine_labels.resize(static_cast<size_t>(records));
  raw.coarse_labels.resize(static_cast<size_t>(records));
  for (int64_t r = 0; r < records; ++r) {
    const uint8_t* record = bytes + r * kCifar100RecordBytes;
    if (record[0] >= kCifar100CoarseClasses) {
      throw DataError(name + ": record " + std::to_string(r) + " has coarse label " +
                      std::to_string(record[0]) + ", above 19");
    }
    if (record[1] >= kCifar100FineClasses) {
      throw DataError(name + ": record " + std::to_string(r) + " has fine label " +
                      std::to_string(record[1]) + ", above 99");
    }
    raw.coarse_labels[r] = record[0];
    raw.fine_labels[r] = record[1];
    std::memcpy(raw.pixels.data() + r * kCifar100ImageBytes, record + 2, kCifar100ImageBytes);
  }
  return raw;
}

Cifar100Raw read_cifar100_file(const fs::path& file) {
  const std::string bytes = detail::read_file_bytes(file, kMaxFileBytes);
  return parse_cifar100(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                        file.string());
}

std::vector<std::string> read_class_names(const fs::path& file, size_t expected) {
  const std::string name = file.string();
  const std::string text = detail::read_file_bytes(file, uint64_t{1} << 20);
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.pop_back();
    }
    lines.push_back(std::move(line));
    begin = end + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) throw DataError(name + ": line " + std::to_string(i + 1) + " is empty");
  }
  if (lines.size() != expected) {
    throw DataError(name + ": " + std::to_string(lines.size()) + " class names where " +
                    std::to_string(expected) + " are expected, one per line");
  }
  return lines;
}

namespace {

LabeledImages to_float(const Cifar100Raw& raw, Cifar100Labels labels) {
  LabeledImages out{Tensor<float>::uninitialized({raw.count(), 3, 32, 32}),
                    labels == Cifar100Labels::kFine ? raw.fine_labels : raw.coarse_labels};
  float* dst = out.images.data();
  for (uint8_t v : raw.pixels) *dst++ = static_cast<float>(v);
  return out;
}

}  // namespace

ImageSplits load_cifar100(const fs::path& dir, Cifar100Labels labels) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw DataError(dir.string() + ": CIFAR-100 folder (cifar-100-binary) not found");
  }
  const bool fine = labels == Cifar100Labels::kFine;
  ImageSplits splits;
  splits.name = "cifar100";
  const fs::path names_file = dir / (fine ? "fine_label_names.txt" : "coarse_label_names.txt");
  if (fs::exists(names_file, ec)) {
    splits.classes =
        read_class_names(names_file, fine ? kCifar100FineClasses : kCifar100CoarseClasses);
  } else if (fine) {
    splits.classes.assign(std::begin(kCifar100FineNames), std::end(kCifar100FineNames));
  } else {
    splits.classes.assign(std::begin(kCifar100CoarseNames), std::end(kCifar100CoarseNames));
  }
  splits.train = to_float(read_cifar100_file(dir / "train.bin"), labels);
  splits.test = to_float(read_cifar100_file(dir / "test.bin"), labels);
  return splits;
}

}  // namespace nabla::data
