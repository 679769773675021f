/// \file
/// The differentiable core. Each op's backward sits directly below its forward in
/// src/autograd/ops_*.cpp. Binary elementwise ops broadcast (NumPy rules) and reduce their
/// gradients back to each input's shape with sum_to_shape. sub and div are composed from add, mul,
/// neg and pow, so they need no backward of their own; mean and var are composed from sum.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "nabla/autograd.h"
#include "nabla/conv.h"

namespace nabla {

/// Sums values over the replicas of a data-parallel run, in place: afterwards every replica holds
/// the totals. Every replica makes the same calls in the same order (a collective);
/// dist::Communicator::replica_sum (nabla/dist/communicator.h) makes one. An empty one means a
/// single process.
using ReplicaSum = std::function<void(std::span<double> values)>;

/// a (M,K) @ b (K,N) -> (M,N).
template <typename T>
Variable<T> matmul(const Variable<T>& a, const Variable<T>& b);

/// x (B,in) @ weight^T (in,out) + bias (out) -> (B,out); bias may be undefined. A deliberate fused
/// op (as torch's F.linear): it saves transposing the weight and one pass over the output.
/// dx = dy @ weight, dweight = dy^T @ x, dbias = column sums of dy.
template <typename T>
Variable<T> linear(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias);

/// a + b elementwise with broadcasting; throws std::invalid_argument for incompatible shapes.
template <typename T>
Variable<T> add(const Variable<T>& a, const Variable<T>& b);
/// a * b elementwise with broadcasting; throws std::invalid_argument for incompatible shapes.
template <typename T>
Variable<T> mul(const Variable<T>& a, const Variable<T>& b);
/// -x elementwise.
template <typename T>
Variable<T> neg(const Variable<T>& x);
template <typename T>
Variable<T> sub(const Variable<T>& a, const Variable<T>& b);  ///< add(a, neg(b))
template <typename T>
Variable<T> div(const Variable<T>& a, const Variable<T>& b);  ///< mul(a, pow(b, -1))

/// e^x elementwise; the gradient is dy * e^x.
template <typename T>
Variable<T> exp(const Variable<T>& x);
/// Natural logarithm elementwise; the gradient is dy / x.
template <typename T>
Variable<T> log(const Variable<T>& x);
/// x^exponent elementwise, for a constant exponent.
template <typename T>
Variable<T> pow(const Variable<T>& x, T exponent);
/// Square root elementwise; the gradient is dy / (2 sqrt(x)).
template <typename T>
Variable<T> sqrt(const Variable<T>& x);

/// Sums over `dims` (empty: all). keepdim keeps them as size 1.
template <typename T>
Variable<T> sum(const Variable<T>& x, std::vector<int64_t> dims = {}, bool keepdim = false);
/// x summed over the replicas (`sum` called on its values, in double): every replica gets the
/// same total. dx is dy summed over the replicas, as the total feeds every replica's loss.
template <typename T>
Variable<T> replica_sum(const Variable<T>& x, const ReplicaSum& sum);
/// Mean over `dims` (empty: all), composed from sum. keepdim keeps them as size 1.
template <typename T>
Variable<T> mean(const Variable<T>& x, std::vector<int64_t> dims = {}, bool keepdim = false);
/// Variance over `dims`: biased (divide by n) or unbiased (by n - 1).
template <typename T>
Variable<T> var(const Variable<T>& x, std::vector<int64_t> dims, bool unbiased,
                bool keepdim = false);
/// Largest value along `dim`; the gradient goes to the first maximal element.
template <typename T>
Variable<T> max(const Variable<T>& x, int64_t dim, bool keepdim = false);

/// x viewed with another shape (one dimension may be -1); throws std::invalid_argument when the
/// number of elements differs.
template <typename T>
Variable<T> reshape(const Variable<T>& x, Shape shape);
/// Keeps dimensions before start_dim and flattens the rest into one.
template <typename T>
Variable<T> flatten(const Variable<T>& x, int64_t start_dim = 1);

/// max(x, 0) elementwise; the gradient passes where x > 0.
template <typename T>
Variable<T> relu(const Variable<T>& x);
/// x where x > 0, neg_slope * x elsewhere, elementwise.
template <typename T>
Variable<T> leaky_relu(const Variable<T>& x, T neg_slope);

/// Exact GELU, as torch.nn.GELU() by default: x * Phi(x), Phi the standard normal CDF (erf).
template <typename T>
Variable<T> gelu(const Variable<T>& x);

/// log(softmax(x)) along the last dimension, computed stably: x - max - log(sum(exp(x - max))).
template <typename T>
Variable<T> log_softmax(const Variable<T>& x);
/// Mean over the batch of -log softmax(logits)[s, labels[s]]; logits (B, C). Fused and stable:
/// the gradient is (softmax(logits) - onehot(labels)) / B.
template <typename T>
Variable<T> cross_entropy(const Variable<T>& logits, const std::vector<int32_t>& labels);

/// How cross_entropy reduces the per-example losses: their mean or their sum.
enum class Reduction { kMean, kSum };

/// The settings of cross_entropy, as torch.nn.CrossEntropyLoss's arguments.
struct CrossEntropyOptions {
  /// e in [0, 1]: each example's target is (1 - e) on its label plus e / C on every class.
  double label_smoothing = 0;
  Reduction reduction = Reduction::kMean;  ///< mean (the default) or sum over the batch
};

/// cross_entropy with label smoothing and a choice of reduction; throws std::invalid_argument for
/// a smoothing outside [0, 1]. The gradient is (softmax(logits) - target), divided by B for the
/// mean.
template <typename T>
Variable<T> cross_entropy(const Variable<T>& logits, const std::vector<int32_t>& labels,
                          const CrossEntropyOptions& options);

/// x (N,C,H,W) * weight (O,C,KH,KW) + bias (O) -> (N,O,OH,OW); bias may be undefined.
template <typename T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias,
                   int64_t stride, int64_t pad);
