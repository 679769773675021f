#include <algorithm>

#include "nabla/nn/serialize.h"
#include "nabla/optim/optimizer.h"
#include "train/classifier.h"
#include "train/cnn.h"

namespace nabla {

nlohmann::json to_json(const CnnConfig& c) {
  nlohmann::json j = {{"model", "cnn"},           {"learning_rate", c.learning_rate},
                      {"max_steps", c.max_steps}, {"batch_size", c.batch_size},
                      {"eval_freq", c.eval_freq}, {"optimizer", c.optimizer},
                      {"seed", c.seed},           {"out", c.out},
                      {"init_from", c.init_from}, {"validation_size", c.validation_size}};
  add_to_json(c.data, j);
  if (c.sync_bn) j["sync_bn"] = true;
  return j;
}

LoopConfig loop_config(const CnnConfig& c) {
  return {c.max_steps, c.batch_size, c.eval_freq, c.checkpoint_every,
          c.seed + 1,  c.resume,     nullptr};
}

void validate(const CnnConfig& c, int64_t train_size) {
  validate(c.data);
  validate_loop(loop_config(c), c.learning_rate, c.optimizer, c.validation_size, train_size,
                /*min_batch=*/2);
}

RunSummary train_cnn(const CnnConfig& config, const Replicas& replicas) {
  validate(config, config.data.dataset == "cifar10" ? 5 * kCifarRecordsPerFile : 0);
  check_batch_splits(config.batch_size, replicas);
  return train_cnn(config, load_train_data(config.data), replicas);
}

RunSummary train_cnn(const CnnConfig& config, TrainData data, const Replicas& replicas) {
  Rng init_rng = prepare_run(config, data);
  const Shape input = data.input_shape();
  if (input[1] > 32 || input[2] > 32) {
    // Five 3x3 stride-2 poolings must bring the image to 1x1 before the 512-wide linear layer.
    throw ConfigError("--dataset: the ConvNet takes images of at most 32x32, not " +
                      std::to_string(input[1]) + "x" + std::to_string(input[2]) +
                      " (a folder data set takes --image_size)");
  }
  nn::ConvNet<float> model(input[0], data.n_classes(), init_rng);
  if (!config.init_from.empty()) {
    load(model, config.init_from, /*strict=*/true, {"mean_image", "channel_mean", "channel_std"});
  }
  const auto optimizer = make_optimizer(config.optimizer, model.parameters(), config.learning_rate);
  Trainable t = make_trainable(model, *optimizer,
                               replicas.replicate(model, config.sync_bn, /*average=*/true));
  nlohmann::json saved_config = to_json(config);
  saved_config.erase("out");  // where a model was written is not part of it
  RunSpec spec{config.out,
               "cnn",
               to_json(config),
               loop_config(config),
               config.quiet,
               {{"format", "nabla"},
                {"model", "cnn"},
                {"n_channels", std::to_string(input[0])},
                {"n_classes", std::to_string(data.n_classes())},
                {"config", saved_config.dump()}}};
  spec.loop.augment = make_augmentation(config.data, input);
  add_data_metadata(data, spec.metadata);
  return train_model(t, data, spec, replicas);
}

}  // namespace nabla
