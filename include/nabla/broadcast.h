/// \file
/// NumPy-style broadcasting for plain tensors: shapes are aligned from the right, and a dimension of
/// size 1 stretches to match. Reductions over chosen dimensions, and the helper that sums a
/// broadcast gradient back to its input's shape.
#pragma once

#include <vector>

#include "nabla/tensor.h"

namespace nabla {

/// The broadcast result of two shapes; throws std::invalid_argument naming both when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);

/// The elementwise operation of broadcast_binary: +, -, * or /.
enum class BinaryOp { kAdd, kSub, kMul, kDiv };

/// a op b, elementwise with broadcasting.
template <typename T>
Tensor<T> broadcast_binary(const Tensor<T>& a, const Tensor<T>& b, BinaryOp op);

/// x copied out to `shape`, which x must broadcast to.
template <typename T>
Tensor<T> expand_to(const Tensor<T>& x, const Shape& shape);

/// Sum over `dims` (negative counts from the end; empty means all). With keepdim the reduced
/// dimensions stay as size 1.
template <typename T>
Tensor<T> sum_dims(const Tensor<T>& x, std::vector<int64_t> dims, bool keepdim);

/// Sums a gradient of a broadcast result back to `shape`, the shape of the input that was
/// broadcast: over the leading dimensions it lacked and over those where it had size 1.
template <typename T>
Tensor<T> sum_to_shape(const Tensor<T>& grad, const Shape& shape);

/// Normalises dimension indices against a rank: negative ones count from the end; sorted, unique.
std::vector<int64_t> normalize_dims(std::vector<int64_t> dims, int64_t rank);

}  // namespace nabla
