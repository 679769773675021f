// Model files as a whole: rebuilding the model a safetensors file describes (its __metadata__
// records the architecture), evaluating it, and classifying images with it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "nabla/io/safetensors.h"
#include "nabla/nn/module.h"
#include "train/classifier.h"
#include "train/data.h"

namespace nabla {

// A model file's model and what it was trained on. Files without the data set's metadata are the
// course's: CIFAR-10, (3, 32, 32), centred by the mean image.
struct LoadedModel {
  std::string kind;  // "cnn", "mlp" or "mlp-manual"
  std::unique_ptr<nn::Module<float>> model;
  std::string dataset = "cifar10";
  std::vector<std::string> classes;  // by label
  Shape input_shape{3, 32, 32};      // (C, H, W)
  Preprocessing preprocessing;       // applied to raw images before the model
};

// Throws DataError naming the file and what is wrong (unknown architecture, missing or mis-shaped
// tensors, bad metadata).
LoadedModel load_model(const std::filesystem::path& file);

// The loss and accuracy on raw images (N, C, H, W) of the model's data set, after its
// preprocessing, computed exactly as training computes them.
Evaluation evaluate_model(LoadedModel& loaded, LabeledImages raw);

// The raw test set of the data set the model was trained on, from `data_dir` (empty: the data
// set's default folder); a folder data set is labelled by the model's classes.
LabeledImages load_model_test_set(const LoadedModel& loaded, const std::string& data_dir);

struct Prediction {
  int32_t label;
  double probability;
};

// An image file (PNG or JPEG) as a float tensor (C, H, W) of raw pixel values for the model:
// resized (bilinear) to its H x W, grey (ITU-R 601 luma) when C is 1. Throws DataError naming the
// file.
Tensor<float> read_image_for(const LoadedModel& loaded, const std::filesystem::path& file);

// The model as an ONNX file (nabla::onnx::export_model): input (batch, C, H, W) of raw pixel
// values named "input", the preprocessing as its first nodes, logits out as "logits", the class
// names and the data set in the metadata.
void export_onnx(LoadedModel& loaded, const std::filesystem::path& file);

// The k most probable classes for one raw image (C, H, W); the preprocessing is applied here.
std::vector<Prediction> predict(LoadedModel& loaded, const Tensor<float>& image, int k = 3);

}  // namespace nabla
