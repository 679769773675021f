#include <cmath>

#include "nabla/optim/optimizer.h"

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

template class SGD<float>;
template class SGD<double>;
template class Adam<float>;
template class Adam<double>;

}  // namespace nabla::optim
