/// \file
/// Optimizers update parameters in place from their .grad, under no-grad, with PyTorch's update
/// rules: SGD (momentum, Nesterov, weight decay), Adam and AdamW. Parameters come in groups, each
/// with its own learning rate and weight decay (torch.optim's param_groups); a schedule
/// (optim/schedule.h) sets the groups' learning rates. State is kept per parameter, numbered
/// across the groups in order.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "nabla/autograd.h"

namespace nabla::optim {

/// Parameters that share a learning rate and weight decay, as an entry of torch.optim's
/// param_groups.
template <typename T>
struct ParamGroup {
  /// The parameters, updated in place.
  std::vector<Variable<T>> params;
  T lr = 0;            ///< the learning rate of the next step
  T weight_decay = 0;  ///< weight_decay * p joins the gradient (AdamW: shrinks p instead)
  T base_lr = 0;       ///< the learning rate given; schedules scale it (set from lr when 0)
};

/// The base of SGD, Adam and AdamW: parameter groups, updated in place from their .grad.
template <typename T>
class Optimizer {
 public:
  /// Throws ConfigError for a negative learning rate or weight decay.
  explicit Optimizer(std::vector<ParamGroup<T>> groups);
  virtual ~Optimizer() = default;
  /// Parameters without a gradient are skipped.
  virtual void step() = 0;
  /// Drops every parameter's gradient (each becomes empty).
  void zero_grad();

  /// The groups, whose learning rates a schedule sets.
  std::vector<ParamGroup<T>>& param_groups() { return groups_; }
  /// The same, read-only.
  const std::vector<ParamGroup<T>>& param_groups() const { return groups_; }

  /// The optimizer's state, to checkpoint and restore it exactly: tensors named "<k>.<what>" for
  /// parameter k (counted across the groups), and scalars such as Adam's step count.
  virtual std::vector<std::pair<std::string, Tensor<T>>> state_tensors() const = 0;
  /// The state's scalars by name; none by default.
  virtual std::map<std::string, double> state_scalars() const { return {}; }
  /// Throws std::invalid_argument when a tensor is mis-shaped.
  virtual void load_state(const std::map<std::string, Tensor<T>>& tensors,
                          const std::map<std::string, double>& scalars) = 0;

 protected:
  /// Calls f(group, k, parameter) for every parameter that has a gradient; k counts all of them.
  template <typename F>
  void for_each_with_grad(F f) {
    size_t k = 0;
    for (ParamGroup<T>& g : groups_) {
      for (Variable<T>& p : g.params) {
        if (!p.grad().empty()) f(g, k, p);
        ++k;
      }
    }
  }
  /// Every parameter across the groups in order: the numbering k of the state.
  std::vector<const Variable<T>*> all_params() const;

  /// The parameter groups, in order.
  std::vector<ParamGroup<T>> groups_;
};

/// PyTorch's SGD: d = grad + weight_decay * p; with momentum, buf = momentum * buf + d (buf = d on
/// the first step) and d = buf, or with Nesterov d = d + momentum * buf; then p -= lr * d.
template <typename T>
class SGD : public Optimizer<T> {
 public:
  /// One group of params with learning rate lr and weight_decay; throws ConfigError for a
  /// negative value or Nesterov without momentum.
  SGD(std::vector<Variable<T>> params, T lr, T momentum = 0, T weight_decay = 0,
      bool nesterov = false);
  /// Throws ConfigError when Nesterov is asked without momentum.
  SGD(std::vector<ParamGroup<T>> groups, T momentum = 0, bool nesterov = false);
  void step() override;
  std::vector<std::pair<std::string, Tensor<T>>> state_tensors() const override;
  void load_state(const std::map<std::string, Tensor<T>>& tensors,
                  const std::map<std::string, double>& scalars) override;

 private:
  T momentum_;
  bool nesterov_;
  std::vector<Tensor<T>> momentum_buffers_;
};

/// PyTorch's Adam: g = grad + weight_decay * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
/// p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), t the steps that parameter has
/// taken.
template <typename T>
class Adam : public Optimizer<T> {
 public:
  /// One group of params with learning rate lr and weight_decay; throws ConfigError for a
  /// negative value or a beta outside [0, 1).
  Adam(std::vector<Variable<T>> params, T lr, T beta1 = T(0.9), T beta2 = T(0.999), T eps = T(1e-8),
       T weight_decay = 0);
  /// Groups with their own learning rates and weight decay; throws ConfigError as above.
  Adam(std::vector<ParamGroup<T>> groups, T beta1 = T(0.9), T beta2 = T(0.999), T eps = T(1e-8));
  void step() override;
  std::vector<std::pair<std::string, Tensor<T>>> state_tensors() const override;
  /// {"<k>.step": the steps parameter k has taken}, for its bias corrections.
  std::map<std::string, double> state_scalars() const override;
  void load_state(const std::map<std::string, Tensor<T>>& tensors,
                  const std::map<std::string, double>& scalars) override;

 protected:
  /// AdamW: the weight decay shrinks p (p *= 1 - lr * weight_decay) before the update instead of
  /// joining the gradient.
  bool decoupled_weight_decay_ = false;

 private:
  T beta1_, beta2_, eps_;
  std::vector<int64_t> steps_;  ///< per parameter, as PyTorch's state["step"]
  std::vector<Tensor<T>> m_, v_;
};

/// PyTorch's AdamW (weight decay 0.01 by default): Adam with decoupled weight decay.
template <typename T>
class AdamW : public Adam<T> {
 public:
  /// One group of params with learning rate lr and weight_decay; throws ConfigError as Adam.
  AdamW(std::vector<Variable<T>> params, T lr, T beta1 = T(0.9), T beta2 = T(0.999),
        T eps = T(1e-8), T weight_decay = T(0.01))
      : Adam<T>(std::move(params), lr, beta1, beta2, eps, weight_decay) {
    this->decoupled_weight_decay_ = true;
  }
  /// Groups with their own learning rates and weight decay; throws ConfigError as Adam.
  AdamW(std::vector<ParamGroup<T>> groups, T beta1 = T(0.9), T beta2 = T(0.999), T eps = T(1e-8))
      : Adam<T>(std::move(groups), beta1, beta2, eps) {
    this->decoupled_weight_decay_ = true;
  }
};

}  // namespace nabla::optim
