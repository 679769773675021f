// `nabla bench`: times the report's models on synthetic CIFAR-shaped data. For each model: the
// median time of a training step and of an evaluation of 10,000 images, the achieved GFLOPS
// (counted from the GEMM and convolution shapes), and each op's share of the step time.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "nabla/profile.h"
#include "train/airbench.h"
#include "train/cnn.h"
#include "train/mlp.h"

namespace nabla {

// The models that run by default, by the names the bench script uses: cnn, mlp, mlp-deep,
// mlp-manual. --model cnn-sequential also runs the ConvNet's layers in a plain nn::Sequential.
const std::vector<std::string>& bench_model_names();

struct BenchConfig {
  std::vector<std::string> models = bench_model_names();
  int64_t repeats = 20;      // timed training steps per model, after the warm-up
  int64_t warmup = 3;        // untimed steps first
  int64_t eval_repeats = 3;  // timed evaluations; 0 skips them
  int64_t eval_images = 10000;
  uint64_t seed = 42;
  std::string augment;  // e.g. "flip,crop4": also time the augmentation (bench_augmentation)
  bool layers = false;  // --layers: the step per convolution pass and op, against the peak
};

struct BenchResult {
  std::string model, description;
  std::vector<double> step_seconds, eval_seconds;
  double step_flops = 0, eval_flops = 0;  // per step, per evaluation
  // Seconds per step by op ("conv2d", "conv2d backward", "adam", "other", ...).
  std::map<std::string, double> step_breakdown;
  // The timed steps' convolution passes and the bytes of the ops that record them (summed over
  // step_seconds.size() steps).
  std::map<profile::KernelKey, profile::KernelTime> step_kernels;
  std::map<std::string, double> step_bytes;
};

// Throws ConfigError for an unknown model or a bad count.
void validate(const BenchConfig& config);

// Runs the models one after another and prints each one's lines to `out` as soon as it is done.
std::vector<BenchResult> run_bench(const BenchConfig& config, std::ostream& out);

// --augment: what augmenting costs the report's ConvNet. Augmenting a batch of 1,024 images on one
// thread against a ConvNet training step at batch 1,024; and training steps at batch 32 whose
// batches come from a DataLoader (one background worker, as `nabla train`) with and without the
// augmentation, alternated step by step so both see the same machine.
struct AugmentBench {
  std::string augment;
  std::vector<double> augment_1024_seconds, step_1024_seconds;
  std::vector<double> plain_step_seconds, augmented_step_seconds;
};
AugmentBench bench_augmentation(const BenchConfig& config, std::ostream& out);
nlohmann::json to_json(const AugmentBench& result);

double median(std::vector<double> values);

// Seconds per training step and per evaluated image of the model a training command would build
// from `config`, measured here on synthetic data: one warm-up step, three timed steps (the
// median) and an evaluation of 500 images. For time estimates; about a second for the ConvNet.
struct MeasuredRates {
  double step_seconds = 0, eval_seconds_per_image = 0;
};
MeasuredRates measure_rates(const MlpConfig& config);
MeasuredRates measure_rates(const CnnConfig& config);
MeasuredRates measure_rates(const AirbenchConfig& config);

// {"threads": ..., "isa": ..., "models": [{"model", "step_ms" (median), "steps_ms" (all), ...}]}
nlohmann::json to_json(const std::vector<BenchResult>& results);

}  // namespace nabla
