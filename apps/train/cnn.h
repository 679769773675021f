// `nabla train cnn`: the report's Section 4 ConvNet trained with Adam (or SGD) on CIFAR-10.
#pragma once

#include <string>

#include "nabla/nn/convnet.h"
#include "train/data.h"
#include "train/mlp.h"
#include "train/replicas.h"
#include "train/run.h"

namespace nabla {

struct CnnConfig {
  double learning_rate = 1e-4;
  int64_t max_steps = 5000;
  int64_t batch_size = 32;
  int64_t eval_freq = 500;
  std::string optimizer = "adam";  // or sgd
  DataConfig data;                 // --dataset, --data_dir, --augment, --normalize, --image_size
  uint64_t seed = 42;
  std::string out = "results/cnn";
  std::string init_from;  // a safetensors file to start from, or empty
  bool quiet = false;
  int64_t checkpoint_every = 0;  // 0: at every evaluation
  int64_t validation_size = 0;   // the first N training examples, held out
  bool resume = false;
  bool sync_bn = false;  // data-parallel: batch norm over the global batch (--sync_bn)
};

nlohmann::json to_json(const CnnConfig& config);
// Throws ConfigError naming the flag.
void validate(const CnnConfig& config, int64_t train_size = 0);

// Data-parallel over `replicas` (mpirun): see Replicas.
RunSummary train_cnn(const CnnConfig& config, const Replicas& replicas = single_process());
RunSummary train_cnn(const CnnConfig& config, TrainData data,
                     const Replicas& replicas = single_process());

}  // namespace nabla
