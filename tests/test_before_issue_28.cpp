// Files that the command wrote before issue 28 (at 5943dcf, its review: tests/data/before-issue-28/make.sh
// lists the old commands) against today's command: each old model and its JSON export loads and predicts,
// evaluates and describes itself in the same bytes as the old command printed; each old checkpoint, taken mid-run,
// resumes to the same model bytes as the old uninterrupted run; the same command line trains the same model
// bytes as then; the seed network's traces print the same bytes. Exact equality throughout: no tolerance. Two
// outputs changed on purpose since, each by the commit named where it is checked: eval prints more figures after
// the old ones (79699f4), and a model of uint8 data records it (1c4097a).
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "helpers.hpp"

namespace {

namespace fs = std::filesystem;
using backprop::testing::BinaryParts;
using backprop::testing::CommandResult;
using backprop::testing::read_text;
using backprop::testing::run_backprop_in;
using backprop::testing::shell_word;
using backprop::testing::source_path;
using backprop::testing::split_binary_model;
using backprop::testing::TempDir;
using backprop::testing::u32_at;
using Json = nlohmann::json;

const fs::path kOld = source_path("tests/data/before-issue-28");

// What today's output is of the old one.
enum class Same {
  bytes,  // byte for byte
  // eval since 79699f4 (issue 30, part 1: eval reports per-class scores, log loss, ROC AUC, R², the largest
  // errors...): the old output first, then the figures that commit added (lines after the old line; members of
  // the JSON object after the old ones).
  old_figures_first,
};

// An old command line (run in the fixtures' folder, whose names its outputs print) and the file that holds what
// the old command printed (standard output and standard error).
struct Printed {
  std::string arguments;
  std::string file;
  Same same = Same::bytes;
};

// The old commands of make.sh, each run today on the old files.
const std::vector<Printed> kPrinted = {
    {"predict seed.model --data seed-input.csv", "seed.predict.csv"},
    {"predict seed.model.json --data seed-input.csv", "seed.predict.csv"},  // the old JSON export predicts alike
    {"eval seed.model --data seed-train.csv", "seed.eval.txt", Same::old_figures_first},
    {"info seed.model", "seed.info.txt"},
    {"trace seed.json --input 1,2,3,4 --target 1 --steps 2 --loss bce", "seed.trace.txt"},
    {"trace seed.json --input 1,2,3,4 --target 1 --loss bce --expand", "seed.trace-expand.txt"},
    {"trace seed.json --input 1,2,3,4 --target 1 --steps 2 --loss mse --json", "seed.trace.json"},
    {"trace seed.json --input '1,2,3,4;4,3,2,1' --target '1;0' --steps 2 --format markdown", "seed.trace.md"},
    {"predict clf.model --data clf-input.csv", "clf.predict.csv"},
    {"eval clf.model --data clf-train.csv", "clf.eval.txt", Same::old_figures_first},
    {"eval clf.model --data clf-train.csv --json", "clf.eval.json", Same::old_figures_first},
    {"info clf.model", "clf.info.txt"},
    {"predict reg.model --data reg-input.csv", "reg.predict.csv"},
    {"eval reg.model --data reg-train.csv --target u,v", "reg.eval.txt", Same::old_figures_first},
    {"info reg.model", "reg.info.txt"},
    {"predict xor.model --data xor.csv", "xor.predict.csv"},
    {"predict bytes.model --data bytes-x.npy", "bytes.predict.csv"},
    {"eval bytes.model --data bytes-x.npy --labels bytes-y.npy --json", "bytes.eval.json", Same::old_figures_first},
};

TEST(BeforeIssue28, OldModelsAndTracesPrintTheOldBytes) {
  for (const Printed& printed : kPrinted) {
    SCOPED_TRACE("backprop " + printed.arguments);
    const CommandResult result = run_backprop_in(kOld, printed.arguments);
    EXPECT_EQ(result.exit_code, 0);
    const std::string old = read_text(kOld / printed.file);
    switch (printed.same) {
      case Same::bytes:
        EXPECT_EQ(result.out, old);
        break;
      case Same::old_figures_first: {
        // A JSON object ("{...}\n") goes on with a comma where it closed; text with the next line.
        const bool object = old.ends_with("}\n");
        const std::string start = object ? old.substr(0, old.size() - 2) + "," : old;
        EXPECT_EQ(result.out.substr(0, start.size()), start);
        EXPECT_GT(result.out.size(), start.size());
        break;
      }
    }
  }
}

// A training run of make.sh: its command line (without --out) and the model the old command wrote.
struct OldRun {
  std::string arguments;
  std::string model;
};

const std::vector<OldRun> kRuns = {
    {"train seed.json --data seed-train.csv --epochs 3 --batch-size 1 --quiet", "seed.model"},
    {"train clf.json --data clf-train.csv --quiet", "clf.model"},
    {"train reg.json --data reg-train.csv --target u,v --deterministic --quiet", "reg.model"},
    {"train xor.json --data xor.csv --epochs 40 --quiet", "xor.model"},
};

TEST(BeforeIssue28, TheSameRunTrainsTheOldModelByteForByte) {
  const TempDir dir;
  for (const OldRun& run : kRuns) {
    SCOPED_TRACE("backprop " + run.arguments);
    const fs::path out = dir / run.model;
    const CommandResult result = run_backprop_in(kOld, run.arguments + " --out " + shell_word(out));
    ASSERT_EQ(result.exit_code, 0) << result.out;
    EXPECT_EQ(read_text(out), read_text(kOld / run.model));
  }
  // The JSON export of the old model: the same text today.
  const fs::path json = dir / "seed.model.json";
  const CommandResult result = run_backprop_in(kOld, "export seed.model --format json --out " + shell_word(json));
  ASSERT_EQ(result.exit_code, 0) << result.out;
  EXPECT_EQ(read_text(json), read_text(kOld / "seed.model.json"));
}

// A model of uint8 data records it since 1c4097a (issue 33, item 3: "inputs": "uint8", format version 2, so that
// it refuses float inputs outside [0, 1]); the old command wrote version 1 without it. The same parameters' bits.
TEST(BeforeIssue28, TheSameRunOnUint8DataTrainsTheOldParametersAndRecordsTheInputs) {
  const TempDir dir;
  const fs::path out = dir / "bytes.model";
  const CommandResult result = run_backprop_in(
      kOld, "train bytes.json --data bytes-x.npy --labels bytes-y.npy --quiet --out " + shell_word(out));
  ASSERT_EQ(result.exit_code, 0) << result.out;
  const BinaryParts old = split_binary_model(read_text(kOld / "bytes.model"));
  const BinaryParts today = split_binary_model(read_text(out));
  EXPECT_EQ(u32_at(old.prefix, 8), 1u);
  EXPECT_EQ(u32_at(today.prefix, 8), 2u);
  Json header = Json::parse(old.header);
  EXPECT_FALSE(header.contains("inputs"));
  header["inputs"] = "uint8";
  EXPECT_EQ(Json::parse(today.header), header);
  EXPECT_EQ(today.parameters, old.parameters);
}

// The old checkpoints were written mid-run, each after its run's last multiple of 7 steps: clf.ckpt after step
// 35 of 40 (8 batches of 30 rows an epoch: the fifth epoch's third batch), reg.ckpt after step 21 (20 training
// rows, 4 batches an epoch: the sixth epoch's first); the old uninterrupted run wrote the model. Not --quiet,
// so that the run says where it resumed (a run that started afresh would train the same model).
TEST(BeforeIssue28, OldCheckpointsResumeToTheOldUninterruptedModel) {
  const TempDir dir;
  struct Resumed {
    std::string arguments, checkpoint, model, where;
  };
  const std::vector<Resumed> runs = {
      {"train clf.json --data clf-train.csv --checkpoint-every 7", "clf.ckpt", "clf.model",
       "resuming from clf.ckpt: epoch 5, batch 3, step 35"},
      {"train reg.json --data reg-train.csv --target u,v --deterministic --checkpoint-every 7", "reg.ckpt",
       "reg.model", "resuming from reg.ckpt: epoch 6, batch 1, step 21"},
  };
  for (const Resumed& run : runs) {
    SCOPED_TRACE("backprop " + run.arguments);
    const fs::path out = dir / run.model;
    const fs::path checkpoint = dir / run.checkpoint;  // the old checkpoint stays as it is
    const CommandResult result = run_backprop_in(kOld, run.arguments + " --resume " + run.checkpoint +
                                                           " --checkpoint " + shell_word(checkpoint) + " --out " +
                                                           shell_word(out));
    ASSERT_EQ(result.exit_code, 0) << result.out;
    EXPECT_THAT(result.out, ::testing::HasSubstr(run.where));
    EXPECT_EQ(read_text(out), read_text(kOld / run.model));
  }
}

}  // namespace
