// One row of metrics.csv per evaluation, and the file itself.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace nabla {

struct MetricsRow {
  int64_t step = 0;
  double train_loss = 0, train_acc = 0;  // on the batch of that step
  double test_loss = 0, test_acc = 0;    // on the whole test set
  double elapsed_s = 0;
};

// The CSV text: a header line (step,train_loss,train_acc,test_loss,test_acc,elapsed_s), then one
// line per row. Values are printed with fixed precision, so equal runs give equal bytes.
std::string metrics_csv(const std::vector<MetricsRow>& rows);

}  // namespace nabla
