// Autograd models in the shared training loop: evaluation, and the Trainable that trains a
// Module with an optimizer on fused cross-entropy.
#pragma once

#include <vector>

#include "nabla/nn/module.h"
#include "nabla/optim/optimizer.h"
#include "nabla/train/loop.h"

namespace nabla {

// Mean loss and accuracy over all of `data`, in chunks, in eval mode (restores the mode after).
Evaluation evaluate(nn::Module<float>& model, const LabeledImages& data, int64_t chunk = 500);

// model and optimizer must outlive the result.
Trainable make_trainable(nn::Module<float>& model, optim::Optimizer<float>& optimizer);

// Parameters and buffers, named as in the module, for a model file.
std::vector<NamedTensor> model_tensors(const nn::Module<float>& model);

}  // namespace nabla
