// Label smoothing (training.label_smoothing, --label-smoothing; softmax_ce only) through the command and the
// library's files: the flag changes training and is the network file's key; 0 is the run without it, byte for
// byte; the model, the checkpoint's run and the MPI ranks' setup carry it; `backprop eval` reports the plain
// cross-entropy while the validation loss of training is the smoothed objective; another loss or a value
// outside [0, 1) is refused naming the key; the report, info and gradcheck show it; the trace leaves it out.
// The formula itself is held to PyTorch in test_gradients.cpp, the device to the CPU in test_device.cpp.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backprop/backprop.hpp"
#include "backprop/train/fingerprint.hpp"
#include "helpers.hpp"
#include "synthetic_data.hpp"

namespace backprop {
namespace {

using testing::CommandResult;
using testing::read_text;
using testing::run_backprop;
using testing::shell_word;
using testing::TempDir;
using testing::write_file;
using ::testing::HasSubstr;

// The network file of blobs.csv with this "training" object's extra keys (e.g. R"(, "label_smoothing": 0.1)").
std::string blobs_network(const std::string& extra_training = "") {
  return R"({"input": 2, "layers": [{"units": 8, "activation": "tanh"}, {"units": 3, "activation": "softmax"}],
    "loss": "softmax_ce", "optimizer": {"type": "adam", "learning_rate": 0.05},
    "training": {"epochs": 3, "batch_size": 16)" +
         extra_training + "}, \"seed\": 4}";
}

// Three well separated blobs (classes a, b, c around three corners): a network soon predicts them with
// confidence, where the smoothed loss and the plain one part.
void write_blobs_csv(const std::filesystem::path& path, std::size_t rows, std::uint64_t seed) {
  Random random(seed);
  const double centres[3][2] = {{-2, 0}, {2, 0}, {0, 2.5}};
  std::string csv = "x1,x2,label\n";
  char line[96];
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t k = r % 3;
    std::snprintf(line, sizeof line, "%.6f,%.6f,%c\n", centres[k][0] + 0.5 * random.normal(),
                  centres[k][1] + 0.5 * random.normal(), static_cast<char>('a' + k));
    csv += line;
  }
  write_file(path, csv);
}

struct Blobs {
  TempDir dir;
  std::string network, data, validation;
  Blobs() {
    write_file(dir / "blobs.json", blobs_network());
    write_blobs_csv(dir / "blobs.csv", 210, 5);
    write_blobs_csv(dir / "validation.csv", 90, 6);
    network = shell_word(dir / "blobs.json");
    data = shell_word(dir / "blobs.csv");
    validation = shell_word(dir / "validation.csv");
  }
  // `backprop train` of `network` on blobs.csv writing `out` in the folder, with these flags.
  CommandResult train(const std::string& network_file, const std::string& out, const std::string& flags = "") const {
    return run_backprop("train " + network_file + " --data " + data + " --quiet --out " + shell_word(dir / out) +
                        " " + flags);
  }
};

std::vector<double> logged(const std::filesystem::path& log, const char* key) {
  std::vector<double> values;
  std::istringstream lines(read_text(log));
  for (std::string line; std::getline(lines, line);) values.push_back(nlohmann::json::parse(line)[key].get<double>());
  return values;
}

TEST(LabelSmoothingCommand, TheFlagChangesTrainingIsTheFileKeyAndZeroIsTheRunWithoutIt) {
  const Blobs r;
  ASSERT_EQ(r.train(r.network, "plain.model", "--log " + shell_word(r.dir / "plain.jsonl")).exit_code, 0);
  ASSERT_EQ(r.train(r.network, "zero.model", "--label-smoothing 0").exit_code, 0);
  const CommandResult smoothed =
      r.train(r.network, "smooth.model", "--label-smoothing 0.1 --log " + shell_word(r.dir / "smooth.jsonl"));
  ASSERT_EQ(smoothed.exit_code, 0) << smoothed.out;
  write_file(r.dir / "smooth.json", blobs_network(R"(, "label_smoothing": 0.1)"));
  ASSERT_EQ(r.train(shell_word(r.dir / "smooth.json"), "file.model").exit_code, 0);
  write_file(r.dir / "zero.json", blobs_network(R"(, "label_smoothing": 0)"));
  ASSERT_EQ(r.train(shell_word(r.dir / "zero.json"), "file-zero.model").exit_code, 0);

  // 0, by the flag or the key, is the run without smoothing byte for byte (and writes no key).
  const std::string plain = read_text(r.dir / "plain.model");
  EXPECT_EQ(read_text(r.dir / "zero.model"), plain);
  EXPECT_EQ(read_text(r.dir / "file-zero.model"), plain);
  EXPECT_EQ(plain.find("label_smoothing"), std::string::npos);
  // The flag and the key are the same recipe; it trains differently from the plain one.
  EXPECT_EQ(read_text(r.dir / "file.model"), read_text(r.dir / "smooth.model"));
  EXPECT_NE(read_text(r.dir / "smooth.model"), plain);
  // The logged loss is the smoothed one: at the end, with confident outputs, well above the plain one.
  const std::vector<double> plain_loss = logged(r.dir / "plain.jsonl", "loss");
  const std::vector<double> smooth_loss = logged(r.dir / "smooth.jsonl", "loss");
  ASSERT_EQ(smooth_loss.size(), 3u);
  EXPECT_GT(smooth_loss.back() - plain_loss.back(), 0.05);

  // The model keeps the recipe (absent = 0), and info shows it.
  EXPECT_EQ(io::load_model(r.dir / "smooth.model").network.training.label_smoothing, 0.1);
  EXPECT_EQ(io::load_model(r.dir / "plain.model").network.training.label_smoothing, 0.0);
  const CommandResult info = run_backprop("info " + shell_word(r.dir / "smooth.model"));
  EXPECT_THAT(info.out, HasSubstr("loss softmax_ce (trained with label smoothing 0.1)"));
}

// backprop eval (and Model::evaluate): the plain cross-entropy. The validation loss logged in training: the
// smoothed objective of the same parameters (the last epoch's: no early stopping). Exact: the same float
// parameters through the same evaluate().
TEST(LabelSmoothingCommand, EvalReportsThePlainLossAndTheValidationLossIsTheObjective) {
  const Blobs r;
  const CommandResult trained = r.train(r.network, "m.model",
                                        "--label-smoothing 0.2 --validation " + r.validation + " --log " +
                                            shell_word(r.dir / "log.jsonl"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const io::ModelFile model = io::load_model(r.dir / "m.model");
  const Network<float> network(model.network);
  const Dataset validation =
      load_for_network(model.network, (r.dir / "validation.csv").string(), "", "", model.classes);
  const Metrics plain = evaluate(network, validation, model.scaling);
  const Metrics objective = evaluate(network, validation, model.scaling, 256, nullptr, EvaluatedLoss::training_objective);
  EXPECT_GT(std::abs(objective.loss - plain.loss), 1e-3);

  EXPECT_EQ(logged(r.dir / "log.jsonl", "validation_loss").back(), objective.loss);
  const CommandResult eval = run_backprop("eval " + shell_word(r.dir / "m.model") + " --data " + r.validation + " --json");
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  EXPECT_EQ(nlohmann::json::parse(eval.out)["loss"].get<double>(), plain.loss);
  const Model api = Model::load(r.dir / "m.model");
  std::vector<float> labels(validation.labels.begin(), validation.labels.end());
  EXPECT_EQ(api.evaluate(validation.features_f32, labels).loss, plain.loss);
}

TEST(LabelSmoothingCommand, AnotherLossOrAValueOutsideZeroToOneIsRefusedNamingTheKey) {
  const Blobs r;
  const CommandResult bce = run_backprop("train " + shell_word(testing::source_path("examples/xor.json")) +
                                         " --data " + shell_word(testing::source_path("examples/data/xor.csv")) +
                                         " --label-smoothing 0.1 --out " + shell_word(r.dir / "x.model"));
  EXPECT_EQ(bce.exit_code, 2);
  EXPECT_THAT(bce.out, HasSubstr("--label-smoothing (label_smoothing): expected 0 with the loss bce (label smoothing "
                                 "is for softmax_ce only), got 0.1"));
  write_file(r.dir / "mse.json", R"({"input": 2, "layers": [{"units": 2, "activation": "softmax"}], "loss": "mse",
    "training": {"label_smoothing": 0.1}})");
  const CommandResult mse = r.train(shell_word(r.dir / "mse.json"), "y.model");
  EXPECT_EQ(mse.exit_code, 2);
  EXPECT_THAT(mse.out, HasSubstr("training.label_smoothing: expected 0 with the loss mse"));
  for (const char* value : {"1", "-0.5", "\"0.1\""}) {
    write_file(r.dir / "bad.json", blobs_network(std::string(R"(, "label_smoothing": )") + value));
    const CommandResult bad = r.train(shell_word(r.dir / "bad.json"), "z.model");
    EXPECT_EQ(bad.exit_code, 2) << value;
    EXPECT_THAT(bad.out, HasSubstr("training.label_smoothing")) << value;
  }
  EXPECT_FALSE(std::filesystem::exists(r.dir / "x.model") || std::filesystem::exists(r.dir / "y.model") ||
               std::filesystem::exists(r.dir / "z.model"));
}

// A checkpoint resumes only the run that wrote it: another label smoothing (or none) is another run.
TEST(LabelSmoothingCommand, ACheckpointResumesOnlyWithTheSameLabelSmoothing) {
  const Blobs r;
  const std::string checkpoint = " --checkpoint " + shell_word(r.dir / "run.ckpt");
  ASSERT_EQ(r.train(r.network, "whole.model", "--label-smoothing 0.1" + checkpoint).exit_code, 0);
  // The checkpoint holds the state after epoch 2 of 3.
  for (const auto& [flags, difference] :
       {std::pair{"--label-smoothing 0.2", "training.label_smoothing: 0.1 there, 0.2 here"},
        std::pair{"", "training.label_smoothing: set there, not here"}}) {
    const CommandResult other = r.train(r.network, "other.model", std::string(flags) + " --resume " +
                                                                      shell_word(r.dir / "run.ckpt"));
    EXPECT_EQ(other.exit_code, 2) << flags;
    EXPECT_THAT(other.out, HasSubstr(difference)) << flags;
  }
  const CommandResult same = r.train(r.network, "resumed.model", "--label-smoothing 0.1 --resume " +
                                                                     shell_word(r.dir / "run.ckpt"));
  ASSERT_EQ(same.exit_code, 0) << same.out;
  EXPECT_EQ(read_text(r.dir / "resumed.model"), read_text(r.dir / "whole.model"));
}

// The ranks of an MPI job compare these parts (dist::check_same_setup): the recipe's part tells two label
// smoothings apart, and nothing else does.
TEST(LabelSmoothingSetup, TheRanksSetupCheckSeesTheLabelSmoothing) {
  NetworkSpec spec = io::parse_network(blobs_network(), "blobs.json");
  const Dataset data = testing::rings(40, 1);
  const Network<float> plain(spec);
  spec.training.label_smoothing = 0.1;
  const Network<float> smoothed(spec);
  const auto a = fingerprint_parts(fingerprint_run(plain, Scaling{}, data, nullptr, false));
  const auto b = fingerprint_parts(fingerprint_run(smoothed, Scaling{}, data, nullptr, false));
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].what.find("training recipe") != std::string::npos)
      EXPECT_NE(a[i].hash, b[i].hash) << a[i].what;
    else
      EXPECT_EQ(a[i].hash, b[i].hash) << a[i].what;
  }
  EXPECT_THAT(run_difference(fingerprint_run(smoothed, Scaling{}, data, nullptr, false),
                             fingerprint_run(plain, Scaling{}, data, nullptr, false)),
              HasSubstr("training.label_smoothing"));
}

