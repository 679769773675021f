#include "train/loop.h"

#include <omp.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <optional>

#include "nabla/data/loader.h"
#include "nabla/kernels.h"
#include "train/checkpoint.h"

namespace nabla {

namespace {

// The one piece of process-wide state: which stop signal arrived (0: none). Signal handlers may
// only touch a lock-free atomic (threads MPI starts may be the ones that take the signal).
std::atomic<int> g_stop_signal = 0;
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signal) { g_stop_signal = signal; }

// Blocks (how = SIG_BLOCK) or unblocks the stop signals in every OpenMP thread but the calling one.
void set_worker_signal_mask(int how) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
#pragma omp parallel
  {
    if (omp_get_thread_num() != 0) pthread_sigmask(how, &stop, nullptr);
  }
}

// The settings that must agree for a checkpoint to continue this run (a setting left at its
// default is absent from either).
void check_same_config(const nlohmann::json& saved, const nlohmann::json& now,
                       const std::string& file) {
  const auto shown = [](const nlohmann::json& j, const std::string& key) {
    return j.contains(key) ? j[key].dump() : std::string("(unset)");
  };
  for (const nlohmann::json* side : {&now, &saved}) {
    for (const auto& item : side->items()) {
      const std::string& key = item.key();
      if (key == "out" || key == "data_dir" || key == "quiet") continue;
      if (key == "ranks" && saved.value("ranks", 1) != now.value("ranks", 1)) {
        throw ConfigError(
            "--resume: " + file + " was made by " + std::to_string(saved.value("ranks", 1)) +
            " processes; resume it with mpirun -np " + std::to_string(saved.value("ranks", 1)) +
            ", not with " + std::to_string(now.value("ranks", 1)));
      }
      if (!saved.contains(key) || !now.contains(key) || saved[key] != now[key]) {
        throw ConfigError("--resume: " + file + " was made with --" + key + " " +
                          shown(saved, key) + ", not " + shown(now, key));
      }
    }
  }
}

}  // namespace

// Frames on the alternate stack hold the interrupted thread's registers (AVX-512, maybe AMX):
// far more room than MINSIGSTKSZ.
constexpr size_t kAltStackBytes = size_t{1} << 16;

StopSignals::StopSignals() : alt_stack_(kAltStackBytes) {
  g_stop_signal = 0;
  stack_t alt{};
  alt.ss_sp = alt_stack_.data();
  alt.ss_size = alt_stack_.size();
  sigaltstack(&alt, &previous_alt_);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_ONSTACK | SA_RESTART;
  sigaction(SIGINT, &action, &previous_int_);
  sigaction(SIGTERM, &action, &previous_term_);
  set_worker_signal_mask(SIG_BLOCK);
}

StopSignals::~StopSignals() {
  set_worker_signal_mask(SIG_UNBLOCK);
  sigaction(SIGINT, &previous_int_, nullptr);
  sigaction(SIGTERM, &previous_term_, nullptr);
  sigaltstack(&previous_alt_, nullptr);
}

int StopSignals::received() const { return g_stop_signal.load(); }

void validate_loop(const LoopConfig& loop, double learning_rate, const std::string& optimizer,
                   int64_t validation_size, int64_t train_size, int64_t min_batch) {
  if (!(learning_rate > 0)) throw ConfigError("--learning_rate: must be > 0");
  if (loop.max_steps <= 0) throw ConfigError("--max_steps: must be > 0");
  if (loop.batch_size < min_batch) {
    throw ConfigError("--batch_size: must be >= " + std::to_string(min_batch) +
                      (min_batch > 1 ? " (batch norm needs it)" : ""));
  }
  if (validation_size < 0) throw ConfigError("--validation_size: must be >= 0");
  if (train_size > 0 && validation_size >= train_size) {
    throw ConfigError("--validation_size: " + std::to_string(validation_size) +
                      " leaves no training examples (" + std::to_string(train_size) + ")");
  }
  if (train_size > 0 && loop.batch_size > train_size - validation_size) {
    throw ConfigError("--batch_size: " + std::to_string(loop.batch_size) +
                      " is larger than the training set (" +
                      std::to_string(train_size - validation_size) + ")");
  }
  if (loop.eval_freq <= 0) throw ConfigError("--eval_freq: must be > 0");
  if (loop.checkpoint_every < 0) throw ConfigError("--checkpoint_every: must be >= 0");
  if (optimizer != "sgd" && optimizer != "adam") {
    throw ConfigError("--optimizer: must be sgd or adam, not '" + optimizer + "'");
  }
}

