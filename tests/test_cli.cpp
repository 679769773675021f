// The command line: help, bad flags (a one-line error naming the flag, exit code 2), bad data.
#include <gtest/gtest.h>

#include "test_util.h"

namespace nabla {
namespace {

using testing::run_command;

std::string nabla(const std::string& args) { return std::string(NABLA_BINARY) + " " + args; }

TEST(Cli, HelpDocumentsEveryFlag) {
  const auto top = run_command(nabla("--help"));
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.output.find("train"), std::string::npos);
  const auto r = run_command(nabla("train mlp-manual --help"));
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--dnn_hidden_units", "--learning_rate", "--max_steps", "--batch_size",
                           "--eval_freq", "--neg_slope", "--data_dir", "--seed", "--out"}) {
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
  }
}

struct BadFlag {
  std::string args;
  std::string flag;  // must appear in the message
};

class CliBadFlag : public ::testing::TestWithParam<BadFlag> {};

TEST_P(CliBadFlag, OneLineErrorNamingTheFlagAndExitTwo) {
  testing::TempDir out("cli");
  const auto r = run_command(nabla("train mlp-manual --data_dir /nonexistent --out " +
                                   out.path().string() + " " + GetParam().args));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(GetParam().flag), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Flags, CliBadFlag,
    ::testing::Values(BadFlag{"--no_such_flag 1", "--no_such_flag"},
                      BadFlag{"--learning_rate abc", "--learning_rate"},
                      BadFlag{"--learning_rate 0", "--learning_rate"},
                      BadFlag{"--learning_rate -1e-3", "--learning_rate"},
                      BadFlag{"--batch_size 0", "--batch_size"},
                      BadFlag{"--batch_size 50001", "--batch_size"},
                      BadFlag{"--batch_size 2.5", "--batch_size"},
                      BadFlag{"--dnn_hidden_units ''", "--dnn_hidden_units"},
                      BadFlag{"--dnn_hidden_units 100,0", "--dnn_hidden_units"},
                      BadFlag{"--dnn_hidden_units 100,-5", "--dnn_hidden_units"},
                      BadFlag{"--dnn_hidden_units 100,,5", "--dnn_hidden_units"},
                      BadFlag{"--dnn_hidden_units abc", "--dnn_hidden_units"},
                      BadFlag{"--eval_freq 0", "--eval_freq"},
                      BadFlag{"--eval_freq -3", "--eval_freq"},
                      BadFlag{"--max_steps 0", "--max_steps"},
                      BadFlag{"--optimizer adam", "--optimizer"}),  // mlp only
    [](const ::testing::TestParamInfo<BadFlag>& info) {
      std::string name = std::to_string(info.index) + "_";
      for (char c : info.param.args) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

class CliBadMlpFlag : public ::testing::TestWithParam<BadFlag> {};

TEST_P(CliBadMlpFlag, OneLineErrorNamingTheFlagAndExitTwo) {
  testing::TempDir out("cli-mlp");
  const auto r = run_command(nabla("train mlp --data_dir /nonexistent --out " +
                                   out.path().string() + " " + GetParam().args));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(GetParam().flag), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Flags, CliBadMlpFlag,
                         ::testing::Values(BadFlag{"--optimizer rmsprop", "--optimizer"},
                                           BadFlag{"--batchnorm yes", "--batchnorm"},
                                           BadFlag{"--weight_decay -1", "--weight_decay"},
                                           BadFlag{"--momentum 1.5", "--momentum"},
                                           BadFlag{"--learning_rate 0", "--learning_rate"},
                                           BadFlag{"--dnn_hidden_units 5,x",
                                                   "--dnn_hidden_units"}));

TEST(Cli, MlpHelpDocumentsItsFlags) {
  const auto r = run_command(nabla("train mlp --help"));
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--optimizer", "--batchnorm", "--weight_decay", "--dnn_hidden_units"}) {
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
  }
}

TEST(Cli, MissingSubcommandIsAUsageError) {
  EXPECT_EQ(run_command(nabla("")).exit_code, 2);
  EXPECT_EQ(run_command(nabla("train")).exit_code, 2);
  EXPECT_EQ(run_command(nabla("train nosuchmodel")).exit_code, 2);
}

TEST(Cli, MissingDataNamesTheFolderAndExitsOne) {
  testing::TempDir out("cli-data");
  const auto r = run_command(
      nabla("train mlp-manual --data_dir /nonexistent/cifar --out " + out.path().string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("/nonexistent/cifar"), std::string::npos) << r.output;
}

TEST(Cli, BadDataFileNamesTheFile) {
  testing::TempDir dir("cli-bad");
  // Files of the official size (all-zero records are valid), one of them truncated.
  for (const char* f : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                        "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}) {
    testing::write_bytes(dir.path() / f, {});
    std::filesystem::resize_file(dir.path() / f, kCifarRecordsPerFile * kCifarRecordBytes);
  }
  std::filesystem::resize_file(dir.path() / "data_batch_2.bin", 1000);
  const auto r = run_command(nabla("train mlp-manual --data_dir " + dir.path().string() +
                                   " --out " + (dir.path() / "out").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("data_batch_2.bin"), std::string::npos) << r.output;
}

TEST(Cli, UnwritableOutputFailsBeforeTraining) {
  testing::TempDir dir("cli-out");
  testing::write_bytes(dir.path() / "file", {1});
  const std::string data = testing::real_data_dir();
  if (data.empty()) GTEST_SKIP() << "no CIFAR-10 data (set CIFAR10_DIR)";
  const auto r = run_command(nabla("train mlp-manual --data_dir " + data + " --out " +
                                   (dir.path() / "file" / "sub").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("file/sub"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace nabla