TEST(LabelSmoothingCommand, TheReportAndGradcheckShowItAndTheTraceLeavesItOut) {
  const Blobs r;
  const CommandResult trained =
      r.train(r.network, "m.model", "--label-smoothing 0.1 --report " + shell_word(r.dir / "report.html"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const std::string report = read_text(r.dir / "report.html");
  EXPECT_THAT(report, HasSubstr("softmax_ce, label smoothing 0.1"));
  EXPECT_THAT(report, HasSubstr("Both losses are the training objective"));

  write_file(r.dir / "smooth.json", blobs_network(R"(, "label_smoothing": 0.3)"));
  const CommandResult checked = run_backprop("gradcheck " + shell_word(r.dir / "smooth.json"));
  EXPECT_EQ(checked.exit_code, 0) << checked.out;
  EXPECT_THAT(checked.out, HasSubstr("loss softmax_ce (label smoothing 0.3)"));
  // --loss mse checks mse, without the file's smoothing (which is softmax_ce's).
  const CommandResult mse = run_backprop("gradcheck " + shell_word(r.dir / "smooth.json") + " --loss mse");
  EXPECT_EQ(mse.exit_code, 0) << mse.out;
  EXPECT_THAT(mse.out, HasSubstr("loss mse,"));

  const std::string trace = " --input 0.5,-1 --target 0,1,0 --steps 2 --json";
  const CommandResult smooth_trace = run_backprop("trace " + shell_word(r.dir / "smooth.json") + trace);
  ASSERT_EQ(smooth_trace.exit_code, 0) << smooth_trace.out;
  EXPECT_EQ(smooth_trace.out, run_backprop("trace " + r.network + trace).out);
}

}  // namespace
}  // namespace backprop
