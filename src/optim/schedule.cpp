#include "nabla/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "nabla/error.h"

namespace nabla::optim {

Schedule step_decay(int64_t step_size, double gamma) {
  if (step_size < 1) throw ConfigError("step_decay: step_size must be >= 1");
  return [step_size, gamma](int64_t step) {
    return std::pow(gamma, static_cast<double>(step / step_size));
  };
}

Schedule cosine(int64_t total_steps, double final_factor) {
  if (total_steps < 1) throw ConfigError("cosine: total_steps must be >= 1");
  return [total_steps, final_factor](int64_t step) {
    const double t = static_cast<double>(std::min(step, total_steps)) / static_cast<double>(total_steps);
    return final_factor + (1 - final_factor) * (1 + std::cos(std::numbers::pi * t)) / 2;
  };
}

Schedule linear_warmup(int64_t warmup_steps, double start_factor) {
  if (warmup_steps < 1) throw ConfigError("linear_warmup: warmup_steps must be >= 1");
  return [warmup_steps, start_factor](int64_t step) {
    if (step >= warmup_steps) return 1.0;
    return start_factor + (1 - start_factor) * static_cast<double>(step) /
                              static_cast<double>(warmup_steps);
  };
}

Schedule piecewise_linear(std::vector<std::pair<int64_t, double>> points) {
  if (points.empty()) throw ConfigError("piecewise_linear: needs at least one point");
  for (size_t i = 1; i < points.size(); ++i) {
    if (points[i].first <= points[i - 1].first) {
      throw ConfigError("piecewise_linear: steps must increase");
    }
  }
  return [points = std::move(points)](int64_t step) {
    if (step <= points.front().first) return points.front().second;
    for (size_t i = 1; i < points.size(); ++i) {
      if (step <= points[i].first) {
        const auto [s0, f0] = points[i - 1];
        const auto [s1, f1] = points[i];
        return f0 + (f1 - f0) * static_cast<double>(step - s0) / static_cast<double>(s1 - s0);
      }
    }
    return points.back().second;
  };
}

Schedule chain(std::vector<Schedule> schedules) {
  return [schedules = std::move(schedules)](int64_t step) {
    double f = 1;
    for (const Schedule& s : schedules) f *= s(step);
    return f;
  };
}

Schedule sequence(std::vector<Schedule> schedules, std::vector<int64_t> milestones) {
  if (schedules.empty() || milestones.size() + 1 != schedules.size()) {
    throw ConfigError("sequence: needs one milestone fewer than schedules");
  }
  for (size_t i = 1; i < milestones.size(); ++i) {
    if (milestones[i] <= milestones[i - 1]) throw ConfigError("sequence: milestones must increase");
  }
  return [schedules = std::move(schedules), milestones = std::move(milestones)](int64_t step) {
    size_t i = 0;
    while (i < milestones.size() && step >= milestones[i]) ++i;
    return schedules[i](i == 0 ? step : step - milestones[i - 1]);
  };
}

template <typename T>
LRScheduler<T>::LRScheduler(Optimizer<T>& optimizer, Schedule schedule)
    : optimizer_(optimizer), schedule_(std::move(schedule)) {
  if (!schedule_) throw ConfigError("LRScheduler: no schedule");
  apply();
}

template <typename T>
void LRScheduler<T>::step() {
  ++step_;
  apply();
}

template <typename T>
void LRScheduler<T>::load_state(const std::map<std::string, double>& state) {
  const auto it = state.find("lr_step");
  if (it == state.end()) throw std::invalid_argument("scheduler state has no lr_step");
  step_ = static_cast<int64_t>(it->second);
  apply();
}

template <typename T>
void LRScheduler<T>::apply() {
  const double f = schedule_(step_);
  for (ParamGroup<T>& g : optimizer_.param_groups()) {
    g.lr = static_cast<T>(static_cast<double>(g.base_lr) * f);
  }
}

template class LRScheduler<float>;
template class LRScheduler<double>;

}  // namespace nabla::optim
