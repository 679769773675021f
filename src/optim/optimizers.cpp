#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "nabla/error.h"
#include "nabla/optim/optimizer.h"
#include "simd/simd.h"

namespace nabla::optim {

namespace {

template <typename T>
std::vector<ParamGroup<T>> one_group(std::vector<Variable<T>> params, T lr, T weight_decay) {
  return {ParamGroup<T>{std::move(params), lr, weight_decay, lr}};
}

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
Optimizer<T>::Optimizer(std::vector<ParamGroup<T>> groups) : groups_(std::move(groups)) {
  for (size_t i = 0; i < groups_.size(); ++i) {
    ParamGroup<T>& g = groups_[i];
    if (!(g.lr >= 0) || !(g.weight_decay >= 0)) {
      throw ConfigError("optimizer: parameter group " + std::to_string(i) +
                        " needs a learning rate and weight decay >= 0");
    }
    if (g.base_lr == 0) g.base_lr = g.lr;
  }
}

template <typename T>
void Optimizer<T>::zero_grad() {
  for (ParamGroup<T>& g : groups_) {
    for (Variable<T>& p : g.params) p.zero_grad();
  }
}

template <typename T>
std::vector<const Variable<T>*> Optimizer<T>::all_params() const {
  std::vector<const Variable<T>*> out;
  for (const ParamGroup<T>& g : groups_) {
    for (const Variable<T>& p : g.params) out.push_back(&p);
  }
  return out;
}

template <typename T>
SGD<T>::SGD(std::vector<Variable<T>> params, T lr, T momentum, T weight_decay, bool nesterov)
    : SGD(one_group(std::move(params), lr, weight_decay), momentum, nesterov) {}

template <typename T>
SGD<T>::SGD(std::vector<ParamGroup<T>> groups, T momentum, bool nesterov)
    : Optimizer<T>(std::move(groups)),
      momentum_(momentum),
      nesterov_(nesterov),
      momentum_buffers_(this->all_params().size()) {
  if (nesterov && !(momentum > 0)) throw ConfigError("SGD: Nesterov needs a momentum > 0");
  if (!(momentum >= 0)) throw ConfigError("SGD: momentum must be >= 0");
}

template <typename T>
void SGD<T>::step() {
  this->for_each_with_grad([this](ParamGroup<T>& group, size_t k, Variable<T>& p) {
    const T lr = group.lr, weight_decay = group.weight_decay;
    T* w = p.value().data();
    const T* g = p.grad().data();
    const int64_t n = p.numel();
    if constexpr (std::is_same_v<T, float>) {
      if (momentum_ == 0) {
        simd::sgd(lr, weight_decay, w, g, n);
        return;
      }
    }
    Tensor<T>& buf = momentum_buffers_[k];
    const bool first = buf.empty();
    if (momentum_ != 0 && first) buf = Tensor<T>(p.shape());
    for (int64_t j = 0; j < n; ++j) {
      T d = g[j] + weight_decay * w[j];
      if (momentum_ != 0) {
        buf[j] = first ? d : momentum_ * buf[j] + d;
        d = nesterov_ ? d + momentum_ * buf[j] : buf[j];
      }
      w[j] -= lr * d;
    }
  });
}

template <typename T>
Adam<T>::Adam(std::vector<Variable<T>> params, T lr, T beta1, T beta2, T eps, T weight_decay)
    : Adam(one_group(std::move(params), lr, weight_decay), beta1, beta2, eps) {}

template <typename T>
Adam<T>::Adam(std::vector<ParamGroup<T>> groups, T beta1, T beta2, T eps)
    : Optimizer<T>(std::move(groups)),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      steps_(this->all_params().size(), 0),
      m_(this->all_params().size()),
      v_(this->all_params().size()) {
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps >= 0)) {
    throw ConfigError("Adam: betas must be in [0, 1) and eps >= 0");
  }
}

template <typename T>
void Adam<T>::step() {
  this->for_each_with_grad([&](ParamGroup<T>& group, size_t k, Variable<T>& p) {
    // Each parameter counts its own steps (PyTorch's state["step"]): one that gets its first
    // gradient late starts its bias correction at 1.
    const int64_t t = ++steps_[k];
    const T bias1 = T(1) - std::pow(beta1_, static_cast<T>(t));
    const T bias2 = T(1) - std::pow(beta2_, static_cast<T>(t));
    const T bias2_sqrt = std::sqrt(bias2);
    const T step_size = group.lr / bias1;
    if (m_[k].empty()) {
      m_[k] = Tensor<T>(p.shape());
      v_[k] = Tensor<T>(p.shape());
    }
    T* w = p.value().data();
    const T* g = p.grad().data();
    T* m = m_[k].data();
    T* v = v_[k].data();
    const int64_t n = p.numel();
    T weight_decay = group.weight_decay;
    if (decoupled_weight_decay_) {
      const T shrink = T(1) - group.lr * weight_decay;
      for (int64_t j = 0; j < n; ++j) w[j] *= shrink;
      weight_decay = 0;
    }
    if constexpr (std::is_same_v<T, float>) {
      simd::adam({beta1_, beta2_, step_size, bias2_sqrt, eps_, weight_decay}, w, g, m, v, n);
      return;
    }
    // Elementwise and independent: the same result on any number of threads.
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t j = 0; j < n; ++j) {
      const T d = g[j] + weight_decay * w[j];
      m[j] = beta1_ * m[j] + (T(1) - beta1_) * d;
      v[j] = beta2_ * v[j] + (T(1) - beta2_) * d * d;
      w[j] -= step_size * m[j] / (std::sqrt(v[j]) / bias2_sqrt + eps_);
    }
  });
}

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
  const auto params = this->all_params();
  for (size_t i = 0; i < params.size(); ++i) {
    momentum_buffers_[i] = state_entry(tensors, std::to_string(i) + ".momentum", params[i]->shape());
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
std::map<std::string, double> Adam<T>::state_scalars() const {
  std::map<std::string, double> out;
  for (size_t i = 0; i < steps_.size(); ++i) {
    if (steps_[i] > 0) out[std::to_string(i) + ".step"] = static_cast<double>(steps_[i]);
  }
  return out;
}

template <typename T>
void Adam<T>::load_state(const std::map<std::string, Tensor<T>>& tensors,
                         const std::map<std::string, double>& scalars) {
  // Checkpoints written before the counts were per parameter hold one count, "t".
  const auto shared = scalars.find("t");
  const auto params = this->all_params();
  for (size_t i = 0; i < params.size(); ++i) {
    m_[i] = state_entry(tensors, std::to_string(i) + ".m", params[i]->shape());
    v_[i] = state_entry(tensors, std::to_string(i) + ".v", params[i]->shape());
    if (m_[i].empty() != v_[i].empty()) {
      throw std::invalid_argument("optimizer state has only one of " + std::to_string(i) +
                                  ".m and .v");
    }
    const auto own = scalars.find(std::to_string(i) + ".step");
    steps_[i] = own != scalars.end()                       ? static_cast<int64_t>(own->second)
                : shared != scalars.end() && !m_[i].empty() ? static_cast<int64_t>(shared->second)
                                                            : 0;
    if (!m_[i].empty() && steps_[i] < 1) {
      throw std::invalid_argument("optimizer state " + std::to_string(i) + " has moments but no step count");
    }
  }
}

template class Optimizer<float>;
template class Optimizer<double>;
template class SGD<float>;
template class SGD<double>;
template class Adam<float>;
template class Adam<double>;

}  // namespace nabla::optim
