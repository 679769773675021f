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
  if (this->replica_sum_ && this->training()) {
    // The mean and biased variance of all replicas' batches: sums over each batch, added up.
    // (Evaluation, which one replica may run alone, normalises by its own batch.)
    std::vector<double> count{static_cast<double>(x.dim(0))};
    this->replica_sum_(count);
    const T inv_total = T(1) / static_cast<T>(count[0]);
    const Variable<T> mu = replica_sum(sum(x, {0}, true), this->replica_sum_) * inv_total;
    const Variable<T> centered = x - mu;
    const Variable<T> sigma2 =
        replica_sum(sum(centered * centered, {0}, true), this->replica_sum_) * inv_total;
    return this->gamma_ * (centered / sqrt(sigma2 + this->eps_)) + this->beta_;
  }
  const Variable<T> mu = mean(x, {0}, true);
  const Variable<T> sigma2 = var(x, {0}, /*unbiased=*/false, true);
  const Variable<T> xhat = (x - mu) / sqrt(sigma2 + this->eps_);
  return this->gamma_ * xhat + this->beta_;
}

namespace {

// The per-channel sums of a (B, C) batch or, synchronised, of all replicas' batches together: each
// replica's sums (in T, as one process adds them) added up by the ReplicaSum, and B the total
// batch. Without a ReplicaSum, this batch's sums alone.
template <typename T>
struct ReplicaBatch {
  const ReplicaSum& sum;  // empty: this batch alone
  T B;
  // Per channel c: the sum over the rows of f(row, c).
  template <typename F>
  std::vector<T> column_sums(int64_t rows, int64_t C, F f) const {
    std::vector<T> totals(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t s = 0; s < rows; ++s) totals[c] += f(s, c);
    }
    if (!sum) return totals;
    std::vector<double> all(totals.begin(), totals.end());
    sum(all);
    return std::vector<T>(all.begin(), all.end());
  }
};

// A batch of B rows, with the total over the replicas when synchronised.
template <typename T>
ReplicaBatch<T> replica_batch(const ReplicaSum& sum, int64_t B) {
  std::vector<double> count{static_cast<double>(B)};
  if (sum) sum(count);
  return {sum, static_cast<T>(count[0])};
}

}  // namespace

template <typename T>
Tensor<T> CustomBatchNormManualFunction<T>::forward(FunctionContext<T>& ctx,
                                                    const std::vector<Tensor<T>>& inputs, T eps,
                                                    const ReplicaSum& sum) {
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
  const ReplicaBatch<T> all = replica_batch<T>(sum, B);
  std::vector<T> mean = all.column_sums(B, C, [&](int64_t s, int64_t c) { return x[s * C + c]; });
  for (T& m : mean) m /= all.B;
  const std::vector<T> squares = all.column_sums(B, C, [&](int64_t s, int64_t c) {
    return (x[s * C + c] - mean[c]) * (x[s * C + c] - mean[c]);
  });
  Tensor<T> xhat(x.shape()), inv_std({C}), y(x.shape());
  for (int64_t c = 0; c < C; ++c) {
    inv_std[c] = T(1) / std::sqrt(squares[c] / all.B + eps);
    for (int64_t s = 0; s < B; ++s) {
      xhat[s * C + c] = (x[s * C + c] - mean[c]) * inv_std[c];
      y[s * C + c] = gamma[c] * xhat[s * C + c] + beta[c];
    }
  }
  ctx.save_for_backward({xhat, inv_std, gamma});
  ctx.constants["total_batch"] = static_cast<double>(all.B);
  if (sum) ctx.state = sum;
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
    // Synchronised, the two sums and B are those of all replicas' batches.
    const ReplicaSum none;
    const ReplicaBatch<T> all{
        ctx.state.has_value() ? std::any_cast<const ReplicaSum&>(ctx.state) : none,
        static_cast<T>(ctx.constants.at("total_batch"))};
    const auto dxhat = [&](int64_t s, int64_t c) { return dy[s * C + c] * gamma[c]; };
    const std::vector<T> sum_dxhat = all.column_sums(B, C, dxhat);
    const std::vector<T> sum_dxhat_xhat =
        all.column_sums(B, C, [&](int64_t s, int64_t c) { return dxhat(s, c) * xhat[s * C + c]; });
    Tensor<T> dx(xhat.shape());
    for (int64_t s = 0; s < B; ++s) {
      for (int64_t c = 0; c < C; ++c) {
        dx[s * C + c] = (all.B * dxhat(s, c) - sum_dxhat[c] - xhat[s * C + c] * sum_dxhat_xhat[c]) *
                        inv_std[c] / all.B;
      }
    }
    grads[0] = dx;
  }
  return grads;
}

template <typename T>
Variable<T> CustomBatchNormManualModule<T>::forward(const Variable<T>& x) {
  check_batchnorm_input(x.shape(), this->n_neurons_, "CustomBatchNormManualModule");
  return apply<CustomBatchNormManualFunction<T>>(
      {x, this->gamma_, this->beta_}, this->eps_,
      this->training() ? this->replica_sum_ : ReplicaSum());
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
