/// \file
/// Batch normalization of (B, C) inputs with batch statistics only (no running averages), written
/// three ways as in the report's Section 3. All compute
///   y = gamma * (x - mean) / sqrt(var + eps) + beta,   mean and biased var over the batch.
/// (a) CustomBatchNormAutograd: composed from autograd ops; autograd derives the backward pass.
/// (b) CustomBatchNormManualFunction: a custom function with the hand-written backward
///       dgamma = sum_s dy_s * xhat_s,  dbeta = sum_s dy_s,
///       dx_i = (B dxhat_i - sum_s dxhat_s - xhat_i sum_s dxhat_s xhat_s) / (B sqrt(var + eps)),
///     with dxhat = dy * gamma; it computes only the gradients that are needed.
/// (c) CustomBatchNormManualModule: a module holding gamma and beta that calls (b).
#pragma once

#include "nabla/function.h"
#include "nabla/nn/module.h"

namespace nabla::nn {

/// Throws std::invalid_argument unless x is (B, n_neurons) with B >= 1.
void check_batchnorm_input(const Shape& x, int64_t n_neurons, const char* who);

/// What both batch-norm modules hold: gamma ("weight", 1) and beta ("bias", 0) of n_neurons, eps.
template <typename T>
class BatchNormParameters : public Module<T> {
 public:
  BatchNormParameters(int64_t n_neurons, T eps);
  Variable<T>& gamma() { return gamma_; }
  Variable<T>& beta() { return beta_; }

 protected:
  int64_t n_neurons_;
  T eps_;
  Variable<T> gamma_, beta_;
};

template <typename T>
class CustomBatchNormAutograd : public BatchNormParameters<T> {
 public:
  explicit CustomBatchNormAutograd(int64_t n_neurons, T eps = T(1e-5))
      : BatchNormParameters<T>(n_neurons, eps) {}
  Variable<T> forward(const Variable<T>& x) override;
};

/// inputs: x (B, C), gamma (C), beta (C); saves xhat, 1/sqrt(var + eps) and gamma.
template <typename T>
struct CustomBatchNormManualFunction {
  using Scalar = T;
  static Tensor<T> forward(FunctionContext<T>& ctx, const std::vector<Tensor<T>>& inputs, T eps);
  static std::vector<Tensor<T>> backward(FunctionContext<T>& ctx, const Tensor<T>& grad_output);
};

template <typename T>
class CustomBatchNormManualModule : public BatchNormParameters<T> {
 public:
  explicit CustomBatchNormManualModule(int64_t n_neurons, T eps = T(1e-5))
      : BatchNormParameters<T>(n_neurons, eps) {}
  Variable<T> forward(const Variable<T>& x) override;
};

}  // namespace nabla::nn
