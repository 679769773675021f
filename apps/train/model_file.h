// Model files as a whole: rebuilding the model a safetensors file describes (its __metadata__
// records the architecture), evaluating it, and classifying images with it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "nabla/data/cifar10.h"
#include "nabla/io/safetensors.h"
#include "nabla/nn/module.h"
#include "train/classifier.h"

namespace nabla {

struct LoadedModel {
  std::string kind;  // "cnn", "mlp" or "mlp-manual"
  std::unique_ptr<nn::Module<float>> model;
  Tensor<float> mean_image;  // (3, 32, 32), subtracted from inputs
};

// Throws DataError naming the file and what is wrong (unknown architecture, missing or mis-shaped
// tensors).
LoadedModel load_model(const std::filesystem::path& file);

// The test-set loss and accuracy, computed exactly as training computes them.
Evaluation evaluate_model(LoadedModel& loaded, const Cifar10& data);

struct Prediction {
  int32_t label;
  double probability;
};

// An image file (PNG or JPEG) as a (3, 32, 32) float tensor of raw pixel values, resized
// (bilinear) when it is not 32x32. Throws DataError naming the file.
Tensor<float> read_image_32(const std::filesystem::path& file);

// The k most probable classes for one raw image (3, 32, 32); the mean image is subtracted here.
std::vector<Prediction> predict(LoadedModel& loaded, const Tensor<float>& image, int k = 3);

}  // namespace nabla
