// Float64 central-difference gradient checking. The tensor-level checker here compares an analytic
// gradient of a scalar function with (f(x + h e_i) - f(x - h e_i)) / 2h for every element i.
#pragma once

#include <functional>
#include <string>

#include "nabla/tensor.h"

namespace nabla {

struct GradcheckResult {
  bool ok = true;
  // ||analytic - numeric|| / max(||analytic||, ||numeric||), 0 when both are zero.
  double relative_error = 0;
  // The element that disagrees most, and both values there.
  int64_t worst_index = -1;
  double worst_analytic = 0, worst_numeric = 0;
  std::string message;  // names the input and the element when !ok
};

struct GradcheckOptions {
  double step = 1e-6;
  double tolerance = 1e-6;
};

// Perturbs every element of `input` in place (restoring it afterwards), evaluates `loss` around
// it, and compares with `analytic` (same shape as input).
GradcheckResult check_gradient(const std::function<double()>& loss, Tensor<double>& input,
                               const Tensor<double>& analytic, const std::string& input_name,
                               GradcheckOptions options = {});

}  // namespace nabla
