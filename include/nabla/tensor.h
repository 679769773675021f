/// \file
/// Tensor<T>: an N-d, contiguous, row-major array of float (training) or double (gradient checks).
/// Storage is shared between a tensor and its reshaped views; clone() makes an independent copy.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace nabla {

/// A tensor's sizes, outermost dimension first; {} is the shape of a scalar.
using Shape = std::vector<int64_t>;

namespace detail {
/// std::allocator, except that value-initialising an element leaves it uninitialised (for
/// Tensor::uninitialized); explicit values are constructed as usual.
template <typename T>
struct UninitAllocator : std::allocator<T> {
  using value_type = T;
  UninitAllocator() = default;
  template <typename U>
  explicit UninitAllocator(const UninitAllocator<U>&) noexcept {}
  template <typename U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
}  // namespace detail

/// The number of elements of a shape (1 for {}); throws std::invalid_argument for a negative size.
int64_t shape_numel(const Shape& shape);
/// The shape as text, e.g. "[2, 3]", for error messages.
std::string shape_str(const Shape& shape);

/// An N-d, contiguous, row-major array of T (float or double); copies and reshaped views share
/// storage. A default-constructed tensor is empty.
template <typename T>
class Tensor {
 public:
  Tensor() = default;
  /// A zero-filled tensor.
  explicit Tensor(Shape shape);
  /// A tensor holding `values` in row-major order; throws std::invalid_argument unless there are
  /// shape_numel(shape) of them.
  Tensor(Shape shape, std::vector<T> values);

  /// A zero-filled tensor, the same as Tensor(shape).
  static Tensor zeros(Shape shape) { return Tensor(std::move(shape)); }
  /// A tensor whose values are unspecified: for results that a kernel overwrites entirely.
  static Tensor uninitialized(Shape shape);
  /// A tensor with every element set to value.
  static Tensor full(Shape shape, T value);

  /// The sizes of the dimensions.
  const Shape& shape() const { return shape_; }
  /// The number of dimensions (0 for a scalar).
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  /// Size of dimension d; negative d counts from the end.
  int64_t dim(int64_t d) const;
  /// The number of elements; 0 for an empty tensor.
  int64_t numel() const { return numel_; }
  /// Whether there is no storage (default-constructed), as for an absent gradient or bias.
  bool empty() const { return storage_ == nullptr; }

  /// The first element of the row-major storage, or nullptr when empty.
  T* data() { return storage_ ? storage_->data() : nullptr; }
  /// The same, read-only.
  const T* data() const { return storage_ ? storage_->data() : nullptr; }
  /// All numel() elements in row-major order.
  std::span<T> values() { return {data(), static_cast<size_t>(numel_)}; }
  /// The same, read-only.
  std::span<const T> values() const { return {data(), static_cast<size_t>(numel_)}; }
  /// Element i of the row-major storage, not bounds-checked.
  T& operator[](int64_t i) { return (*storage_)[static_cast<size_t>(i)]; }
  /// The same, read-only.
  const T& operator[](int64_t i) const { return (*storage_)[static_cast<size_t>(i)]; }
  /// Element at a multi-index, bounds-checked.
  T& at(std::initializer_list<int64_t> index);
  /// The same, read-only; throws std::out_of_range for an index of the wrong rank or out of range.
  const T& at(std::initializer_list<int64_t> index) const;

  /// A view with another shape and the same storage; one dimension may be -1.
  Tensor reshape(Shape shape) const;
  /// A copy with its own storage (empty for an empty tensor).
  Tensor clone() const;
  /// Rows [begin, end) of dimension 0, copied.
  Tensor slice_rows(int64_t begin, int64_t end) const;
  /// Sets every element to value; does nothing to an empty tensor.
  void fill(T value);
  /// Whether both share one storage, as a tensor and its reshaped views do.
  bool same_storage(const Tensor& other) const { return storage_ == other.storage_; }

 private:
  int64_t offset_of(std::initializer_list<int64_t> index) const;

  Shape shape_;
  int64_t numel_ = 0;
  using Storage = std::vector<T, detail::UninitAllocator<T>>;
  std::shared_ptr<Storage> storage_;
};

/// Converts between element types (float <-> double).
template <typename To, typename From>
Tensor<To> tensor_cast(const Tensor<From>& t);

extern template class Tensor<float>;
extern template class Tensor<double>;

}  // namespace nabla
