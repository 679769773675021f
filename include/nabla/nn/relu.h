/// \file
/// ReLU: max(x, 0) elementwise.
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

template <typename T>
class ReLU : public Module<T> {
 public:
  Variable<T> forward(const Variable<T>& x) override;
};

}  // namespace nabla::nn
