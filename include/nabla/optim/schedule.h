/// \file
/// Learning-rate schedules. A Schedule is the factor that multiplies each parameter group's
/// base_lr at a step (0, 1, 2, ...); schedules compose (chain multiplies factors, sequence runs one
/// after another, each counting its own steps from 0). An LRScheduler applies one to an optimizer,
/// as torch.optim.lr_scheduler does: call its step() after each optimizer.step(); its state is the
/// step count, which checkpoints save and restore.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nabla/optim/optimizer.h"

namespace nabla::optim {

/// The factor that multiplies each group's base_lr at a step (0, 1, 2, ...).
using Schedule = std::function<double(int64_t step)>;

/// gamma^(step / step_size), as StepLR.
Schedule step_decay(int64_t step_size, double gamma);
/// From 1 down to final_factor along half a cosine over total_steps, then final_factor, as
/// CosineAnnealingLR with eta_min = final_factor * base_lr over its first T_max = total_steps
/// steps (after them PyTorch's rises again; this one stays at final_factor).
Schedule cosine(int64_t total_steps, double final_factor = 0);
/// From start_factor up to 1 linearly over warmup_steps, then 1, as LinearLR.
Schedule linear_warmup(int64_t warmup_steps, double start_factor = 0);
/// Linear between (step, factor) points with increasing steps; flat before the first and after
/// the last (a triangular or one-cycle schedule is three points).
Schedule piecewise_linear(std::vector<std::pair<int64_t, double>> points);
/// The product of the factors, as ChainedScheduler.
Schedule chain(std::vector<Schedule> schedules);
/// schedules[0] for the steps before milestones[0], then schedules[1] counting from 0 again, ...,
/// as SequentialLR; milestones increasing, one fewer than schedules.
Schedule sequence(std::vector<Schedule> schedules, std::vector<int64_t> milestones);

/// Applies a schedule to an optimizer: each group's lr = base_lr * schedule(step).
template <typename T>
class LRScheduler {
 public:
  /// Sets every group's learning rate for step 0.
  LRScheduler(Optimizer<T>& optimizer, Schedule schedule);
  /// One step done: sets the learning rates of the next.
  void step();
  /// The number of step() calls, counting those of a loaded state.
  int64_t steps_done() const { return step_; }
  /// The current factor, schedule(steps_done()).
  double factor() const { return schedule_(step_); }
  /// {"lr_step": steps_done()}, for load_state.
  std::map<std::string, double> state() const { return {{"lr_step", static_cast<double>(step_)}}; }
  /// Continues from a saved state (throws std::invalid_argument when it has no lr_step).
  void load_state(const std::map<std::string, double>& state);

 private:
  void apply();
  Optimizer<T>& optimizer_;
  Schedule schedule_;
  int64_t step_ = 0;
};

}  // namespace nabla::optim
