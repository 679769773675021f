/// \file
/// Float64 central-difference gradient checking. The tensor-level checker here compares an analytic
/// gradient of a scalar function with (f(x + h e_i) - f(x - h e_i)) / 2h for every element i.
#pragma once

#include <functional>
#include <string>

#include "nabla/autograd.h"
#include "nabla/tensor.h"

namespace nabla {

/// The outcome of check_gradient or gradcheck.
struct GradcheckResult {
  bool ok = true;  ///< whether every comparison was within the tolerance
  /// ||analytic - numeric|| / max(||analytic||, ||numeric||), 0 when both are zero.
  double relative_error = 0;
  /// The element that disagrees most, and both values there.
  int64_t worst_index = -1;
  double worst_analytic = 0, worst_numeric = 0;
  /// \var worst_analytic
  /// The analytic gradient at worst_index.
  /// \var worst_numeric
  /// The central difference at worst_index.
  std::string message;  ///< names the input and the element when !ok
};

/// The settings of check_gradient and gradcheck.
struct GradcheckOptions {
  double step = 1e-6;       ///< h, the perturbation of each element
  double tolerance = 1e-6;  ///< the largest relative error that passes
  /// Up to this many (output elements x input elements) the whole Jacobian is compared; above it,
  /// random projections: a random upstream gradient, checked on a random sample of elements of each
  /// input and along a random direction through all of them.
  int64_t full_jacobian_limit = 20000;
  int64_t sampled_elements = 48;  ///< elements of each input checked with random projections
  uint64_t seed = 1234;           ///< seeds the random projections
};

/// An input of gradcheck, with the name that its failures report.
struct NamedInput {
  std::string name;           ///< as in the failure message, e.g. "weight"
  Variable<double> variable;  ///< a handle: perturbing its value perturbs what f reads
};

/// Perturbs every element of `input` in place (restoring it afterwards), evaluates `loss` around
/// it, and compares with `analytic` (same shape as input).
GradcheckResult check_gradient(const std::function<double()>& loss, Tensor<double>& input,
                               const Tensor<double>& analytic, const std::string& input_name,
                               GradcheckOptions options = {});

/// Checks the backward pass of f (any function or module call that builds its result from the
/// inputs) against float64 central differences, for every input that requires a gradient. f is
/// called many times; it must be deterministic. On failure the message names the input, the
/// element, and (for the full Jacobian) the output element. The relative error is
/// ||analytic - numeric|| / max(||analytic||, ||numeric||, 1e-3) per input: gradients that are zero
/// in theory pass when both sides are round-off.
GradcheckResult gradcheck(const std::function<Variable<double>()>& f,
                          const std::vector<NamedInput>& inputs, GradcheckOptions options = {});

}  // namespace nabla
