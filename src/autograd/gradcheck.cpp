#include "nabla/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "nabla/kernels.h"
#include "nabla/rng.h"

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

namespace nabla {
namespace {

void clear_grads(const std::vector<NamedInput>& inputs) {
  for (const auto& in : inputs) {
    auto v = in.variable;
    v.zero_grad();
  }
}

double dot(const Tensor<double>& a, const Tensor<double>& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += a[i] * b[i];
  return s;
}

// Central difference of <f(), g> with respect to element i of x.
double numeric_partial(const std::function<Variable<double>()>& f, Tensor<double>& x, int64_t i,
                       const Tensor<double>& g, double h) {
  const double saved = x[i];
  x[i] = saved + h;
  const double plus = dot(f().value(), g);
  x[i] = saved - h;
  const double minus = dot(f().value(), g);
  x[i] = saved;
  return (plus - minus) / (2 * h);
}

void fail(GradcheckResult& r, double rel, const std::string& where, double analytic, double numeric,
          double tolerance) {
  if (rel < tolerance || (!r.ok && rel <= r.relative_error)) return;
  char buf[320];
  std::snprintf(buf, sizeof buf, "%s: relative error %.3g >= %.3g (analytic %.10g, numeric %.10g)",
                where.c_str(), rel, tolerance, analytic, numeric);
  r.ok = false;
  r.relative_error = rel;
  r.worst_analytic = analytic;
  r.worst_numeric = numeric;
  r.message = buf;
}

// ||a - n|| / max(||a||, ||n||, kFloor) over paired lists. The floor makes a gradient that is
// exactly zero in theory (a bias followed by batch norm) pass when both sides are round-off.
double rel_error(const std::vector<double>& a, const std::vector<double>& n) {
  constexpr double kFloor = 1e-3;
  double d2 = 0, a2 = 0, n2 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d2 += (a[i] - n[i]) * (a[i] - n[i]);
    a2 += a[i] * a[i];
    n2 += n[i] * n[i];
  }
  return std::sqrt(d2) / std::max(std::sqrt(std::max(a2, n2)), kFloor);
}

}  // namespace

GradcheckResult gradcheck(const std::function<Variable<double>()>& f,
                          const std::vector<NamedInput>& inputs, GradcheckOptions options) {
  GradcheckResult result;
  const Shape out_shape = f().shape();
  const int64_t out_n = shape_numel(out_shape);
  int64_t in_n = 0;
  for (const auto& in : inputs) in_n += in.variable.requires_grad() ? in.variable.numel() : 0;
  const double h = options.step;
  std::vector<double> all_a, all_n;
  double worst_elem = -1;

  if (out_n * in_n <= options.full_jacobian_limit) {
    // Rows of the analytic Jacobian, one backward pass per output element.
    std::vector<std::vector<Tensor<double>>> rows;  // rows[k][input]
    for (int64_t k = 0; k < out_n; ++k) {
      clear_grads(inputs);
      Tensor<double> e(out_shape);
      e[k] = 1;
      Variable<double> y = f();
      if (!y.requires_grad()) {
        result.ok = false;
        result.message = "the output does not depend on any input that requires a gradient";
        return result;
      }
      y.backward(e);
      std::vector<Tensor<double>> row;
      for (const auto& in : inputs) {
        row.push_back(in.variable.grad().empty() ? Tensor<double>(in.variable.shape())
                                                 : in.variable.grad().clone());
      }
      rows.push_back(std::move(row));
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].variable.requires_grad()) continue;
      Variable<double> v = inputs[i].variable;
      Tensor<double>& x = v.value();
      std::vector<double> a, n;
      for (int64_t j = 0; j < x.numel(); ++j) {
        const double saved = x[j];
        x[j] = saved + h;
        const Tensor<double> plus = f().value().clone();
        x[j] = saved - h;
        const Tensor<double> minus = f().value().clone();  // a view of x would change back
        x[j] = saved;
        for (int64_t k = 0; k < out_n; ++k) {
          const double num = (plus[k] - minus[k]) / (2 * h), an = rows[k][i][j];
          a.push_back(an);
          n.push_back(num);
          if (std::abs(an - num) > worst_elem) {
            worst_elem = std::abs(an - num);
            result.worst_index = j;
          }
          if (std::abs(an - num) > 1e-5 * std::max({1.0, std::abs(an), std::abs(num)})) {
            fail(result, std::abs(an - num) / std::max(std::abs(an), std::abs(num)),
                 inputs[i].name + " element " + std::to_string(j) + ", output element " +
                     std::to_string(k),
                 an, num, options.tolerance);
          }
        }
      }
      const double rel = rel_error(a, n);
      fail(result, rel, inputs[i].name + " (full Jacobian)", 0, 0, options.tolerance);
      all_a.insert(all_a.end(), a.begin(), a.end());
      all_n.insert(all_n.end(), n.begin(), n.end());
    }
  } else {
    Rng rng(options.seed);
    Tensor<double> g(out_shape);
    for (double& v : g.values()) v = rng.normal();
    clear_grads(inputs);
    f().backward(g);
    for (const auto& in : inputs) {
      if (!in.variable.requires_grad()) continue;
      Variable<double> v = in.variable;
      Tensor<double>& x = v.value();
      const Tensor<double> grad = v.grad().empty() ? Tensor<double>(x.shape()) : v.grad().clone();
      std::vector<double> a, n;
      const int64_t samples = std::min(x.numel(), options.sampled_elements);
      for (int64_t s = 0; s < samples; ++s) {
        const int64_t j = samples == x.numel() ? s : static_cast<int64_t>(rng.below(x.numel()));
        const double num = numeric_partial(f, x, j, g, h);
        a.push_back(grad[j]);
        n.push_back(num);
        if (std::abs(grad[j] - num) > worst_elem) {
          worst_elem = std::abs(grad[j] - num);
          result.worst_index = j;
        }
      }
      fail(result, rel_error(a, n), in.name + " (sampled elements)", 0, 0, options.tolerance);
      // A random direction through every element at once.
      Tensor<double> dir(x.shape());
      for (double& d : dir.values()) d = rng.normal();
      const Tensor<double> saved = x.clone();
      const auto restore = [&] {
        std::copy(saved.values().begin(), saved.values().end(), x.values().begin());
      };
      axpy(h, dir, x);
      const double plus = dot(f().value(), g);
      restore();
      axpy(-h, dir, x);
      const double minus = dot(f().value(), g);
      restore();
      const double num = (plus - minus) / (2 * h), an = dot(grad, dir);
      fail(result, rel_error({an}, {num}), in.name + " (random direction)", an, num,
           options.tolerance);
      all_a.insert(all_a.end(), a.begin(), a.end());
      all_n.insert(all_n.end(), n.begin(), n.end());
    }
  }
  clear_grads(inputs);
  if (result.ok) result.relative_error = rel_error(all_a, all_n);
  return result;
}

}  // namespace nabla
