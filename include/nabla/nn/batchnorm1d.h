/// \file
/// BatchNorm1d over x (N,C) or (N,C,L), as torch.nn.BatchNorm1d: statistics per channel over N
/// (and L). The same state and kernels as BatchNorm2d (the input is viewed as (N,C,L,1)).
#pragma once

#include "nabla/nn/batchnorm2d.h"

namespace nabla::nn {

/// Batch norm per channel of x (N,C) or (N,C,L), with BatchNorm2d's state and kernels.
template <typename T>
class BatchNorm1d : public BatchNorm2d<T> {
 public:
  /// C = channels; the options and the state are BatchNorm2d's.
  explicit BatchNorm1d(int64_t channels, BatchNormOptions options = {})
      : BatchNorm2d<T>(channels, options) {}
  /// Throws std::invalid_argument unless x is (N, channels) or (N, channels, L).
  Variable<T> forward(const Variable<T>& x) override;
  Variable<T> forward_fused(const Variable<T>& x, std::span<const std::shared_ptr<Module<T>>> next,
                            size_t& consumed) override;
};

}  // namespace nabla::nn
