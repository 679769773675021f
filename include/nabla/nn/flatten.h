/// \file
/// Flatten: (N, ...) -> (N, rest), as torch.nn.Flatten().
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

/// Flattens every dimension after the first into one.
template <typename T>
class Flatten : public Module<T> {
 public:
  /// x (N, ...) -> (N, rest).
  Variable<T> forward(const Variable<T>& x) override;
};

}  // namespace nabla::nn
