#include "nabla/gradcheck.h"

#include <cmath>
#include <cstdio>

namespace nabla {

GradcheckResult check_gradient(const std::function<double()>& loss, Tensor<double>& input,
                               const Tensor<double>& analytic, const std::string& input_name,
                               GradcheckOptions options) {
  GradcheckResult r;
  if (analytic.shape() != input.shape()) {
    r.ok = false;
    r.message = input_name + ": analytic gradient has shape " + shape_str(analytic.shape()) +
                ", input has " + shape_str(input.shape());
    return r;
  }
  double diff2 = 0, a2 = 0, n2 = 0, worst = -1;
  for (int64_t i = 0; i < input.numel(); ++i) {
    const double saved = input[i];
    input[i] = saved + options.step;
    const double plus = loss();
    input[i] = saved - options.step;
    const double minus = loss();
    input[i] = saved;
    const double numeric = (plus - minus) / (2 * options.step);
    const double d = analytic[i] - numeric;
    diff2 += d * d;
    a2 += analytic[i] * analytic[i];
    n2 += numeric * numeric;
    if (std::abs(d) > worst) {
      worst = std::abs(d);
      r.worst_index = i;
      r.worst_analytic = analytic[i];
      r.worst_numeric = numeric;
    }
  }
  const double scale = std::sqrt(std::max(a2, n2));
  r.relative_error = scale > 0 ? std::sqrt(diff2) / scale : 0;
  r.ok = r.relative_error < options.tolerance;
  if (!r.ok) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  ": relative error %.3g >= %.3g; worst at element %lld: analytic %.10g, "
                  "numeric %.10g",
                  r.relative_error, options.tolerance, static_cast<long long>(r.worst_index),
                  r.worst_analytic, r.worst_numeric);
    r.message = input_name + buf;
  }
  return r;
}

}  // namespace nabla
