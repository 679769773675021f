/// \file
/// Sequential: runs its children in the order they were added. Each child may fuse with the ones
/// after it (Module::forward_fused): a Conv2d, BatchNorm2d and ReLU in a row run as the fused
/// kernels, in any model built this way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nabla/nn/module.h"

namespace nabla::nn {

/// Runs its children in the order they were added, each fused with the ones after it where it can.
template <typename T>
class Sequential : public Module<T> {
 public:
  /// Adds `module` under `name` (its state-dict prefix); returns it.
  template <typename M>
  std::shared_ptr<M> add(std::string name, std::shared_ptr<M> module) {
    layers_.push_back(module);
    return this->register_module(std::move(name), std::move(module));
  }
  /// The same, named by its position ("0", "1", ...) as torch.nn.Sequential names its children.
  template <typename M>
  std::shared_ptr<M> add(std::shared_ptr<M> module) {
    return add(std::to_string(layers_.size()), std::move(module));
  }
  /// The children applied in order, through Module::forward_fused.
  Variable<T> forward(const Variable<T>& x) override;
  /// The number of children.
  size_t size() const { return layers_.size(); }

 protected:
  /// The children, in order.
  const std::vector<std::shared_ptr<Module<T>>>& layers() const { return layers_; }

 private:
  std::vector<std::shared_ptr<Module<T>>> layers_;
};

}  // namespace nabla::nn
