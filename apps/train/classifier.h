// Autograd models in the shared training loop: evaluation, and the Trainable that trains a
// Module with an optimizer on fused cross-entropy.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nabla/nn/module.h"
#include "nabla/nn/serialize.h"
#include "nabla/optim/optimizer.h"
#include "train/loop.h"

namespace nabla {

// Mean loss and accuracy over all of `data`, in chunks, in eval mode (restores the mode after).
// Chunks of 500 give the blocked Winograd forward larger GEMMs (docs/results.md: the ConvNet's
// 10,000 test images in 5.8-5.9 s against 6.2 s with 250) for 60 MB more peak memory in
// `nabla train cnn`; chunks of 1000 were 0.1 s faster but 320 MB more, above PyTorch's peak.
Evaluation evaluate(nn::Module<float>& model, const LabeledImages& data, int64_t chunk = 500);

// model and optimizer must outlive the result.
Trainable make_trainable(nn::Module<float>& model, optim::Optimizer<float>& optimizer);

// "adam" (PyTorch's defaults: betas 0.9 and 0.999, eps 1e-8) or "sgd"; momentum is SGD's.
std::unique_ptr<optim::Optimizer<float>> make_optimizer(const std::string& name,
                                                        std::vector<Variable<float>> params,
                                                        double learning_rate, double momentum = 0,
                                                        double weight_decay = 0);

}  // namespace nabla
