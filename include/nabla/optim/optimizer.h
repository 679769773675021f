// Optimizers update parameters in place from their .grad, under no-grad. Their state is kept per
// parameter, in the order the parameters were given.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "nabla/autograd.h"

namespace nabla::optim {

template <typename T>
class Optimizer {
 public:
  explicit Optimizer(std::vector<Variable<T>> params) : params_(std::move(params)) {}
  virtual ~Optimizer() = default;
  // Parameters without a gradient are skipped.
  virtual void step() = 0;
  void zero_grad() {
    for (auto& p : params_) p.zero_grad();
  }

  // The optimizer's state, to checkpoint and restore it exactly: tensors named "<k>.<what>" for
  // parameter k, and scalars such as Adam's step count.
  virtual std::vector<std::pair<std::string, Tensor<T>>> state_tensors() const = 0;
  virtual std::map<std::string, double> state_scalars() const { return {}; }
  // Throws std::invalid_argument when a tensor is missing or mis-shaped.
  virtual void load_state(const std::map<std::string, Tensor<T>>& tensors,
                          const std::map<std::string, double>& scalars) = 0;

 protected:
  std::vector<Variable<T>> params_;
};

// PyTorch's SGD: g = grad + weight_decay * p; with momentum, buf = momentum * buf + g (buf = g on
// the first step) and g = buf; then p -= lr * g.
template <typename T>
class SGD : public Optimizer<T> {
 public:
  SGD(std::vector<Variable<T>> params, T lr, T momentum = 0, T weight_decay = 0);
  void step() override;
  std::vector<std::pair<std::string, Tensor<T>>> state_tensors() const override;
  void load_state(const std::map<std::string, Tensor<T>>& tensors,
                  const std::map<std::string, double>& scalars) override;

 private:
  T lr_, momentum_, weight_decay_;
  std::vector<Tensor<T>> momentum_buffers_;
};

// PyTorch's Adam (not AdamW): g = grad + weight_decay * p; m = b1 m + (1 - b1) g;
// v = b2 v + (1 - b2) g^2; p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
template <typename T>
class Adam : public Optimizer<T> {
 public:
  Adam(std::vector<Variable<T>> params, T lr, T beta1 = T(0.9), T beta2 = T(0.999), T eps = T(1e-8),
       T weight_decay = 0);
  void step() override;
  std::vector<std::pair<std::string, Tensor<T>>> state_tensors() const override;
  std::map<std::string, double> state_scalars() const override {
    return {{"t", static_cast<double>(t_)}};
  }
  void load_state(const std::map<std::string, Tensor<T>>& tensors,
                  const std::map<std::string, double>& scalars) override;

 private:
  T lr_, beta1_, beta2_, eps_, weight_decay_;
  int64_t t_ = 0;
  std::vector<Tensor<T>> m_, v_;
};

}  // namespace nabla::optim
