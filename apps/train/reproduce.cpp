#include "train/reproduce.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "nabla/io/safetensors.h"
#include "train/cnn.h"
#include "train/mlp.h"

namespace nabla {

namespace fs = std::filesystem;

namespace {

int64_t scaled(int64_t steps, double scale) {
  return std::max<int64_t>(1, std::llround(static_cast<double>(steps) * scale));
}

MlpConfig mlp_config(const std::string& model, const std::string& out, double scale, bool quiet) {
  MlpConfig c;
  c.model = model;
  c.out = out;
  c.quiet = quiet;
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

struct Spec {
  Experiment info;
  std::function<RunSummary(const std::string& out, double scale, bool quiet, const Cifar10& data)>
      run;
};

const std::vector<Spec>& specs() {
  static const std::vector<Spec> all = {
      {{"mlp-manual", "Section 1: MLP with hand-written backprop, SGD, defaults",
        "nabla train mlp-manual", 0.4732, 6},
       [](const std::string& out, double scale, bool quiet, const Cifar10& data) {
         return train_mlp_manual(mlp_config("mlp-manual", out, scale, quiet), data);
       }},
      {{"mlp", "Section 2: the MLP on autograd, SGD, defaults", "nabla train mlp", 0.4079, 6},
       [](const std::string& out, double scale, bool quiet, const Cifar10& data) {
         return train_mlp(mlp_config("mlp", out, scale, quiet), data);
       }},
      {{"mlp-2500", "Section 2: the MLP on autograd, SGD, 2500 steps",
        "nabla train mlp --max_steps 2500", -1, 10},
       [](const std::string& out, double scale, bool quiet, const Cifar10& data) {
         MlpConfig c = mlp_config("mlp", out, scale, quiet);
         set_steps(c, 2500, 100, scale);
         return train_mlp(c, data);
       }},
      {{"mlp-deep-adam", "Section 2: hidden 300,200,100,100,50,50, Adam, 2500 steps",
        "nabla train mlp --dnn_hidden_units 300,200,100,100,50,50 --optimizer adam "
        "--max_steps 2500",
        0.5226, 30},
       [](const std::string& out, double scale, bool quiet, const Cifar10& data) {
         MlpConfig c = mlp_config("mlp", out, scale, quiet);
         deep_adam(c, scale);
         return train_mlp(c, data);
       }},
      {{"mlp-deep-adam-bn-autograd",
        "Section 3: the deep Adam MLP with batch norm composed from autograd ops",
        "nabla train mlp --dnn_hidden_units 300,200,100,100,50,50 --optimizer adam "
        "--max_steps 2500 --batchnorm autograd",
        -1, 45},
       [](const std::string& out, double scale, bool quiet, const Cifar10& data) {
         MlpConfig c = mlp_config("mlp", out, scale, quiet);
         deep_adam(c, scale);
         c.batchnorm = "autograd";
         return train_mlp(c, data);
       }},
      {{"mlp-deep-adam-bn-manual",
        "Section 3: the deep Adam MLP with the hand-written batch norm function (module)",
        "nabla train mlp --dnn_hidden_units 300,200,100,100,50,50 --optimizer adam "
        "--max_steps 2500 --batchnorm manual",
        -1, 40},
       [](const std::string& out, double scale, bool quiet, const Cifar10& data) {
         MlpConfig c = mlp_config("mlp", out, scale, quiet);
         deep_adam(c, scale);
         c.batchnorm = "manual";
         return train_mlp(c, data);
       }},
      {{"mlp-best", "The best MLP found: hidden 1000,500, batch norm, Adam 1e-3, 8000 steps",
        "nabla train mlp --dnn_hidden_units 1000,500 --batchnorm manual --optimizer adam "
        "--learning_rate 1e-3 --max_steps 8000 --eval_freq 500",
        -1, 430},
       [](const std::string& out, double scale, bool quiet, const Cifar10& data) {
         MlpConfig c = mlp_config("mlp", out, scale, quiet);
         c.dnn_hidden_units = {1000, 500};
         c.batchnorm = "manual";
         c.optimizer = "adam";
         c.learning_rate = 1e-3;
         set_steps(c, 8000, 500, scale);
         return train_mlp(c, data);
       }},
      {{"cnn", "Section 4: the ConvNet of Table 1, Adam 1e-4, 5000 steps of 32", "nabla train cnn",
        0.726, 2700},
       [](const std::string& out, double scale, bool quiet, const Cifar10& data) {
         CnnConfig c;
         c.out = out;
         c.quiet = quiet;
         c.resume = true;
         c.max_steps = scaled(c.max_steps, scale);
         c.eval_freq = std::min(c.eval_freq, c.max_steps);
         return train_cnn(c, data);
       }},
  };
  return all;
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

std::string reproduce(const ReproduceConfig& config, const Cifar10& data) {
  std::vector<const Spec*> todo;
  for (const auto& s : specs()) {
    if (config.only.empty() ||
        std::find(config.only.begin(), config.only.end(), s.info.name) != config.only.end()) {
      todo.push_back(&s);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  double expected_done = 0, expected_total = 0;
  for (const Spec* s : todo) expected_total += s->info.expected_seconds * config.step_scale;

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
    // Time left: the expected cost of what remains, corrected by how fast the done part went.
    const double speed = expected_done > 0 && spent > 1 ? spent / expected_done : 1.0;
    const double left = (expected_total - expected_done) * speed;
    if (!config.quiet) {
      std::fprintf(stderr, "reproduce: [%zu/%zu] %s (%s), %.0fs elapsed, about %.0fs left\n", i + 1,
                   todo.size(), s.info.name.c_str(), s.info.description.c_str(), spent, left);
    }
    if (!fs::exists(summary_file)) {
      s.run(dir.string(), config.step_scale, config.quiet, data);
    } else if (!config.quiet) {
      std::fprintf(stderr, "reproduce: %s already done, kept\n", s.info.name.c_str());
    }
    std::ifstream in(summary_file);
    rows.push_back({&s.info, nlohmann::json::parse(in)});
    expected_done += s.info.expected_seconds * config.step_scale;
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
          format_acc(r.summary.value("final_test_acc", 0.0)) + " | " +
          format_acc(r.summary.value("best_test_acc", 0.0)) + " | " + wall + " |\n";
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
