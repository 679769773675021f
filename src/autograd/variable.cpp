#include <stdexcept>
#include <type_traits>
#include <unordered_set>

#include "nabla/autograd.h"
#include "nabla/kernels.h"
#include "nabla/profile.h"
#include "simd/simd.h"

namespace nabla {
namespace {
thread_local bool g_grad_enabled = true;
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

namespace {

template <typename T>
void check_gradient_shape(const Node<T>& node, const Tensor<T>& g) {
  if (g.shape() != node.value.shape()) {
    throw std::logic_error(std::string("gradient of shape ") + shape_str(g.shape()) +
                           " for a value of shape " + shape_str(node.value.shape()) + " (op " +
                           node.op + ")");
  }
}

template <typename T>
void add_into(const Tensor<T>& g, Tensor<T>& grad) {
  if constexpr (std::is_same_v<T, float>) {
    simd::axpy(1.0F, g.data(), grad.data(), g.numel());
  } else {
    axpy(T(1), g, grad);
  }
}

}  // namespace

template <typename T>
void Node<T>::accumulate(const Tensor<T>& g) {
  check_gradient_shape(*this, g);
  if (grad.empty()) {
    grad = g.clone();
  } else {
    add_into(g, grad);
  }
}

template <typename T>
void Node<T>::accumulate_owned(Tensor<T>&& g) {
  check_gradient_shape(*this, g);
  if (grad.empty()) {
    grad = std::move(g);
  } else {
    add_into(g, grad);
  }
}

template <typename T>
Variable<T>::Variable(Tensor<T> value, bool requires_grad) : node_(std::make_shared<Node<T>>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

template <typename T>
T Variable<T>::item() const {
  if (numel() != 1) {
    throw std::invalid_argument("item() of a variable with shape " + shape_str(shape()));
  }
  return value()[0];
}

template <typename T>
Variable<T> Variable<T>::make_result(Tensor<T> value, const char* op,
                                     std::vector<std::shared_ptr<Node<T>>> inputs,
                                     std::function<void(const Tensor<T>&)> backward) {
  Variable out(std::move(value), false);
  out.node_->op = op;
  profile::forward_done(op);
  if (!grad_enabled()) return out;
  bool any = false;
  for (const auto& in : inputs) any = any || in->requires_grad;
  if (!any) return out;
  out.node_->requires_grad = true;
  out.node_->inputs = std::move(inputs);
  out.node_->backward = std::move(backward);
  return out;
}

template <typename T>
int64_t Variable<T>::add_grad_ready_hook(std::function<void()> hook) {
  const int64_t handle = node_->next_hook++;
  node_->grad_ready_hooks.emplace_back(handle, std::move(hook));
  return handle;
}

template <typename T>
void Variable<T>::remove_grad_ready_hook(int64_t handle) {
  std::erase_if(node_->grad_ready_hooks, [handle](const auto& h) { return h.first == handle; });
}

template <typename T>
void Variable<T>::backward() {
  if (numel() != 1) {
    throw std::invalid_argument("backward() without a gradient needs a scalar, got shape " +
                                shape_str(shape()));
  }
  backward(Tensor<T>::full(shape(), T(1)));
}

template <typename T>
void Variable<T>::backward(const Tensor<T>& grad_output) {
  if (!requires_grad()) {
    throw std::logic_error("backward() on a variable that does not require a gradient");
  }
  // Reverse topological order by an iterative depth-first post-order walk. `order` holds owning
  // pointers: freeing a node's links below must not destroy nodes still waiting for their turn.
  std::vector<std::shared_ptr<Node<T>>> order;
  std::unordered_set<Node<T>*> visited{node_.get()};
  std::vector<std::pair<std::shared_ptr<Node<T>>, size_t>> stack{{node_, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const std::shared_ptr<Node<T>>& in = node->inputs[next++];
      if (in->requires_grad && visited.insert(in.get()).second) stack.push_back({in, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  node_->accumulate(grad_output);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node<T>& node = **it;
    if (!node.grad.empty()) {
      for (const auto& hook : node.grad_ready_hooks) hook.second();
    }
    if (node.backward && !node.grad.empty()) {
      if (profile::enabled()) {
        const auto start = std::chrono::steady_clock::now();
        node.backward(node.grad);
        profile::add_seconds(
            std::string(node.op) + " backward",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      } else {
        node.backward(node.grad);
      }
    }
    // Free the graph: interior nodes drop their closures, inputs and gradients.
    if (node.backward) {
      node.backward = nullptr;
      node.inputs.clear();
      if (&node != node_.get()) node.grad = Tensor<T>();
    }
  }
}

template class Variable<float>;
template class Variable<double>;
template struct Node<float>;
template struct Node<double>;

}  // namespace nabla
