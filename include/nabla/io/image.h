/// \file
/// 8-bit RGB images: PNG through libpng's simplified API (no setjmp, errors come back as text),
/// JPEG through stb_image.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "nabla/tensor.h"

namespace nabla {

/// An 8-bit RGB image in memory.
struct RgbImage {
  int64_t width = 0;            ///< pixels per row
  int64_t height = 0;           ///< rows
  std::vector<uint8_t> pixels;  ///< height rows of width pixels, R,G,B interleaved
};

/// Reads any PNG and converts it to 8-bit RGB. Throws DataError naming the file.
RgbImage read_png_rgb(const std::filesystem::path& file);
/// The same from a PNG's bytes in memory; `name` is used in error messages. Throws DataError.
RgbImage decode_png_rgb(const std::string& bytes, const std::string& name);
/// Reads a PNG (libpng) or JPEG (stb_image), chosen by the file's first bytes, as 8-bit RGB.
/// Throws DataError naming the file.
RgbImage read_image_rgb(const std::filesystem::path& file);
/// The same from the file's bytes in memory; `name` is used in error messages. Throws DataError.
RgbImage decode_image_rgb(const std::string& bytes, const std::string& name);
/// The image as a (3, height, width) float tensor of raw pixel values 0-255, resized by bilinear
/// sampling at pixel centres when its size differs (exact when it is the same). Throws
/// std::invalid_argument for an empty image, pixels that do not fill it, or a size below 1.
Tensor<float> image_tensor(const RgbImage& image, int64_t height, int64_t width);
/// Writes an 8-bit RGB PNG. Throws std::runtime_error naming the file.
void write_png_rgb(const std::filesystem::path& file, const RgbImage& image);

}  // namespace nabla
