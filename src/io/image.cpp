#include "nabla/io/image.h"

#include <png.h>

#include <stdexcept>
#include <string>

#include "nabla/data/cifar10.h"

namespace nabla {

RgbImage read_png_rgb(const std::filesystem::path& file) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  const std::string name = file.string();
  if (!png_image_begin_read_from_file(&image, name.c_str())) {
    throw DataError(name + ": not a readable PNG (" + image.message + ")");
  }
  image.format = PNG_FORMAT_RGB;
  RgbImage out;
  out.width = image.width;
  out.height = image.height;
  // Refuse absurd sizes before allocating: a PNG header can claim up to 2^31 x 2^31 pixels.
  constexpr uint64_t kMaxBytes = uint64_t{1} << 29;
  const uint64_t bytes = uint64_t{image.width} * image.height * 3;
  if (bytes > kMaxBytes) {
    png_image_free(&image);
    throw DataError(name + ": PNG of " + std::to_string(out.width) + "x" +
                    std::to_string(out.height) + " is too large to decode");
  }
  out.pixels.resize(bytes);
  if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr)) {
    throw DataError(name + ": corrupt PNG (" + image.message + ")");
  }
  return out;
}

void write_png_rgb(const std::filesystem::path& file, const RgbImage& image) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&png, file.string().c_str(), 0, image.pixels.data(), 0, nullptr)) {
    throw std::runtime_error(file.string() + ": cannot write PNG (" + png.message + ")");
  }
}

}  // namespace nabla
