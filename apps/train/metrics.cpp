#include "train/metrics.h"

#include <cstdio>

namespace nabla {

std::string metrics_csv(const std::vector<MetricsRow>& rows) {
  const bool val = !rows.empty() && rows.front().has_validation;
  std::string out =
      val ? "step,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,elapsed_s\n"
          : "step,train_loss,train_acc,test_loss,test_acc,elapsed_s\n";
  char line[320];
  for (const auto& r : rows) {
    if (val) {
      std::snprintf(line, sizeof line, "%lld,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f\n",
                    static_cast<long long>(r.step), r.train_loss, r.train_acc, r.val_loss,
                    r.val_acc, r.test_loss, r.test_acc, r.elapsed_s);
    } else {
      std::snprintf(line, sizeof line, "%lld,%.6f,%.6f,%.6f,%.6f,%.3f\n",
                    static_cast<long long>(r.step), r.train_loss, r.train_acc, r.test_loss,
                    r.test_acc, r.elapsed_s);
    }
    out += line;
  }
  return out;
}

}  // namespace nabla
