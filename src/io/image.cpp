#include "nabla/io/image.h"

#include <png.h>
#include <stb/stb_image.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>

#include "nabla/error.h"

namespace nabla {

namespace {

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(file.string() + ": cannot open image");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Images beyond this many bytes of RGB are refused before decoding: a header can claim up to
// 2^31 x 2^31 pixels.
constexpr uint64_t kMaxImageBytes = uint64_t{1} << 29;

}  // namespace

RgbImage read_png_rgb(const std::filesystem::path& file) {
  return decode_png_rgb(read_all(file), file.string());
}

RgbImage decode_png_rgb(const std::string& bytes, const std::string& name) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    throw DataError(name + ": not a readable PNG (" + image.message + ")");
  }
  image.format = PNG_FORMAT_RGB;
  RgbImage out;
  out.width = image.width;
  out.height = image.height;
  const uint64_t size = uint64_t{image.width} * image.height * 3;
  if (size > kMaxImageBytes) {
    png_image_free(&image);
    throw DataError(name + ": PNG of " + std::to_string(out.width) + "x" +
                    std::to_string(out.height) + " is too large to decode");
  }
  out.pixels.resize(size);
  if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr)) {
    throw DataError(name + ": corrupt PNG (" + image.message + ")");
  }
  return out;
}

RgbImage read_image_rgb(const std::filesystem::path& file) {
  return decode_image_rgb(read_all(file), file.string());
}

RgbImage decode_image_rgb(const std::string& bytes, const std::string& name) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() >= 3 && data[0] == 0x89 && data[1] == 'P' && data[2] == 'N') {
    return decode_png_rgb(bytes, name);
  }
  if (!(bytes.size() >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)) {
    throw DataError(name + ": not a PNG or JPEG image");
  }
  const int len = static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX));
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &channels)) {
    throw DataError(name + ": corrupt JPEG (" + stbi_failure_reason() + ")");
  }
  if (uint64_t{static_cast<uint32_t>(w)} * static_cast<uint32_t>(h) * 3 > kMaxImageBytes) {
    throw DataError(name + ": JPEG of " + std::to_string(w) + "x" + std::to_string(h) +
                    " is too large to decode");
  }
  unsigned char* pixels = stbi_load_from_memory(data, len, &w, &h, &channels, 3);
  if (!pixels) throw DataError(name + ": corrupt JPEG (" + stbi_failure_reason() + ")");
  RgbImage out{w, h, std::vector<uint8_t>(pixels, pixels + static_cast<size_t>(w) * h * 3)};
  stbi_image_free(pixels);
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

Tensor<float> image_tensor(const RgbImage& img, int64_t height, int64_t width) {
  Tensor<float> out({3, height, width});
  const auto h = static_cast<double>(height), w = static_cast<double>(width);
  for (int64_t y = 0; y < height; ++y) {
    const double sy = std::clamp((static_cast<double>(y) + 0.5) * static_cast<double>(img.height) / h - 0.5, 0.0,
                                 static_cast<double>(img.height - 1));
    const auto y0 = static_cast<int64_t>(sy);
    const int64_t y1 = std::min(y0 + 1, img.height - 1);
    const double fy = sy - static_cast<double>(y0);
    for (int64_t x = 0; x < width; ++x) {
      const double sx = std::clamp((static_cast<double>(x) + 0.5) * static_cast<double>(img.width) / w - 0.5, 0.0,
                                   static_cast<double>(img.width - 1));
      const auto x0 = static_cast<int64_t>(sx);
      const int64_t x1 = std::min(x0 + 1, img.width - 1);
      const double fx = sx - static_cast<double>(x0);
      for (int64_t c = 0; c < 3; ++c) {
        const auto px = [&](int64_t yy, int64_t xx) {
          return static_cast<double>(img.pixels[static_cast<size_t>((yy * img.width + xx) * 3 + c)]);
        };
        const double top = px(y0, x0) * (1 - fx) + px(y0, x1) * fx;
        const double bottom = px(y1, x0) * (1 - fx) + px(y1, x1) * fx;
        out[(c * height + y) * width + x] = static_cast<float>(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return out;
}

}  // namespace nabla
