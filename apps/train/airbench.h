// `nabla train airbench`: the airbench94 recipe (Keller Jordan, arXiv 2404.00498) on CIFAR-10,
// with nabla's layers: AirbenchNet, Nesterov SGD with decoupled weight decay and a higher
// learning rate for the batch norms' biases, label smoothing, a triangular schedule, lookahead
// averaging, alternating flip and 2-pixel reflect translation, and test-time augmentation.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "nabla/data/dataset.h"
#include "nabla/nn/airbench.h"
#include "nabla/nn/module.h"
#include "nabla/ops.h"
#include "nabla/optim/lookahead.h"
#include "nabla/optim/optimizer.h"
#include "train/data.h"
#include "train/replicas.h"
#include "train/run.h"

namespace nabla {

struct AirbenchConfig {
  double epochs = 9.9;
  int64_t batch_size = 1024;
  double learning_rate = 11.5;   // per 1024 examples, before airbench's kilostep scaling
  double momentum = 0.85;        // Nesterov
  double weight_decay = 0.0153;  // per 1024 examples, decoupled from the learning rate
  double bias_scaler = 64;       // the batch norms' biases learn this much faster
  double label_smoothing = 0.2;
  int64_t whiten_bias_epochs = 3;  // the whitening conv's bias trains for these epochs only
  std::string widths = "64,256,256";
  int64_t tta_level = 2;  // 0 none, 1 mirror, 2 mirror and 1-pixel translations
  int64_t eval_freq = 0;  // 0: only at the end
  DataConfig data{"cifar10", "", "altflip,translate2-reflect", "channel", 32};
  uint64_t seed = 42;
  std::string out = "results/airbench";
  bool quiet = false;
  int64_t checkpoint_every = 50;
  bool resume = false;
  bool sync_bn = false;  // data-parallel: batch norm over the global batch (--sync_bn)
};

nlohmann::json to_json(const AirbenchConfig& config);
// "64,256,256" -> {64, 256, 256}; throws ConfigError naming --widths.
std::array<int64_t, 3> parse_airbench_widths(const std::string& text);
// The steps of a run on `train_size` training images: ceil(epochs * batches an epoch), the last
// partial batch of each epoch dropped.
int64_t airbench_steps(const AirbenchConfig& config, int64_t train_size);
// Throws ConfigError naming the flag.
void validate(const AirbenchConfig& config);

// Data-parallel over `replicas` (mpirun): see Replicas. The loss is summed over the examples,
// so the replicas' gradients are summed, not averaged.
RunSummary train_airbench(const AirbenchConfig& config,
                          const Replicas& replicas = single_process());
RunSummary train_airbench(const AirbenchConfig& config, TrainData data,
                          const Replicas& replicas = single_process());

// The recipe's optimisation of `model`, one step at a time, in float (training) or double (the
// PyTorch parity test): two parameter groups (batch-norm biases at bias_scaler times the learning
// rate), Nesterov SGD with airbench's kilostep scaling and decoupled decay, the triangular
// schedule over `total` steps, the whitening bias trained for whiten_bias_epochs epochs of
// `per_epoch` steps, and the lookahead average every 5 steps and at the end.
template <typename T>
class AirbenchSteps {
 public:
  AirbenchSteps(nn::AirbenchNet<T>& model, const AirbenchConfig& config, int64_t per_epoch,
                int64_t total);
  // Throws std::invalid_argument unless per_epoch and total are >= 1.
  // Step number `step` (from 1 to total; std::invalid_argument outside) on a batch: forward, the
  // summed label-smoothed loss, backward, `check` (if any) between backward and the update, the
  // update and the lookahead. Returns the loss and the logits.
  std::pair<T, Tensor<T>> step(const Tensor<T>& images, const std::vector<int32_t>& labels,
                               int64_t step, const std::function<void()>& check = {});
  optim::SGD<T>& optimizer() { return optimizer_; }
  optim::Lookahead<T>& lookahead() { return lookahead_; }

 private:
  nn::AirbenchNet<T>& model_;
  int64_t per_epoch_, total_, whiten_bias_epochs_;
  CrossEntropyOptions loss_;
  optim::SGD<T> optimizer_;
  optim::Lookahead<T> lookahead_;
};

// Accuracy on `data` with airbench's test-time augmentation: level 0 the plain logits, 1 the mean
// of the image's and its mirror's, 2 half that plus half the mean of the same for the image
// shifted by one pixel up-left and down-right (reflect padding). In eval mode, in chunks.
double tta_accuracy(nn::Module<float>& model, const LabeledImages& data, int64_t level,
                    int64_t chunk = 500);

}  // namespace nabla
