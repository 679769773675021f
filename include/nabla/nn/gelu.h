/// \file
/// GELU, exact (erf), as torch.nn.GELU(): x * Phi(x), Phi the standard normal CDF.
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

/// The exact GELU activation, elementwise.
template <typename T>
class GELU : public Module<T> {
 public:
  /// x * Phi(x) elementwise; any shape.
  Variable<T> forward(const Variable<T>& x) override;
};

}  // namespace nabla::nn
