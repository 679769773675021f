/// \file
/// Dense linear algebra in float64 through Eigen: the eigen-decomposition of a symmetric matrix,
/// as torch.linalg.eigh.
#pragma once

#include "nabla/tensor.h"

namespace nabla {

/// Eigenvalues and eigenvectors of a symmetric matrix.
struct SymmetricEigen {
  Tensor<double> values;   ///< (n), ascending, as torch.linalg.eigh returns them
  Tensor<double> vectors;  ///< (n, n), column k the unit eigenvector of values[k]
};

/// The eigen-decomposition of the symmetric matrix a (n, n) (Eigen's SelfAdjointEigenSolver;
/// only the lower triangle is read). Throws std::invalid_argument when a is not square or holds a
/// value that is not finite.
SymmetricEigen symmetric_eigen(const Tensor<double>& a);

}  // namespace nabla
