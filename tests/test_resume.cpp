// Never lose a run: SIGKILL at random moments and --resume give the same metrics and model file
// as an uninterrupted run; SIGTERM writes a checkpoint and exits; a non-finite loss stops
// training with a clear message and keeps the last good checkpoint.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "nabla/data/cifar10.h"
#include "nabla/io/image.h"
#include "test_util.h"
#include "train/checkpoint.h"

extern char** environ;

namespace nabla {
namespace {

using testing::TempDir;

// Real-size files (the CLI reads exactly 10,000 records a file) with learnable synthetic content;
// one batch is generated and copied, which keeps the test fast.
class ResumeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new TempDir("resume-data");
    Rng rng(5);
    testing::write_bytes(data_->path() / "data_batch_1.bin",
                         testing::synthetic_records(kCifarRecordsPerFile, rng));
    for (const char* f : {"data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                          "data_batch_5.bin", "test_batch.bin"}) {
      std::filesystem::copy_file(data_->path() / "data_batch_1.bin", data_->path() / f);
    }
    // A small image folder for airbench (32x32 PNGs; one class lighter than the other).
    for (const auto& [split, count] : {std::pair<const char*, int>{"train", 48}, {"test", 10}}) {
      for (const char* cls : {"dark", "light"}) {
        const auto folder = data_->path() / "folder" / split / cls;
        std::filesystem::create_directories(folder);
        for (int i = 0; i < count; ++i) {
          RgbImage img{32, 32, std::vector<uint8_t>(32 * 32 * 3)};
          for (auto& p : img.pixels) {
            p = static_cast<uint8_t>(rng.uniform(0, 150) + (std::string(cls) == "light" ? 100 : 0));
          }
          write_png_rgb(folder / ("img" + std::to_string(i) + ".png"), img);
        }
      }
    }
  }
  static void TearDownTestSuite() { delete data_; }

