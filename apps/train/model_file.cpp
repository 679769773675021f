#include "train/model_file.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "nabla/data/image_folder.h"
#include "nabla/io/image.h"
#include "nabla/nn/airbench.h"
#include "nabla/nn/convnet.h"
#include "nabla/nn/mlp.h"
#include "nabla/onnx.h"
#include "nabla/ops.h"
#include "train/cnn.h"

namespace nabla {

namespace fs = std::filesystem;

namespace {

// The data set's record in the file's metadata, checked; absent keys are the course's.
void read_data_metadata(const SafetensorsFile& st, const std::string& name, LoadedModel& loaded) {
  const auto find = [&](const std::string& key) -> const std::string* {
    const auto it = st.metadata.find(key);
    return it == st.metadata.end() ? nullptr : &it->second;
  };
  loaded.classes.assign(kCifarClassNames, kCifarClassNames + kCifarClasses);
  std::string normalize = "meanimage";
  try {
    if (const auto* v = find("dataset")) loaded.dataset = *v;
    if (const auto* v = find("classes")) {
      loaded.classes = nlohmann::json::parse(*v).get<std::vector<std::string>>();
    }
    if (const auto* v = find("input_shape")) {
      loaded.input_shape = nlohmann::json::parse(*v).get<Shape>();
    }
    if (const auto* v = find("normalize")) normalize = *v;
  } catch (const std::exception& e) {
    throw DataError(name + ": bad data set record in __metadata__ (" + e.what() + ")");
  }
  if (loaded.classes.empty() || loaded.classes.size() > 100000) {
    throw DataError(name + ": the metadata's classes must list 1 to 100000 names");
  }
  const Shape& s = loaded.input_shape;
  if (s.size() != 3 ||
      std::any_of(s.begin(), s.end(), [](int64_t d) { return d < 1 || d > 4096; })) {
    throw DataError(name + ": input_shape " + shape_str(s) + " is not (C, H, W) of sizes 1..4096");
  }
  Preprocessing& p = loaded.preprocessing;
  p.kind = normalize;
  const auto tensor = [&](const char* key, const Shape& shape) {
    const Tensor<float>* t = st.find(key);
    if (!t || t->shape() != shape) {
      throw DataError(name + ": no " + key + " of shape " + shape_str(shape) + " (" + normalize +
                      " preprocessing)");
    }
    return *t;
  };
  if (normalize == "meanimage") {
    p.mean_image = tensor("mean_image", s);
  } else if (normalize == "channel") {
    const Tensor<float> mean = tensor("channel_mean", {s[0]}), std = tensor("channel_std", {s[0]});
    p.channel.mean.assign(mean.values().begin(), mean.values().end());
    p.channel.std.assign(std.values().begin(), std.values().end());
    for (float v : p.channel.std) {
      if (!(v > 0)) throw DataError(name + ": channel_std must be > 0");
    }
  } else {
    throw DataError(name + ": unknown normalize '" + normalize + "' (meanimage or channel)");
  }
}

}  // namespace

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
  read_data_metadata(st, name, loaded);
  const Shape& in = loaded.input_shape;
  const auto n_classes = static_cast<int64_t>(loaded.classes.size());
  Rng rng(0);  // every value is overwritten from the file
  if (loaded.kind == "cnn") {
    if (in[1] > 32 || in[2] > 32) {
      throw DataError(name + ": input_shape " + shape_str(in) +
                      " is larger than the ConvNet's 32x32");
    }
    loaded.model = std::make_unique<nn::ConvNet<float>>(in[0], n_classes, rng);
  } else if (loaded.kind == "airbench") {
    if (in[1] != 32 || in[2] != 32) {
      throw DataError(name + ": input_shape " + shape_str(in) + " is not airbench's 32x32");
    }
    // The widths come from the file's header: its conv weights must have them before anything of
    // that size is allocated.
    std::array<int64_t, 3> widths{};
    int64_t prev = 8 * in[0];
    for (int g = 0; g < 3; ++g) {
      const std::string weight = std::to_string(g + 2) + ".conv1.weight";
      const Tensor<float>* w = st.find(weight);
      if (!w || w->rank() != 4 || w->dim(1) != prev || w->dim(2) != 3 || w->dim(3) != 3) {
        throw DataError(name + ": " + weight + " must be (width, " + std::to_string(prev) +
                        ", 3, 3) for an airbench model");
      }
      widths[static_cast<size_t>(g)] = prev = w->dim(0);
    }
    loaded.model = std::make_unique<nn::AirbenchNet<float>>(in[0], n_classes, rng,
                                                            nn::AirbenchOptions{widths});
  } else if (loaded.kind == "mlp" || loaded.kind == "mlp-manual") {
    std::vector<int64_t> hidden;
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(meta("config"));
      hidden = config.at("dnn_hidden_units").get<std::vector<int64_t>>();
    } catch (const std::exception& e) {
      throw DataError(name + ": bad model configuration in __metadata__ (" + e.what() + ")");
    }
    // The sizes come from the file's header: its weights must have them before anything of that
    // size is allocated.
    std::vector<int64_t> widths{in[0] * in[1] * in[2]};
    widths.insert(widths.end(), hidden.begin(), hidden.end());
    widths.push_back(n_classes);
    for (size_t i = 0; i + 1 < widths.size(); ++i) {
      const std::string weight = "fc" + std::to_string(i + 1) + ".weight";
      const Tensor<float>* w = st.find(weight);
      if (!w || w->shape() != Shape{widths[i + 1], widths[i]}) {
        throw DataError(name + ": " + weight + " must have shape " +
                        shape_str({widths[i + 1], widths[i]}) + " for the metadata's model");
      }
    }
    try {
      loaded.model = std::make_unique<nn::MLP<float>>(
          widths.front(), hidden, n_classes, config.at("neg_slope").get<float>(),
          nn::parse_batchnorm_kind(config.value("batchnorm", std::string("none"))), rng);
    } catch (const std::exception& e) {
      throw DataError(name + ": bad model configuration in __metadata__ (" + e.what() + ")");
    }
  } else {
    throw DataError(name + ": unknown model '" + loaded.kind +
                    "' (expected cnn, airbench, mlp, mlp-manual)");
  }
  std::set<std::string> not_model;
  for (const NamedTensor& t : loaded.preprocessing.tensors()) not_model.insert(t.name);
  try {
    loaded.model->load_state_dict(to_state_dict(st.tensors, not_model));
  } catch (const ConfigError& e) {
    throw DataError(name + ": does not fit the model (" + e.what() + ")");
  }
  loaded.model->eval();
  return loaded;
}

