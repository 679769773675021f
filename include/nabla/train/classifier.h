// The training loop shared by every autograd model: batches from a DataSet, forward, fused
// cross-entropy, backward, optimizer step; evaluation on the whole test set every eval_freq steps
// and at the end, in eval mode without recording.
#pragma once

#include <vector>

#include "nabla/data/cifar10.h"
#include "nabla/io/safetensors.h"
#include "nabla/nn/module.h"
#include "nabla/optim/optimizer.h"
#include "nabla/train/run.h"

namespace nabla {

struct Evaluation {
  double loss = 0, accuracy = 0;
};

// Fraction of rows of scores (B, C) whose largest entry is at the label.
double accuracy(const Tensor<float>& scores, const std::vector<int32_t>& labels);

// Mean loss and accuracy over all of `data`, in chunks, in eval mode (restores the mode after).
Evaluation evaluate(nn::Module<float>& model, const LabeledImages& data, int64_t chunk = 500);

struct LoopConfig {
  int64_t max_steps = 0, batch_size = 0, eval_freq = 0;
  uint64_t seed = 0;  // of the data order
};

void train_classifier(nn::Module<float>& model, optim::Optimizer<float>& optimizer,
                      const Cifar10& data, const LoopConfig& loop, RunWriter& run);

// Parameters and buffers, named as in the module, for a model file.
std::vector<NamedTensor> model_tensors(const nn::Module<float>& model);

}  // namespace nabla
