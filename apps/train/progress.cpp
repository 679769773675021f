#include "train/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace nabla {

using Clock = std::chrono::steady_clock;

Progress::Progress(std::string label, int64_t total, bool quiet)
    : label_(std::move(label)),
      total_(total),
      quiet_(quiet),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(Clock::now()),
      last_draw_(start_) {}

void Progress::tick(int64_t done, double loss) {
  if (quiet_) return;
  if (!tty_) {
    // Plain lines for logs: one every tenth of the work.
    const int64_t every = std::max<int64_t>(1, total_ / 10);
    if (done % every == 0 || done == total_) {
      const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
      const double rate = secs > 0 ? static_cast<double>(done - first_) / secs : 0;
      const double left = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
      std::fprintf(stderr, "%s: step %lld/%lld, %.1f steps/s, %.0fs left, loss %.4f\n",
                   label_.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
                   rate, left, loss);
    }
    return;
  }
  const auto now = Clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  draw(done, loss);
}

void Progress::draw(int64_t done, double loss) {
  const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done - first_) / secs : 0;
  const double left = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
  constexpr int kWidth = 30;
  const int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  char acc[48] = "";
  if (last_accuracy_ >= 0) std::snprintf(acc, sizeof acc, ", test acc %.4f", last_accuracy_);
  std::fprintf(stderr, "\r%s [%s] %lld/%lld %.1f steps/s, %.0fs left, loss %.4f%s\033[K",
               label_.c_str(), bar.c_str(), static_cast<long long>(done),
               static_cast<long long>(total_), rate, left, loss, acc);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::restart_at(int64_t done) {
  first_ = done;
  start_ = Clock::now();
}

void Progress::report(const std::string& line) {
  if (quiet_) return;
  if (tty_ && drawn_) std::fputs("\r\033[K", stderr);
  std::fprintf(stderr, "%s\n", line.c_str());
  drawn_ = false;
}

void Progress::finish() {
  if (!quiet_ && tty_ && drawn_) std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

}  // namespace nabla
