#include "train/checkpoint.h"

namespace nabla {

namespace {

constexpr const char* kModelPrefix = "model/";
constexpr const char* kOptimPrefix = "optim/";

nlohmann::json rows_to_json(const std::vector<MetricsRow>& rows) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : rows) {
    j.push_back({r.step, r.train_loss, r.train_acc, r.test_loss, r.test_acc, r.elapsed_s,
                 r.has_validation, r.val_loss, r.val_acc});
  }
  return j;
}

std::vector<MetricsRow> rows_from_json(const nlohmann::json& j) {
  std::vector<MetricsRow> rows;
  for (const auto& r : j) {
    rows.push_back({r.at(0).get<int64_t>(), r.at(1).get<double>(), r.at(2).get<double>(),
                    r.at(3).get<double>(), r.at(4).get<double>(), r.at(5).get<double>(),
                    r.at(6).get<bool>(), r.at(7).get<double>(), r.at(8).get<double>()});
  }
  return rows;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& file, const Checkpoint& c) {
  std::vector<NamedTensor> tensors;
  for (const auto& t : c.model) tensors.push_back({kModelPrefix + t.name, t.value});
  for (const auto& t : c.optimizer) tensors.push_back({kOptimPrefix + t.name, t.value});
  const nlohmann::json data = {{"epoch", c.data.epoch}, {"batch", c.data.batch}};
  save_safetensors(file, tensors,
                   {{"format", "nabla-checkpoint"},
                    {"version", "2"},
                    {"step", std::to_string(c.step)},
                    {"elapsed_s", nlohmann::json(c.elapsed_s).dump()},
                    {"config", c.config.dump()},
                    {"metrics", rows_to_json(c.metrics).dump()},
                    {"data", data.dump()},
                    {"optimizer_scalars", nlohmann::json(c.optimizer_scalars).dump()}});
}

Checkpoint load_checkpoint(const std::filesystem::path& file) {
  const SafetensorsFile f = load_safetensors(file);
  const std::string name = file.string();
  Checkpoint c;
  try {
    if (f.metadata.at("format") != "nabla-checkpoint") throw std::runtime_error("not a checkpoint");
    c.step = std::stoll(f.metadata.at("step"));
    c.elapsed_s = nlohmann::json::parse(f.metadata.at("elapsed_s")).get<double>();
    c.config = nlohmann::json::parse(f.metadata.at("config"));
    c.metrics = rows_from_json(nlohmann::json::parse(f.metadata.at("metrics")));
    const auto data = nlohmann::json::parse(f.metadata.at("data"));
    if (data.contains("order")) {
      // Version 1: the course's walk, where a batch starts at index_in_epoch.
      const int64_t batch_size = c.config.at("batch_size").get<int64_t>();
      const int64_t index = data.at("index_in_epoch").get<int64_t>();
      if (batch_size < 1 || index < 0 || index % batch_size != 0) {
        throw std::runtime_error("data position " + std::to_string(index) +
                                 " is not a whole number of batches");
      }
      c.data = {data.at("epochs_completed").get<int64_t>(), index / batch_size};
      c.legacy_order = data.at("order").get<std::vector<int64_t>>();
    } else {
      c.data = {data.at("epoch").get<int64_t>(), data.at("batch").get<int64_t>()};
    }
    c.optimizer_scalars = nlohmann::json::parse(f.metadata.at("optimizer_scalars"))
                              .get<std::map<std::string, double>>();
  } catch (const std::exception& e) {
    throw DataError(name + ": not a valid nabla checkpoint (" + e.what() + ")");
  }
  const std::string model_prefix = kModelPrefix, optim_prefix = kOptimPrefix;
  for (const auto& t : f.tensors) {
    if (t.name.rfind(model_prefix, 0) == 0) {
      c.model.push_back({t.name.substr(model_prefix.size()), t.value});
    } else if (t.name.rfind(optim_prefix, 0) == 0) {
      c.optimizer.push_back({t.name.substr(optim_prefix.size()), t.value});
    } else {
      throw DataError(name + ": unexpected tensor '" + t.name + "' in a checkpoint");
    }
  }
  return c;
}

}  // namespace nabla

namespace nabla {

void seek_checkpoint(data::DataLoader& loader, const Checkpoint& c) {
  data::LoaderPosition position = c.data;
  if (!c.legacy_order.empty()) {
    if (c.legacy_order != loader.epoch_indices(position.epoch)) {
      throw std::invalid_argument("its data order is not this run's");
    }
    if (position.batch == loader.batches_per_epoch()) position = {position.epoch + 1, 0};
  }
  // Each step took one batch: the position must be the step's, which also bounds a crafted one.
  const int64_t per_epoch = loader.batches_per_epoch();
  if (position.epoch < 0 || position.batch < 0 || position.epoch > c.step / per_epoch ||
      position.epoch * per_epoch + position.batch != c.step) {
    throw std::invalid_argument("its data position (epoch " + std::to_string(position.epoch) +
                                ", batch " + std::to_string(position.batch) + ") is not step " +
                                std::to_string(c.step) + "'s");
  }
  loader.seek(position);
}

}  // namespace nabla
