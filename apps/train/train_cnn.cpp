#include <algorithm>

#include "nabla/nn/serialize.h"
#include "nabla/optim/optimizer.h"
#include "train/classifier.h"
#include "train/cnn.h"

namespace nabla {

nlohmann::json to_json(const CnnConfig& c) {
  return {{"model", "cnn"},
          {"learning_rate", c.learning_rate},
          {"max_steps", c.max_steps},
          {"batch_size", c.batch_size},
          {"eval_freq", c.eval_freq},
          {"optimizer", c.optimizer},
          {"data_dir", c.data_dir},
          {"seed", c.seed},
          {"out", c.out},
          {"init_from", c.init_from},
          {"validation_size", c.validation_size}};
}

LoopConfig loop_config(const CnnConfig& c) {
  return {c.max_steps, c.batch_size, c.eval_freq, c.checkpoint_every, c.seed + 1, c.resume};
}

void validate(const CnnConfig& c, int64_t train_size) {
  validate_loop(loop_config(c), c.learning_rate, c.optimizer, c.validation_size, train_size,
                /*min_batch=*/2);
}

RunSummary train_cnn(const CnnConfig& config) {
  validate(config, 5 * kCifarRecordsPerFile);
  return train_cnn(config, load_cifar10(resolve_data_dir(config.data_dir)));
}

RunSummary train_cnn(const CnnConfig& config, Cifar10 data) {
  Rng init_rng = prepare_run(config, data);
  nn::ConvNet<float> model(data.train.images.dim(1), kCifarClasses, init_rng);
  if (!config.init_from.empty()) {
    load(model, config.init_from, /*strict=*/true, {"mean_image"});
  }
  const auto optimizer = make_optimizer(config.optimizer, model.parameters(), config.learning_rate);
  Trainable t = make_trainable(model, *optimizer);
  nlohmann::json saved_config = to_json(config);
  saved_config.erase("out");  // where a model was written is not part of it
  const RunSpec spec{config.out, "cnn", to_json(config), loop_config(config), config.quiet,
                     {{"format", "nabla"},
                      {"model", "cnn"},
                      {"n_channels", std::to_string(data.train.images.dim(1))},
                      {"n_classes", std::to_string(kCifarClasses)},
                      {"config", saved_config.dump()}}};
  return train_model(t, data, spec);
}

}  // namespace nabla
