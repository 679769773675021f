// Writes the seed corpus in fuzz/corpus/ (run from fuzz/): one small valid input per target.
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "nabla/io/image.h"
#include "nabla/io/safetensors.h"
using namespace nabla;
int main() {
  std::vector<uint8_t> rec(3073 * 2);
  for (size_t i = 0; i < rec.size(); ++i) rec[i] = static_cast<uint8_t>(i * 7);
  rec[0] = 3;
  rec[3073] = 9;
  std::ofstream("corpus/cifar/two_records.bin", std::ios::binary)
      .write((char*)rec.data(), rec.size());
  RgbImage img{8, 6, std::vector<uint8_t>(8 * 6 * 3)};
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 13);
  write_png_rgb("corpus/image/small.png", img);
  stbi_write_jpg("corpus/image/small.jpg", 8, 6, 3, img.pixels.data(), 90);
  RgbImage sheet{1024, 2, std::vector<uint8_t>(1024 * 2 * 3)};
  for (size_t i = 0; i < sheet.pixels.size(); ++i) sheet.pixels[i] = static_cast<uint8_t>(i);
  write_png_rgb("corpus/sheet.tmp.png", sheet);
  std::string png;
  {
    std::ifstream in("corpus/sheet.tmp.png", std::ios::binary);
    png.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::remove("corpus/sheet.tmp.png");
  std::ofstream("corpus/png_sheets/two_images", std::ios::binary) << "[3,7]" << '\0' << png;
  // The PyTorch-written seeds (torch_*.safetensors) come from tests/fixtures/make_fixtures.py.
  save_safetensors("corpus/safetensors/small.safetensors",
                   {{"fc1.weight", Tensor<float>({2, 3}, {1, 2, 3, 4, 5, 6})},
                    {"fc1.bias", Tensor<float>({2}, {0.5f, -1})}},
                   {{"model", "mlp"}});
  // CIFAR-100: two records (coarse label, fine label, R, G, B planes).
  std::vector<uint8_t> rec100(3074 * 2);
  for (size_t i = 0; i < rec100.size(); ++i) rec100[i] = static_cast<uint8_t>(i * 7);
  rec100[0] = 4, rec100[1] = 30, rec100[3074] = 19, rec100[3075] = 99;
  std::ofstream("corpus/cifar100/two_records.bin", std::ios::binary)
      .write((char*)rec100.data(), rec100.size());
  // IDX: three labels; two images of 3x4, plain and gzip (zlib writes no time stamp: gzopen).
  const std::vector<uint8_t> labels{0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9};
  std::ofstream("corpus/idx/labels", std::ios::binary).write((char*)labels.data(), labels.size());
  std::vector<uint8_t> images{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
  for (int i = 0; i < 24; ++i) images.push_back(static_cast<uint8_t>(i * 11));
  std::ofstream("corpus/idx/images", std::ios::binary).write((char*)images.data(), images.size());
  gzFile gz = gzopen("corpus/idx/images.gz", "wb");
  gzwrite(gz, images.data(), static_cast<unsigned>(images.size()));
  gzclose(gz);
}
