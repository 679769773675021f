/// \file
/// LeakyReLU: x where x > 0, neg_slope * x elsewhere.
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

template <typename T>
class LeakyReLU : public Module<T> {
 public:
  explicit LeakyReLU(T neg_slope = T(0.01)) : neg_slope_(neg_slope) {}
  Variable<T> forward(const Variable<T>& x) override;

 private:
  T neg_slope_;
};

}  // namespace nabla::nn
