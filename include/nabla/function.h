/// \file
/// Custom autograd functions: the C++ counterpart of torch.autograd.Function. A user class F has
///
///   static Tensor<T> forward(FunctionContext<T>& ctx, const std::vector<Tensor<T>>& inputs,
///                            Args... args);
///   static std::vector<Tensor<T>> backward(FunctionContext<T>& ctx, const Tensor<T>& grad_output);
///
/// and `using Scalar = T;`. forward runs without recording and may save tensors and constants in
/// ctx; backward returns one gradient per input, and may return an empty tensor where
/// ctx.needs_input_grad[i] is false (it should not compute those). apply<F>(inputs, args...) runs
/// it and records it on the tape.
#pragma once

#include <any>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "nabla/autograd.h"

namespace nabla {

/// What a custom function's forward leaves for its backward: saved tensors, constants, and which
/// inputs need a gradient.
template <typename T>
class FunctionContext {
 public:
  /// Keeps tensors for backward, replacing any saved before.
  void save_for_backward(std::vector<Tensor<T>> tensors) { saved_ = std::move(tensors); }
  /// The tensors given to save_for_backward, in the same order.
  const std::vector<Tensor<T>>& saved_tensors() const { return saved_; }
  /// Non-tensor values that backward needs (eps, sizes, ...).
  std::map<std::string, double> constants;
  /// Anything else backward needs that is neither a tensor nor a number (a callback, a
  /// communicator), as the attributes a PyTorch Function sets on its ctx.
  std::any state;
  /// One flag per input: whether backward must compute that input's gradient.
  std::vector<bool> needs_input_grad;

 private:
  std::vector<Tensor<T>> saved_;
};

/// F names its element type as `using Scalar = T;`.
template <typename F, typename T = typename F::Scalar, typename... Args>
Variable<T> apply(const std::vector<Variable<T>>& inputs, Args&&... args) {
  auto ctx = std::make_shared<FunctionContext<T>>();
  std::vector<Tensor<T>> values;
  std::vector<std::shared_ptr<Node<T>>> nodes;
  for (const auto& in : inputs) {
    values.push_back(in.value());
    nodes.push_back(in.node());
    ctx->needs_input_grad.push_back(grad_enabled() && in.requires_grad());
  }
  Tensor<T> out;
  {
    NoGradGuard no_grad;
    out = F::forward(*ctx, values, std::forward<Args>(args)...);
  }
  return Variable<T>::make_result(
      std::move(out), "custom_function", nodes, [ctx, nodes](const Tensor<T>& grad_output) {
        const std::vector<Tensor<T>> grads = F::backward(*ctx, grad_output);
        if (grads.size() != nodes.size()) {
          throw std::logic_error("custom function backward returned " +
                                 std::to_string(grads.size()) + " gradients for " +
                                 std::to_string(nodes.size()) + " inputs");
        }
        for (size_t i = 0; i < nodes.size(); ++i) {
          if (ctx->needs_input_grad[i] && !grads[i].empty()) {
            nodes[i]->accumulate(grads[i]);
          }
        }
      });
}

}  // namespace nabla
