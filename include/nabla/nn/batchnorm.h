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
#include "nabla/ops.h"

namespace nabla::nn {

/// Throws std::invalid_argument unless x is (B, n_neurons) with B >= 1.
void check_batchnorm_input(const Shape& x, int64_t n_neurons, const char* who);

/// What both batch-norm modules hold: gamma ("weight", 1) and beta ("bias", 0) of n_neurons, eps.
template <typename T>
class BatchNormParameters : public Module<T> {
 public:
  /// gamma 1 and beta 0, each (n_neurons), registered as "weight" and "bias".
  BatchNormParameters(int64_t n_neurons, T eps);
  /// The scale (n_neurons), the parameter itself.
  Variable<T>& gamma() { return gamma_; }
  /// The shift (n_neurons), the parameter itself.
  Variable<T>& beta() { return beta_; }
  /// Added to the variance before the square root.
  T eps() const { return eps_; }
  /// Synchronised batch norm: in training mode, the statistics (and the backward pass's sums) of
  /// the batches of all replicas, added up by `sum`; empty, or in eval mode: this batch's alone.
  /// See dist::convert_sync_batchnorm.
  void set_replica_sum(ReplicaSum sum) { replica_sum_ = std::move(sum); }

 protected:
  int64_t n_neurons_;  ///< C, the features per example
  T eps_;              ///< added to the variance before the square root
  Variable<T> gamma_, beta_;
  ReplicaSum replica_sum_;  ///< empty unless synchronised
  /// \var gamma_
  /// The scale, "weight" in the state dict.
  /// \var beta_
  /// The shift, "bias" in the state dict.
};

/// (a): batch norm composed from autograd ops; autograd derives the backward pass.
template <typename T>
class CustomBatchNormAutograd : public BatchNormParameters<T> {
 public:
  /// n_neurons features; eps is added to the variance.
  explicit CustomBatchNormAutograd(int64_t n_neurons, T eps = T(1e-5))
      : BatchNormParameters<T>(n_neurons, eps) {}
  /// x (B, n_neurons) -> (B, n_neurons); throws std::invalid_argument for another shape.
  Variable<T> forward(const Variable<T>& x) override;
};

/// inputs: x (B, C), gamma (C), beta (C); saves xhat, 1/sqrt(var + eps) and gamma. With a
/// ReplicaSum, the statistics are those of all replicas' batches together (the sums over each
/// batch are added up; B becomes the total batch) and so are the backward pass's two sums.
template <typename T>
struct CustomBatchNormManualFunction {
  /// The element type, as apply() requires.
  using Scalar = T;
  /// y (B, C) from batch statistics; throws std::invalid_argument unless inputs are x (B, C),
  /// gamma (C) and beta (C).
  static Tensor<T> forward(FunctionContext<T>& ctx, const std::vector<Tensor<T>>& inputs, T eps,
                           const ReplicaSum& sum = {});
  /// dy (B, C) -> {dx, dgamma, dbeta}; each is empty when its input needs no gradient.
  static std::vector<Tensor<T>> backward(FunctionContext<T>& ctx, const Tensor<T>& grad_output);
};

/// (c): a module holding gamma and beta whose forward applies CustomBatchNormManualFunction.
template <typename T>
class CustomBatchNormManualModule : public BatchNormParameters<T> {
 public:
  /// n_neurons features; eps is added to the variance.
  explicit CustomBatchNormManualModule(int64_t n_neurons, T eps = T(1e-5))
      : BatchNormParameters<T>(n_neurons, eps) {}
  /// x (B, n_neurons) -> (B, n_neurons); throws std::invalid_argument for another shape.
  Variable<T> forward(const Variable<T>& x) override;
};

}  // namespace nabla::nn
