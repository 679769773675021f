/// \file
/// Rng: nabla's own seeded random generator (xoshiro256**, seeded through SplitMix64), with its own
/// uniform, normal and permutation draws, so results do not depend on the C++ standard library's
/// distributions. There is no global generator: callers pass one in.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace nabla {

class Rng {
 public:
  explicit Rng(uint64_t seed = 42);

  uint64_t next_u64();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), without modulo bias; n > 0.
  uint64_t below(uint64_t n);
  /// Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal();
  double normal(double mean, double stddev) { return mean + stddev * normal(); }
  /// A uniformly random permutation of 0..n-1 (Fisher-Yates).
  std::vector<int64_t> permutation(int64_t n);
  template <typename It>
  void shuffle(It first, It last) {
    for (auto n = last - first; n > 1; --n) {
      auto j = static_cast<decltype(n)>(below(static_cast<uint64_t>(n)));
      std::swap(first[n - 1], first[j]);
    }
  }

  /// The full state, to checkpoint and restore a generator exactly.
  struct State {
    std::array<uint64_t, 4> s;
    bool has_spare;
    double spare;
  };
  State state() const { return {s_, has_spare_, spare_}; }
  void set_state(const State& state);

 private:
  std::array<uint64_t, 4> s_{};
  bool has_spare_ = false;
  double spare_ = 0;
};

}  // namespace nabla
