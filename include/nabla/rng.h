/// \file
/// Rng: nabla's own seeded random generator (xoshiro256**, seeded through SplitMix64), with its own
/// uniform, normal and permutation draws, so results do not depend on the C++ standard library's
/// distributions. There is no global generator: callers pass one in.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace nabla {

/// A seeded xoshiro256** generator with its own uniform, normal and permutation draws.
class Rng {
 public:
  /// Fills the state through SplitMix64 from seed; equal seeds give equal streams.
  explicit Rng(uint64_t seed = 42);

  /// The next 64 random bits; the other draws are built on them.
  uint64_t next_u64();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), without modulo bias; n > 0.
  uint64_t below(uint64_t n);
  /// Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal();
  /// Normal with the given mean and standard deviation.
  double normal(double mean, double stddev) { return mean + stddev * normal(); }
  /// A uniformly random permutation of 0..n-1 (Fisher-Yates).
  std::vector<int64_t> permutation(int64_t n);
  /// Shuffles [first, last) in place, uniformly (Fisher-Yates); It is a random-access iterator.
  template <typename It>
  void shuffle(It first, It last) {
    for (auto n = last - first; n > 1; --n) {
      auto j = static_cast<decltype(n)>(below(static_cast<uint64_t>(n)));
      std::swap(first[n - 1], first[j]);
    }
  }

  /// The full state, to checkpoint and restore a generator exactly.
  struct State {
    std::array<uint64_t, 4> s;  ///< the xoshiro256** state words
    bool has_spare;             ///< whether normal() holds the second value of a pair
    double spare;               ///< that value
  };
  /// The current state.
  State state() const { return {s_, has_spare_, spare_}; }
  /// Restores a state from state(): the draws continue exactly as they would have.
  void set_state(const State& state);

 private:
  std::array<uint64_t, 4> s_{};
  bool has_spare_ = false;
  double spare_ = 0;
};

}  // namespace nabla
