/// \file
/// Module: the base of every layer and model. It owns named parameters (Variables that require a
/// gradient), named buffers (tensors saved with the model but not trained, e.g. running statistics)
/// and named child modules; names nest with dots ("fc1.weight", "features.bn1.running_mean"), as
/// PyTorch names them, so a state dict means the same in both.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "nabla/autograd.h"

namespace nabla::nn {

/// What a buffer holds. A count (batch norm's num_batches_tracked) is an integer that PyTorch keeps
/// as int64: files store it as I64, and a state dict without it leaves it at 0, as PyTorch loads
/// files written before it had the buffer.
enum class BufferKind { kValue, kCount };

/// One tensor of a state dict. From state_dict(), value shares storage with the module.
template <typename T>
struct StateEntry {
  std::string name;                      ///< dotted, e.g. "features.bn1.running_mean"
  Tensor<T> value;                       ///< the parameter's or buffer's values
  BufferKind kind = BufferKind::kValue;  ///< kCount for num_batches_tracked, else kValue
};

/// A module's whole state in PyTorch's order: each module's parameters, then its buffers, then
/// its children's state, depth first.
template <typename T>
using StateDict = std::vector<StateEntry<T>>;

/// The base of every layer and model: named parameters, buffers and children, as torch.nn.Module.
template <typename T>
class Module {
 public:
  virtual ~Module() = default;
  /// The module's computation on x; each layer documents its shapes.
  virtual Variable<T> forward(const Variable<T>& x) = 0;
  /// forward(x), so that a module is called as in PyTorch.
  Variable<T> operator()(const Variable<T>& x) { return forward(x); }

  /// Sequential calls this instead of forward, with the modules that follow this one. A module
  /// that runs faster together with some of them (Conv2d with a BatchNorm2d and a ReLU at
  /// evaluation, BatchNorm2d with a ReLU) computes them all as one op, with the same result, and
  /// sets `consumed` to how many of `next` it took. The default runs forward alone.
  virtual Variable<T> forward_fused(const Variable<T>& x,
                                    std::span<const std::shared_ptr<Module<T>>> next,
                                    size_t& consumed) {
    (void)next;
    consumed = 0;
    return forward(x);
  }

  /// Every parameter with its dotted name: this module's own first, then each child's in order.
  std::vector<std::pair<std::string, Variable<T>>> named_parameters() const;
  /// The same parameters without their names, e.g. for an optimizer.
  std::vector<Variable<T>> parameters() const;
  /// The direct children with their names, in the order they were added (as PyTorch's
  /// named_children()).
  const std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>>& named_children() const {
    return children_;
  }
  /// Buffers share storage with the module: writing into the tensor writes into the module.
  std::vector<std::pair<std::string, Tensor<T>>> named_buffers() const;

  /// Parameters, buffers and the children's state in PyTorch's order, sharing the module's
  /// storage.
  StateDict<T> state_dict() const;
  /// Copies each entry of `dict` into the parameter or buffer of that name. Throws ConfigError
  /// naming every mis-shaped entry and, when strict, every missing and unexpected one (a missing
  /// count buffer is no error: it becomes 0); nothing is copied unless everything fits.
  void load_state_dict(const StateDict<T>& dict, bool strict = true);

  /// Sets training mode (mode true) or eval mode (false) on this module and every child.
  void train(bool mode = true);
  /// train(false): batch norm normalises by its running statistics, dropout is the identity.
  void eval() { train(false); }
  /// Whether in training mode, the mode a module starts in.
  bool training() const { return training_; }
  /// Drops every parameter's gradient (each becomes empty).
  void zero_grad();

 protected:
  /// Adds a parameter that requires a gradient, under name; returns it (the same node).
  Variable<T> register_parameter(std::string name, Tensor<T> value);
  /// Adds a buffer under name; returns it, sharing storage with the module.
  Tensor<T> register_buffer(std::string name, Tensor<T> value,
                            BufferKind kind = BufferKind::kValue);
  /// Adds a child, whose names get the prefix name and a dot; returns it.
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    check_new_name(name);
    children_.emplace_back(std::move(name), module);
    return module;
  }

 private:
  /// Throws ConfigError when `name` is empty, holds a dot, or names a parameter, buffer or child
  /// already.
  void check_new_name(const std::string& name) const;

  std::vector<std::pair<std::string, Variable<T>>> params_;
  std::vector<StateEntry<T>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>> children_;
  bool training_ = true;
};

extern template class Module<float>;
extern template class Module<double>;

}  // namespace nabla::nn
