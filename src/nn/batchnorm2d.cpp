#include "nabla/nn/batchnorm2d.h"

#include <stdexcept>
#include <string>

#include "nabla/error.h"
#include "nabla/nn/batchnorm1d.h"
#include "nabla/nn/relu.h"
#include "nabla/ops.h"

namespace nabla::nn {

template <typename T>
BatchNorm2d<T>::BatchNorm2d(int64_t channels, BatchNormOptions options) : options_(options) {
  if (channels < 1 || !(options.eps > 0) || !(options.momentum >= 0 && options.momentum <= 1)) {
    throw ConfigError("BatchNorm: needs channels >= 1, eps > 0 and momentum in [0, 1], got " +
                      std::to_string(channels) + " channels");
  }
  Tensor<T> ones = Tensor<T>::full({channels}, T(1)), zeros({channels});
  if (options.affine) {
    gamma_ = this->register_parameter("weight", ones);
    beta_ = this->register_parameter("bias", zeros);
    gamma_.node()->requires_grad = options.train_weight;
    beta_.node()->requires_grad = options.train_bias;
  } else {
    gamma_ = Variable<T>(ones);
    beta_ = Variable<T>(zeros);
  }
  running_mean_ = this->register_buffer("running_mean", Tensor<T>({channels}));
  running_var_ = this->register_buffer("running_var", Tensor<T>::full({channels}, T(1)));
  num_batches_tracked_ =
      this->register_buffer("num_batches_tracked", Tensor<T>(Shape{}), BufferKind::kCount);
}

template <typename T>
Variable<T> BatchNorm2d<T>::normalize(const Variable<T>& x4, bool relu) {
  if (this->training()) num_batches_tracked_[0] += T(1);
  return batch_norm2d(x4, gamma_, beta_, running_mean_, running_var_, this->training(),
                      static_cast<T>(options_.momentum), static_cast<T>(options_.eps), relu,
                      replica_sum_);
}

template <typename T>
Variable<T> BatchNorm2d<T>::forward(const Variable<T>& x) {
  return normalize(x, /*relu=*/false);
}

template <typename T>
Variable<T> BatchNorm2d<T>::forward_fused(const Variable<T>& x,
                                          std::span<const std::shared_ptr<Module<T>>> next,
                                          size_t& consumed) {
  const bool relu = !next.empty() && is_relu(*next[0]);
  consumed = relu ? 1 : 0;
  return normalize(x, relu);
}

namespace {
// (N,C) -> (N,C,1,1), (N,C,L) -> (N,C,L,1): batch norm over N (and L) is batch_norm2d's.
template <typename T>
Variable<T> as_nchw(const Variable<T>& x) {
  const Shape& s = x.shape();
  if (s.size() != 2 && s.size() != 3) {
    throw std::invalid_argument("BatchNorm1d: input must be (N, C) or (N, C, L), got " +
                                shape_str(s));
  }
  return reshape(x, {s[0], s[1], s.size() == 3 ? s[2] : 1, 1});
}
}  // namespace

template <typename T>
Variable<T> BatchNorm1d<T>::forward(const Variable<T>& x) {
  return reshape(BatchNorm2d<T>::forward(as_nchw(x)), x.shape());
}

template <typename T>
Variable<T> BatchNorm1d<T>::forward_fused(const Variable<T>& x,
                                          std::span<const std::shared_ptr<Module<T>>> next,
                                          size_t& consumed) {
  return reshape(BatchNorm2d<T>::forward_fused(as_nchw(x), next, consumed), x.shape());
}

template class BatchNorm2d<float>;
template class BatchNorm2d<double>;
template class BatchNorm1d<float>;
template class BatchNorm1d<double>;

}  // namespace nabla::nn
