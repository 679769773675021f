/// \file
/// ReLU: max(x, 0) elementwise.
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

/// The ReLU activation, elementwise.
template <typename T>
class ReLU : public Module<T> {
 public:
  /// max(x, 0); any shape.
  Variable<T> forward(const Variable<T>& x) override;
};

}  // namespace nabla::nn
