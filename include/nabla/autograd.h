/// \file
/// The tape-based autograd engine. A Variable is a handle to a Node: a value, its gradient, and,
/// when it was computed by an op while gradients were recorded, the inputs it came from and the
/// closure that sends its gradient back to them. backward() walks the graph in reverse topological
/// order with an explicit stack, accumulates into .grad, and then frees the graph (the closures and
/// the links to inputs), so that only the leaves keep their gradients.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nabla/tensor.h"

namespace nabla {

/// One vertex of the graph: a value, its gradient and, for the result of a recorded op, the
/// inputs and the closure that sends the gradient back to them.
template <typename T>
struct Node {
  /// A leaf's data or an op's result.
  Tensor<T> value;
  Tensor<T> grad;  ///< empty until a gradient arrives
  /// Whether gradients flow into this node.
  bool requires_grad = false;
  /// The op that computed value ("leaf" for an input), for error messages and profiling.
  const char* op = "leaf";
  /// Set only on results of recorded ops; cleared by backward().
  std::vector<std::shared_ptr<Node<T>>> inputs;
  /// Receives this node's gradient; adds each input's share with Node::accumulate.
  std::function<void(const Tensor<T>& grad)> backward;
  /// Called, in the order added, when a backward pass has finished this node's gradient: after
  /// every op that uses the node has sent its share, before the node sends it on. For a parameter
  /// that is "its gradient for this pass is complete", where a data-parallel reducer starts
  /// sending it while the rest of the backward pass runs. Each has the handle that removes it.
  std::vector<std::pair<int64_t, std::function<void()>>> grad_ready_hooks;
  int64_t next_hook = 0;  ///< the handle the next hook gets

  /// grad += g (allocating on first use); g must have value's shape.
  void accumulate(const Tensor<T>& g);
  /// The same for a gradient whose storage nothing else shares (a fresh result): on first use it
  /// becomes grad without a copy.
  void accumulate_owned(Tensor<T>&& g);
};

/// A handle to a Node: copies share the value, the gradient and the place in the graph.
template <typename T>
class Variable {
 public:
  Variable() = default;
  /// A leaf holding value; with requires_grad, backward() accumulates its gradient in grad().
  explicit Variable(Tensor<T> value, bool requires_grad = false);

  /// The value this variable holds.
  const Tensor<T>& value() const { return node_->value; }
  /// Writable, for optimizers and initialisation; never write into a value that a recorded graph
  /// still needs for its backward pass.
  Tensor<T>& value() { return node_->value; }
  /// The accumulated gradient, of value's shape; empty until backward() reaches this variable.
  const Tensor<T>& grad() const { return node_->grad; }
  /// The same, writable.
  Tensor<T>& grad() { return node_->grad; }
  /// Whether gradients flow into this variable (false for an undefined one).
  bool requires_grad() const { return node_ && node_->requires_grad; }
  /// The value's shape.
  const Shape& shape() const { return node_->value.shape(); }
  /// Size of the value's dimension d; negative d counts from the end.
  int64_t dim(int64_t d) const { return node_->value.dim(d); }
  /// The value's number of elements.
  int64_t numel() const { return node_->value.numel(); }
  /// Whether this handle holds a node (false when default-constructed, as an absent bias).
  bool defined() const { return node_ != nullptr; }
  /// The single value of a one-element variable.
  T item() const;

  /// Backpropagates from this scalar (its gradient is 1).
  void backward();
  /// Backpropagates from this variable with the given upstream gradient (same shape).
  void backward(const Tensor<T>& grad_output);
  /// Adds a hook that backward() calls once it has finished this variable's gradient (see
  /// Node::grad_ready_hooks; PyTorch's register_post_accumulate_grad_hook). Returns its handle.
  int64_t add_grad_ready_hook(std::function<void()> hook);
  /// Removes the hook with that handle; nothing for a handle it does not hold.
  void remove_grad_ready_hook(int64_t handle);
  /// Drops the gradient (grad() becomes empty), so that the next backward starts from zero.
  void zero_grad() { node_->grad = Tensor<T>(); }
  /// The same value, cut from the graph.
  Variable detach() const { return Variable(node_->value, false); }

  /// The graph node, shared with the results of ops that recorded this variable.
  const std::shared_ptr<Node<T>>& node() const { return node_; }
  /// Wraps an op's result; records `backward` only when some input requires a gradient and
  /// gradients are being recorded.
  static Variable make_result(Tensor<T> value, const char* op,
                              std::vector<std::shared_ptr<Node<T>>> inputs,
                              std::function<void(const Tensor<T>&)> backward);

 private:
  std::shared_ptr<Node<T>> node_;
};

/// Whether ops record the graph on this thread (true unless a NoGradGuard is alive).
bool grad_enabled();

/// Turns recording off for its lifetime on this thread (evaluation, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

extern template class Variable<float>;
extern template class Variable<double>;
extern template struct Node<float>;
extern template struct Node<double>;

}  // namespace nabla
