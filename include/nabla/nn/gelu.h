/// \file
/// GELU, exact (erf), as torch.nn.GELU(): x * Phi(x), Phi the standard normal CDF.
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

template <typename T>
class GELU : public Module<T> {
 public:
  Variable<T> forward(const Variable<T>& x) override;
};

}  // namespace nabla::nn