  // `model` mlp: the MLP with manual batch norm; airbench: a narrow airbench on a small folder.
  std::vector<std::string> args(const std::filesystem::path& out, bool resume,
                                const std::vector<std::string>& extra = {},
                                const std::string& model = "mlp") const {
    std::vector<std::string> a{NABLA_BINARY, "train", model, "--out", out.string(), "--quiet"};
    if (model == "airbench") {
      // A folder of 96 training and 20 test images at batch 16: 6 batches an epoch, 15 steps
      // over three epochs (the alternating flip turns twice), the whitening bias frozen after
      // the first, lookahead every 5 steps, an evaluation every 5, TTA at the end.
      a.insert(a.end(), {"--dataset", "folder", "--data_dir", (data_->path() / "folder").string(),
                         "--epochs", "2.5", "--batch_size", "16", "--widths", "8,16,16",
                         "--whiten_bias_epochs", "1", "--eval_freq", "5", "--checkpoint_every", "2",
                         "--tta_level", "2"});
    } else {
      a.insert(a.end(),
               {"--data_dir", data_->path().string(), "--dnn_hidden_units", "16", "--max_steps",
                "240", "--batch_size", "50", "--eval_freq", "40", "--checkpoint_every", "15",
                "--optimizer", "adam", "--batchnorm", "manual", "--learning_rate", "1e-3"});
    }
    if (resume) a.push_back("--resume");
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  static pid_t spawn(const std::vector<std::string>& a) {
    std::vector<char*> argv;
    for (const auto& s : a) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc == 0 ? pid : -1;
  }

  static int wait_for(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return testing::exit_code(status);
  }

  void killed_and_resumed(const std::vector<std::string>& extra, const std::string& model = "mlp");

  static TempDir* data_;
};

TempDir* ResumeTest::data_ = nullptr;

void ResumeTest::killed_and_resumed(const std::vector<std::string>& extra,
                                    const std::string& model) {
  TempDir out("resume-out");
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(wait_for(spawn(args(out.path() / "reference", false, extra, model))), 0);
  const double full_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  Rng rng(2024);
  const auto run_dir = out.path() / "killed";
  int kills = 0, finished_rc = -1;
  for (int attempt = 0; attempt < 6 && finished_rc < 0; ++attempt) {
    const pid_t pid = spawn(args(run_dir, attempt > 0, extra, model));
    ASSERT_GT(pid, 0);
    if (attempt < 4) {
      // The first run dies once it has written a checkpoint (an event, so at least one kill
      // happens however fast the machine is); the others anywhere in the run, including while
      // they load data or write a checkpoint.
      int rc = -1;
      if (attempt == 0) {
        if (!testing::wait_for_file(pid, run_dir / "checkpoint.safetensors", &rc)) {
          FAIL() << "the run exited with " << rc << " before its first checkpoint";
        }
      } else {
        std::this_thread::sleep_for(
            std::chrono::duration<double, std::milli>(rng.uniform(0, full_ms)));
      }
      ::kill(pid, SIGKILL);
      rc = wait_for(pid);
      if (rc == 128 + SIGKILL) {
        ++kills;
      } else {
        finished_rc = rc;  // it finished before the kill
      }
    } else {
      finished_rc = wait_for(pid);
    }
  }
  EXPECT_EQ(finished_rc, 0);
  EXPECT_GE(kills, 1);
  RecordProperty("kills", kills);
  EXPECT_EQ(testing::without_elapsed(testing::read_text(run_dir / "metrics.csv")),
            testing::without_elapsed(testing::read_text(out.path() / "reference" / "metrics.csv")));
  EXPECT_TRUE(testing::read_text(run_dir / "model.safetensors") ==
              testing::read_text(out.path() / "reference" / "model.safetensors"))
      << "model files differ";
  const auto summary = [](const std::filesystem::path& dir) {
    nlohmann::json j = nlohmann::json::parse(testing::read_text(dir / "summary.json"));
    j.erase("wall_seconds");
    j["config"].erase("out");
    return j;
  };
  EXPECT_EQ(summary(run_dir), summary(out.path() / "reference"));
}

TEST_F(ResumeTest, KilledAtRandomMomentsThenResumedEqualsUninterrupted) { killed_and_resumed({}); }

// Augmented batches, and epochs that turn over (1,000 training examples, 20 batches an epoch):
// the order and the augmentation continue exactly from the checkpoint's position.
TEST_F(ResumeTest, AugmentedRunKilledThenResumedEqualsUninterrupted) {
  killed_and_resumed({"--augment", "flip,crop4,cutout8", "--validation_size", "49000"});
}

// airbench: the SGD momentum, the lookahead average, the augmentation and the schedule continue
// exactly, across epochs and the whitening bias's freeze; the final test-time-augmented accuracy is
// the same.
TEST_F(ResumeTest, AirbenchKilledThenResumedEqualsUninterrupted) {
  killed_and_resumed({}, "airbench");
}

// A checkpoint written before the data loader (version 1: the whole order, where the next batch
// starts, the epochs completed and the shuffling generator) still resumes exactly.
TEST_F(ResumeTest, VersionOneCheckpointResumesExactly) {
  TempDir out("resume-v1");
  const std::vector<std::string> extra{"--validation_size", "49000"};  // 20 batches an epoch
  ASSERT_EQ(wait_for(spawn(args(out.path() / "reference", false, extra))), 0);
  const auto run_dir = out.path() / "old";
  const auto ckpt = run_dir / "checkpoint.safetensors";
  const pid_t pid = spawn(args(run_dir, false, extra));
  int rc = -1;
  if (!testing::wait_for_file(pid, ckpt, &rc)) FAIL() << "the run exited with " << rc << " first";
  ::kill(pid, SIGKILL);
  wait_for(pid);

  // Rewrite its data position as version 1 wrote it: the course's DataSet after as many batches.
  SafetensorsFile f = load_safetensors(ckpt);
  const Checkpoint c = load_checkpoint(ckpt);
  ASSERT_LT(c.step, 240) << "the run finished before the kill";
  LabeledImages dummy{Tensor<float>({1000, 1, 1, 1}), std::vector<int32_t>(1000, 0)};
  DataSet course(dummy, /*seed=*/43);  // --seed 42 + 1, the data order's seed
  for (int64_t i = 0; i < c.data.epoch * 20 + c.data.batch; ++i) course.next_batch(50);
  DataSet::State state = course.state();
  nlohmann::json words = nlohmann::json::array();
  for (uint64_t w : state.rng.s) words.push_back(std::to_string(w));
  f.metadata["data"] = nlohmann::json{
      {"order", state.order},
      {"index_in_epoch", state.index_in_epoch},
      {"epochs_completed", state.epochs_completed},
      {"rng", words},
      {"rng_has_spare", state.rng.has_spare},
      {"rng_spare",
       state.rng.spare}}.dump();
  f.metadata["version"] = "1";
  save_safetensors(ckpt, f.tensors, f.metadata);

  ASSERT_EQ(wait_for(spawn(args(run_dir, true, extra))), 0);
  EXPECT_EQ(testing::without_elapsed(testing::read_text(run_dir / "metrics.csv")),
            testing::without_elapsed(testing::read_text(out.path() / "reference" / "metrics.csv")));
  EXPECT_TRUE(testing::read_text(run_dir / "model.safetensors") ==
              testing::read_text(out.path() / "reference" / "model.safetensors"));

  // An order that is not this run's is refused, naming the file.
  std::swap(state.order.front(), state.order.back());
  auto data = nlohmann::json::parse(f.metadata["data"]);
  data["order"] = state.order;
  data["index_in_epoch"] = 0;
  f.metadata["data"] = data.dump();
  save_safetensors(ckpt, f.tensors, f.metadata);
  std::string command;
  for (const std::string& a : args(run_dir, true, extra)) command += a + " ";
  const auto bad = testing::run_command(command);
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("does not fit this run"), std::string::npos) << bad.output;
}

TEST_F(ResumeTest, SigtermWritesACheckpointAndExits) {
  TempDir out("resume-term");
  const pid_t pid = spawn(args(out.path(), false));
  ASSERT_GT(pid, 0);
  // Wait until training has begun (the first checkpoint exists), then ask it to stop.
  const auto ckpt = out.path() / "checkpoint.safetensors";
  int rc = -1;
  if (!testing::wait_for_file(pid, ckpt, &rc))
    FAIL() << "the run exited with " << rc << " before its first checkpoint";
  ::kill(pid, SIGTERM);
  rc = wait_for(pid);
  if (rc == 0) GTEST_SKIP() << "the run finished before SIGTERM arrived";
  EXPECT_EQ(rc, 128 + SIGTERM);
  const Checkpoint c = load_checkpoint(ckpt);
  EXPECT_GT(c.step, 0);
  EXPECT_LE(c.step, 240);
  EXPECT_EQ(wait_for(spawn(args(out.path(), true))), 0);
  EXPECT_TRUE(std::filesystem::exists(out.path() / "model.safetensors"));
}

TEST_F(ResumeTest, NonFiniteLossStopsWithAClearMessage) {
  TempDir out("resume-nan");
  const auto r = testing::run_command(std::string(NABLA_BINARY) + " train mlp-manual --data_dir " +
                                      data_->path().string() + " --out " + out.path().string() +
                                      " --learning_rate 1e6 --max_steps 300 --eval_freq 5 --quiet");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("not finite"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step "), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out.path() / "model.safetensors"));
}

TEST_F(ResumeTest, ResumeWithOtherSettingsIsRefused) {
  TempDir out("resume-cfg");
  ASSERT_EQ(wait_for(spawn(args(out.path(), false))), 0);
  auto a = args(out.path(), true);
  std::string cmd;
  for (const auto& s : a) cmd += (s == "1e-3" ? std::string("2e-3") : s) + " ";
  const auto r = testing::run_command(cmd);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--learning_rate"), std::string::npos) << r.output;
}

TEST_F(ResumeTest, ReproduceWritesTheReportAndKeepsFinishedExperiments) {
  TempDir out("reproduce");
  const std::string cmd = std::string(NABLA_BINARY) + " reproduce --data_dir " +
                          data_->path().string() + " --out " + out.path().string() +
                          " --only mlp-manual,mlp-deep-adam-bn-manual --step_scale 0.02";
  const auto first = testing::run_command(cmd);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string report = testing::read_text(out.path() / "report.md");
  EXPECT_NE(report.find("| mlp-manual | Section 1"), std::string::npos) << report;
  EXPECT_NE(report.find("| 0.4732 |"), std::string::npos) << report;  // the report's figure
  EXPECT_NE(report.find("mlp-deep-adam-bn-manual/curves.png"), std::string::npos);
  EXPECT_NE(report.find("scaled by 0.02"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(out.path() / "mlp-manual" / "model.safetensors"));
  // The time left is priced from rates measured on this machine: a number of seconds (0 on a
  // machine fast enough), never negative or NaN.
  const size_t about = first.output.find("about ");
  ASSERT_NE(about, std::string::npos) << first.output;
  EXPECT_GE(std::stod(first.output.substr(about + 6)), 0.0) << first.output;
  const auto again = testing::run_command(cmd);
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.output.find("already done"), std::string::npos) << again.output;
  const auto bad = testing::run_command(std::string(NABLA_BINARY) + " reproduce --only nothing");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("--only"), std::string::npos);
}

}  // namespace
}  // namespace nabla
