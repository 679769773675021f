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
#include "train/replicas.h"

namespace nabla {

// Mean loss and accuracy over all of `data`, in chunks, in eval mode (restores the mode after).
// Chunks of 500 trade the blocked Winograd forward's larger GEMMs against peak memory (the
// measurements are in docs/results.md, session 4).
Evaluation evaluate(nn::Module<float>& model, const LabeledImages& data, int64_t chunk = 500);

// Throws NumericalError naming the first parameter (of model.named_parameters()) whose gradient
// is not finite at `step`; parameters without a gradient are skipped.
void check_gradients(const std::vector<std::pair<std::string, Variable<float>>>& named,
                     int64_t step);

// model and optimizer must outlive the result. `replica` (Replicas::replicate) runs between the
// backward pass and the update, and its figures join the final ones.
Trainable make_trainable(nn::Module<float>& model, optim::Optimizer<float>& optimizer,
                         const ReplicaStep& replica = {});

// "adam" (PyTorch's defaults: betas 0.9 and 0.999, eps 1e-8) or "sgd"; momentum is SGD's.
std::unique_ptr<optim::Optimizer<float>> make_optimizer(const std::string& name,
                                                        std::vector<Variable<float>> params,
                                                        double learning_rate, double momentum = 0,
                                                        double weight_decay = 0);

}  // namespace nabla
