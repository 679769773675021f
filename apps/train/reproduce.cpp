#include "train/reproduce.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <numeric>
#include <utility>
#include <variant>

#include "nabla/io/safetensors.h"
#include "train/airbench.h"
#include "train/bench.h"
#include "train/checkpoint.h"
#include "train/cnn.h"
#include "train/mlp.h"

namespace nabla {

namespace fs = std::filesystem;

namespace {

int64_t scaled(int64_t steps, double scale) {
  return std::max<int64_t>(1, std::llround(static_cast<double>(steps) * scale));
}

MlpConfig mlp_config(const std::string& model, double scale) {
  MlpConfig c;
  c.model = model;
  c.resume = true;
  c.max_steps = scaled(c.max_steps, scale);
  c.eval_freq = std::min(c.eval_freq, c.max_steps);
  return c;
}

// Sets the steps of an experiment, scaled; evaluations stay every eval_freq steps (and at the end).
void set_steps(MlpConfig& c, int64_t steps, int64_t eval_freq, double scale) {
  c.max_steps = scaled(steps, scale);
  c.eval_freq = std::min(eval_freq, c.max_steps);
}

void deep_adam(MlpConfig& c, double scale) {
  c.dnn_hidden_units = {300, 200, 100, 100, 50, 50};
  c.optimizer = "adam";
  set_steps(c, 2500, 100, scale);
}

// What an experiment trains: the configuration of `nabla train mlp-manual | mlp | cnn |
// airbench`.
using RunConfig = std::variant<MlpConfig, CnnConfig, AirbenchConfig>;

struct Spec {
  Experiment info;
  std::function<RunConfig(double scale)> config;
};

MlpConfig mlp_experiment(const std::string& model, double scale,
                         const std::function<void(MlpConfig&)>& change = {}) {
  MlpConfig c = mlp_config(model, scale);
  if (change) change(c);
  return c;
}

const std::vector<Spec>& specs() {
  static const std::vector<Spec> all = {
      {{"mlp-manual", "Section 1: MLP with hand-written backprop, SGD, defaults",
        "nabla train mlp-manual", 0.4732},
       [](double scale) -> RunConfig { return mlp_experiment("mlp-manual", scale); }},
      {{"mlp", "Section 2: the MLP on autograd, SGD, defaults", "nabla train mlp", 0.4079},
       [](double scale) -> RunConfig { return mlp_experiment("mlp", scale); }},
      {{"mlp-2500", "Section 2: the MLP on autograd, SGD, 2500 steps",
        "nabla train mlp --max_steps 2500", -1},
       [](double scale) -> RunConfig {
         return mlp_experiment("mlp", scale,
                               [scale](MlpConfig& c) { set_steps(c, 2500, 100, scale); });
       }},
      {{"mlp-deep-adam", "Section 2: hidden 300,200,100,100,50,50, Adam, 2500 steps",
        "nabla train mlp --dnn_hidden_units 300,200,100,100,50,50 --optimizer adam "
        "--max_steps 2500",
        0.5226},
       [](double scale) -> RunConfig {
         return mlp_experiment("mlp", scale, [scale](MlpConfig& c) { deep_adam(c, scale); });
       }},
      {{"mlp-deep-adam-bn-autograd",
        "Section 3: the deep Adam MLP with batch norm composed from autograd ops",
        "nabla train mlp --dnn_hidden_units 300,200,100,100,50,50 --optimizer adam "
        "--max_steps 2500 --batchnorm autograd",
        -1},
       [](double scale) -> RunConfig {
         return mlp_experiment("mlp", scale, [scale](MlpConfig& c) {
           deep_adam(c, scale);
           c.batchnorm = "autograd";
         });
       }},
      {{"mlp-deep-adam-bn-manual",
        "Section 3: the deep Adam MLP with the hand-written batch norm function (module)",
        "nabla train mlp --dnn_hidden_units 300,200,100,100,50,50 --optimizer adam "
        "--max_steps 2500 --batchnorm manual",
        -1},
       [](double scale) -> RunConfig {
         return mlp_experiment("mlp", scale, [scale](MlpConfig& c) {
           deep_adam(c, scale);
           c.batchnorm = "manual";
         });
       }},
      {{"mlp-best", "The best MLP found: hidden 1000,500, batch norm, Adam 1e-3, 8000 steps",
        "nabla train mlp --dnn_hidden_units 1000,500 --batchnorm manual --optimizer adam "
        "--learning_rate 1e-3 --max_steps 8000 --eval_freq 500",
        -1},
       [](double scale) -> RunConfig {
         return mlp_experiment("mlp", scale, [scale](MlpConfig& c) {
           c.dnn_hidden_units = {1000, 500};
           c.batchnorm = "manual";
           c.optimizer = "adam";
           c.learning_rate = 1e-3;
           set_steps(c, 8000, 500, scale);
         });
       }},
      {{"cnn", "Section 4: the ConvNet of Table 1, Adam 1e-4, 5000 steps of 32", "nabla train cnn",
        0.726},
       [](double scale) -> RunConfig {
         CnnConfig c;
         c.resume = true;
         c.max_steps = scaled(c.max_steps, scale);
         c.eval_freq = std::min(c.eval_freq, c.max_steps);
         return c;
       }},
      {{"airbench",
        "Beyond the report: airbench94's recipe, 9.9 epochs of 1024; the final figure is with "
        "test-time augmentation",
        "nabla train airbench", -1},
       [](double scale) -> RunConfig {
         AirbenchConfig c;
         c.resume = true;
         c.epochs *= scale;
         return c;
       }},
  };
  return all;
}

RunSummary run_experiment(RunConfig config, const std::string& out, bool quiet,
                          const TrainData& data, const std::string& data_dir) {
  if (auto* c = std::get_if<AirbenchConfig>(&config)) {
    c->out = out;
    c->quiet = quiet;
    c->data.data_dir = data_dir;  // its own preprocessing (per channel), so its own loading
    return train_airbench(*c);
  }
  if (auto* c = std::get_if<CnnConfig>(&config)) {
    c->out = out;
    c->quiet = quiet;
    return train_cnn(*c, data);
  }
  auto& m = std::get<MlpConfig>(config);
  m.out = out;
  m.quiet = quiet;
  return m.model == "mlp-manual" ? train_mlp_manual(m, data) : train_mlp(m, data);
}

// The seconds a run of `config` will take from `done_steps` on, from rates measured on this
// machine: the training steps left, and the evaluations (every eval_freq steps and at the end)
// of `test_images` images each.
double run_seconds(const RunConfig& config, const MeasuredRates& rates, int64_t done_steps,
                   int64_t test_images) {
  int64_t max_steps = 0, eval_freq = 0, extra_evals = 0;
  if (const auto* a = std::get_if<AirbenchConfig>(&config)) {
    // CIFAR-10's training images; at the end, test-time augmentation's extra passes.
    max_steps = airbench_steps(*a, kCifarTrainImages);
    eval_freq = a->eval_freq > 0 ? a->eval_freq : max_steps;
    extra_evals = a->tta_level == 2 ? 6 : (a->tta_level == 1 ? 2 : 1);
  } else if (const auto* m = std::get_if<MlpConfig>(&config)) {
    max_steps = m->max_steps;
    eval_freq = m->eval_freq;
  } else {
    const auto& c = std::get<CnnConfig>(config);
    max_steps = c.max_steps;
    eval_freq = c.eval_freq;
  }
  const int64_t left = std::max<int64_t>(0, max_steps - done_steps);
  const int64_t evals = left == 0 ? 0
                                  : max_steps / eval_freq - done_steps / eval_freq +
                                        (max_steps % eval_freq != 0 ? 1 : 0) + extra_evals;
  return static_cast<double>(left) * rates.step_seconds +
         static_cast<double>(evals * test_images) * rates.eval_seconds_per_image;
}

std::string format_acc(double acc) {
  if (acc < 0) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", acc);
  return buf;
}

}  // namespace

const std::vector<Experiment>& report_experiments() {
  static const std::vector<Experiment> all = [] {
    std::vector<Experiment> v;
    for (const auto& s : specs()) v.push_back(s.info);
    return v;
  }();
  return all;
}

std::string reproduce(const ReproduceConfig& config) {
  for (const auto& name : config.only) {
    const auto& e = report_experiments();
    if (std::none_of(e.begin(), e.end(), [&](const Experiment& x) { return x.name == name; })) {
      throw ConfigError("--only: no experiment named '" + name + "'");
    }
  }
  if (!(config.step_scale > 0)) throw ConfigError("--step_scale: must be > 0");
  return reproduce(config, load_cifar10(resolve_data_dir(config.data_dir)));
}

std::string reproduce(const ReproduceConfig& config, const TrainData& data) {
  std::vector<const Spec*> todo;
  for (const auto& s : specs()) {
    if (config.only.empty() ||
        std::find(config.only.begin(), config.only.end(), s.info.name) != config.only.end()) {
      todo.push_back(&s);
    }
  }
  // What is left of each experiment, priced by a few steps and a small evaluation of its own
  // model measured here (synthetic data), not by figures from another machine.
  const auto test_images = data.test.images.dim(0);
  std::vector<double> estimate(todo.size(), 0);
  for (size_t i = 0; i < todo.size(); ++i) {
    const fs::path dir = fs::path(config.out) / todo[i]->info.name;
    if (fs::exists(dir / "summary.json")) continue;
    const RunConfig run_config = todo[i]->config(config.step_scale);
    int64_t done_steps = 0;
    if (fs::exists(dir / "checkpoint.safetensors")) {
      try {
        done_steps = load_checkpoint(dir / "checkpoint.safetensors").step;
      } catch (const std::exception&) {
        // the run itself will report a bad checkpoint
      }
    }
    const MeasuredRates rates =
        std::visit([](const auto& c) { return measure_rates(c); }, run_config);
    estimate[i] = run_seconds(run_config, rates, done_steps, test_images);
  }
  const double estimated_total = std::accumulate(estimate.begin(), estimate.end(), 0.0);
  const auto start = std::chrono::steady_clock::now();
  double estimated_done = 0;

  struct Row {
    const Experiment* info;
    nlohmann::json summary;
  };
  std::vector<Row> rows;
  for (size_t i = 0; i < todo.size(); ++i) {
    const Spec& s = *todo[i];
    const fs::path dir = fs::path(config.out) / s.info.name;
    const fs::path summary_file = dir / "summary.json";
    const double spent =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Time left: the estimate of what remains, corrected by how the estimate did so far.
    const double speed = estimated_done > 1 && spent > 1 ? spent / estimated_done : 1.0;
    const double left = (estimated_total - estimated_done) * speed;
    if (!config.quiet) {
      std::fprintf(stderr, "reproduce: [%zu/%zu] %s (%s), %.0fs elapsed, about %.0fs left\n", i + 1,
                   todo.size(), s.info.name.c_str(), s.info.description.c_str(), spent, left);
    }
    if (!fs::exists(summary_file)) {
      run_experiment(s.config(config.step_scale), dir.string(), config.quiet, data,
                     config.data_dir);
    } else if (!config.quiet) {
      std::fprintf(stderr, "reproduce: %s already done, kept\n", s.info.name.c_str());
    }
    std::ifstream in(summary_file);
    rows.push_back({&s.info, nlohmann::json::parse(in)});
    estimated_done += estimate[i];
  }

  std::string md =
      "# nabla reproduces the course report\n\n"
      "Written by `nabla reproduce`. Each experiment's folder holds metrics.csv, summary.json, "
      "model.safetensors and curves.png; a figure's command is the `nabla train` line below.\n\n"
      "| experiment | what | report: final test acc | nabla: final test acc | nabla: best test "
      "acc | wall time (s) |\n| --- | --- | --- | --- | --- | --- |\n";
  for (const Row& r : rows) {
    char wall[32];
    std::snprintf(wall, sizeof wall, "%.1f", r.summary.value("wall_seconds", 0.0));
    md += "| " + r.info->name + " | " + r.info->description + " | " +
          format_acc(r.info->report_final_acc) + " | " +
          format_acc(r.summary.value("tta_test_acc", r.summary.value("final_test_acc", 0.0))) +
          " | " + format_acc(r.summary.value("best_test_acc", 0.0)) + " | " + wall + " |\n";
  }
  if (config.step_scale != 1.0) {
    char note[128];
    std::snprintf(note, sizeof note,
                  "\nSteps were scaled by %g (--step_scale): not the report's runs.\n",
                  config.step_scale);
    md += note;
  }
  md += "\n## Commands and curves\n\n";
  for (const Row& r : rows) {
    md += "### " + r.info->name + "\n\n`" + r.info->command + "`\n\n![" + r.info->name +
          " curves](" + r.info->name + "/curves.png)\n\n";
  }
  const fs::path report = fs::path(config.out) / "report.md";
  write_file_atomic(report, md);
  std::printf("wrote %s\n", report.string().c_str());
  return report.string();
}

}  // namespace nabla
