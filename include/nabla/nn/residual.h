/// \file
/// Residual: y = shortcut(x) + body(x), the shortcut the identity unless given (for example a 1x1
/// Conv2d when body changes the channels or the size). Children are named "body" and "shortcut".
#pragma once

#include <memory>

#include "nabla/nn/module.h"

namespace nabla::nn {

/// y = shortcut(x) + body(x), the shortcut the identity when not given.
template <typename T>
class Residual : public Module<T> {
 public:
  /// Throws ConfigError when body is null.
  explicit Residual(std::shared_ptr<Module<T>> body, std::shared_ptr<Module<T>> shortcut = nullptr);
  /// Throws std::invalid_argument when body(x) and shortcut(x) differ in shape.
  Variable<T> forward(const Variable<T>& x) override;
  /// The residual branch.
  Module<T>& body() const { return *body_; }
  /// The shortcut, or null for the identity.
  Module<T>* shortcut() const { return shortcut_.get(); }

 private:
  std::shared_ptr<Module<T>> body_, shortcut_;
};

}  // namespace nabla::nn
