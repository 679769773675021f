// `nabla train mlp-manual` (report Section 1: the hand-written-backprop MLP with SGD) and
// `nabla train mlp` (Section 2: the same MLP on the autograd engine, SGD or Adam, optional batch
// norm). Both share one configuration; the autograd-only settings are ignored by mlp-manual.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "nabla/manual/mlp.h"
#include "nabla/manual/modules.h"
#include "train/data.h"
#include "train/loop.h"
#include "train/replicas.h"
#include "train/run.h"

namespace nabla {

struct MlpConfig {
  std::string model = "mlp-manual";  // or "mlp"
  std::vector<int64_t> dnn_hidden_units{100};
  double learning_rate = 2e-3;
  int64_t max_steps = 1500;
  int64_t batch_size = 200;
  int64_t eval_freq = 100;
  double neg_slope = 0.02;
  DataConfig data;  // --dataset, --data_dir, --augment, --normalize, --image_size
  uint64_t seed = 42;
  std::string out = "results/mlp-manual";
  bool quiet = false;
  int64_t checkpoint_every = 0;  // 0: at every evaluation
  int64_t validation_size = 0;   // the first N training examples, held out
  bool resume = false;
  // `mlp` only.
  std::string optimizer = "sgd";   // sgd or adam
  std::string batchnorm = "none";  // none, autograd or manual
  double weight_decay = 0;
  double momentum = 0;   // sgd only
  bool sync_bn = false;  // data-parallel: batch norm over the global batch (--sync_bn)
};

nlohmann::json to_json(const MlpConfig& config);

// Throws ConfigError for a setting no run can use; train_size 0 skips the batch-size bound.
void validate(const MlpConfig& config, int64_t train_size = 0);

// Loads the data named by the config (after validating it), then trains.
RunSummary train_mlp_manual(const MlpConfig& config);
RunSummary train_mlp_manual(const MlpConfig& config, TrainData data);
// The hand-written MLP in the shared training loop: SGD on its cross-entropy. model and ce must
// outlive the result.
Trainable make_manual_trainable(manual::MLP<float>& model, manual::CrossEntropy<float>& ce,
                                float learning_rate);

// Data-parallel over `replicas` (mpirun): see Replicas.
RunSummary train_mlp(const MlpConfig& config, const Replicas& replicas = single_process());
RunSummary train_mlp(const MlpConfig& config, TrainData data,
                     const Replicas& replicas = single_process());

}  // namespace nabla
