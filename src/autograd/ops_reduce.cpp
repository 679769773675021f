// Reductions and shape ops; each backward directly below its forward. mean and var are composed.
#include <stdexcept>

#include "nabla/broadcast.h"
#include "nabla/ops.h"

namespace nabla {
namespace {

// The shape of x with `dims` set to 1 (the keepdim shape of a reduction).
Shape kept_shape(const Shape& shape, const std::vector<int64_t>& dims) {
  Shape kept = shape;
  for (int64_t d : dims) kept[d] = 1;
  return kept;
}

int64_t reduced_count(const Shape& shape, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= shape[d];
  return n;
}

}  // namespace

// y = sum of x over dims; dx = dy broadcast back over the reduced dimensions.
template <typename T>
Variable<T> sum(const Variable<T>& x, std::vector<int64_t> dims, bool keepdim) {
  dims = normalize_dims(std::move(dims), x.value().rank());
  auto xn = x.node();
  const Shape kept = kept_shape(x.shape(), dims);
  return Variable<T>::make_result(sum_dims(x.value(), dims, keepdim), "sum", {xn},
                                  [xn, kept](const Tensor<T>& dy) {
                                    xn->accumulate(expand_to(dy.reshape(kept), xn->value.shape()));
                                  });
}

namespace {

// t summed over the replicas, through a double buffer.
template <typename T>
Tensor<T> summed_over_replicas(const Tensor<T>& t, const ReplicaSum& sum) {
  std::vector<double> values(t.values().begin(), t.values().end());
  sum(values);
  Tensor<T> out(t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = static_cast<T>(values[static_cast<size_t>(i)]);
  return out;
}

}  // namespace

// y = x summed over the replicas; dx = dy summed over the replicas.
template <typename T>
Variable<T> replica_sum(const Variable<T>& x, const ReplicaSum& sum) {
  if (!sum) throw std::invalid_argument("replica_sum: no ReplicaSum given");
  auto xn = x.node();
  return Variable<T>::make_result(
      summed_over_replicas(x.value(), sum), "replica_sum", {xn},
      [xn, sum](const Tensor<T>& dy) { xn->accumulate_owned(summed_over_replicas(dy, sum)); });
}

template <typename T>
Variable<T> mean(const Variable<T>& x, std::vector<int64_t> dims, bool keepdim) {
  dims = normalize_dims(std::move(dims), x.value().rank());
  const int64_t n = reduced_count(x.shape(), dims);
  return sum(x, dims, keepdim) * (T(1) / static_cast<T>(n));
}

template <typename T>
Variable<T> var(const Variable<T>& x, std::vector<int64_t> dims, bool unbiased, bool keepdim) {
  dims = normalize_dims(std::move(dims), x.value().rank());
  const int64_t n = reduced_count(x.shape(), dims);
  if (unbiased && n < 2) throw std::invalid_argument("unbiased variance of fewer than 2 values");
  const Variable<T> centered = x - mean(x, dims, true);
  return sum(centered * centered, dims, keepdim) * (T(1) / static_cast<T>(unbiased ? n - 1 : n));
}

// y = max of x along dim; dx is dy at the first maximal element of each slice, 0 elsewhere.
template <typename T>
Variable<T> max(const Variable<T>& x, int64_t dim, bool keepdim) {
  const Tensor<T>& xv = x.value();
  const int64_t d = normalize_dims({dim}, xv.rank())[0];
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= xv.shape()[i];
  for (int64_t i = d + 1; i < xv.rank(); ++i) inner *= xv.shape()[i];
  const int64_t len = xv.shape()[d];
  if (len == 0) throw std::invalid_argument("max over an empty dimension");
  Shape kept = xv.shape();
  kept[d] = 1;
  Tensor<T> y(kept);
  std::vector<int64_t> arg(static_cast<size_t>(outer * inner));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = o * len * inner + i;
      for (int64_t k = 1; k < len; ++k) {
        const int64_t idx = (o * len + k) * inner + i;
        if (xv[idx] > xv[best]) best = idx;
      }
      y[o * inner + i] = xv[best];
      arg[o * inner + i] = best;
    }
  }
  Shape out_shape = kept;
  if (!keepdim) out_shape.erase(out_shape.begin() + d);
  auto xn = x.node();
  return Variable<T>::make_result(y.reshape(out_shape), "max", {xn},
                                  [xn, arg](const Tensor<T>& dy) {
                                    Tensor<T> dx(xn->value.shape());
                                    for (size_t j = 0; j < arg.size(); ++j) dx[arg[j]] += dy[j];
                                    xn->accumulate(dx);
                                  });
}

// A view of x with another shape; dx is dy viewed with x's shape.
template <typename T>
Variable<T> reshape(const Variable<T>& x, Shape shape) {
  auto xn = x.node();
  return Variable<T>::make_result(
      x.value().reshape(std::move(shape)), "reshape", {xn},
      [xn](const Tensor<T>& dy) { xn->accumulate(dy.reshape(xn->value.shape())); });
}

template <typename T>
Variable<T> flatten(const Variable<T>& x, int64_t start_dim) {
  const int64_t d = normalize_dims({start_dim}, x.value().rank())[0];
  Shape shape(x.shape().begin(), x.shape().begin() + d);
  shape.push_back(-1);
  return reshape(x, shape);
}

#define NABLA_REDUCE(T)                                                              \
  template Variable<T> sum<T>(const Variable<T>&, std::vector<int64_t>, bool);       \
  template Variable<T> replica_sum<T>(const Variable<T>&, const ReplicaSum&);        \
  template Variable<T> mean<T>(const Variable<T>&, std::vector<int64_t>, bool);      \
  template Variable<T> var<T>(const Variable<T>&, std::vector<int64_t>, bool, bool); \
  template Variable<T> max<T>(const Variable<T>&, int64_t, bool);                    \
  template Variable<T> reshape<T>(const Variable<T>&, Shape);                        \
  template Variable<T> flatten<T>(const Variable<T>&, int64_t);
NABLA_REDUCE(float)
NABLA_REDUCE(double)

}  // namespace nabla
