#include "nabla/manual/mlp.h"

#include <stdexcept>

#include "nabla/kernels.h"

namespace nabla::manual {

template <typename T>
MLP<T>::MLP(int64_t n_inputs, const std::vector<int64_t>& hidden, int64_t n_classes, T neg_slope,
            Rng& rng)
    : n_inputs_(n_inputs) {
  int64_t width = n_inputs;
  for (int64_t units : hidden) {
    if (units <= 0) throw std::invalid_argument("MLP: hidden layer sizes must be positive");
    linears_.emplace_back(width, units, rng, /*input_grad=*/!linears_.empty());
    activations_.emplace_back(neg_slope);
    width = units;
  }
  linears_.emplace_back(width, n_classes, rng, /*input_grad=*/!linears_.empty());
}

template <typename T>
Tensor<T> MLP<T>::forward(const Tensor<T>& x) {
  Tensor<T> h = x.reshape({x.dim(0), -1});
  if (h.dim(1) != n_inputs_) {
    throw std::invalid_argument("MLP: input of shape " + shape_str(x.shape()) + " has " +
                                std::to_string(h.dim(1)) + " values per example, expected " +
                                std::to_string(n_inputs_));
  }
  for (size_t i = 0; i < activations_.size(); ++i) {
    h = activations_[i].forward(linears_[i].forward(h));
  }
  return softmax_.forward(linears_.back().forward(h));
}

template <typename T>
void MLP<T>::backward(const Tensor<T>& dout) {
  Tensor<T> d = linears_.back().backward(softmax_.backward(dout));
  for (size_t i = activations_.size(); i-- > 0;) {
    d = linears_[i].backward(activations_[i].backward(d));
  }
}

template <typename T>
std::vector<ParamRef<T>> MLP<T>::parameters() {
  std::vector<ParamRef<T>> params;
  for (size_t i = 0; i < linears_.size(); ++i) {
    const std::string prefix = "fc" + std::to_string(i + 1);
    params.push_back({prefix + ".weight", &linears_[i].weight(), &linears_[i].dweight()});
    params.push_back({prefix + ".bias", &linears_[i].bias(), &linears_[i].dbias()});
  }
  return params;
}

template <typename T>
void sgd_step(std::vector<ParamRef<T>> params, T learning_rate) {
  for (auto& p : params) axpy(-learning_rate, *p.grad, *p.value);
}

template class MLP<float>;
template class MLP<double>;
template void sgd_step<float>(std::vector<ParamRef<float>>, float);
template void sgd_step<double>(std::vector<ParamRef<double>>, double);

}  // namespace nabla::manual
