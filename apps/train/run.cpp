#include "train/run.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "train/plot.h"

namespace nabla {

namespace fs = std::filesystem;

RunWriter::RunWriter(fs::path out_dir, std::string title, nlohmann::json config, int64_t max_steps,
                     bool quiet)
    : out_dir_(std::move(out_dir)),
      title_(std::move(title)),
      config_(std::move(config)),
      progress_(title_, max_steps, quiet),
      start_(std::chrono::steady_clock::now()) {
  std::error_code ec;
  fs::create_directories(out_dir_, ec);
  if (ec || !fs::is_directory(out_dir_)) {
    throw std::runtime_error(out_dir_.string() + ": cannot create output folder" +
                             (ec ? " (" + ec.message() + ")" : std::string()));
  }
  // Fail now, not after training, if nothing can be written there; clobber nothing.
  const fs::path probe = out_dir_ / ".nabla-write-test";
  write_file_atomic(probe, "");
  fs::remove(probe, ec);
}

double RunWriter::elapsed_s() const {
  return elapsed_before_ +
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void RunWriter::restore(std::vector<MetricsRow> rows, double elapsed_s, int64_t step) {
  rows_ = std::move(rows);
  elapsed_before_ = elapsed_s;
  start_ = std::chrono::steady_clock::now();
  progress_.restart_at(step);
  write_file_atomic(out_dir_ / "metrics.csv", metrics_csv(rows_));
}

void RunWriter::record(MetricsRow row) {
  rows_.push_back(row);
  write_file_atomic(out_dir_ / "metrics.csv", metrics_csv(rows_));
  char line[256], val[96] = "";
  if (row.has_validation) {
    std::snprintf(val, sizeof val, " val_loss=%.4f val_acc=%.4f", row.val_loss, row.val_acc);
  }
  std::snprintf(line, sizeof line,
                "step %lld: train_loss=%.4f train_acc=%.4f%s test_loss=%.4f test_acc=%.4f (%.1fs)",
                static_cast<long long>(row.step), row.train_loss, row.train_acc, val, row.test_loss,
                row.test_acc, row.elapsed_s);
  progress_.report(line);
  progress_.set_accuracy(row.test_acc);
}

RunSummary RunWriter::finish(const std::vector<NamedTensor>& model,
                             const std::map<std::string, std::string>& metadata,
                             const std::map<std::string, double>& extra) {
  progress_.finish();
  RunSummary s;
  s.wall_seconds = elapsed_s();
  if (!rows_.empty()) {
    s.final_test_acc = rows_.back().test_acc;
    s.final_test_loss = rows_.back().test_loss;
    s.steps = rows_.back().step;
    for (const auto& r : rows_) s.best_test_acc = std::max(s.best_test_acc, r.test_acc);
  }
  save_safetensors(out_dir_ / "model.safetensors", model, metadata);
  nlohmann::ordered_json summary;
  summary["final_test_acc"] = s.final_test_acc;
  summary["final_test_loss"] = s.final_test_loss;
  summary["best_test_acc"] = s.best_test_acc;
  summary["wall_seconds"] = s.wall_seconds;
  summary["steps"] = s.steps;
  for (const auto& [key, value] : extra) summary[key] = value;
  s.extra = extra;
  summary["seed"] = config_.value("seed", 0);
  if (!rows_.empty() && rows_.front().has_validation) {
    const auto best =
        std::max_element(rows_.begin(), rows_.end(), [](const auto& a, const auto& b) {
          return a.val_acc < b.val_acc;  // the first of equal maxima
        });
    summary["best_val_acc"] = best->val_acc;
    summary["best_val_step"] = best->step;
    summary["test_acc_at_best_val"] = best->test_acc;
  }
  summary["config"] = config_;
  write_file_atomic(out_dir_ / "summary.json", summary.dump(2) + "\n");
  if (const std::string err = plot_curves(rows_, out_dir_ / "curves.png", title_); !err.empty()) {
    std::cerr << "nabla: warning: " << (out_dir_ / "curves.png").string() << " not written: " << err
              << "\n";
  }
  std::printf("final test_acc=%.4f test_loss=%.4f", s.final_test_acc, s.final_test_loss);
  for (const auto& [key, value] : extra) std::printf(" %s=%.4f", key.c_str(), value);
  std::printf("\n");
  std::fflush(stdout);
  return s;
}

}  // namespace nabla
