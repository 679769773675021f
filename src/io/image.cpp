#include "nabla/io/image.h"

#include <png.h>
#include <stb/stb_image.h>

#include <fstream>

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

RgbImage read_image_rgb(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(name + ": cannot open image");
  unsigned char magic[3] = {0, 0, 0};
  in.read(reinterpret_cast<char*>(magic), 3);
  if (magic[0] == 0x89 && magic[1] == 'P' && magic[2] == 'N') return read_png_rgb(file);
  if (!(magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)) {
    throw DataError(name + ": not a PNG or JPEG image");
  }
  int w = 0, h = 0, channels = 0;
  if (!stbi_info(name.c_str(), &w, &h, &channels)) {
    throw DataError(name + ": corrupt JPEG (" + stbi_failure_reason() + ")");
  }
  if (static_cast<uint64_t>(w) * static_cast<uint64_t>(h) > (uint64_t{1} << 26)) {
    throw DataError(name + ": JPEG of " + std::to_string(w) + "x" + std::to_string(h) +
                    " is too large to decode");
  }
  unsigned char* data = stbi_load(name.c_str(), &w, &h, &channels, 3);
  if (!data) throw DataError(name + ": corrupt JPEG (" + stbi_failure_reason() + ")");
  RgbImage out{w, h, std::vector<uint8_t>(data, data + static_cast<size_t>(w) * h * 3)};
  stbi_image_free(data);
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
