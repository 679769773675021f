#include "nabla/train/metrics.h"

#include <cstdio>

namespace nabla {

std::string metrics_csv(const std::vector<MetricsRow>& rows) {
  std::string out = "step,train_loss,train_acc,test_loss,test_acc,elapsed_s\n";
  char line[256];
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%lld,%.6f,%.6f,%.6f,%.6f,%.3f\n",
                  static_cast<long long>(r.step), r.train_loss, r.train_acc, r.test_loss,
                  r.test_acc, r.elapsed_s);
    out += line;
  }
  return out;
}

}  // namespace nabla
