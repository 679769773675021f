// `nabla train mlp-manual`: the report's Section 1, the hand-written-backprop MLP trained with SGD.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "nabla/data/cifar10.h"
#include "nabla/train/run.h"

namespace nabla {

// A bad setting; the message starts with the flag's name. The command line exits 2 on it.
class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct MlpManualConfig {
  std::vector<int64_t> dnn_hidden_units{100};
  double learning_rate = 2e-3;
  int64_t max_steps = 1500;
  int64_t batch_size = 200;
  int64_t eval_freq = 100;
  double neg_slope = 0.02;
  std::string data_dir;  // empty: $CIFAR10_DIR, else data/cifar-10-batches-bin
  uint64_t seed = 42;
  std::string out = "results/mlp-manual";
  bool quiet = false;
};

nlohmann::json to_json(const MlpManualConfig& config);

// Throws ConfigError for a setting no run can use; train_size 0 skips the batch-size bound.
void validate(const MlpManualConfig& config, int64_t train_size = 0);

// Loads the data named by the config, then trains on it.
RunSummary train_mlp_manual(const MlpManualConfig& config);
RunSummary train_mlp_manual(const MlpManualConfig& config, const Cifar10& data);

}  // namespace nabla
