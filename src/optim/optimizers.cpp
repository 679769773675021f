#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "nabla/optim/optimizer.h"
#include "simd/simd.h"

namespace nabla::optim {

template <typename T>
SGD<T>::SGD(std::vector<Variable<T>> params, T lr, T momentum, T weight_decay)
    : Optimizer<T>(std::move(params)),
      lr_(lr),
      momentum_(momentum),
      weight_decay_(weight_decay),
      momentum_buffers_(this->params_.size()) {}

template <typename T>
void SGD<T>::step() {
  for (size_t i = 0; i < this->params_.size(); ++i) {
    Variable<T>& p = this->params_[i];
    if (p.grad().empty()) continue;
    T* w = p.value().data();
    const T* g = p.grad().data();
    const int64_t n = p.numel();
    if constexpr (std::is_same_v<T, float>) {
      if (momentum_ == 0) {
        simd::sgd(lr_, weight_decay_, w, g, n);
        continue;
      }
    }
    Tensor<T>& buf = momentum_buffers_[i];
    const bool first = buf.empty();
    if (momentum_ != 0 && first) buf = Tensor<T>(p.shape());
    for (int64_t j = 0; j < n; ++j) {
      T d = g[j] + weight_decay_ * w[j];
      if (momentum_ != 0) {
        buf[j] = first ? d : momentum_ * buf[j] + d;
        d = buf[j];
      }
      w[j] -= lr_ * d;
    }
  }
}

template <typename T>
Adam<T>::Adam(std::vector<Variable<T>> params, T lr, T beta1, T beta2, T eps, T weight_decay)
    : Optimizer<T>(std::move(params)),
      lr_(lr),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      weight_decay_(weight_decay),
      m_(this->params_.size()),
      v_(this->params_.size()) {}

template <typename T>
void Adam<T>::step() {
  ++t_;
  const T bias1 = T(1) - std::pow(beta1_, static_cast<T>(t_));
  const T bias2 = T(1) - std::pow(beta2_, static_cast<T>(t_));
  const T step_size = lr_ / bias1;
  const T bias2_sqrt = std::sqrt(bias2);
  for (size_t i = 0; i < this->params_.size(); ++i) {
    Variable<T>& p = this->params_[i];
    if (p.grad().empty()) continue;
    if (m_[i].empty()) {
      m_[i] = Tensor<T>(p.shape());
      v_[i] = Tensor<T>(p.shape());
    }
    T* w = p.value().data();
    const T* g = p.grad().data();
    T* m = m_[i].data();
    T* v = v_[i].data();
    const int64_t n = p.numel();
    if constexpr (std::is_same_v<T, float>) {
      simd::adam({beta1_, beta2_, step_size, bias2_sqrt, eps_, weight_decay_}, w, g, m, v, n);
      continue;
    }
    // Elementwise and independent: the same result on any number of threads.
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t j = 0; j < n; ++j) {
      const T d = g[j] + weight_decay_ * w[j];
      m[j] = beta1_ * m[j] + (T(1) - beta1_) * d;
      v[j] = beta2_ * v[j] + (T(1) - beta2_) * d * d;
      w[j] -= step_size * m[j] / (std::sqrt(v[j]) / bias2_sqrt + eps_);
    }
  }
}

namespace {

// The state tensor `name` for a parameter of `shape`; an absent entry means "not started yet".
template <typename T>
Tensor<T> state_entry(const std::map<std::string, Tensor<T>>& tensors, const std::string& name,
                      const Shape& shape) {
  const auto it = tensors.find(name);
  if (it == tensors.end()) return {};
  if (it->second.shape() != shape) {
    throw std::invalid_argument("optimizer state " + name + " has shape " +
                                shape_str(it->second.shape()) + ", the parameter " +
                                shape_str(shape));
  }
  return it->second.clone();
}

}  // namespace

template <typename T>
std::vector<std::pair<std::string, Tensor<T>>> SGD<T>::state_tensors() const {
  std::vector<std::pair<std::string, Tensor<T>>> out;
  for (size_t i = 0; i < momentum_buffers_.size(); ++i) {
    if (!momentum_buffers_[i].empty()) {
      out.emplace_back(std::to_string(i) + ".momentum", momentum_buffers_[i]);
    }
  }
  return out;
}

template <typename T>
void SGD<T>::load_state(const std::map<std::string, Tensor<T>>& tensors,
                        const std::map<std::string, double>&) {
  for (size_t i = 0; i < this->params_.size(); ++i) {
    momentum_buffers_[i] =
        state_entry(tensors, std::to_string(i) + ".momentum", this->params_[i].shape());
  }
}

template <typename T>
std::vector<std::pair<std::string, Tensor<T>>> Adam<T>::state_tensors() const {
  std::vector<std::pair<std::string, Tensor<T>>> out;
  for (size_t i = 0; i < m_.size(); ++i) {
    if (m_[i].empty()) continue;
    out.emplace_back(std::to_string(i) + ".m", m_[i]);
    out.emplace_back(std::to_string(i) + ".v", v_[i]);
  }
  return out;
}

template <typename T>
void Adam<T>::load_state(const std::map<std::string, Tensor<T>>& tensors,
                         const std::map<std::string, double>& scalars) {
  const auto t = scalars.find("t");
  t_ = t == scalars.end() ? 0 : static_cast<int64_t>(t->second);
  for (size_t i = 0; i < this->params_.size(); ++i) {
    m_[i] = state_entry(tensors, std::to_string(i) + ".m", this->params_[i].shape());
    v_[i] = state_entry(tensors, std::to_string(i) + ".v", this->params_[i].shape());
    if (m_[i].empty() != v_[i].empty()) {
      throw std::invalid_argument("optimizer state has only one of " + std::to_string(i) +
                                  ".m and .v");
    }
  }
}

template class SGD<float>;
template class SGD<double>;
template class Adam<float>;
template class Adam<double>;

}  // namespace nabla::optim
