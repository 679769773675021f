/// \file
/// BatchNorm2d over x (N,C,H,W), as torch.nn.BatchNorm2d: training mode normalises by the batch's
/// per-channel mean and biased variance and updates running_mean and running_var (unbiased) with
/// the momentum; eval mode normalises by the running statistics. State: weight, bias (with
/// affine), running_mean (0), running_var (1), num_batches_tracked (a count of training batches).
#pragma once

#include <memory>
#include <span>

#include "nabla/conv.h"
#include "nabla/nn/batchnorm_options.h"
#include "nabla/nn/module.h"
#include "nabla/ops.h"

namespace nabla::nn {

/// Batch norm per channel of x (N,C,H,W), with running statistics, as torch.nn.BatchNorm2d.
template <typename T>
class BatchNorm2d : public Module<T> {
 public:
  /// C = channels: weight 1, bias 0, running_mean 0 and running_var 1, each (C), and a count of 0.
  /// Throws ConfigError unless C >= 1, eps > 0 and momentum is in [0, 1].
  explicit BatchNorm2d(int64_t channels, BatchNormOptions options = {});
  /// Throws std::invalid_argument unless x is (N, channels, H, W), with more than one value per
  /// channel in training mode.
  Variable<T> forward(const Variable<T>& x) override;
  /// Followed by a ReLU: both as one op (batch_norm2d with relu), one pass over memory each way.
  Variable<T> forward_fused(const Variable<T>& x, std::span<const std::shared_ptr<Module<T>>> next,
                            size_t& consumed) override;
  /// Synchronised batch norm (torch.nn.SyncBatchNorm): in training, the statistics of the batches
  /// of all replicas, added up by `sum` (batch_norm2d's replica_sum); empty: this batch's alone.
  /// dist::convert_sync_batchnorm sets it on every batch norm of a model.
  void set_replica_sum(ReplicaSum sum) { replica_sum_ = std::move(sum); }
  /// gamma, beta and the running statistics, as eval mode uses them.
  BatchNormStats<T> stats() const {
    return {gamma_.value(), beta_.value(), running_mean_, running_var_,
            static_cast<T>(options_.eps)};
  }

 protected:
  /// Batch norm of x4 (N,C,H,W), with the ReLU after it when relu; counts the batch in training.
  Variable<T> normalize(const Variable<T>& x4, bool relu);

 private:
  BatchNormOptions options_;
  Variable<T> gamma_, beta_;
  Tensor<T> running_mean_, running_var_, num_batches_tracked_;
  ReplicaSum replica_sum_;
};

}  // namespace nabla::nn
