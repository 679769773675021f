#include "nabla/nn/init.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "nabla/linalg.h"

namespace nabla::nn::init {

template <typename T>
void dirac(Tensor<T>& weight, int64_t filters) {
  if (weight.rank() != 4) {
    throw std::invalid_argument("dirac: the weight must be (O, C, KH, KW), got " +
                                shape_str(weight.shape()));
  }
  const int64_t O = weight.dim(0), C = weight.dim(1), KH = weight.dim(2), KW = weight.dim(3);
  if (filters < 0) filters = O;
  if (filters > O || filters > C) {
    throw std::invalid_argument("dirac: " + std::to_string(filters) + " identity filters of " +
                                shape_str(weight.shape()));
  }
  const int64_t plane = KH * KW, filter = C * plane;
  for (int64_t o = 0; o < filters; ++o) {
    T* f = weight.data() + o * filter;
    for (int64_t i = 0; i < filter; ++i) f[i] = T(0);
    f[o * plane + (KH / 2) * KW + KW / 2] = T(1);
  }
}

template <typename T>
Tensor<T> whitening_filters(const Tensor<T>& images, int64_t h, int64_t w, double eps) {
  if (images.rank() != 4 || images.dim(0) < 1 || h < 1 || w < 1 || h > images.dim(2) ||
      w > images.dim(3)) {
    throw std::invalid_argument("whitening_filters: " + std::to_string(h) + "x" +
                                std::to_string(w) + " patches of images " +
                                shape_str(images.shape()));
  }
  const int64_t N = images.dim(0), C = images.dim(1), H = images.dim(2), W = images.dim(3);
  const int64_t K = C * h * w, PH = H - h + 1, PW = W - w + 1;
  // The sum of p p^T over every patch p, its values in (c, dy, dx) order as the filters'.
  std::vector<double> cov(static_cast<size_t>(K * K), 0.0), p(static_cast<size_t>(K));
  for (int64_t n = 0; n < N; ++n) {
    const T* img = images.data() + n * C * H * W;
    for (int64_t y = 0; y < PH; ++y) {
      for (int64_t x = 0; x < PW; ++x) {
        int64_t k = 0;
        for (int64_t c = 0; c < C; ++c) {
          for (int64_t dy = 0; dy < h; ++dy) {
            for (int64_t dx = 0; dx < w; ++dx) p[k++] = img[(c * H + y + dy) * W + x + dx];
          }
        }
        for (int64_t i = 0; i < K; ++i) {
          for (int64_t j = 0; j <= i; ++j) cov[i * K + j] += p[i] * p[j];
        }
      }
    }
  }
  Tensor<double> covariance({K, K});
  const double count = static_cast<double>(N * PH * PW);
  for (int64_t i = 0; i < K; ++i) {
    for (int64_t j = 0; j <= i; ++j) {
      covariance[i * K + j] = covariance[j * K + i] = cov[i * K + j] / count;
    }
  }
  const SymmetricEigen e = symmetric_eigen(covariance);
  Tensor<T> filters({2 * K, C, h, w});
  for (int64_t r = 0; r < K; ++r) {
    const int64_t k = K - 1 - r;  // descending eigenvalues
    const double scale = 1.0 / std::sqrt(e.values[k] + eps);
    for (int64_t i = 0; i < K; ++i) {
      const double v = e.vectors[i * K + k] * scale;
      filters[r * K + i] = static_cast<T>(v);
      filters[(K + r) * K + i] = static_cast<T>(-v);
    }
  }
  return filters;
}

template void dirac<float>(Tensor<float>&, int64_t);
template void dirac<double>(Tensor<double>&, int64_t);
template Tensor<float> whitening_filters<float>(const Tensor<float>&, int64_t, int64_t, double);
template Tensor<double> whitening_filters<double>(const Tensor<double>&, int64_t, int64_t, double);

}  // namespace nabla::nn::init
