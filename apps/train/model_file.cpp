#include "train/model_file.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "nabla/io/image.h"
#include "nabla/nn/convnet.h"
#include "nabla/nn/mlp.h"
#include "nabla/ops.h"
#include "train/cnn.h"

namespace nabla {

namespace fs = std::filesystem;

LoadedModel load_model(const fs::path& file) {
  const SafetensorsFile st = load_safetensors(file);
  const std::string name = file.string();
  const auto meta = [&](const std::string& key) {
    const auto it = st.metadata.find(key);
    if (it == st.metadata.end()) {
      throw DataError(name + ": no '" + key +
                      "' in the header's __metadata__ (not a nabla model?)");
    }
    return it->second;
  };
  LoadedModel loaded;
  loaded.kind = meta("model");
  Rng rng(0);  // every value is overwritten from the file
  if (loaded.kind == "cnn") {
    loaded.model = std::make_unique<nn::ConvNet<float>>(3, kCifarClasses, rng);
  } else if (loaded.kind == "mlp" || loaded.kind == "mlp-manual") {
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(meta("config"));
      loaded.model = std::make_unique<nn::MLP<float>>(
          kCifarImageBytes, config.at("dnn_hidden_units").get<std::vector<int64_t>>(),
          kCifarClasses, config.at("neg_slope").get<float>(),
          nn::parse_batchnorm_kind(config.value("batchnorm", std::string("none"))), rng);
    } catch (const std::exception& e) {
      throw DataError(name + ": bad model configuration in __metadata__ (" + e.what() + ")");
    }
  } else {
    throw DataError(name + ": unknown model '" + loaded.kind + "' (expected cnn, mlp, mlp-manual)");
  }
  try {
    loaded.model->load_state_dict(to_state_dict(st.tensors, {"mean_image"}));
  } catch (const ConfigError& e) {
    throw DataError(name + ": does not fit the model (" + e.what() + ")");
  }
  const Tensor<float>* mean = st.find("mean_image");
  if (!mean || mean->shape() != Shape{3, 32, 32}) {
    throw DataError(name + ": no mean_image of shape [3, 32, 32]");
  }
  loaded.mean_image = *mean;
  loaded.model->eval();
  return loaded;
}

Evaluation evaluate_model(LoadedModel& loaded, const Cifar10& data) {
  return evaluate(*loaded.model, data.test);
}

Tensor<float> read_image_32(const fs::path& file) {
  return image_tensor(read_image_rgb(file), 32, 32);
}

std::vector<Prediction> predict(LoadedModel& loaded, const Tensor<float>& image, int k) {
  Tensor<float> x = image.clone().reshape({1, 3, 32, 32});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] -= loaded.mean_image[i];
  NoGradGuard no_grad;
  const Tensor<float> logp = log_softmax((*loaded.model)(Variable<float>(x))).value();
  std::vector<Prediction> all;
  for (int32_t c = 0; c < logp.numel(); ++c)
    all.push_back({c, std::exp(static_cast<double>(logp[c]))});
  std::stable_sort(all.begin(), all.end(), [](const Prediction& a, const Prediction& b) {
    return a.probability > b.probability;
  });
  all.resize(std::min<size_t>(all.size(), static_cast<size_t>(k)));
  return all;
}

}  // namespace nabla
