/// \file
/// MLP(n_inputs, hidden, n_classes, neg_slope): Linear + LeakyReLU for each hidden layer, then a
/// Linear and a SoftMax, with a hand-written backward through every module; and plain SGD.
#pragma once

#include <string>
#include <vector>

#include "nabla/manual/modules.h"

namespace nabla::manual {

/// A parameter with its gradient and the name it has in model files (fc1.weight, fc1.bias, ...).
template <typename T>
struct ParamRef {
  std::string name;  ///< e.g. "fc1.weight"
  Tensor<T>* value;  ///< the parameter, inside the model
  Tensor<T>* grad;   ///< its gradient, filled by backward
};

/// The report's Section 1 MLP: fcK (Linear) and a LeakyReLU for each hidden layer, then a Linear
/// and a SoftMax, each with a hand-written backward.
template <typename T>
class MLP {
 public:
  /// Layers of widths n_inputs, hidden..., n_classes, with weights drawn from rng. Throws
  /// std::invalid_argument for a hidden size <= 0.
  MLP(int64_t n_inputs, const std::vector<int64_t>& hidden, int64_t n_classes, T neg_slope,
      Rng& rng);

  /// x (B, ...) with n_inputs values per example -> class probabilities (B, n_classes).
  Tensor<T> forward(const Tensor<T>& x);
  /// dout = dloss/dprobs (B, n_classes); fills every parameter's gradient. The input gradient is
  /// never computed: the first layer skips it.
  void backward(const Tensor<T>& dout);

  /// Each Linear's weight and bias with their gradients: fc1.weight, fc1.bias, fc2.weight, ...
  std::vector<ParamRef<T>> parameters();
  /// The values per example that forward expects.
  int64_t n_inputs() const { return n_inputs_; }

 private:
  int64_t n_inputs_;
  std::vector<Linear<T>> linears_;
  std::vector<LeakyReLU<T>> activations_;
  SoftMax<T> softmax_;
};

/// p -= learning_rate * dp for every parameter.
template <typename T>
void sgd_step(std::vector<ParamRef<T>> params, T learning_rate);

}  // namespace nabla::manual
