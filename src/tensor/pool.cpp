#include "nabla/pool.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace nabla {

namespace {

// Checks max pooling's arguments; returns {OH, OW}.
std::pair<int64_t, int64_t> pool_geometry(const Shape& x, int64_t kernel, int64_t stride,
                                          int64_t pad) {
  if (x.size() != 4) {
    throw std::invalid_argument("max_pool2d: input must be NCHW, got " + shape_str(x));
  }
  if (kernel < 1 || stride < 1 || pad < 0 || 2 * pad > kernel) {
    throw std::invalid_argument("max_pool2d: needs kernel >= 1, stride >= 1, 0 <= pad <= kernel/2");
  }
  const int64_t H = x[2], W = x[3];
  if (H + 2 * pad < kernel || W + 2 * pad < kernel) {
    throw std::invalid_argument("max_pool2d: kernel larger than the padded input");
  }
  if (H * W > std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument("max_pool2d: planes of more than 2^31 values are not supported");
  }
  return {(H + 2 * pad - kernel) / stride + 1, (W + 2 * pad - kernel) / stride + 1};
}

// The rows [h0, h1) and columns [w0, w1) of output (oh, ow)'s window, clipped to the input.
struct Window {
  int64_t h0, h1, w0, w1;
};
Window window(int64_t oh, int64_t ow, int64_t kernel, int64_t stride, int64_t pad, int64_t H,
              int64_t W) {
  return {std::max<int64_t>(oh * stride - pad, 0), std::min(oh * stride - pad + kernel, H),
          std::max<int64_t>(ow * stride - pad, 0), std::min(ow * stride - pad + kernel, W)};
}

// One step of a window's maximum: candidate (v, at) replaces (best, best_arg) when larger, or
// equal with a smaller index. Bit masks and std::max (which keeps its first argument on a tie or
// a NaN, as `>` does) rather than selects, which GCC turns into branches.
template <typename T>
inline void pool_step(T v, int32_t at, T& best, int32_t& best_arg) {
  const int32_t wins = -static_cast<int32_t>((v > best) | ((v == best) & (at < best_arg)));
  best_arg = (best_arg & ~wins) | (at & wins);
  best = std::max(best, v);
}

// out[ow], arg[ow] for ow in [ow0, ow1), windows wholly inside the row of column maxima cm (and
// their indices ca): column by column of the window, across all outputs. kStride > 0 fixes the
// stride at compile time, so that the strided loads vectorise; 0 takes it from `stride`.
template <int kStride, typename T>
void pool_row_across(const T* cm, const int32_t* ca, int64_t ow0, int64_t ow1, int64_t kernel,
                     int64_t pad, T* out, int32_t* arg, int64_t stride = kStride) {
  const int64_t s = kStride > 0 ? kStride : stride;
  for (int64_t ow = ow0; ow < ow1; ++ow) {
    out[ow] = cm[ow * s - pad];
    arg[ow] = ca[ow * s - pad];
  }
  for (int64_t k = 1; k < kernel; ++k) {
    const T* c = cm + k - pad;
    const int32_t* a = ca + k - pad;
    for (int64_t ow = ow0; ow < ow1; ++ow) pool_step(c[ow * s], a[ow * s], out[ow], arg[ow]);
  }
}

// max_pool2d_forward without the argmax (inference): the same separable passes on values only.
template <typename T>
void max_pool2d_values(const T* px, int64_t planes, int64_t H, int64_t W, int64_t kernel,
                       int64_t stride, int64_t pad, int64_t OH, int64_t OW, T* py) {
#pragma omp parallel
  {
    std::vector<T> col_max(static_cast<size_t>(W));
    T* cm = col_max.data();
#pragma omp for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
      const T* plane = px + p * H * W;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const Window rows = window(oh, 0, kernel, stride, pad, H, W);
        std::copy(plane + rows.h0 * W, plane + (rows.h0 + 1) * W, cm);
        for (int64_t h = rows.h0 + 1; h < rows.h1; ++h) {
          for (int64_t w = 0; w < W; ++w) cm[w] = std::max(cm[w], plane[h * W + w]);
        }
        T* out = py + (p * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const Window win = window(oh, ow, kernel, stride, pad, H, W);
          T best = cm[win.w0];
          for (int64_t w = win.w0 + 1; w < win.w1; ++w) best = std::max(best, cm[w]);
          out[ow] = best;
        }
      }
    }
  }
}

}  // namespace

template <typename T>
Tensor<T> max_pool2d_forward(const Tensor<T>& x, int64_t kernel, int64_t stride, int64_t pad) {
  const std::pair<int64_t, int64_t> out_size = pool_geometry(x.shape(), kernel, stride, pad);
  const int64_t OH = out_size.first, OW = out_size.second;
  Tensor<T> y = Tensor<T>::uninitialized({x.dim(0), x.dim(1), OH, OW});
  max_pool2d_values(x.data(), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), kernel, stride, pad, OH, OW,
                    y.data());
  return y;
}

