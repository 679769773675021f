// Module: the base of every layer and model. It owns named parameters (Variables that require a
// gradient), named buffers (tensors saved with the model but not trained, e.g. running statistics)
// and named child modules; names nest with dots ("fc1.weight", "features.bn1.running_mean").
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nabla/autograd.h"

namespace nabla::nn {

template <typename T>
class Module {
 public:
  virtual ~Module() = default;
  virtual Variable<T> forward(const Variable<T>& x) = 0;
  Variable<T> operator()(const Variable<T>& x) { return forward(x); }

  std::vector<std::pair<std::string, Variable<T>>> named_parameters() const;
  std::vector<Variable<T>> parameters() const;
  // Buffers share storage with the module: writing into the tensor writes into the module.
  std::vector<std::pair<std::string, Tensor<T>>> named_buffers() const;

  void train(bool mode = true);
  void eval() { train(false); }
  bool training() const { return training_; }
  void zero_grad();

 protected:
  Variable<T> register_parameter(std::string name, Tensor<T> value);
  Tensor<T> register_buffer(std::string name, Tensor<T> value);
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    children_.emplace_back(std::move(name), module);
    return module;
  }

 private:
  std::vector<std::pair<std::string, Variable<T>>> params_;
  std::vector<std::pair<std::string, Tensor<T>>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>> children_;
  bool training_ = true;
};

extern template class Module<float>;
extern template class Module<double>;

}  // namespace nabla::nn