/// Max over kernel x kernel windows; padded cells never win; the gradient goes to each argmax.
template <typename T>
Variable<T> max_pool2d(const Variable<T>& x, int64_t kernel, int64_t stride, int64_t pad);
/// Mean over kernel x kernel windows of x (N,C,H,W), stride apart, with `pad` zeros on each side
/// counted in the mean (count_include_pad, PyTorch's default) -> (N,C,OH,OW),
/// OH = (H + 2 pad - kernel) / stride + 1. dx spreads each dy evenly over its window.
template <typename T>
Variable<T> avg_pool2d(const Variable<T>& x, int64_t kernel, int64_t stride, int64_t pad);

/// Mean over adaptive windows -> (N,C,out_h,out_w), as torch's adaptive_avg_pool2d: output row i
/// averages rows floor(i H / out_h) to ceil((i + 1) H / out_h) - 1, and likewise for columns.
template <typename T>
Variable<T> adaptive_avg_pool2d(const Variable<T>& x, int64_t out_h, int64_t out_w);

/// Zeros around x (N,C,H,W): `left` and `right` columns, `top` and `bottom` rows, each >= 0 ->
/// (N,C,H+top+bottom,W+left+right), as F.pad(x, (left, right, top, bottom)). dx is dy's interior.
template <typename T>
Variable<T> pad2d(const Variable<T>& x, int64_t left, int64_t right, int64_t top, int64_t bottom);

/// Batch norm over N, H and W of x (N,C,H,W), fused with a hand-written backward. Training: batch
/// statistics (biased variance) normalise, and running_mean/running_var (C) are updated in place
/// with `momentum` and the unbiased variance, as PyTorch does. Evaluation: the running statistics
/// normalise. With `relu`, the result is relu(batch_norm2d(x)) in one op (one pass over the
/// data each way, no intermediate tensor), as the ConvNet's blocks use it. With `replica_sum`
/// (synchronised batch norm, torch.nn.SyncBatchNorm), training statistics are those of the
/// batches of all replicas together: the per-channel sums and counts, then the squared deviations
/// from the common mean, are summed over the replicas, and so are the backward pass's two sums.
template <typename T>
Variable<T> batch_norm2d(const Variable<T>& x, const Variable<T>& gamma, const Variable<T>& beta,
                         Tensor<T>& running_mean, Tensor<T>& running_var, bool training, T momentum,
                         T eps, bool relu = false, const ReplicaSum& replica_sum = {});
/// Inference only, with autograd off (NoGradGuard; throws std::logic_error otherwise):
/// batch_norm2d(conv2d(x, weight, bias), eval mode) and, with relu, the ReLU after it, as one
/// convolution with the batch norm folded into its filters and bias (conv2d_bn_inference in
/// conv.h).
template <typename T>
Variable<T> conv2d_bn_inference(const Variable<T>& x, const Variable<T>& weight,
                                const Variable<T>& bias, int64_t stride, int64_t pad,
                                const BatchNormStats<T>& bn, bool relu);

/// A constant (no gradient) of shape [] holding v.
template <typename T>
Variable<T> scalar(T v) {
  return Variable<T>(Tensor<T>(Shape{}, {v}));
}

/// add(a, b): elementwise with broadcasting.
template <typename T>
Variable<T> operator+(const Variable<T>& a, const Variable<T>& b) {
  return add(a, b);
}
/// sub(a, b): elementwise with broadcasting.
template <typename T>
Variable<T> operator-(const Variable<T>& a, const Variable<T>& b) {
  return sub(a, b);
}
/// mul(a, b): elementwise with broadcasting.
template <typename T>
Variable<T> operator*(const Variable<T>& a, const Variable<T>& b) {
  return mul(a, b);
}
/// div(a, b): elementwise with broadcasting.
template <typename T>
Variable<T> operator/(const Variable<T>& a, const Variable<T>& b) {
  return div(a, b);
}
/// neg(x): -x elementwise.
template <typename T>
Variable<T> operator-(const Variable<T>& x) {
  return neg(x);
}
/// a plus the constant b in every element.
template <typename T>
Variable<T> operator+(const Variable<T>& a, T b) {
  return add(a, scalar(b));
}
/// a times the constant b in every element.
template <typename T>
Variable<T> operator*(const Variable<T>& a, T b) {
  return mul(a, scalar(b));
}

}  // namespace nabla
