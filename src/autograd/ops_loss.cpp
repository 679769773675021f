// log_softmax and the fused cross-entropy; each backward directly below its forward.
#include <cmath>
#include <stdexcept>
#include <string>

#include "nabla/ops.h"

namespace nabla {
namespace {

// out = log_softmax of each row of x (rows, C), stably.
template <typename T>
void log_softmax_rows(const T* x, T* out, int64_t rows, int64_t C) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* in = x + r * C;
    T m = in[0];
    for (int64_t c = 1; c < C; ++c) m = std::max(m, in[c]);
    T s = 0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(in[c] - m);
    const T lse = m + std::log(s);
    for (int64_t c = 0; c < C; ++c) out[r * C + c] = in[c] - lse;
  }
}

}  // namespace

// y = log_softmax(x) over the last dimension; dx = dy - softmax(x) * sum(dy) per row.
template <typename T>
Variable<T> log_softmax(const Variable<T>& x) {
  const Tensor<T>& xv = x.value();
  if (xv.rank() < 1) throw std::invalid_argument("log_softmax of a scalar");
  const int64_t C = xv.dim(-1), rows = C ? xv.numel() / C : 0;
  Tensor<T> y(xv.shape());
  log_softmax_rows(xv.data(), y.data(), rows, C);
  auto xn = x.node();
  return Variable<T>::make_result(y, "log_softmax", {xn}, [xn, y, rows, C](const Tensor<T>& dy) {
    Tensor<T> dx(y.shape());
    for (int64_t r = 0; r < rows; ++r) {
      T s = 0;
      for (int64_t c = 0; c < C; ++c) s += dy[r * C + c];
      for (int64_t c = 0; c < C; ++c) {
        dx[r * C + c] = dy[r * C + c] - std::exp(y[r * C + c]) * s;
      }
    }
    xn->accumulate(dx);
  });
}

// With label smoothing e over C classes the target of example s is q = (1 - e) onehot(labels[s])
// + e / C, and its loss -sum_c q_c log_softmax(logits)[s, c]; the batch's loss is the mean or the
// sum of those. dlogits = dloss * (softmax(logits) - q) / B (mean) or without the 1 / B (sum).
// Without smoothing the loss is -log_softmax(logits)[s, labels[s]], computed as such.
template <typename T>
Variable<T> cross_entropy(const Variable<T>& logits, const std::vector<int32_t>& labels,
                          const CrossEntropyOptions& options) {
  const Tensor<T>& z = logits.value();
  if (z.rank() != 2) {
    throw std::invalid_argument("cross_entropy: logits must be (B, C), got " +
                                shape_str(z.shape()));
  }
  const int64_t B = z.dim(0), C = z.dim(1);
  if (static_cast<int64_t>(labels.size()) != B) {
    throw std::invalid_argument("cross_entropy: " + std::to_string(labels.size()) +
                                " labels for a batch of " + std::to_string(B));
  }
  if (!(options.label_smoothing >= 0 && options.label_smoothing <= 1)) {
    throw std::invalid_argument("cross_entropy: label_smoothing must be in [0, 1], got " +
                                std::to_string(options.label_smoothing));
  }
  const T smooth = static_cast<T>(options.label_smoothing);
  const bool smoothing = options.label_smoothing > 0;
  Tensor<T> logp(z.shape());
  log_softmax_rows(z.data(), logp.data(), B, C);
  T loss = 0;
  for (int64_t s = 0; s < B; ++s) {
    if (labels[s] < 0 || labels[s] >= C) {
      throw std::out_of_range("cross_entropy: label " + std::to_string(labels[s]) + " outside 0.." +
                              std::to_string(C - 1));
    }
    if (!smoothing) {
      loss -= logp[s * C + labels[s]];
      continue;
    }
    T row = 0;
    for (int64_t c = 0; c < C; ++c) row += logp[s * C + c];
    loss -= (1 - smooth) * logp[s * C + labels[s]] + smooth / static_cast<T>(C) * row;
  }
  const bool mean = options.reduction == Reduction::kMean;
  if (mean) loss /= static_cast<T>(B);
  auto zn = logits.node();
  return Variable<T>::make_result(
      Tensor<T>(Shape{}, {loss}), "cross_entropy", {zn},
      [zn, logp, labels, B, C, smooth, smoothing, mean](const Tensor<T>& dy) {
        const T scale = mean ? dy[0] / static_cast<T>(B) : dy[0];
        const T uniform = smooth / static_cast<T>(C) * scale, hit = (1 - smooth) * scale;
        Tensor<T> dz(logp.shape());
        for (int64_t s = 0; s < B; ++s) {
          for (int64_t c = 0; c < C; ++c) dz[s * C + c] = std::exp(logp[s * C + c]) * scale;
          if (!smoothing) {
            dz[s * C + labels[s]] -= scale;
            continue;
          }
          for (int64_t c = 0; c < C; ++c) dz[s * C + c] -= uniform;
          dz[s * C + labels[s]] -= hit;
        }
        zn->accumulate(dz);
      });
}

template <typename T>
Variable<T> cross_entropy(const Variable<T>& logits, const std::vector<int32_t>& labels) {
  return cross_entropy(logits, labels, CrossEntropyOptions{});
}

template Variable<float> log_softmax<float>(const Variable<float>&);
template Variable<double> log_softmax<double>(const Variable<double>&);
template Variable<float> cross_entropy<float>(const Variable<float>&, const std::vector<int32_t>&);
template Variable<double> cross_entropy<double>(const Variable<double>&,
                                                const std::vector<int32_t>&);
template Variable<float> cross_entropy<float>(const Variable<float>&, const std::vector<int32_t>&,
                                              const CrossEntropyOptions&);
template Variable<double> cross_entropy<double>(const Variable<double>&,
                                                const std::vector<int32_t>&,
                                                const CrossEntropyOptions&);

}  // namespace nabla
