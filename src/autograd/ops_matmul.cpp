// Matrix product; backward below forward.
#include <stdexcept>

#include "nabla/kernels.h"
#include "nabla/ops.h"

namespace nabla {

// y (M,N) = a (M,K) @ b (K,N); da = dy @ b^T, db = a^T @ dy.
template <typename T>
Variable<T> matmul(const Variable<T>& a, const Variable<T>& b) {
  auto an = a.node(), bn = b.node();
  return Variable<T>::make_result(
      matmul(a.value(), b.value()), "matmul", {an, bn}, [an, bn](const Tensor<T>& dy) {
        if (an->requires_grad) {
          an->accumulate(matmul(dy, bn->value, Trans::kNo, Trans::kYes));
        }
        if (bn->requires_grad) {
          bn->accumulate(matmul(an->value, dy, Trans::kYes, Trans::kNo));
        }
      });
}

template Variable<float> matmul<float>(const Variable<float>&, const Variable<float>&);
template Variable<double> matmul<double>(const Variable<double>&, const Variable<double>&);

}  // namespace nabla

namespace nabla {

template <typename T>
Variable<T> linear(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias) {
  const Tensor<T>& xv = x.value();
  const Tensor<T>& wv = weight.value();
  if (xv.rank() != 2 || wv.rank() != 2 || xv.dim(1) != wv.dim(1)) {
    throw std::invalid_argument("linear: input " + shape_str(xv.shape()) + " and weight " +
                                shape_str(wv.shape()) + " do not fit (weight is (out, in))");
  }
  Tensor<T> y = matmul(xv, wv, Trans::kNo, Trans::kYes);
  std::vector<std::shared_ptr<Node<T>>> inputs{x.node(), weight.node()};
  if (bias.defined()) {
    add_row_vector(y, bias.value());
    inputs.push_back(bias.node());
  }
  auto xn = x.node(), wn = weight.node();
  auto bn = bias.defined() ? bias.node() : nullptr;
  return Variable<T>::make_result(y, "linear", inputs, [xn, wn, bn](const Tensor<T>& dy) {
    if (xn->requires_grad) xn->accumulate_owned(matmul(dy, wn->value));
    if (wn->requires_grad) wn->accumulate_owned(matmul(dy, xn->value, Trans::kYes, Trans::kNo));
    if (bn && bn->requires_grad) bn->accumulate_owned(sum_rows(dy));
  });
}

template Variable<float> linear<float>(const Variable<float>&, const Variable<float>&,
                                       const Variable<float>&);
template Variable<double> linear<double>(const Variable<double>&, const Variable<double>&,
                                         const Variable<double>&);

}  // namespace nabla