template <typename T>
Tensor<T> max_pool2d_forward(const Tensor<T>& x, int64_t kernel, int64_t stride, int64_t pad,
                             PoolArgmax& argmax) {
  // Plain variables, not a structured binding: Clang's OpenMP cannot capture those.
  const std::pair<int64_t, int64_t> out_size = pool_geometry(x.shape(), kernel, stride, pad);
  const int64_t OH = out_size.first, OW = out_size.second;
  const int64_t planes = x.dim(0) * x.dim(1), H = x.dim(2), W = x.dim(3);
  Tensor<T> y = Tensor<T>::uninitialized({x.dim(0), x.dim(1), OH, OW});
  argmax.resize(static_cast<size_t>(y.numel()));
  const T* px = x.data();
  T* py = y.data();
  int32_t* parg = argmax.data();
  // Separable: each output row first takes the maximum down every column of its rows (contiguous,
  // vectorised), then each output the maximum across its columns. The smaller index wins a tie
  // in both steps, so the winner is the first maximum in row-major order, as in the reference.
#pragma omp parallel
  {
    std::vector<T> col_max(static_cast<size_t>(W));
    std::vector<int32_t> col_arg(static_cast<size_t>(W));
    T* cm = col_max.data();
    int32_t* ca = col_arg.data();
#pragma omp for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
      const T* plane = px + p * H * W;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const Window rows = window(oh, 0, kernel, stride, pad, H, W);
        for (int64_t w = 0; w < W; ++w) {
          cm[w] = plane[rows.h0 * W + w];
          ca[w] = static_cast<int32_t>(rows.h0 * W + w);
        }
        for (int64_t h = rows.h0 + 1; h < rows.h1; ++h) {
          const T* row = plane + h * W;
          const auto base = static_cast<int32_t>(h * W);
          // pool_step without the index test: a lower row never wins a tie.
          for (int32_t w = 0; w < static_cast<int32_t>(W); ++w) {
            const int32_t wins = -static_cast<int32_t>(row[w] > cm[w]);
            ca[w] = (ca[w] & ~wins) | ((base + w) & wins);
            cm[w] = std::max(cm[w], row[w]);
          }
        }
        T* out = py + (p * OH + oh) * OW;
        int32_t* arg = parg + (p * OH + oh) * OW;
        // Windows wholly inside the row: [full0, full1), one window column at a time across all
        // of them (vectorised for the ConvNet's stride 2); the clipped ones at the ends one by one.
        const int64_t full0 = std::min(OW, (pad + stride - 1) / stride);
        const int64_t full1 = std::max(full0, std::min(OW, (W + pad - kernel) / stride + 1));
        if (stride == 2) {
          pool_row_across<2>(cm, ca, full0, full1, kernel, pad, out, arg);
        } else {
          pool_row_across<0>(cm, ca, full0, full1, kernel, pad, out, arg, stride);
        }
        const auto clipped = [&](int64_t ow) {
          const Window win = window(oh, ow, kernel, stride, pad, H, W);
          T best = cm[win.w0];
          int32_t best_arg = ca[win.w0];
          for (int64_t w = win.w0 + 1; w < win.w1; ++w) pool_step(cm[w], ca[w], best, best_arg);
          out[ow] = best;
          arg[ow] = best_arg;
        };
        for (int64_t ow = 0; ow < full0; ++ow) clipped(ow);
        for (int64_t ow = full1; ow < OW; ++ow) clipped(ow);
      }
    }
  }
  return y;
}

template <typename T>
Tensor<T> max_pool2d_forward_reference(const Tensor<T>& x, int64_t kernel, int64_t stride,
                                       int64_t pad, PoolArgmax& argmax) {
  const std::pair<int64_t, int64_t> out_size = pool_geometry(x.shape(), kernel, stride, pad);
  const int64_t OH = out_size.first, OW = out_size.second;
  const int64_t planes = x.dim(0) * x.dim(1), H = x.dim(2), W = x.dim(3);
  Tensor<T> y({x.dim(0), x.dim(1), OH, OW});
  argmax.assign(static_cast<size_t>(y.numel()), 0);
  for (int64_t p = 0; p < planes; ++p) {
    const T* plane = x.data() + p * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Window win = window(oh, ow, kernel, stride, pad, H, W);
        int64_t best = win.h0 * W + win.w0;
        for (int64_t h = win.h0; h < win.h1; ++h) {
          for (int64_t w = win.w0; w < win.w1; ++w) {
            if (plane[h * W + w] > plane[best]) best = h * W + w;
          }
        }
        const int64_t o = (p * OH + oh) * OW + ow;
        y[o] = plane[best];
        argmax[static_cast<size_t>(o)] = static_cast<int32_t>(best);
      }
    }
  }
  return y;
}

#define NABLA_POOL(T)                                                                             \
  template Tensor<T> max_pool2d_forward<T>(const Tensor<T>&, int64_t, int64_t, int64_t,           \
                                           PoolArgmax&);                                          \
  template Tensor<T> max_pool2d_forward<T>(const Tensor<T>&, int64_t, int64_t, int64_t);          \
  template Tensor<T> max_pool2d_forward_reference<T>(const Tensor<T>&, int64_t, int64_t, int64_t, \
                                                     PoolArgmax&);
NABLA_POOL(float)
NABLA_POOL(double)

}  // namespace nabla
