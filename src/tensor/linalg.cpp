// Dense linear algebra through Eigen (header-only; nothing of it shows in nabla's headers).
#include "nabla/linalg.h"

#include <Eigen/Dense>
#include <cmath>
#include <stdexcept>

namespace nabla {

SymmetricEigen symmetric_eigen(const Tensor<double>& a) {
  if (a.rank() != 2 || a.dim(0) != a.dim(1)) {
    throw std::invalid_argument("symmetric_eigen: the matrix must be square, got " +
                                shape_str(a.shape()));
  }
  const int64_t n = a.dim(0);
  Eigen::MatrixXd m(n, n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const double v = a[i * n + j];
      if (!std::isfinite(v)) {
        throw std::invalid_argument("symmetric_eigen: the matrix holds a value that is not finite");
      }
      m(i, j) = v;
    }
  }
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(m, Eigen::ComputeEigenvectors);
  if (solver.info() != Eigen::Success) {
    throw std::invalid_argument("symmetric_eigen: Eigen's solver did not converge");
  }
  SymmetricEigen out{Tensor<double>({n}), Tensor<double>({n, n})};
  for (int64_t i = 0; i < n; ++i) {
    out.values[i] = solver.eigenvalues()(i);
    for (int64_t j = 0; j < n; ++j) out.vectors[i * n + j] = solver.eigenvectors()(i, j);
  }
  return out;
}

}  // namespace nabla
