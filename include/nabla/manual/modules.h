/// \file
/// The report's Section 1 modules, each with an explicit forward and a hand-written backward that
/// uses what forward cached (llm.c style: no autograd here). B is the batch size. Gradients of the
/// parameters are overwritten by each backward call, as in the course's NumPy modules.
#pragma once

#include <cstdint>
#include <vector>

#include "nabla/rng.h"
#include "nabla/tensor.h"

namespace nabla::manual {

/// out (B,out) = x (B,in) @ weight^T + bias; weight (out,in) ~ N(0, 1e-4^2), bias (out) = 0.
/// Caches x. backward: dweight = dout^T x, dbias = sum over the batch of dout, dx = dout @ weight;
/// dx is skipped (an empty tensor is returned) when input_grad is false, as for the first layer.
template <typename T>
class Linear {
 public:
  /// weight drawn from rng, bias 0; with input_grad false, backward returns no dx.
  Linear(int64_t in_features, int64_t out_features, Rng& rng, bool input_grad = true);
  /// x (B,in) -> out (B,out); caches x.
  Tensor<T> forward(const Tensor<T>& x);
  /// dout (B,out) -> dx (B,in), or an empty tensor without input_grad; sets dweight and dbias.
  Tensor<T> backward(const Tensor<T>& dout);

  /// The (out,in) weight.
  Tensor<T>& weight() { return weight_; }
  /// The (out) bias.
  Tensor<T>& bias() { return bias_; }
  /// The weight's gradient (out,in) from the last backward.
  Tensor<T>& dweight() { return dweight_; }
  /// The bias's gradient (out) from the last backward.
  Tensor<T>& dbias() { return dbias_; }

 private:
  Tensor<T> weight_, bias_, dweight_, dbias_;
  Tensor<T> x_;
  bool input_grad_;
};

/// out = x where x > 0, neg_slope * x elsewhere; any shape. Caches x.
/// backward: dx = dout * (x > 0 ? 1 : neg_slope).
template <typename T>
class LeakyReLU {
 public:
  /// neg_slope multiplies the inputs that are not positive.
  explicit LeakyReLU(T neg_slope) : neg_slope_(neg_slope) {}
  /// x -> out of the same shape; caches x.
  Tensor<T> forward(const Tensor<T>& x);
  /// dout -> dx, both of x's shape.
  Tensor<T> backward(const Tensor<T>& dout);

 private:
  T neg_slope_;
  Tensor<T> x_;
};

/// out (B,C) = softmax over each row of x (B,C), with the max trick. Caches out.
/// backward: dx_i = out_i * (dout_i - sum_j dout_j out_j), per row.
template <typename T>
class SoftMax {
 public:
  /// x (B,C) -> out (B,C), each row summing to 1; caches out.
  Tensor<T> forward(const Tensor<T>& x);
  /// dout (B,C) -> dx (B,C).
  Tensor<T> backward(const Tensor<T>& dout);

 private:
  Tensor<T> out_;
};

/// loss = -(1/B) sum_s log probs[s, labels[s]] for probs (B,C). Caches probs and labels.
/// backward: dprobs[s, c] = -1 / (B * probs[s, c]) where c = labels[s], 0 elsewhere.
template <typename T>
class CrossEntropy {
 public:
  /// The loss; throws std::invalid_argument unless there is one label per row, std::out_of_range
  /// for a label outside 0..C-1.
  T forward(const Tensor<T>& probs, const std::vector<int32_t>& labels);
  /// dprobs (B,C) for the cached probs and labels.
  Tensor<T> backward();

 private:
  Tensor<T> probs_;
  std::vector<int32_t> labels_;
};

}  // namespace nabla::manual
