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
  std::string name;
  Tensor<T>* value;
  Tensor<T>* grad;
};

template <typename T>
class MLP {
 public:
  MLP(int64_t n_inputs, const std::vector<int64_t>& hidden, int64_t n_classes, T neg_slope,
      Rng& rng);

  /// x (B, ...) with n_inputs values per example -> class probabilities (B, n_classes).
  Tensor<T> forward(const Tensor<T>& x);
  /// dout = dloss/dprobs (B, n_classes); fills every parameter's gradient. The input gradient is
  /// never computed: the first layer skips it.
  void backward(const Tensor<T>& dout);

  std::vector<ParamRef<T>> parameters();
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
