#include "nabla/broadcast.h"

#include <algorithm>
#include <stdexcept>

namespace nabla {
namespace {

// Element strides of `shape` seen from a result of rank `rank`: 0 where the dimension is
// broadcast (missing or of size 1 against a larger result).
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& result) {
  const size_t rank = result.size(), offset = rank - shape.size();
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d + offset] = (shape[d] == 1 && result[d + offset] != 1) ? 0 : stride;
    stride *= shape[d];
  }
  return strides;
}

// Calls f(out_index, offset_a, offset_b) for every element of `result`, in row-major order.
template <typename F>
void for_each_broadcast(const Shape& result, const std::vector<int64_t>& sa,
                        const std::vector<int64_t>& sb, F&& f) {
  const int64_t n = shape_numel(result);
  if (n == 0) return;
  const size_t rank = result.size();
  if (rank == 0) {
    f(0, 0, 0);
    return;
  }
  std::vector<int64_t> index(rank, 0);
  const int64_t inner = result[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
  int64_t oa = 0, ob = 0;
  for (int64_t base = 0; base < n; base += inner) {
    for (int64_t j = 0; j < inner; ++j) f(base + j, oa + j * ia, ob + j * ib);
    // Advance the odometer over all but the last dimension.
    for (size_t d = rank - 1; d-- > 0;) {
      ++index[d];
      oa += sa[d];
      ob += sb[d];
      if (index[d] < result[d]) break;
      oa -= sa[d] * result[d];
      ob -= sb[d] * result[d];
      index[d] = 0;
    }
  }
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw std::invalid_argument("shapes " + shape_str(a) + " and " + shape_str(b) +
                                  " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> normalize_dims(std::vector<int64_t> dims, int64_t rank) {
  if (dims.empty()) {
    for (int64_t d = 0; d < rank; ++d) dims.push_back(d);
  }
  for (int64_t& d : dims) {
    if (d < -rank || d >= rank) {
      throw std::out_of_range("dimension " + std::to_string(d) + " out of range for rank " +
                              std::to_string(rank));
    }
    if (d < 0) d += rank;
  }
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  return dims;
}

template <typename T>
Tensor<T> broadcast_binary(const Tensor<T>& a, const Tensor<T>& b, BinaryOp op) {
  const Shape shape = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape());
  Tensor<T> out(shape);
  const T* pa = a.data();
  const T* pb = b.data();
  T* po = out.data();
  const auto run = [&](auto fn) {
    if (a.shape() == b.shape()) {
      for (int64_t i = 0; i < out.numel(); ++i) po[i] = fn(pa[i], pb[i]);
    } else {
      for_each_broadcast(shape, broadcast_strides(a.shape(), shape),
                         broadcast_strides(b.shape(), shape),
                         [&](int64_t o, int64_t ia, int64_t ib) { po[o] = fn(pa[ia], pb[ib]); });
    }
  };
  switch (op) {
    case BinaryOp::kAdd:
      run([](T x, T y) { return x + y; });
      break;
    case BinaryOp::kSub:
      run([](T x, T y) { return x - y; });
      break;
    case BinaryOp::kMul:
      run([](T x, T y) { return x * y; });
      break;
    case BinaryOp::kDiv:
      run([](T x, T y) { return x / y; });
      break;
  }
  return out;
}

template <typename T>
Tensor<T> expand_to(const Tensor<T>& x, const Shape& shape) {
  if (broadcast_shapes(x.shape(), shape) != shape) {
    throw std::invalid_argument("cannot expand " + shape_str(x.shape()) + " to " +
                                shape_str(shape));
  }
  Tensor<T> out(shape);
  const T* px = x.data();
  T* po = out.data();
  const std::vector<int64_t> zero(shape.size(), 0);
  for_each_broadcast(shape, broadcast_strides(x.shape(), shape), zero,
                     [&](int64_t o, int64_t ix, int64_t) { po[o] = px[ix]; });
  return out;
}

template <typename T>
Tensor<T> sum_dims(const Tensor<T>& x, std::vector<int64_t> dims, bool keepdim) {
  dims = normalize_dims(std::move(dims), x.rank());
  Shape kept = x.shape(), dropped;
  for (int64_t d : dims) kept[d] = 1;
  for (size_t d = 0; d < kept.size(); ++d) {
    if (!std::binary_search(dims.begin(), dims.end(), static_cast<int64_t>(d))) {
      dropped.push_back(kept[d]);
    }
  }
  Tensor<T> out(kept);
  const T* px = x.data();
  T* po = out.data();
  const std::vector<int64_t> zero(kept.size(), 0);
  // Iterate over x, mapping each element to its slot in the (keepdim) result.
  for_each_broadcast(x.shape(), broadcast_strides(kept, x.shape()), zero,
                     [&](int64_t i, int64_t o, int64_t) { po[o] += px[i]; });
  return keepdim ? out : out.reshape(dropped);
}

template <typename T>
Tensor<T> sum_to_shape(const Tensor<T>& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t extra = grad.rank() - static_cast<int64_t>(shape.size());
  if (extra < 0) {
    throw std::invalid_argument("sum_to_shape: " + shape_str(grad.shape()) + " is smaller than " +
                                shape_str(shape));
  }
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < grad.rank(); ++d) {
    if (d < extra || (shape[d - extra] == 1 && grad.shape()[d] != 1)) dims.push_back(d);
  }
  if (dims.empty()) return grad.reshape(shape);
  return sum_dims(grad, dims, true).reshape(shape);
}

template Tensor<float> broadcast_binary<float>(const Tensor<float>&, const Tensor<float>&,
                                               BinaryOp);
template Tensor<double> broadcast_binary<double>(const Tensor<double>&, const Tensor<double>&,
                                                 BinaryOp);
template Tensor<float> expand_to<float>(const Tensor<float>&, const Shape&);
template Tensor<double> expand_to<double>(const Tensor<double>&, const Shape&);
template Tensor<float> sum_dims<float>(const Tensor<float>&, std::vector<int64_t>, bool);
template Tensor<double> sum_dims<double>(const Tensor<double>&, std::vector<int64_t>, bool);
template Tensor<float> sum_to_shape<float>(const Tensor<float>&, const Shape&);
template Tensor<double> sum_to_shape<double>(const Tensor<double>&, const Shape&);

}  // namespace nabla