void check_finite(const Tensor<float>& t, const std::string& name, int64_t step) {
  if (all_finite(t)) return;
  for (float v : t.values()) {
    if (!std::isfinite(v)) {
      throw NumericalError("step " + std::to_string(step) + ": " + name + " is not finite (" +
                           std::to_string(v) + ")");
    }
  }
}

double accuracy(const Tensor<float>& scores, const std::vector<int32_t>& labels) {
  const auto pred = argmax_rows(scores);
  int64_t hits = 0;
  for (size_t i = 0; i < pred.size(); ++i) hits += pred[i] == labels[i];
  return pred.empty() ? 0.0 : static_cast<double>(hits) / static_cast<double>(pred.size());
}

void check_batch_splits(int64_t batch_size, const Replicas& replicas) {
  if (batch_size % replicas.size() != 0) {
    throw ConfigError("--batch_size: " + std::to_string(batch_size) +
                      " does not split evenly over " + std::to_string(replicas.size()) +
                      " processes (mpirun -np)");
  }
}

void run_training(Trainable& model, const TrainData& data, const RunSpec& spec, RunWriter* run,
                  const Replicas& replicas,
                  const std::function<void(const std::filesystem::path&)>& write_model) {
  const LoopConfig& loop = spec.loop;
  const std::filesystem::path checkpoint_file =
      std::filesystem::path(spec.out) / "checkpoint.safetensors";
  const int64_t checkpoint_every =
      loop.checkpoint_every > 0 ? loop.checkpoint_every : loop.eval_freq;
  const int64_t n_replicas = replicas.size();
  check_batch_splits(loop.batch_size, replicas);
  data::DataLoader train(std::make_shared<data::TensorDataset>(data.train),
                         {.batch_size = loop.batch_size / n_replicas,
                          .order = loop.order,
                          .seed = loop.seed,
                          .drop_last = true,
                          .workers = 1,
                          .prefetch = 2,
                          .rank = replicas.rank(),
                          .world_size = n_replicas},
                         loop.augment);
  int64_t start = 0;
  if (loop.resume && std::filesystem::exists(checkpoint_file)) {
    Checkpoint c = load_checkpoint(checkpoint_file);
    check_same_config(c.config, spec.config, checkpoint_file.string());
    try {
      model.load_model_tensors(c.model);
      if (model.load_optimizer) model.load_optimizer(c.optimizer, c.optimizer_scalars);
      seek_checkpoint(train, c);
    } catch (const std::invalid_argument& e) {
      throw DataError(checkpoint_file.string() + ": does not fit this run (" + e.what() + ")");
    }
    if (run) {
      run->restore(c.metrics, c.elapsed_s, c.step);
      run->note("resuming from step " + std::to_string(c.step) + " (" + checkpoint_file.string() +
                ")");
    }
    start = c.step;
  }
  if (n_replicas > 1) {
    // Every replica must continue from the same step: --out must be where all of them see it.
    std::vector<double> starts{static_cast<double>(start)};
    replicas.sum(starts);
    if (starts[0] != static_cast<double>(start * n_replicas)) {
      throw DataError(checkpoint_file.string() +
                      ": not every process sees the same checkpoint; with several hosts, --out "
                      "must be on a file system they share");
    }
  }

  const auto save = [&](int64_t step) {
    if (!run) return;
    Checkpoint c;
    c.step = step;
    c.elapsed_s = run->elapsed_s();
    c.config = spec.config;
    c.metrics = run->rows();
    c.data = train.position();
    c.model = model.model_tensors();
    if (model.optimizer_tensors) c.optimizer = model.optimizer_tensors();
    if (model.optimizer_scalars) c.optimizer_scalars = model.optimizer_scalars();
    save_checkpoint(checkpoint_file, c);
  };

  const auto numerical_fault = [&](const std::string& what) {
    const bool kept = std::filesystem::exists(checkpoint_file);
    return NumericalError(what + "; training stopped" +
                          (kept ? ", the last good checkpoint is " + checkpoint_file.string()
                                : std::string(" before any checkpoint")));
  };
  StopSignals signals;
  for (int64_t step = start + 1; step <= loop.max_steps; ++step) {
    const LabeledImages batch = train.next();
    StepResult r;
    try {
      r = model.step(batch, step);
    } catch (const NumericalError& e) {
      throw numerical_fault(e.what());
    }
    if (n_replicas > 1) {
      // The global batch's loss and accuracy: equal shares, so the mean of the replicas'.
      std::vector<double> totals{r.loss, r.batch_accuracy};
      replicas.sum(totals);
      r.loss = totals[0] / static_cast<double>(n_replicas);
      r.batch_accuracy = totals[1] / static_cast<double>(n_replicas);
    }
    if (!std::isfinite(r.loss)) {
      throw numerical_fault("step " + std::to_string(step) + ": the loss is not finite (" +
                            std::to_string(r.loss) + ")");
    }
    if (run) run->tick(step, r.loss);
    if (run && (step % loop.eval_freq == 0 || step == loop.max_steps)) {
      MetricsRow row{step, r.loss, r.batch_accuracy, 0, 0, 0, false, 0, 0};
      const Evaluation test = model.evaluate(data.test);
      row.test_loss = test.loss;
      row.test_acc = test.accuracy;
      if (data.validation.labels.empty()) {
        row.elapsed_s = run->elapsed_s();
        run->record(row);
      } else {
        const Evaluation val = model.evaluate(data.validation);
        row.has_validation = true;
        row.val_loss = val.loss;
        row.val_acc = val.accuracy;
        bool best = true;
        for (const auto& earlier : run->rows()) best = best && val.accuracy > earlier.val_acc;
        if (best) write_model(std::filesystem::path(spec.out) / "best_model.safetensors");
        row.elapsed_s = run->elapsed_s();
        run->record(row);
      }
    }
    const bool saved = step % checkpoint_every == 0 || step == loop.max_steps;
    if (saved) save(step);
    int stop = signals.received();
    if (n_replicas > 1) {
      // A signal any replica received stops all after this step: SIGTERM if any got it.
      std::vector<double> got{stop == SIGINT ? 1.0 : 0.0, stop == SIGTERM ? 1.0 : 0.0};
      replicas.sum(got);
      stop = got[1] > 0 ? SIGTERM : got[0] > 0 ? SIGINT : 0;
    }
    if (stop != 0) {
      if (!saved) save(step);
      throw Interrupted("stopped by " + std::string(stop == SIGINT ? "SIGINT" : "SIGTERM") +
                            " after step " + std::to_string(step) + "; the checkpoint is in " +
                            checkpoint_file.string() + ", continue with --resume",
                        stop);
    }
  }
}

RunSummary train_model(Trainable& model, const TrainData& data, const RunSpec& spec,
                       const Replicas& replicas) {
  RunSpec run_spec = spec;
  if (replicas.size() > 1) run_spec.config["ranks"] = replicas.size();
  std::optional<RunWriter> run;
  if (replicas.rank() == 0) {
    run.emplace(run_spec.out, run_spec.title, run_spec.config, run_spec.loop.max_steps,
                run_spec.quiet);
  }
  const auto file_tensors = [&] {
    std::vector<NamedTensor> tensors = model.model_tensors();
    for (NamedTensor& t : data.preprocessing.tensors()) tensors.push_back(std::move(t));
    return tensors;
  };
  run_training(model, data, run_spec, run ? &*run : nullptr, replicas,
               [&](const std::filesystem::path& file) {
                 save_safetensors(file, file_tensors(), run_spec.metadata);
               });
  if (!run) return {};
  const std::map<std::string, double> figures =
      model.final_figures ? model.final_figures() : std::map<std::string, double>{};
  return run->finish(file_tensors(), run_spec.metadata, figures);
}

}  // namespace nabla
