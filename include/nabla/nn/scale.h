/// \file
/// Scale: x times a constant factor, as the `Mul` module of airbench (the output scale of its
/// linear head). Composed from mul, so its gradient is the factor times the upstream one.
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

/// y = factor * x elementwise; no parameters.
template <typename T>
class Scale : public Module<T> {
 public:
  /// The constant factor.
  explicit Scale(T factor) : factor_(factor) {}
  /// factor * x; any shape.
  Variable<T> forward(const Variable<T>& x) override;
  /// The constant factor.
  T factor() const { return factor_; }

 private:
  T factor_;
};

}  // namespace nabla::nn
