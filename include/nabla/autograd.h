/// \file
/// The tape-based autograd engine. A Variable is a handle to a Node: a value, its gradient, and,
/// when it was computed by an op while gradients were recorded, the inputs it came from and the
/// closure that sends its gradient back to them. backward() walks the graph in reverse topological
/// order with an explicit stack, accumulates into .grad, and then frees the graph (the closures and
/// the links to inputs), so that only the leaves keep their gradients.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nabla/tensor.h"

namespace nabla {

template <typename T>
struct Node {
  Tensor<T> value;
  Tensor<T> grad;  ///< empty until a gradient arrives
  bool requires_grad = false;
  const char* op = "leaf";
  /// Set only on results of recorded ops; cleared by backward().
  std::vector<std::shared_ptr<Node<T>>> inputs;
  /// Receives this node's gradient; adds each input's share with Node::accumulate.
  std::function<void(const Tensor<T>& grad)> backward;

  /// grad += g (allocating on first use); g must have value's shape.
  void accumulate(const Tensor<T>& g);
  /// The same for a gradient whose storage nothing else shares (a fresh result): on first use it
  /// becomes grad without a copy.
  void accumulate_owned(Tensor<T>&& g);
};

template <typename T>
class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor<T> value, bool requires_grad = false);

  const Tensor<T>& value() const { return node_->value; }
  /// Writable, for optimizers and initialisation; never write into a value that a recorded graph
  /// still needs for its backward pass.
  Tensor<T>& value() { return node_->value; }
  const Tensor<T>& grad() const { return node_->grad; }
  Tensor<T>& grad() { return node_->grad; }
  bool requires_grad() const { return node_ && node_->requires_grad; }
  const Shape& shape() const { return node_->value.shape(); }
  int64_t dim(int64_t d) const { return node_->value.dim(d); }
  int64_t numel() const { return node_->value.numel(); }
  bool defined() const { return node_ != nullptr; }
  /// The single value of a one-element variable.
  T item() const;

  /// Backpropagates from this scalar (its gradient is 1).
  void backward();
  /// Backpropagates from this variable with the given upstream gradient (same shape).
  void backward(const Tensor<T>& grad_output);
  void zero_grad() { node_->grad = Tensor<T>(); }
  /// The same value, cut from the graph.
  Variable detach() const { return Variable(node_->value, false); }

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
