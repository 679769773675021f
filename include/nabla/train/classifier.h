// Autograd models in the shared training loop: evaluation, and the Trainable that trains a
// Module with an optimizer on fused cross-entropy.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nabla/nn/module.h"
#include "nabla/optim/optimizer.h"
#include "nabla/train/loop.h"

namespace nabla {

// Mean loss and accuracy over all of `data`, in chunks, in eval mode (restores the mode after).
// Chunks of 1000 give the blocked Winograd forward enough tiles (docs/results.md: 5.8 s against
// 6.2 s with 250 for the ConvNet's 10,000 test images; 2000 no faster, 600 MB more).
Evaluation evaluate(nn::Module<float>& model, const LabeledImages& data, int64_t chunk = 1000);

// model and optimizer must outlive the result.
Trainable make_trainable(nn::Module<float>& model, optim::Optimizer<float>& optimizer);

// "adam" (PyTorch's defaults: betas 0.9 and 0.999, eps 1e-8) or "sgd"; momentum is SGD's.
std::unique_ptr<optim::Optimizer<float>> make_optimizer(const std::string& name,
                                                        std::vector<Variable<float>> params,
                                                        double learning_rate, double momentum = 0,
                                                        double weight_decay = 0);

// Parameters and buffers, named as in the module, for a model file.
std::vector<NamedTensor> model_tensors(const nn::Module<float>& model);

}  // namespace nabla
