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

namespace {

// Bilinear sampling at pixel centres along one axis: output i of `out` reads input positions i0
// and i1 of `in`, weighted (1 - f) and f.
struct Sample {
  int64_t i0, i1;
  double f;
};
Sample sample_at(int64_t i, int64_t out, int64_t in) {
  const double s = std::clamp((static_cast<double>(i) + 0.5) * static_cast<double>(in) /
                                      static_cast<double>(out) - 0.5,
                              0.0, static_cast<double>(in - 1));
  const auto i0 = static_cast<int64_t>(s);
  return {i0, std::min(i0 + 1, in - 1), s - static_cast<double>(i0)};
}

}  // namespace

Tensor<float> image_tensor(const RgbImage& img, int64_t height, int64_t width) {
  if (img.width < 1 || img.height < 1 ||
      img.pixels.size() != static_cast<size_t>(img.width * img.height * 3) || height < 1 ||
      width < 1) {
    throw std::invalid_argument("image_tensor: an image of " + std::to_string(img.width) + "x" +
                                std::to_string(img.height) + " with " +
                                std::to_string(img.pixels.size()) + " bytes cannot become " +
                                std::to_string(height) + "x" + std::to_string(width));
  }
  Tensor<float> out({3, height, width});
  for (int64_t y = 0; y < height; ++y) {
    const Sample sy = sample_at(y, height, img.height);
    for (int64_t x = 0; x < width; ++x) {
      const Sample sx = sample_at(x, width, img.width);
      for (int64_t c = 0; c < 3; ++c) {
        const auto px = [&](int64_t yy, int64_t xx) {
          return static_cast<double>(img.pixels[static_cast<size_t>((yy * img.width + xx) * 3 + c)]);
        };
        const double top = px(sy.i0, sx.i0) * (1 - sx.f) + px(sy.i0, sx.i1) * sx.f;
        const double bottom = px(sy.i1, sx.i0) * (1 - sx.f) + px(sy.i1, sx.i1) * sx.f;
        out[(c * height + y) * width + x] = static_cast<float>(top * (1 - sy.f) + bottom * sy.f);
      }
    }
  }
  return out;
}

}  // namespace nabla
