// `nabla reproduce`: the report's experiments one after another, each in its own folder under
// --out, then results/report.md with the report's figures beside nabla's and the curves.
// Finished experiments are kept; an interrupted one resumes from its checkpoint.
#pragma once

#include <string>
#include <vector>

#include "train/data.h"

namespace nabla {

struct ReproduceConfig {
  std::string data_dir;
  std::string out = "results";
  std::vector<std::string> only;  // experiment names; empty: all
  double step_scale = 1.0;        // multiplies every experiment's steps (quick checks)
  bool quiet = false;
};

struct Experiment {
  std::string name;         // folder under --out
  std::string description;  // what it reproduces
  std::string command;      // the equivalent `nabla train ...` command
  double report_final_acc;  // the report's figure, or < 0 when it has none
};

const std::vector<Experiment>& report_experiments();

// Runs the experiments and writes <out>/report.md. Returns its path.
std::string reproduce(const ReproduceConfig& config);
std::string reproduce(const ReproduceConfig& config, const TrainData& data);

}  // namespace nabla
