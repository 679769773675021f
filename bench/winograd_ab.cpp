// Two builds of the Winograd kernels in one process, timed in turns: "a" is src/tensor/
// winograd_impl.h as another git revision has it, "b" the working tree's (both the AVX-512 build).
// On a shared machine whose speed drifts by tens of percent between runs (docs/results.md),
// calls that alternate within one process compare two versions where separate runs cannot. For
// airbench's five Winograd layers at batch 1024: the forward pass, the input-gradient-only and the
// weight-gradient-only backward passes, medians of the repeats, b/a, and whether b gives a's bits.
//   bash bench/winograd_ab.sh REV [REPEATS]     (builds this file against build/release)
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#define NABLA_WINO_SMALL_GEMM
#define NABLA_WINO_NS ab_old
#include NABLA_AB_OLD_IMPL
#undef NABLA_WINO_NS
#define NABLA_WINO_NS ab_new
#include "tensor/winograd_impl.h"
#undef NABLA_WINO_NS

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double milliseconds(F f) {
  const auto start = Clock::now();
  f();
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Layer {
  int64_t C, O, H;
};

}  // namespace

int main(int argc, char** argv) {
  // As nabla's main: the heap is never trimmed, so that no call pays for page faults.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, -1);
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const Layer layers[] = {{24, 64, 31}, {64, 64, 15}, {64, 256, 15}, {256, 256, 7}, {256, 256, 3}};
  constexpr int64_t N = 1024;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::printf("winograd a/b: medians of %d alternating calls, ms (b/a)\n", repeats);
  for (const Layer& l : layers) {
    const nabla::Conv2dGeometry g{.N = N, .C = l.C, .H = l.H, .W = l.H, .O = l.O, .KH = 3,
                                  .KW = 3, .stride = 1, .pad = 1, .OH = l.H, .OW = l.H};
    const auto size = [](int64_t n) { return static_cast<size_t>(n); };
    std::vector<float> x(size(N * l.C * l.H * l.H)), w(size(l.O * l.C * 9));
    for (float& v : x) v = normal(rng);
    for (float& v : w) v = 0.1F * normal(rng);
    std::vector<float> y[2], dx[2], dw[2];
    for (int k = 0; k < 2; ++k) {
      y[k].resize(size(N * l.O * l.H * l.H));
      dx[k].resize(x.size());
      dw[k].resize(w.size());
    }
    // [pass][version]: forward, input gradient, weight gradient; a, b.
    std::vector<double> t[3][2];
    for (int r = 0; r <= repeats; ++r) {  // r == 0: warm-up (JIT, page faults)
      for (int k = 0; k < 2; ++k) {
        const auto forward = k == 0 ? nabla::detail::ab_old::winograd_forward
                                    : nabla::detail::ab_new::winograd_forward;
        const auto backward = k == 0 ? nabla::detail::ab_old::winograd_backward
                                     : nabla::detail::ab_new::winograd_backward;
        const double f = milliseconds(
            [&] { forward(x.data(), w.data(), nullptr, g, y[k].data(), nullptr, {}); });
        const double bx = milliseconds([&] {
          backward(y[0].data(), x.data(), w.data(), g, dx[k].data(), nullptr, nullptr);
        });
        const double bw = milliseconds([&] {
          backward(y[0].data(), x.data(), w.data(), g, nullptr, dw[k].data(), nullptr);
        });
        if (r == 0) continue;
        t[0][k].push_back(f);
        t[1][k].push_back(bx);
        t[2][k].push_back(bw);
      }
    }
    const auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
      return std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    };
    const bool same_bits = same(y[0], y[1]) && same(dx[0], dx[1]) && same(dw[0], dw[1]);
    std::printf("%3ld->%3ld on %2ldx%-2ld", static_cast<long>(l.C), static_cast<long>(l.O),
                static_cast<long>(l.H), static_cast<long>(l.H));
    const char* names[] = {"forward", "input grad", "weight grad"};
    for (int p = 0; p < 3; ++p) {
      const double a = median(t[p][0]), b = median(t[p][1]);
      std::printf("  %s %6.1f -> %6.1f (%.3f)", names[p], a, b, b / a);
    }
    std::printf("  %s\n", same_bits ? "same bits" : "bits differ");
  }
  return 0;
}
