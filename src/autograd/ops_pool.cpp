// Average pooling (fixed and adaptive windows) and zero padding; each backward below its forward.
// Plain loops over planes, one plane per OpenMP iteration (no sum is split across threads).
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "nabla/ops.h"

namespace nabla {
namespace {

// One output's window along one axis: [begin, end) of the input, and the count it divides by.
struct Window {
  int64_t begin, end, divisor;
};

// Fixed windows: output o covers [o stride - pad, o stride - pad + kernel), clipped to the input;
// the divisor counts padded cells too (count_include_pad).
std::vector<Window> fixed_windows(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                  int64_t out) {
  std::vector<Window> w(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = o * stride - pad;
    const int64_t stop = std::min(start + kernel, in + pad);
    w[static_cast<size_t>(o)] = {std::max<int64_t>(start, 0), std::min(stop, in), stop - start};
  }
  return w;
}

std::vector<Window> adaptive_windows(int64_t in, int64_t out) {
  std::vector<Window> w(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t begin = o * in / out, end = ((o + 1) * in + out - 1) / out;
    w[static_cast<size_t>(o)] = {begin, end, end - begin};
  }
  return w;
}

// y (N,C,rows.size(),cols.size()): each output the mean of its window of x's plane.
template <typename T>
Variable<T> window_mean(const Variable<T>& x, std::vector<Window> rows, std::vector<Window> cols,
                        const char* name) {
  const Tensor<T>& xv = x.value();
  const int64_t planes = xv.dim(0) * xv.dim(1), H = xv.dim(2), W = xv.dim(3);
  const auto OH = static_cast<int64_t>(rows.size()), OW = static_cast<int64_t>(cols.size());
  Tensor<T> y = Tensor<T>::uninitialized({xv.dim(0), xv.dim(1), OH, OW});
  const T* px = xv.data();
  T* py = y.data();
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t i = 0; i < OH; ++i) {
      const Window& r = rows[static_cast<size_t>(i)];
      for (int64_t j = 0; j < OW; ++j) {
        const Window& c = cols[static_cast<size_t>(j)];
        T sum = 0;
        for (int64_t h = r.begin; h < r.end; ++h) {
          for (int64_t w = c.begin; w < c.end; ++w) sum += px[(p * H + h) * W + w];
        }
        py[(p * OH + i) * OW + j] = sum / static_cast<T>(r.divisor * c.divisor);
      }
    }
  }
  auto xn = x.node();
  return Variable<T>::make_result(
      std::move(y), name, {xn},
      [xn, rows = std::move(rows), cols = std::move(cols), planes, H, W, OH,
       OW](const Tensor<T>& dy) {
        Tensor<T> dx(xn->value.shape());
        const T* pdy = dy.data();
        T* pdx = dx.data();
#pragma omp parallel for schedule(static)
        for (int64_t p = 0; p < planes; ++p) {
          for (int64_t i = 0; i < OH; ++i) {
            const Window& r = rows[static_cast<size_t>(i)];
            for (int64_t j = 0; j < OW; ++j) {
              const Window& c = cols[static_cast<size_t>(j)];
              const T share = pdy[(p * OH + i) * OW + j] / static_cast<T>(r.divisor * c.divisor);
              for (int64_t h = r.begin; h < r.end; ++h) {
                for (int64_t w = c.begin; w < c.end; ++w) pdx[(p * H + h) * W + w] += share;
              }
            }
          }
        }
        xn->accumulate_owned(std::move(dx));
      });
}

void check_nchw(const Shape& s, const char* who) {
  if (s.size() != 4) throw std::invalid_argument(std::string(who) + ": input must be NCHW, got " + shape_str(s));
}

}  // namespace

template <typename T>
Variable<T> avg_pool2d(const Variable<T>& x, int64_t kernel, int64_t stride, int64_t pad) {
  check_nchw(x.shape(), "avg_pool2d");
  const int64_t H = x.dim(2), W = x.dim(3);
  if (kernel < 1 || stride < 1 || pad < 0 || 2 * pad > kernel || H + 2 * pad < kernel ||
      W + 2 * pad < kernel) {
    throw std::invalid_argument("avg_pool2d: kernel " + std::to_string(kernel) + ", stride " +
                                std::to_string(stride) + ", pad " + std::to_string(pad) +
                                " do not fit input " + shape_str(x.shape()) +
                                " (pad at most half the kernel)");
  }
  const int64_t OH = (H + 2 * pad - kernel) / stride + 1, OW = (W + 2 * pad - kernel) / stride + 1;
  return window_mean(x, fixed_windows(H, kernel, stride, pad, OH),
                     fixed_windows(W, kernel, stride, pad, OW), "avg_pool2d");
}

template <typename T>
Variable<T> adaptive_avg_pool2d(const Variable<T>& x, int64_t out_h, int64_t out_w) {
  check_nchw(x.shape(), "adaptive_avg_pool2d");
  if (out_h < 1 || out_w < 1 || x.dim(2) < 1 || x.dim(3) < 1) {
    throw std::invalid_argument("adaptive_avg_pool2d: output size must be >= 1 and the input "
                                "non-empty, got " + std::to_string(out_h) + "x" +
                                std::to_string(out_w) + " from " + shape_str(x.shape()));
  }
  return window_mean(x, adaptive_windows(x.dim(2), out_h), adaptive_windows(x.dim(3), out_w),
                     "adaptive_avg_pool2d");
}

template <typename T>
Variable<T> pad2d(const Variable<T>& x, int64_t left, int64_t right, int64_t top, int64_t bottom) {
  check_nchw(x.shape(), "pad2d");
  if (left < 0 || right < 0 || top < 0 || bottom < 0) {
    throw std::invalid_argument("pad2d: padding must be >= 0");
  }
  const Tensor<T>& xv = x.value();
  const int64_t planes = xv.dim(0) * xv.dim(1), H = xv.dim(2), W = xv.dim(3);
  const int64_t PH = H + top + bottom, PW = W + left + right;
  Tensor<T> y({xv.dim(0), xv.dim(1), PH, PW});
  const T* px = xv.data();
  T* py = y.data();
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t h = 0; h < H; ++h) {
      std::copy(px + (p * H + h) * W, px + (p * H + h + 1) * W, py + (p * PH + h + top) * PW + left);
    }
  }
  auto xn = x.node();
  return Variable<T>::make_result(
      std::move(y), "pad2d", {xn}, [xn, planes, H, W, PH, PW, left, top](const Tensor<T>& dy) {
        Tensor<T> dx = Tensor<T>::uninitialized(xn->value.shape());
        const T* pdy = dy.data();
        T* pdx = dx.data();
#pragma omp parallel for schedule(static)
        for (int64_t p = 0; p < planes; ++p) {
          for (int64_t h = 0; h < H; ++h) {
            const T* row = pdy + (p * PH + h + top) * PW + left;
            std::copy(row, row + W, pdx + (p * H + h) * W);
          }
        }
        xn->accumulate_owned(std::move(dx));
      });
}

#define NABLA_POOL_OPS(T)                                                                   \
  template Variable<T> avg_pool2d<T>(const Variable<T>&, int64_t, int64_t, int64_t);        \
  template Variable<T> adaptive_avg_pool2d<T>(const Variable<T>&, int64_t, int64_t);        \
  template Variable<T> pad2d<T>(const Variable<T>&, int64_t, int64_t, int64_t, int64_t);
NABLA_POOL_OPS(float)
NABLA_POOL_OPS(double)

}  // namespace nabla
