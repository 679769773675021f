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
  bool has_validation = false;  // with --validation_size
  double val_loss = 0, val_acc = 0;
};

// The CSV text: a header line (step,train_loss,train_acc,test_loss,test_acc,elapsed_s; with a
// validation set, val_loss,val_acc come before test_loss), then one line per row. Values are
// printed with fixed precision, so equal runs give equal bytes.
std::string metrics_csv(const std::vector<MetricsRow>& rows);

}  // namespace nabla
