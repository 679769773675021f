/// \file
/// ReLU: max(x, 0) elementwise.
#pragma once

#include <typeinfo>

#include "nabla/nn/module.h"

namespace nabla::nn {

/// The ReLU activation, elementwise.
template <typename T>
class ReLU : public Module<T> {
 public:
  /// max(x, 0); any shape.
  Variable<T> forward(const Variable<T>& x) override;
};

/// Whether `module` is exactly a ReLU (not a subclass, whose forward may differ): layers that
/// fuse a ReLU after them into their own op ask this.
template <typename T>
bool is_relu(const Module<T>& module) {
  return typeid(module) == typeid(ReLU<T>);
}

}  // namespace nabla::nn
