#include "nabla/nn/batchnorm.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "nabla/ops.h"

namespace nabla::nn {

void check_batchnorm_input(const Shape& x, int64_t n_neurons, const char* who) {
  if (x.size() != 2) {
    throw std::invalid_argument(std::string(who) + ": input must be (batch, " +
                                std::to_string(n_neurons) + "), got rank " +
                                std::to_string(x.size()) + " shape " + shape_str(x));
  }
  if (x[1] != n_neurons) {
    throw std::invalid_argument(std::string(who) + ": input has " + std::to_string(x[1]) +
                                " features, expected " + std::to_string(n_neurons));
  }
  if (x[0] < 1) throw std::invalid_argument(std::string(who) + ": empty batch");
}

template <typename T>
BatchNormParameters<T>::BatchNormParameters(int64_t n_neurons, T eps)
    : n_neurons_(n_neurons), eps_(eps) {
  gamma_ = this->register_parameter("weight", Tensor<T>::full({n_neurons}, T(1)));
  beta_ = this->register_parameter("bias", Tensor<T>({n_neurons}));
}

template <typename T>
Variable<T> CustomBatchNormAutograd<T>::forward(const Variable<T>& x) {
  check_batchnorm_input(x.shape(), this->n_neurons_, "CustomBatchNormAutograd");
  const Variable<T> mu = mean(x, {0}, true);
  const Variable<T> sigma2 = var(x, {0}, /*unbiased=*/false, true);
  const Variable<T> xhat = (x - mu) / sqrt(sigma2 + this->eps_);
  return this->gamma_ * xhat + this->beta_;
}

template <typename T>
Tensor<T> CustomBatchNormManualFunction<T>::forward(FunctionContext<T>& ctx,
                                                    const std::vector<Tensor<T>>& inputs, T eps) {
  if (inputs.size() != 3) {
    throw std::invalid_argument("CustomBatchNormManualFunction takes x, gamma and beta");
  }
  const Tensor<T>& x = inputs[0];
  const Tensor<T>& gamma = inputs[1];
  const Tensor<T>& beta = inputs[2];
  check_batchnorm_input(x.shape(), gamma.numel(), "CustomBatchNormManualFunction");
  if (beta.numel() != gamma.numel()) {
    throw std::invalid_argument("CustomBatchNormManualFunction: gamma and beta sizes differ");
  }
  const int64_t B = x.dim(0), C = x.dim(1);
  Tensor<T> xhat(x.shape()), inv_std({C}), y(x.shape());
  for (int64_t c = 0; c < C; ++c) {
    T mean = 0;
    for (int64_t s = 0; s < B; ++s) mean += x[s * C + c];
    mean /= static_cast<T>(B);
    T var = 0;
    for (int64_t s = 0; s < B; ++s) var += (x[s * C + c] - mean) * (x[s * C + c] - mean);
    var /= static_cast<T>(B);
    inv_std[c] = T(1) / std::sqrt(var + eps);
    for (int64_t s = 0; s < B; ++s) {
      xhat[s * C + c] = (x[s * C + c] - mean) * inv_std[c];
      y[s * C + c] = gamma[c] * xhat[s * C + c] + beta[c];
    }
  }
  ctx.save_for_backward({xhat, inv_std, gamma});
  return y;
}

template <typename T>
std::vector<Tensor<T>> CustomBatchNormManualFunction<T>::backward(FunctionContext<T>& ctx,
                                                                  const Tensor<T>& dy) {
  const Tensor<T>& xhat = ctx.saved_tensors()[0];
  const Tensor<T>& inv_std = ctx.saved_tensors()[1];
  const Tensor<T>& gamma = ctx.saved_tensors()[2];
  const int64_t B = xhat.dim(0), C = xhat.dim(1);
  std::vector<Tensor<T>> grads(3);
  if (ctx.needs_input_grad[1]) {
    grads[1] = Tensor<T>({C});
    for (int64_t s = 0; s < B; ++s) {
      for (int64_t c = 0; c < C; ++c) grads[1][c] += dy[s * C + c] * xhat[s * C + c];
    }
  }
  if (ctx.needs_input_grad[2]) {
    grads[2] = Tensor<T>({C});
    for (int64_t s = 0; s < B; ++s) {
      for (int64_t c = 0; c < C; ++c) grads[2][c] += dy[s * C + c];
    }
  }
  if (ctx.needs_input_grad[0]) {
    Tensor<T> dx(xhat.shape());
    const T b = static_cast<T>(B);
    for (int64_t c = 0; c < C; ++c) {
      T sum_dxhat = 0, sum_dxhat_xhat = 0;
      for (int64_t s = 0; s < B; ++s) {
        const T dxhat = dy[s * C + c] * gamma[c];
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * xhat[s * C + c];
      }
      for (int64_t s = 0; s < B; ++s) {
        const T dxhat = dy[s * C + c] * gamma[c];
        dx[s * C + c] = (b * dxhat - sum_dxhat - xhat[s * C + c] * sum_dxhat_xhat) * inv_std[c] / b;
      }
    }
    grads[0] = dx;
  }
  return grads;
}

template <typename T>
Variable<T> CustomBatchNormManualModule<T>::forward(const Variable<T>& x) {
  check_batchnorm_input(x.shape(), this->n_neurons_, "CustomBatchNormManualModule");
  return apply<CustomBatchNormManualFunction<T>>({x, this->gamma_, this->beta_}, this->eps_);
}

template class BatchNormParameters<float>;
template class BatchNormParameters<double>;
template class CustomBatchNormAutograd<float>;
template class CustomBatchNormAutograd<double>;
template struct CustomBatchNormManualFunction<float>;
template struct CustomBatchNormManualFunction<double>;
template class CustomBatchNormManualModule<float>;
template class CustomBatchNormManualModule<double>;

}  // namespace nabla::nn
