#include "nabla/optim/lookahead.h"

#include <stdexcept>

namespace nabla::optim {

template <typename T>
Lookahead<T>::Lookahead(nn::Module<T>& model) : model_(model) {
  for (const nn::StateEntry<T>& e : model.state_dict()) {
    if (e.kind == nn::BufferKind::kValue) average_.emplace_back(e.name, e.value.clone());
  }
}

template <typename T>
void Lookahead<T>::update(double decay) {
  if (!(decay >= 0 && decay <= 1)) {
    throw std::invalid_argument("Lookahead: decay must be in [0, 1], got " + std::to_string(decay));
  }
  const T w = static_cast<T>(1 - decay);
  size_t k = 0;
  for (nn::StateEntry<T>& e : model_.state_dict()) {
    if (e.kind != nn::BufferKind::kValue) continue;
    if (k >= average_.size() || average_[k].first != e.name ||
        average_[k].second.shape() != e.value.shape()) {
      throw std::invalid_argument("Lookahead: the model's state changed since the average began (" +
                                  e.name + ")");
    }
    Tensor<T>& avg = average_[k++].second;
    T* a = avg.data();
    T* m = e.value.data();
    for (int64_t i = 0; i < avg.numel(); ++i) {
      a[i] += w * (m[i] - a[i]);
      m[i] = a[i];
    }
  }
}

template <typename T>
void Lookahead<T>::load_average(const std::map<std::string, Tensor<T>>& tensors) {
  for (const auto& [name, avg] : average_) {
    const auto it = tensors.find(name);
    if (it == tensors.end() || it->second.shape() != avg.shape()) {
      throw std::invalid_argument("Lookahead: the saved average lacks " + name +
                                  " or has another shape");
    }
  }
  for (auto& [name, avg] : average_) avg = tensors.at(name).clone();
}

template class Lookahead<float>;
template class Lookahead<double>;

}  // namespace nabla::optim
