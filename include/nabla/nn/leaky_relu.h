/// \file
/// LeakyReLU: x where x > 0, neg_slope * x elsewhere.
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

/// The leaky ReLU activation, elementwise, as torch.nn.LeakyReLU.
template <typename T>
class LeakyReLU : public Module<T> {
 public:
  /// neg_slope 0.01 by default, as in PyTorch.
  explicit LeakyReLU(T neg_slope = T(0.01)) : neg_slope_(neg_slope) {}
  /// x where x > 0, neg_slope * x elsewhere; any shape.
  Variable<T> forward(const Variable<T>& x) override;
  /// The slope for x <= 0.
  T negative_slope() const { return neg_slope_; }

 private:
  T neg_slope_;
};

}  // namespace nabla::nn
