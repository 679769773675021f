// The basic layers: Linear (PyTorch's default initialisation), ReLU, LeakyReLU, Flatten, and
// Sequential, which runs its children in order.
#pragma once

#include "nabla/nn/module.h"
#include "nabla/rng.h"

namespace nabla::nn {

// y (B,out) = x (B,in) @ weight^T + bias; weight (out,in) and bias (out) uniform in
// +-1/sqrt(in), as torch.nn.Linear.
template <typename T>
class Linear : public Module<T> {
 public:
  Linear(int64_t in_features, int64_t out_features, Rng& rng);
  Variable<T> forward(const Variable<T>& x) override;
  Variable<T>& weight() { return weight_; }
  Variable<T>& bias() { return bias_; }

 private:
  Variable<T> weight_, bias_;
};

template <typename T>
class ReLU : public Module<T> {
 public:
  Variable<T> forward(const Variable<T>& x) override;
};

template <typename T>
class LeakyReLU : public Module<T> {
 public:
  explicit LeakyReLU(T neg_slope) : neg_slope_(neg_slope) {}
  Variable<T> forward(const Variable<T>& x) override;

 private:
  T neg_slope_;
};

// (N, ...) -> (N, rest).
template <typename T>
class Flatten : public Module<T> {
 public:
  Variable<T> forward(const Variable<T>& x) override;
};

// Runs its children in the order they were added.
template <typename T>
class Sequential : public Module<T> {
 public:
  template <typename M>
  std::shared_ptr<M> add(std::string name, std::shared_ptr<M> module) {
    layers_.push_back(module);
    return this->register_module(std::move(name), std::move(module));
  }
  Variable<T> forward(const Variable<T>& x) override;
  size_t size() const { return layers_.size(); }

 protected:
  const std::vector<std::shared_ptr<Module<T>>>& layers() const { return layers_; }

 private:
  std::vector<std::shared_ptr<Module<T>>> layers_;
};

}  // namespace nabla::nn
