// The full training state in one safetensors file (checkpoint.safetensors in --out): parameters
// and buffers ("model/<name>"), optimizer state ("optim/<key>"), and in __metadata__ the step,
// the wall time so far, the configuration, the metrics so far and the data order position with its
// random generator's state. Written atomically, so a crash leaves the previous checkpoint intact.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nabla/data/cifar10.h"
#include "nabla/io/safetensors.h"
#include "train/metrics.h"

namespace nabla {

struct Checkpoint {
  int64_t step = 0;  // steps completed
  double elapsed_s = 0;
  nlohmann::json config;
  std::vector<MetricsRow> metrics;
  DataSet::State data;
  std::vector<NamedTensor> model;
  std::vector<NamedTensor> optimizer;
  std::map<std::string, double> optimizer_scalars;
};

void save_checkpoint(const std::filesystem::path& file, const Checkpoint& checkpoint);
// Throws DataError naming the file and what is wrong.
Checkpoint load_checkpoint(const std::filesystem::path& file);

}  // namespace nabla
