#include "nabla/tensor.h"

#include <algorithm>
#include <stdexcept>

namespace nabla {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("negative dimension in shape " + shape_str(shape));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

template <typename T>
Tensor<T>::Tensor(Shape shape)
    : shape_(std::move(shape)),
      numel_(shape_numel(shape_)),
      storage_(std::make_shared<Storage>(static_cast<size_t>(numel_), T(0))) {}

template <typename T>
Tensor<T> Tensor<T>::uninitialized(Shape shape) {
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.shape_ = std::move(shape);
  t.storage_ = std::make_shared<Storage>(static_cast<size_t>(t.numel_));
  return t;
}

template <typename T>
Tensor<T>::Tensor(Shape shape, std::vector<T> values)
    : shape_(std::move(shape)), numel_(shape_numel(shape_)) {
  if (static_cast<int64_t>(values.size()) != numel_) {
    throw std::invalid_argument("tensor of shape " + shape_str(shape_) + " needs " +
                                std::to_string(numel_) + " values, got " +
                                std::to_string(values.size()));
  }
  storage_ = std::make_shared<Storage>(values.begin(), values.end());
}

template <typename T>
Tensor<T> Tensor<T>::full(Shape shape, T value) {
  Tensor t(std::move(shape));
  t.fill(value);
  return t;
}

template <typename T>
int64_t Tensor<T>::dim(int64_t d) const {
  const int64_t r = rank();
  if (d < -r || d >= r) {
    throw std::out_of_range("dimension " + std::to_string(d) + " out of range for shape " +
                            shape_str(shape_));
  }
  return shape_[static_cast<size_t>(d < 0 ? d + r : d)];
}

template <typename T>
int64_t Tensor<T>::offset_of(std::initializer_list<int64_t> index) const {
  if (static_cast<int64_t>(index.size()) != rank()) {
    throw std::out_of_range("index of rank " + std::to_string(index.size()) + " for shape " +
                            shape_str(shape_));
  }
  int64_t offset = 0;
  size_t d = 0;
  for (int64_t i : index) {
    if (i < 0 || i >= shape_[d]) {
      throw std::out_of_range("index " + std::to_string(i) + " out of range in dimension " +
                              std::to_string(d) + " of shape " + shape_str(shape_));
    }
    offset = offset * shape_[d] + i;
    ++d;
  }
  return offset;
}

template <typename T>
T& Tensor<T>::at(std::initializer_list<int64_t> index) {
  return (*storage_)[static_cast<size_t>(offset_of(index))];
}

template <typename T>
const T& Tensor<T>::at(std::initializer_list<int64_t> index) const {
  return (*storage_)[static_cast<size_t>(offset_of(index))];
}

template <typename T>
Tensor<T> Tensor<T>::reshape(Shape shape) const {
  int64_t known = 1;
  int64_t inferred = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && inferred < 0) {
      inferred = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument("bad shape " + shape_str(shape) + " in reshape");
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0 && known > 0 && numel_ % known == 0) shape[inferred] = numel_ / known;
  if (shape_numel(shape) != numel_) {
    throw std::invalid_argument("cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
  }
  Tensor view = *this;
  view.shape_ = std::move(shape);
  return view;
}

template <typename T>
Tensor<T> Tensor<T>::clone() const {
  if (empty()) return {};
  Tensor copy = uninitialized(shape_);
  std::copy(storage_->begin(), storage_->end(), copy.storage_->begin());
  return copy;
}

template <typename T>
Tensor<T> Tensor<T>::slice_rows(int64_t begin, int64_t end) const {
  const int64_t rows = dim(0);
  if (begin < 0 || end > rows || begin > end) {
    throw std::out_of_range("rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                            ") out of range for shape " + shape_str(shape_));
  }
  Shape out_shape = shape_;
  out_shape[0] = end - begin;
  const int64_t row = rows ? numel_ / rows : 0;
  Tensor out = uninitialized(std::move(out_shape));
  std::copy(data() + begin * row, data() + end * row, out.data());
  return out;
}

template <typename T>
void Tensor<T>::fill(T value) {
  if (storage_) std::fill(storage_->begin(), storage_->end(), value);
}

template <typename To, typename From>
Tensor<To> tensor_cast(const Tensor<From>& t) {
  std::vector<To> values(t.values().begin(), t.values().end());
  return Tensor<To>(t.shape(), std::move(values));
}

template class Tensor<float>;
template class Tensor<double>;
template Tensor<float> tensor_cast<float, double>(const Tensor<double>&);
template Tensor<double> tensor_cast<double, float>(const Tensor<float>&);
template Tensor<float> tensor_cast<float, float>(const Tensor<float>&);
template Tensor<double> tensor_cast<double, double>(const Tensor<double>&);

}  // namespace nabla
