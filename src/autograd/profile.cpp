#include "nabla/profile.h"

#include <atomic>
#include <mutex>

namespace nabla::profile {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_enabled{false};
std::mutex g_mutex;
Totals g_totals;
thread_local Clock::time_point t_last = Clock::now();

}  // namespace

void enable(bool on) { g_enabled = on; }
bool enabled() { return g_enabled; }

void mark() { t_last = Clock::now(); }

void forward_done(const char* op) {
  if (!g_enabled) return;
  const Clock::time_point now = Clock::now();
  add_seconds(op, std::chrono::duration<double>(now - t_last).count());
  t_last = now;
}

void add_seconds(const std::string& name, double seconds) {
  if (!g_enabled) return;
  std::lock_guard lock(g_mutex);
  g_totals.seconds[name] += seconds;
}

void add_flops(double flops) {
  if (!g_enabled) return;
  std::lock_guard lock(g_mutex);
  g_totals.flops += flops;
}

void add_bytes(const std::string& name, double bytes) {
  if (!g_enabled) return;
  std::lock_guard lock(g_mutex);
  g_totals.bytes[name] += bytes;
}

void add_kernel(const KernelKey& key, const KernelTime& time) {
  if (!g_enabled) return;
  std::lock_guard lock(g_mutex);
  KernelTime& k = g_totals.kernels[key];
  k.algorithm = time.algorithm;
  k.calls += time.calls;
  k.seconds += time.seconds;
  k.flops += time.flops;
  k.gemm_seconds += time.gemm_seconds;
  k.gemm_flops += time.gemm_flops;
  k.bytes += time.bytes;
}

Totals take() {
  std::lock_guard lock(g_mutex);
  Totals out = std::move(g_totals);
  g_totals = Totals{};
  return out;
}

Scope::Scope(const char* name) : name_(name), start_(Clock::now()) {}
Scope::~Scope() {
  if (g_enabled) {
    add_seconds(name_, std::chrono::duration<double>(Clock::now() - start_).count());
  }
  mark();
}

}  // namespace nabla::profile