Evaluation evaluate_model(LoadedModel& loaded, LabeledImages raw) {
  if (raw.images.rank() != 4 ||
      Shape(raw.images.shape().begin() + 1, raw.images.shape().end()) != loaded.input_shape) {
    throw DataError("the images " + shape_str(raw.images.shape()) +
                    " do not fit the model's input " + shape_str(loaded.input_shape));
  }
  data::check_labeled_images(raw, static_cast<int64_t>(loaded.classes.size()), "the test set");
  raw.images = raw.images.clone();  // the caller's images stay raw
  loaded.preprocessing.apply(raw.images);
  return evaluate(*loaded.model, raw);
}

LabeledImages load_model_test_set(const LoadedModel& loaded, const std::string& data_dir) {
  DataConfig c;
  c.dataset = loaded.dataset;
  c.data_dir = data_dir;
  if (c.dataset != "folder") {
    validate(c);
    return load_splits(c).test;
  }
  // The labels are the model's classes, whatever the folder holds now.
  c.image_size = loaded.input_shape[1];
  validate(c);
  const data::ImageFolder test(std::filesystem::path(data_dir) / "test", loaded.input_shape[1],
                               loaded.input_shape[2], loaded.classes);
  std::vector<int64_t> all(static_cast<size_t>(test.size()));
  std::iota(all.begin(), all.end(), int64_t{0});
  return test.get_batch(all);
}

void export_onnx(LoadedModel& loaded, const fs::path& file) {
  const Shape& in = loaded.input_shape;
  onnx::ExportOptions options;
  options.output_name = "logits";
  options.class_names = loaded.classes;
  options.metadata = {{"dataset", loaded.dataset}, {"model", loaded.kind}};
  const Preprocessing& p = loaded.preprocessing;
  if (p.kind == "meanimage") {
    options.normalization.subtract = p.mean_image;
  } else {
    const auto per_channel = [&](const std::vector<float>& v) {
      return Tensor<float>({in[0], 1, 1}, v);
    };
    options.normalization.subtract = per_channel(p.channel.mean);
    options.normalization.divide = per_channel(p.channel.std);
  }
  onnx::export_model(*loaded.model, {1, in[0], in[1], in[2]}, file, options);
}

Tensor<float> read_image_for(const LoadedModel& loaded, const fs::path& file) {
  const Shape& in = loaded.input_shape;
  Tensor<float> rgb = image_tensor(read_image_rgb(file), in[1], in[2]);
  if (in[0] == 3) return rgb;
  if (in[0] != 1) {
    throw DataError(file.string() + ": the model takes " + std::to_string(in[0]) +
                    "-channel images; predict reads RGB or grey ones");
  }
  const int64_t plane = in[1] * in[2];
  Tensor<float> grey({1, in[1], in[2]});
  for (int64_t k = 0; k < plane; ++k) {
    grey[k] = 0.299f * rgb[k] + 0.587f * rgb[plane + k] + 0.114f * rgb[2 * plane + k];
  }
  return grey;
}

std::vector<Prediction> predict(LoadedModel& loaded, const Tensor<float>& image, int k) {
  const Shape& in = loaded.input_shape;
  Tensor<float> x = image.clone().reshape({1, in[0], in[1], in[2]});
  loaded.preprocessing.apply(x);
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
