// The training loop every command shares: batches in epoch order, one step at a time, evaluation
// every eval_freq steps and at the end, checkpoints every checkpoint_every steps and at the end,
// resuming from the last checkpoint, and stopping cleanly on SIGINT/SIGTERM or on the first
// non-finite loss or gradient. A model takes part through a Trainable.
#pragma once

#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "nabla/data/loader.h"
#include "nabla/data/transforms.h"
#include "nabla/error.h"
#include "nabla/io/safetensors.h"
#include "train/data.h"
#include "train/replicas.h"
#include "train/run.h"

namespace nabla {

struct Evaluation {
  double loss = 0, accuracy = 0;
};

struct StepResult {
  double loss = 0, batch_accuracy = 0;
};

// A non-finite loss or gradient; training stops and the last good checkpoint stays.
class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// SIGINT or SIGTERM arrived; a checkpoint was written first.
class Interrupted : public std::runtime_error {
 public:
  Interrupted(const std::string& what, int signal) : std::runtime_error(what), signal(signal) {}
  int signal;
};

// For its lifetime, SIGINT and SIGTERM only record that they arrived (received()); the previous
// handlers come back after. The handler runs on an alternate stack of the thread that made this
// object, and the OpenMP worker threads block both signals meanwhile: oneDNN 2.6's JIT SGEMM
// points the stack pointer into a heap buffer while it runs (uxlfoundation/oneDNN#4845, fixed in
// oneDNN 3.x), so a signal taken there on the ordinary stack writes its frame into the heap.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // The signal that arrived, 0 if none.
  int received() const;

 private:
  std::vector<char> alt_stack_;
  stack_t previous_alt_{};
  struct sigaction previous_int_ {
  }, previous_term_{};
};

struct Trainable {
  // Forward, backward and update on one batch. Throws NumericalError naming the tensor when a
  // gradient is not finite.
  std::function<StepResult(const LabeledImages& batch, int64_t step)> step;
  std::function<Evaluation(const LabeledImages&)> evaluate;
  // Parameters and buffers, by name; and their restoration from a checkpoint.
  std::function<std::vector<NamedTensor>()> model_tensors;
  std::function<void(const std::vector<NamedTensor>&)> load_model_tensors;
  // The optimizer's state; empty functions for a stateless optimizer.
  std::function<std::vector<NamedTensor>()> optimizer_tensors;
  std::function<std::map<std::string, double>()> optimizer_scalars;
  std::function<void(const std::vector<NamedTensor>&, const std::map<std::string, double>&)>
      load_optimizer;
  // Figures computed once after training (airbench's test-time augmentation), added to
  // summary.json and the final line; an empty function for none.
  std::function<std::map<std::string, double>()> final_figures;
};

struct LoopConfig {
  int64_t max_steps = 0, batch_size = 0, eval_freq = 0;
  int64_t checkpoint_every = 0;  // 0: at every evaluation
  uint64_t seed = 0;             // of the data order and the augmentation
  bool resume = false;
  std::shared_ptr<const data::Transform> augment;  // of each training batch; nullptr: none
  // The order of the training examples in each epoch: the course's (its commands' bits), or a
  // fresh permutation every epoch, the first included (airbench94's).
  data::Order order = data::Order::kCourse;
};

// The settings every training command shares: throws ConfigError naming the flag. train_size 0
// skips the checks that need the data's size; min_batch is 2 for models with batch norm.
void validate_loop(const LoopConfig& loop, double learning_rate, const std::string& optimizer,
                   int64_t validation_size, int64_t train_size, int64_t min_batch = 1);

// The part of `nabla train mlp-manual | mlp | cnn` around the model, the same for all three.
struct RunSpec {
  std::string out;        // --out
  std::string title;      // the model's name, in progress lines and summary.json
  nlohmann::json config;  // the command's settings (summary.json; a resume must match them)
  LoopConfig loop;
  bool quiet = false;
  std::map<std::string, std::string> metadata;  // the model files' __metadata__
};

// Checks a command's settings against the data (ConfigError naming the flag), holds out its
// validation set, and returns the generator its model is initialised from (seeded by --seed).
template <typename Config>
Rng prepare_run(const Config& config, TrainData& data) {
  validate(config, data.train.images.dim(0));
  split_validation(data, config.validation_size);
  return Rng(config.seed);
}

// With a validation set, `write_model` is called with best_model.safetensors in --out whenever
// the validation accuracy improves: the best model is chosen on validation, never on test.
// Batches come from a data::DataLoader in loop.order (drop_last), made on a background
// thread, augmented by loop.augment; checkpoints save its position. With several replicas, each
// takes its shard of every global batch (loop.batch_size / replicas); the step's loss and
// accuracy and a stop signal are summed over them; rank 0 alone holds `run` (nullptr on the
// others): it evaluates and writes the metrics, the models and the checkpoints.
void run_training(Trainable& model, const TrainData& data, const RunSpec& spec, RunWriter* run,
                  const Replicas& replicas,
                  const std::function<void(const std::filesystem::path&)>& write_model);

// Trains `model` as the command says: the run's folder and progress (RunWriter), the loop
// (run_training), the model files (the model's tensors, the preprocessing's, the metadata),
// summary.json and curves.png, all written by rank 0. Returns the summary (empty on other ranks).
RunSummary train_model(Trainable& model, const TrainData& data, const RunSpec& spec,
                       const Replicas& replicas = single_process());

// Throws ConfigError unless the global batch splits evenly over the replicas (drop_last then
// gives every replica the same number of batches).
void check_batch_splits(int64_t batch_size, const Replicas& replicas);

// Throws NumericalError naming `name` and the step if any value of t is NaN or infinite.
void check_finite(const Tensor<float>& t, const std::string& name, int64_t step);

// Fraction of rows of scores (B, C) whose largest entry is at the label.
double accuracy(const Tensor<float>& scores, const std::vector<int32_t>& labels);

}  // namespace nabla
