/// \file
/// Flatten: (N, ...) -> (N, rest), as torch.nn.Flatten().
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

template <typename T>
class Flatten : public Module<T> {
 public:
  Variable<T> forward(const Variable<T>& x) override;
};

}  // namespace nabla::nn
