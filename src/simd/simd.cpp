#include "simd.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace nabla::simd {

namespace avx512 {
extern const KernelTable k_avx512_table;
}
namespace avx2 {
extern const KernelTable k_avx2_table;
}
namespace generic {
extern const KernelTable k_generic_table;
}

namespace {

const KernelTable& table_of(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::k_avx512_table;
    case Isa::kAvx2:
      return avx2::k_avx2_table;
    default:
      return generic::k_generic_table;
  }
}

Isa best_isa() {
  Isa best = Isa::kGeneric;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (cpu_supports(isa)) best = isa;
  }
  if (const char* cap = std::getenv("NABLA_MAX_ISA")) {
    const std::string c = cap;
    if (c == "generic") best = Isa::kGeneric;
    if (c == "avx2") best = std::min(best, Isa::kAvx2);
  }
  return best;
}

std::atomic<Isa>& active() {
  static std::atomic<Isa> isa{best_isa()};
  return isa;
}

// Below this many elements the threads cost more than they save.
constexpr int64_t kParallelGrain = 1 << 15;

// f(begin, count) over [0, n) in per-thread chunks; chunk boundaries never change a result.
template <typename F>
void chunked(int64_t n, F f) {
  if (n < 2 * kParallelGrain || omp_get_max_threads() == 1 || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
  const int64_t chunks = (n + kParallelGrain - 1) / kParallelGrain;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kParallelGrain;
    f(begin, std::min(kParallelGrain, n - begin));
  }
}

}  // namespace

std::string isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    default:
      return "generic";
  }
}

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default:
      return true;
  }
}

Isa active_isa() { return active().load(); }

void set_isa(Isa isa) {
  if (!cpu_supports(isa)) throw std::invalid_argument("this CPU cannot run " + isa_name(isa));
  active() = isa;
}

const KernelTable& kernels() { return table_of(active_isa()); }

void relu_forward(const float* x, float* y, int64_t n) {
  const auto k = kernels().relu_forward;
  chunked(n, [&](int64_t b, int64_t c) { k(x + b, y + b, c); });
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
  const auto k = kernels().relu_backward;
  chunked(n, [&](int64_t b, int64_t c) { k(y + b, dy + b, dx + b, c); });
}

void leaky_relu_forward(const float* x, float* y, int64_t n, float slope) {
  const auto k = kernels().leaky_relu_forward;
  chunked(n, [&](int64_t b, int64_t c) { k(x + b, y + b, c, slope); });
}

void leaky_relu_backward(const float* x, const float* dy, float* dx, int64_t n, float slope) {
  const auto k = kernels().leaky_relu_backward;
  chunked(n, [&](int64_t b, int64_t c) { k(x + b, dy + b, dx + b, c, slope); });
}

void gelu_forward(const float* x, float* y, int64_t n) {
  const auto k = kernels().gelu_forward;
  chunked(n, [&](int64_t b, int64_t c) { k(x + b, y + b, c); });
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  const auto k = kernels().gelu_backward;
  chunked(n, [&](int64_t b, int64_t c) { k(x + b, dy + b, dx + b, c); });
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  const auto k = kernels().axpy;
  chunked(n, [&](int64_t b, int64_t c) { k(alpha, x + b, y + b, c); });
}

void adam(const AdamArgs& a, float* w, const float* g, float* m, float* v, int64_t n) {
  const auto k = kernels().adam;
  chunked(n, [&](int64_t b, int64_t c) { k(a, w + b, g + b, m + b, v + b, c); });
}

void sgd(float lr, float weight_decay, float* w, const float* g, int64_t n) {
  const auto k = kernels().sgd;
  chunked(n, [&](int64_t b, int64_t c) { k(lr, weight_decay, w + b, g + b, c); });
}

bool all_finite(const float* x, int64_t n) {
  const auto k = kernels().all_finite;
  std::atomic<bool> ok{true};
  chunked(n, [&](int64_t b, int64_t c) {
    if (!k(x + b, c)) ok = false;
  });
  return ok;
}

}  // namespace nabla::simd
