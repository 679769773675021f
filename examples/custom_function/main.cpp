// A user-written autograd function: SiLU, y = x * sigmoid(x), with its own backward
// dy/dx = s * (1 + x * (1 - s)), s = sigmoid(x). The forward saves s, so the backward does not
// recompute the exponentials. The program checks the backward against float64 central
// differences, then uses the function in float32 like any built-in op; it exits 1 if the check
// fails.
#include <cmath>
#include <cstdio>

#include "nabla/function.h"
#include "nabla/gradcheck.h"
#include "nabla/ops.h"
#include "nabla/rng.h"

template <typename T>
struct SiLU {
  using Scalar = T;

  // inputs[0]: x of any shape; saves sigmoid(x).
  static nabla::Tensor<T> forward(nabla::FunctionContext<T>& ctx,
                                  const std::vector<nabla::Tensor<T>>& inputs) {
    const nabla::Tensor<T>& x = inputs[0];
    nabla::Tensor<T> y(x.shape()), s(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
      s[i] = T(1) / (T(1) + std::exp(-x[i]));
      y[i] = x[i] * s[i];
    }
    ctx.save_for_backward({x, s});
    return y;
  }

  static std::vector<nabla::Tensor<T>> backward(nabla::FunctionContext<T>& ctx,
                                                const nabla::Tensor<T>& dy) {
    const nabla::Tensor<T>& x = ctx.saved_tensors()[0];
    const nabla::Tensor<T>& s = ctx.saved_tensors()[1];
    nabla::Tensor<T> dx(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) dx[i] = dy[i] * s[i] * (T(1) + x[i] * (T(1) - s[i]));
    return {dx};
  }
};

template <typename T>
nabla::Variable<T> silu(const nabla::Variable<T>& x) {
  return nabla::apply<SiLU<T>>({x});
}

int main() {
  // float64: the whole Jacobian of a small composition against central differences.
  nabla::Rng rng(7);
  nabla::Tensor<double> x0({4, 5}), w0({3, 5});
  for (double& v : x0.values()) v = rng.normal();
  for (double& v : w0.values()) v = rng.normal();
  nabla::Variable<double> x(x0, true), w(w0, true);
  const nabla::GradcheckResult check = nabla::gradcheck(
      [&] { return nabla::sum(silu(nabla::matmul(x, nabla::reshape(w, {5, 3})))); },
      {{"x", x}, {"w", w}});
  std::printf("gradcheck: %s, relative error %.3g %s\n", check.ok ? "passed" : "FAILED",
              check.relative_error, check.message.c_str());
  if (!check.ok) return 1;

  // float32: the same function in a model, like any op.
  nabla::Variable<float> a(nabla::Tensor<float>({2, 3}, {-2, -1, 0, 1, 2, 3}), true);
  nabla::Variable<float> loss = nabla::sum(silu(a));
  loss.backward();
  std::printf("silu sum %.5f, d/da[0] %.5f\n", loss.item(), a.grad()[0]);
}
