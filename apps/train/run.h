// What every training run writes into its --out folder, whatever the model: metrics.csv (rewritten
// after each evaluation, so a killed run keeps its metrics), summary.json, curves.png and
// model.safetensors; and the progress it shows.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nabla/io/safetensors.h"
#include "train/metrics.h"
#include "train/progress.h"

namespace nabla {

struct RunSummary {
  double final_test_acc = 0, final_test_loss = 0, best_test_acc = 0, wall_seconds = 0;
  int64_t steps = 0;
  std::map<std::string, double> extra;  // the model's own final figures (Trainable::final_figures)
};

class RunWriter {
 public:
  // Creates out_dir (throws std::runtime_error naming it when it cannot be written).
  RunWriter(std::filesystem::path out_dir, std::string title, nlohmann::json config,
            int64_t max_steps, bool quiet);

  // Wall time of this run, including what a resumed run had spent before.
  double elapsed_s() const;
  const std::filesystem::path& dir() const { return out_dir_; }
  const nlohmann::json& config() const { return config_; }
  const std::vector<MetricsRow>& rows() const { return rows_; }
  // Continues a run from a checkpoint after `step`: its metrics so far and the time it had spent.
  void restore(std::vector<MetricsRow> rows, double elapsed_s, int64_t step);
  // A line of progress information.
  void note(const std::string& line) { progress_.report(line); }
  void tick(int64_t step, double loss) { progress_.tick(step, loss); }
  // Adds an evaluation row and rewrites metrics.csv.
  void record(MetricsRow row);
  // Writes the model, summary.json (with `extra` after the standard figures) and curves.png,
  // prints the final line, returns the summary.
  RunSummary finish(const std::vector<NamedTensor>& model,
                    const std::map<std::string, std::string>& metadata,
                    const std::map<std::string, double>& extra = {});

 private:
  std::filesystem::path out_dir_;
  std::string title_;
  nlohmann::json config_;
  Progress progress_;
  std::vector<MetricsRow> rows_;
  std::chrono::steady_clock::time_point start_;
  double elapsed_before_ = 0;
};

}  // namespace nabla
