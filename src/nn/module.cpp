#include "nabla/nn/module.h"

namespace nabla::nn {

template <typename T>
std::vector<std::pair<std::string, Variable<T>>> Module<T>::named_parameters() const {
  auto out = params_;
  for (const auto& [name, child] : children_) {
    for (auto& [sub, p] : child->named_parameters()) out.emplace_back(name + "." + sub, p);
  }
  return out;
}

template <typename T>
std::vector<Variable<T>> Module<T>::parameters() const {
  std::vector<Variable<T>> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

template <typename T>
std::vector<std::pair<std::string, Tensor<T>>> Module<T>::named_buffers() const {
  auto out = buffers_;
  for (const auto& [name, child] : children_) {
    for (auto& [sub, b] : child->named_buffers()) out.emplace_back(name + "." + sub, b);
  }
  return out;
}

template <typename T>
void Module<T>::train(bool mode) {
  training_ = mode;
  for (auto& [name, child] : children_) child->train(mode);
}

template <typename T>
void Module<T>::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

template <typename T>
Variable<T> Module<T>::register_parameter(std::string name, Tensor<T> value) {
  Variable<T> p(std::move(value), true);
  params_.emplace_back(std::move(name), p);
  return p;
}

template <typename T>
Tensor<T> Module<T>::register_buffer(std::string name, Tensor<T> value) {
  buffers_.emplace_back(std::move(name), value);
  return value;
}

template class Module<float>;
template class Module<double>;

}  // namespace nabla::nn
