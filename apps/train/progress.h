// Progress of a long loop on stderr: a live one-line bar (step, steps/s, time left, last loss)
// when stderr is a terminal, plain periodic lines otherwise; nothing with --quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace nabla {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool quiet);
  // Rates count from here: a resumed run starts at `done`.
  void restart_at(int64_t done);
  // Called every step; redraws the bar at most a few times a second, or on a file writes a plain
  // line every tenth of the work.
  void tick(int64_t done, double loss);
  // The latest evaluation's accuracy, shown on the bar from then on.
  void set_accuracy(double accuracy) { last_accuracy_ = accuracy; }
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
  int64_t first_ = 0;
  double last_accuracy_ = -1;
};

}  // namespace nabla
