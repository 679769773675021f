#include "nabla/data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <numeric>
#include <stdexcept>

#include "nabla/error.h"
#include "nabla/io/image.h"

namespace nabla::data {

namespace fs = std::filesystem;

namespace {

bool is_image_name(const std::string& filename) {
  const size_t dot = filename.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = filename.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == "png" || ext == "jpg" || ext == "jpeg";
}

bool is_hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// The entries of `dir` that pass `keep`, sorted by file name. Throws DataError naming dir when
// it cannot be listed.
template <typename Keep>
std::vector<fs::path> sorted_entries(const fs::path& dir, Keep keep) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (!is_hidden(it->path()) && keep(*it)) out.push_back(it->path());
  }
  if (ec) throw DataError(dir.string() + ": cannot list the folder (" + ec.message() + ")");
  std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  return out;
}

}  // namespace

ImageFolder::ImageFolder(const fs::path& root, int64_t height, int64_t width)
    : height_(height), width_(width) {
  list(root, false);
}

ImageFolder::ImageFolder(const fs::path& root, int64_t height, int64_t width,
                         std::vector<std::string> classes)
    : height_(height), width_(width), classes_(std::move(classes)) {
  list(root, true);
}

void ImageFolder::list(const fs::path& root, bool classes_given) {
  if (height_ < 1 || width_ < 1) {
    throw std::invalid_argument("ImageFolder: image size " + std::to_string(height_) + "x" +
                                std::to_string(width_) + " must be at least 1x1");
  }
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw DataError(root.string() + ": image folder not found");
  const auto folders = sorted_entries(root, [](const fs::directory_entry& e) {
    std::error_code dir_ec;
    return e.is_directory(dir_ec);
  });
  if (folders.empty()) {
    throw DataError(root.string() + ": no class folders (expected " + root.string() +
                    "/<class>/<images>)");
  }
  if (!classes_given) {
    for (const fs::path& folder : folders) classes_.push_back(folder.filename().string());
  }
  for (const fs::path& folder : folders) {
    const std::string name = folder.filename().string();
    const auto found = std::find(classes_.begin(), classes_.end(), name);
    if (found == classes_.end()) {
      throw DataError(folder.string() + ": class \"" + name + "\" is not among the " +
                      std::to_string(classes_.size()) + " classes of the training folder");
    }
    const auto label = static_cast<int32_t>(found - classes_.begin());
    const auto images = sorted_entries(folder, [](const fs::directory_entry& e) {
      std::error_code file_ec;
      return !e.is_directory(file_ec) && is_image_name(e.path().filename().string());
    });
    if (images.empty()) throw DataError(folder.string() + ": no .png, .jpg or .jpeg images");
    for (const fs::path& image : images) {
      files_.push_back(image);
      labels_.push_back(label);
    }
  }
}

Example ImageFolder::get(int64_t index) const {
  if (index < 0 || index >= size()) {
    throw std::out_of_range("example " + std::to_string(index) + " of " + std::to_string(size()));
  }
  const fs::path& file = files_[static_cast<size_t>(index)];
  const RgbImage image = read_image_rgb(file);
  try {
    return {image_tensor(image, height_, width_), labels_[static_cast<size_t>(index)]};
  } catch (const std::invalid_argument& e) {
    throw DataError(file.string() + ": " + e.what());
  }
}

ImageSplits load_image_folder(const fs::path& dir, int64_t height, int64_t width) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw DataError(dir.string() + ": image folder not found");
  const ImageFolder train(dir / "train", height, width);
  const ImageFolder test(dir / "test", height, width, train.classes());
  const auto all = [](const ImageFolder& folder) {
    std::vector<int64_t> indices(static_cast<size_t>(folder.size()));
    std::iota(indices.begin(), indices.end(), int64_t{0});
    return folder.get_batch(indices);
  };
  return {"folder", train.classes(), all(train), all(test)};
}

}  // namespace nabla::data
