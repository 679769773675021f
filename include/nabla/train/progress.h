// Progress of a long loop: a live one-line bar when stderr is a terminal, plain lines otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace nabla {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool quiet);
  // Called every step; redraws the bar at most a few times a second.
  void tick(int64_t done, double loss);
  // A line for an evaluation: printed on its own line in both modes.
  void report(const std::string& line);
  void finish();

 private:
  void draw(int64_t done, double loss);

  std::string label_;
  int64_t total_;
  bool quiet_, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace nabla
