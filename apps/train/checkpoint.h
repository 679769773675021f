// The full training state in one safetensors file (checkpoint.safetensors in --out): parameters
// and buffers ("model/<name>"), optimizer state ("optim/<key>"), and in __metadata__ the step,
// the wall time so far, the configuration, the metrics so far and the data loader's position
// (epoch and batch; the order and the augmentation follow from the seed). Written atomically, so a
// crash leaves the previous checkpoint intact. Version 1 files (the whole order and the shuffling
// generator's state) still load.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nabla/data/loader.h"
#include "nabla/error.h"
#include "nabla/io/safetensors.h"
#include "train/metrics.h"

namespace nabla {

struct Checkpoint {
  int64_t step = 0;  // steps completed
  double elapsed_s = 0;
  nlohmann::json config;
  std::vector<MetricsRow> metrics;
  data::LoaderPosition data;          // the next batch
  std::vector<int64_t> legacy_order;  // version 1: that epoch's order, checked against the loader
  std::vector<NamedTensor> model;
  std::vector<NamedTensor> optimizer;
  std::map<std::string, double> optimizer_scalars;
};

void save_checkpoint(const std::filesystem::path& file, const Checkpoint& checkpoint);
// Throws DataError naming the file and what is wrong.
Checkpoint load_checkpoint(const std::filesystem::path& file);
// Moves `loader` to the checkpoint's position; throws std::invalid_argument when it does not fit
// (another order, a batch past the epoch's end).
void seek_checkpoint(data::DataLoader& loader, const Checkpoint& checkpoint);

}  // namespace nabla
