// What a careless or hostile user broke (issue 16), each case through the command or the library as such a
// user would reach it: divergence in the last step, options beyond float's range, predict's header without
// class names, seeds of 2^63 and more, duplicate JSON keys, the layer cap, numbers that underflow, crafted
// class names, --version, flags that do nothing alone. docs/reliability.md lists them.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backprop/backprop.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/base/text.hpp"
#include "data/loaders.hpp"
#include "helpers.hpp"

namespace backprop {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::CommandResult;
using testing::read_text;
using testing::run_backprop;
using testing::shell_word;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

// The issue's repro: a 2-3-1 tanh/identity mse network, 4 rows with targets of plus or minus 1e18.
constexpr const char* kNetwork231 =
    R"({"input": 2, "layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "identity"}],
        "loss": "mse", "optimizer": {"type": "sgd", "learning_rate": 0.1}, "seed": 1})";
constexpr const char* kHugeTargets = "a,b,y\n1,2,1e18\n-1,0.5,-1e18\n0.3,-2,1e18\n2,1,-1e18\n";

// A classifier network file (softmax, 2 classes) without class names, and data for it.
constexpr const char* kClassifier =
    R"({"input": 2, "layers": [{"units": 3, "activation": "tanh"}, {"units": 2, "activation": "softmax"}],
        "loss": "softmax_ce", "seed": 1})";
constexpr const char* kTwoClasses = "a,b,label\n1,2,x\n-1,0.5,y\n0.5,0.5,x\n";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::size_t fields_of(const std::string& line) { return static_cast<std::size_t>(std::count(line.begin(), line.end(), ',')) + 1; }

// ---- defect 6: divergence in the last step ----

TEST(HardeningDivergence, AnUpdateThatOverflowsInTheLastStepIsExit1NamingEpochBatchAndLayer) {
  TempDir dir;
  write_file(dir / "net.json", kNetwork231);
  write_file(dir / "data.csv", kHugeTargets);
  // The loss (5e35) and the gradient are finite; the update (1e21 times about 1e17) is not.
  const CommandResult r = run_backprop("train " + shell_word(dir / "net.json") + " --data " +
                                       shell_word(dir / "data.csv") + " --epochs 1 --batch-size 4 --optimizer sgd " +
                                       "--learning-rate 1e21 --out " + shell_word(dir / "m.bin"));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("training diverged at epoch 1, batch 1: the update made the parameters of layer "));
  EXPECT_THAT(r.out, Not(HasSubstr("cannot save")));
  EXPECT_FALSE(fs::exists(dir / "m.bin"));
}

TEST(HardeningOptions, ValuesBeyondFloatsRangeAreBadInputNamingTheOption) {
  TempDir dir;
  write_file(dir / "net.json", kNetwork231);
  write_file(dir / "data.csv", "a,b,y\n1,2,1\n-1,0.5,-1\n");
  const std::string start = "train " + shell_word(dir / "net.json") + " --data " + shell_word(dir / "data.csv") +
                            " --epochs 1 --out " + shell_word(dir / "m.bin") + " ";
  for (const std::string flag : {"--learning-rate", "--weight-decay", "--clip-grad-norm"}) {
    const CommandResult r = run_backprop(start + flag + " 1e39");
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr(flag)) << r.out;
    EXPECT_THAT(r.out, HasSubstr("float")) << r.out;
  }
  // The largest float is still a number it takes (and training then diverges: exit 1, not 2).
  const CommandResult largest = run_backprop("train " + shell_word(dir / "net.json") + " --data " +
                                             shell_word(dir / "data.csv") + " --epochs 3 --weight-decay 3e38 --out " +
                                             shell_word(dir / "m.bin"));
  EXPECT_EQ(largest.exit_code, 1) << largest.out;
  // The library's check, for Python's keywords alike.
  TrainingOptions options;
  options.learning_rate = 1e39;
  try {
    options.validate();
    ADD_FAILURE() << "1e39 accepted";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), "learning_rate");
  }
  // The same in a network file.
  write_file(dir / "big.json", R"({"input": 2, "layers": [{"units": 1, "activation": "identity"}],
                                   "optimizer": {"type": "sgd", "learning_rate": 1e39}})");
  const CommandResult file = run_backprop("info " + shell_word(dir / "big.json"));
  EXPECT_EQ(file.exit_code, 2) << file.out;
  EXPECT_THAT(file.out, HasSubstr("optimizer.learning_rate"));
}

// ---- defect 7: predict with a network file that has no class names ----

TEST(HardeningPredict, ANetworkFileWithoutClassNamesWritesAHeaderThatMatchesItsRows) {
  TempDir dir;
  write_file(dir / "net.json", kClassifier);
  write_file(dir / "data.csv", kTwoClasses);
  const CommandResult r = run_backprop("predict " + shell_word(dir / "net.json") + " --data " +
                                       shell_word(dir / "data.csv") + " --out " + shell_word(dir / "p.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto lines = lines_of(read_text(dir / "p.csv"));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "class,p_0,p_1");
  for (std::size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(fields_of(lines[i]), 3u) << lines[i];
}

// ---- defect 8: seeds are unsigned 64-bit everywhere ----

TEST(HardeningSeeds, SeedsFrom2Pow63To2Pow64Minus1AreKeptExactly) {
  TempDir dir;
  write_file(dir / "data.csv", kTwoClasses);
  const std::string seed = "18446744073709551614";  // 2^64 - 2
  write_file(dir / "net.json", kClassifier);
  const std::string train = "train " + shell_word(dir / "net.json") + " --data " + shell_word(dir / "data.csv") +
                            " --epochs 1 --quiet ";
  ASSERT_EQ(run_backprop(train + "--seed " + seed + " --out " + shell_word(dir / "m.bin")).exit_code, 0);
  ASSERT_EQ(run_backprop("export " + shell_word(dir / "m.bin") + " --format json --out " + shell_word(dir / "m.json"))
                .exit_code,
            0);
  EXPECT_THAT(read_text(dir / "m.json"), HasSubstr("\"seed\": " + seed));
  // Beyond 2^64 - 1, or negative: refused naming the flag, not clamped.
  for (const std::string bad : {"18446744073709551616", "99999999999999999999999", "-1"}) {
    const CommandResult r = run_backprop(train + "--seed " + bad + " --out " + shell_word(dir / "x.bin"));
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("--seed")) << r.out;
  }
  EXPECT_FALSE(fs::exists(dir / "x.bin"));

  // In a network file: 2^63 - 1, 2^63 and 2^64 - 1 initialize three different networks; 2^64 is refused.
  std::vector<std::string> weights;
  for (const std::string s : {"9223372036854775807", "9223372036854775808", "18446744073709551615"}) {
    nlohmann::json net = nlohmann::json::parse(kClassifier);
    net["seed"] = nlohmann::json::parse(s);
    const Model model = Model::from_json(net.dump(), "seed " + s);
    EXPECT_EQ(model.spec().seed, std::stoull(s));
    weights.push_back(nlohmann::json::parse(io::model_to_json(model.to_model_file()))["layers"].dump());
  }
  EXPECT_NE(weights[0], weights[1]);
  EXPECT_NE(weights[1], weights[2]);
  nlohmann::json net = nlohmann::json::parse(kClassifier);
  net["seed"] = nlohmann::json::parse("18446744073709551616");  // a double to nlohmann: out of range
  try {
    Model::from_json(net.dump(), "net.json");
    ADD_FAILURE() << "2^64 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::bad_input);
    EXPECT_THAT(e.what(), HasSubstr("seed"));
  }
}

// ---- defect 10: the smaller ones ----

TEST(HardeningJson, ADuplicateKeyIsRefusedNamingTheKeyAndItsLine) {
  const std::string text = "{\"input\": 2,\n \"layers\": [{\"units\": 1, \"activation\": \"identity\"}],\n"
                           " \"input\": 3}";
  try {
    io::parse_network(text, "dup.json");
    ADD_FAILURE() << "a duplicate key accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::bad_input);
    EXPECT_THAT(e.what(), HasSubstr("dup.json:3:"));
    EXPECT_THAT(e.what(), HasSubstr("'input'"));
  }
  // Inside a layer too, and spelled with an escape; the same key in two objects is fine.
  const std::string nested = "{\"input\": 2, \"layers\": [{\"units\": 1,\n\"activation\": \"identity\", "
                             "\"\\u0075nits\": 2}]}";
  EXPECT_THROW(io::parse_network(nested, "n.json"), Error);
  EXPECT_NO_THROW(io::parse_network(
      "{\"input\": 2, \"layers\": [{\"units\": 1, \"activation\": \"tanh\"}, {\"units\": 1, \"activation\": "
      "\"identity\"}]}",
      "ok.json"));
}

TEST(HardeningJson, AtMost1000LayersAreRead) {
  const auto network = [](int layers) {
    nlohmann::json net = {{"input", 1}, {"layers", nlohmann::json::array()}};
    for (int l = 0; l < layers; ++l) net["layers"].push_back({{"units", 1}, {"activation", "identity"}});
    return net.dump();
  };
  EXPECT_EQ(io::parse_network(network(1000), "ok.json").layers.size(), 1000u);
  try {
    io::parse_network(network(1001), "many.json");
    ADD_FAILURE() << "1001 layers accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("many.json: layers: expected at most 1000 layers, got 1001"));
  }
}

TEST(HardeningNumbers, ANumberThatUnderflowsIsZeroAndFinite) {
  EXPECT_EQ(parse_double("1e-400"), 0.0);
  EXPECT_EQ(parse_double("-1e-400"), 0.0);
  EXPECT_TRUE(std::signbit(*parse_double("-1e-400")));
  EXPECT_EQ(parse_double("4.9e-324"), 4.9e-324);  // the smallest denormal stays itself
  EXPECT_FALSE(parse_double("1e400").has_value());
  EXPECT_FALSE(parse_double("-1e400").has_value());
  // Through the command: a CSV cell and --input.
  TempDir dir;
  write_file(dir / "net.json", kClassifier);
  write_file(dir / "data.csv", "a,b,label\n1e-400,2,x\n-1,0.5,y\n");
  const CommandResult r = run_backprop("train " + shell_word(dir / "net.json") + " --data " +
                                       shell_word(dir / "data.csv") + " --epochs 1 --quiet --out " +
                                       shell_word(dir / "m.bin"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST(HardeningModel, ClassNamesThatDoNotMatchTheOutputsOrRepeatAreRefused) {
  io::ModelFile model = Model::from_json(kClassifier, "net.json").to_model_file();
  model.classes = {"a", "b"};
  nlohmann::json exported = nlohmann::json::parse(io::model_to_json(model));
  ASSERT_TRUE(exported.contains("format")) << exported;
  for (const nlohmann::json& classes : {nlohmann::json{"a", "b", "c"}, nlohmann::json{"a"}, nlohmann::json{"a", "a"}}) {
    exported["classes"] = classes;
    try {
      io::load_model_bytes(exported.dump(), "crafted.json");
      ADD_FAILURE() << classes << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::bad_input);
      EXPECT_THAT(e.what(), HasSubstr("crafted.json: classes")) << classes;
    }
  }
  exported["classes"] = {"a", "b"};
  EXPECT_NO_THROW(io::load_model_bytes(exported.dump(), "fine.json"));
}

TEST(HardeningCommand, VersionNamesTheVersionTheBuildsOptionsAndTheCompiler) {
  const CommandResult r = run_backprop("--version");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("backprop " BACKPROP_TEST_VERSION));
  for (const char* part : {"BLAS", "MPI", "CUDA", "ONNX", "Python", "compiler"}) EXPECT_THAT(r.out, HasSubstr(part));
}

TEST(HardeningCommand, FlagsThatDoNothingAloneAreRefused) {
  TempDir dir;
  write_file(dir / "net.json", kClassifier);
  write_file(dir / "data.csv", kTwoClasses);
  const std::string start = "train " + shell_word(dir / "net.json") + " --data " + shell_word(dir / "data.csv") +
                            " --out " + shell_word(dir / "m.bin") + " ";
  const CommandResult labels = run_backprop(start + "--validation-labels " + shell_word(dir / "data.csv"));
  EXPECT_EQ(labels.exit_code, 2) << labels.out;
  EXPECT_THAT(labels.out, HasSubstr("--validation-labels"));
  EXPECT_THAT(labels.out, HasSubstr("--validation"));
  const CommandResult target = run_backprop(start + "--target ''");
  EXPECT_EQ(target.exit_code, 2) << target.out;
  EXPECT_THAT(target.out, HasSubstr("--target"));
  EXPECT_FALSE(fs::exists(dir / "m.bin"));
}

// ---- the locale, in-process: an embedder that calls setlocale ----

// What the library writes with numbers in it: a trace's figures (as format_double writes them) and the trace
// written out (text, markdown, html), a training report, a model's JSON, a CSV read and its predictions written (as predict writes them).
std::string library_text() {
  std::string out;
  const NetworkSpec seed = io::read_network_file(testing::source_path("examples/seed.json"));
  TraceOptions options;
  options.input = {1, 2, 3, 4};
  options.target = {1};
  options.steps = 2;
  const Trace traced = trace(seed, options);
  for (const TraceStep& step : traced.steps) {
    out += format_double(step.loss) + "\n";
    for (const TraceLayer& layer : step.layers)
      for (double v : layer.weights) out += format_double(v) + " ";
  }
  // The trace written out: its figures to 4 decimals with their working, and the page's widths.
  io::TraceRenderOptions render;
  render.expand = true;
  for (io::TraceFormat format : {io::TraceFormat::text, io::TraceFormat::markdown, io::TraceFormat::html})
    out += io::render_trace(traced, format, render);
  TrainingReport report;
  report.title = "locale";
  report.spec = seed;
  report.settings = recipe_settings(seed, ScalingKind::none);
  for (int e = 1; e <= 3; ++e) {
    EpochMetrics m;
    m.epoch = e;
    m.learning_rate = 0.125;
    m.seconds = 1.5;
    m.train.loss = 1.0 / (e + 0.5);
    m.train.rmse = 0.25 / e;
    m.train.mae = 0.5 / e;
    m.train.rows = 10;
    report.result.history.push_back(m);
  }
  out += training_report_html(report);
  Model model = Model::from_json(kClassifier, "net.json");
  out += io::model_to_json(model.to_model_file());
  LoadOptions load;
  load.known_classes = {"x", "y"};
  const Dataset data = data::parse_csv("a,b,label\n1.5,-0.25,x\n2.75,0.125,y\n", "data.csv", load);
  for (float v : model.predict(data.features_f32)) out += format_float(v) + ",";
  return out;
}

TEST(HardeningLocale, TheLibraryWritesTheSameUnderACommaDecimalLocaleSetInProcess) {
  const std::string before = library_text();
  const char* chosen = nullptr;
  for (const char* name : {"de_DE.UTF-8", "de_DE.utf8", "de_DE"})
    if (std::setlocale(LC_ALL, name) != nullptr) {
      chosen = name;
      break;
    }
  if (chosen == nullptr)
    GTEST_SKIP() << "the de_DE.UTF-8 locale is not installed (CI generates it: locale-gen); nothing checked";
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%.1f", 0.5);
  const std::string comma = buffer;  // the locale works: printf writes "0,5"
  const std::string localized = library_text();
  std::setlocale(LC_ALL, "C");
  EXPECT_EQ(comma, "0,5");
  const auto differ = std::mismatch(before.begin(), before.end(), localized.begin(), localized.end());
  EXPECT_EQ(before, localized) << "under " << chosen << ", first at "
                               << before.substr(static_cast<std::size_t>(std::max<std::ptrdiff_t>(
                                                    0, differ.first - before.begin() - 40)), 80);
}

}  // namespace
}  // namespace backprop

namespace backprop {
namespace {

// A data set with more classes than the network has outputs names the classes, each label cut to 60
// characters: an over-long label is not echoed in full.
TEST(HardeningCsvLabels, TooManyClassesNamesThemWithLongLabelsCut) {
  TempDir dir;
  write_file(dir / "net.json", kClassifier);
  const std::string long_label(300, 'q');
  write_file(dir / "data.csv", "a,b,label\n1,2,x\n-1,0.5,y\n0.5,0.5," + long_label + "\n");
  const CommandResult r = run_backprop("train " + shell_word(dir / "net.json") + " --data " +
                                       shell_word(dir / "data.csv") + " --out " + shell_word(dir / "m.bin"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, ::testing::HasSubstr("the data has 3 classes"));
  EXPECT_THAT(r.out, ::testing::HasSubstr(std::string(50, 'q')));
  EXPECT_THAT(r.out, ::testing::Not(::testing::HasSubstr(std::string(100, 'q'))));
  EXPECT_FALSE(std::filesystem::exists(dir / "m.bin"));
}

}  // namespace
}  // namespace backprop

// ==== Issue 33: no wrong answer with exit 0 (docs/reliability.md, "Cases ... (issue 33)") ====
// Each test's repro was run on the binary of 5943dcf, where it failed: BACKPROP_TEST_COMMAND=OLD-BINARY runs the
// command tests against another build.

namespace backprop {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::CommandResult;
using testing::read_text;
using testing::run_backprop;
using testing::shell_word;
using testing::TempDir;
using testing::npy_u8;
using testing::write_file;
namespace fs = std::filesystem;

// A regression network of two named features (y = 2a - b + 0.5 ab, 200 rows on a grid), scaled standard.
constexpr const char* kRegression =
    R"({"input": 2, "layers": [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "identity"}],
        "loss": "mse", "optimizer": {"type": "adam", "learning_rate": 0.02},
        "training": {"epochs": 40, "batch_size": 16, "scale": "standard"}, "seed": 1})";

// The rows as CSV with the columns in `order` (names a, b, y; plus "extra" when asked), from `first` on.
std::string regression_csv(const std::vector<std::string>& order, int first = 0, int count = 200) {
  std::string text;
  for (std::size_t i = 0; i < order.size(); ++i) text += (i ? "," : "") + order[i];
  text += "\n";
  for (int r = first; r < first + count; ++r) {
    const double a = -1.0 + 0.1 * (r % 20), b = 0.05 * (r / 20) * (r % 3 == 0 ? -1 : 1);
    const double y = 2 * a - b + 0.5 * a * b;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const double v = order[i] == "a" ? a : order[i] == "b" ? b : order[i] == "y" ? y : 7.0;
      text += (i ? "," : "") + format_double(v);
    }
    text += "\n";
  }
  return text;
}

// The trained model of kRegression on a, b, y in `dir`: dir/r.model.
void train_regression(const TempDir& dir) {
  write_file(dir / "r.json", kRegression);
  write_file(dir / "abY.csv", regression_csv({"a", "b", "y"}));
  const CommandResult r = run_backprop("train " + shell_word(dir / "r.json") + " --data " + shell_word(dir / "abY.csv") +
                                       " --quiet --out " + shell_word(dir / "r.model"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
}

std::string eval_line(const fs::path& model, const fs::path& data, const std::string& more = "") {
  const CommandResult r = run_backprop("eval " + shell_word(model) + " --data " + shell_word(data) + " --json" + more);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return r.out;
}

// ---- 1: columns by name ----

TEST(Hardening33Columns, SwappedColumnsAreMatchedByTheModelsFeatureNames) {
  TempDir dir;
  train_regression(dir);
  write_file(dir / "baY.csv", regression_csv({"b", "a", "y"}));
  write_file(dir / "yab.csv", regression_csv({"y", "a", "b"}));
  const std::string plain = eval_line(dir / "r.model", dir / "abY.csv");
  EXPECT_THAT(plain, HasSubstr("\"rmse\""));
  // The same rows, columns in another order: the same figures (5943dcf read b as a: RMSE many times larger).
  EXPECT_EQ(eval_line(dir / "r.model", dir / "baY.csv"), plain);
  EXPECT_EQ(eval_line(dir / "r.model", dir / "yab.csv"), plain);
  const CommandResult predicted = run_backprop("predict " + shell_word(dir / "r.model") + " --data " +
                                               shell_word(dir / "baY.csv"));
  const CommandResult expected = run_backprop("predict " + shell_word(dir / "r.model") + " --data " +
                                              shell_word(dir / "abY.csv"));
  EXPECT_EQ(predicted.exit_code, 0) << predicted.out;
  EXPECT_EQ(predicted.out, expected.out);
}

TEST(Hardening33Columns, AMissingFeatureIsExit2NamingIt) {
  TempDir dir;
  write_file(dir / "xor.json", read_text(testing::source_path("examples/xor.json")));
  const CommandResult trained = run_backprop("train " + shell_word(dir / "xor.json") + " --data " +
                                             shell_word(testing::source_path("examples/data/xor.csv")) +
                                             " --epochs 5 --quiet --out " + shell_word(dir / "x.model"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  // The issue's case: a,xor for a model of a,b; predict took the target as feature b (exit 0).
  write_file(dir / "axor.csv", "a,xor\n0,0\n1,1\n");
  for (const std::string command : {"predict", "eval"}) {
    const CommandResult r = run_backprop(command + " " + shell_word(dir / "x.model") + " --data " +
                                         shell_word(dir / "axor.csv"));
    EXPECT_EQ(r.exit_code, 2) << command << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("axor.csv:1: expected a column named 'b' (a feature of the model")) << r.out;
  }
  // Two columns besides the features and no --target: which is the target is not guessed.
  write_file(dir / "two.csv", "xor,b,a,extra\n0,0,0,5\n1,0,1,5\n");
  const CommandResult ambiguous = run_backprop("eval " + shell_word(dir / "x.model") + " --data " +
                                               shell_word(dir / "two.csv"));
  EXPECT_EQ(ambiguous.exit_code, 2) << ambiguous.out;
  EXPECT_THAT(ambiguous.out, HasSubstr("expected one column besides the model's features ('a,b') to be the target, "
                                       "got 2: 'xor,extra'; name the target (--target)"));
  EXPECT_EQ(run_backprop("eval " + shell_word(dir / "x.model") + " --data " + shell_word(dir / "two.csv") +
                         " --target xor").exit_code, 0);
}

TEST(Hardening33Columns, ExtraColumnsAreIgnoredWithOneNote) {
  TempDir dir;
  train_regression(dir);
  write_file(dir / "extra.csv", regression_csv({"extra", "b", "y", "a"}));
  const CommandResult predicted = run_backprop("predict " + shell_word(dir / "r.model") + " --data " +
                                               shell_word(dir / "extra.csv") + " --out " + shell_word(dir / "p.csv"));
  EXPECT_EQ(predicted.exit_code, 0) << predicted.out;  // 5943dcf: exit 2, 3 feature columns for 2 inputs
  EXPECT_THAT(predicted.out, HasSubstr("note: " + (dir / "extra.csv").string() +
                                       ": ignored 1 column that the model does not take: 'extra'"));
  const CommandResult plain = run_backprop("predict " + shell_word(dir / "r.model") + " --data " +
                                           shell_word(dir / "abY.csv"));
  EXPECT_EQ(read_text(dir / "p.csv"), plain.out);
  // eval: y is the model's target by name, extra is ignored (the note, then the same figures).
  const std::vector<std::string> evaluated = lines_of(eval_line(dir / "r.model", dir / "extra.csv"));
  ASSERT_EQ(evaluated.size(), 2u);
  EXPECT_THAT(evaluated[0], HasSubstr("ignored 1 column that the model does not take: 'extra'"));
  EXPECT_EQ(evaluated[1] + "\n", eval_line(dir / "r.model", dir / "abY.csv"));
}

TEST(Hardening33Columns, ADuplicateColumnNameIsRefused) {
  TempDir dir;
  write_file(dir / "xor.json", read_text(testing::source_path("examples/xor.json")));
  write_file(dir / "dup.csv", "a,a,xor\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n");
  const CommandResult r = run_backprop("train " + shell_word(dir / "xor.json") + " --data " +
                                       shell_word(dir / "dup.csv") + " --epochs 1 --out " + shell_word(dir / "m"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("dup.csv:1:2: expected each column name once, got 'a' in columns 1 and 2"));
  EXPECT_FALSE(fs::exists(dir / "m"));
}

TEST(Hardening33Columns, TrainingAModelFurtherMatchesByNameAndKeepsItsNames) {
  TempDir dir;
  train_regression(dir);
  write_file(dir / "baY.csv", regression_csv({"b", "a", "y"}));
  // A step too small to matter: the model must stay what it was (5943dcf trained it on b as a and
  // stored the names b, a).
  const CommandResult r = run_backprop("train " + shell_word(dir / "r.model") + " --data " +
                                       shell_word(dir / "baY.csv") + " --epochs 1 --learning-rate 1e-12 --quiet --out " +
                                       shell_word(dir / "again.model"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(io::load_model(dir / "again.model").features, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(eval_line(dir / "again.model", dir / "abY.csv"), eval_line(dir / "r.model", dir / "abY.csv"));
}

TEST(Hardening33Columns, TheValidationFileIsMatchedByTheTrainingFilesNames) {
  TempDir dir;
  write_file(dir / "r.json", kRegression);
  write_file(dir / "train.csv", regression_csv({"a", "b", "y"}));
  write_file(dir / "valid.csv", regression_csv({"a", "b", "y"}, 7, 50));
  write_file(dir / "swapped.csv", regression_csv({"y", "b", "a"}, 7, 50));
  std::vector<std::string> logs;
  for (const std::string name : {"valid.csv", "swapped.csv"}) {
    const CommandResult r = run_backprop("train " + shell_word(dir / "r.json") + " --data " +
                                         shell_word(dir / "train.csv") + " --validation " + shell_word(dir / name) +
                                         " --epochs 3 --quiet --log " + shell_word(dir / (name + ".log")) +
                                         " --out " + shell_word(dir / (name + ".model")));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    logs.push_back(read_text(dir / (name + ".log")));
  }
  // The validation losses (and everything else but the seconds) agree.
  const auto without_seconds = [](const std::string& log) {
    std::string out;
    for (const std::string& line : lines_of(log)) {
      auto j = nlohmann::json::parse(line);
      j.erase("seconds");
      out += j.dump() + "\n";
    }
    return out;
  };
  EXPECT_THAT(logs[0], HasSubstr("validation_loss"));
  EXPECT_EQ(without_seconds(logs[1]), without_seconds(logs[0]));
}

// ---- 2: a trained model keeps its scaling ----

TEST(Hardening33Scaling, ATrainedModelKeepsItsScalingAndRefusesAnotherKind) {
  TempDir dir;
  train_regression(dir);
  // A subset with other statistics (a >= 0.5 only): refitting standard scaling there moves every input.
  std::string subset = "a,b,y\n";
  for (const std::string& line : lines_of(regression_csv({"a", "b", "y"}))) {
    if (line[0] == 'a' || line[0] == '-') continue;
    if (std::stod(line) >= 0.5) subset += line + "\n";
  }
  write_file(dir / "subset.csv", subset);
  const std::string before = eval_line(dir / "r.model", dir / "abY.csv");
  const CommandResult same = run_backprop("train " + shell_word(dir / "r.model") + " --data " +
                                          shell_word(dir / "subset.csv") + " --scale standard --epochs 1 " +
                                          "--learning-rate 1e-12 --quiet --out " + shell_word(dir / "same.model"));
  ASSERT_EQ(same.exit_code, 0) << same.out;
  EXPECT_EQ(eval_line(dir / "same.model", dir / "abY.csv"), before);  // 5943dcf refitted: RMSE several times larger
  const CommandResult other = run_backprop("train " + shell_word(dir / "r.model") + " --data " +
                                           shell_word(dir / "subset.csv") + " --scale minmax --epochs 1 --out " +
                                           shell_word(dir / "other.model"));
  EXPECT_EQ(other.exit_code, 2) << other.out;
  EXPECT_THAT(other.out, HasSubstr("--scale: expected standard or no scale: a trained model keeps its own scaling"));
  EXPECT_FALSE(fs::exists(dir / "other.model"));
}

// ---- 4: an output layer that cannot learn ----

TEST(Hardening33Losses, ASoftmaxLayerOfOneUnitIsRefused) {
  TempDir dir;
  write_file(dir / "one.json", R"({"input": 2, "layers": [{"units": 3, "activation": "tanh"},
                                   {"units": 1, "activation": "softmax"}], "loss": "softmax_ce", "seed": 1})");
  write_file(dir / "mse.json", R"({"input": 2, "layers": [{"units": 1, "activation": "softmax"}], "loss": "mse"})");
  write_file(dir / "data.csv", "a,b,label\n0,0,0\n1,1,1\n0,1,1\n1,0,0\n");
  for (const std::string file : {"one.json", "mse.json"}) {
    const CommandResult r = run_backprop("train " + shell_word(dir / file) + " --data " + shell_word(dir / "data.csv") +
                                         " --epochs 2 --out " + shell_word(dir / "m"));
    EXPECT_EQ(r.exit_code, 2) << file << ": " << r.out;  // 5943dcf: exit 0, loss 0 at every epoch
    EXPECT_THAT(r.out, HasSubstr(".units: expected at least 2 units for softmax (one unit's softmax is always 1"));
  }
  EXPECT_FALSE(fs::exists(dir / "m"));
}

// ---- 5: trace traces what the model computes ----

TEST(Hardening33Trace, ATraceOfAModelScalesItsInputAsPredictDoes) {
  TempDir dir;
  train_regression(dir);
  write_file(dir / "row.csv", "a,b,y\n0.7,-0.3,0\n");
  const CommandResult predicted = run_backprop("predict " + shell_word(dir / "r.model") + " --data " +
                                               shell_word(dir / "row.csv"));
  ASSERT_EQ(predicted.exit_code, 0) << predicted.out;
  const double expected = std::stod(lines_of(predicted.out).at(1));
  const CommandResult traced = run_backprop("trace " + shell_word(dir / "r.model") +
                                            " --input 0.7,-0.3 --target 0 --json");
  ASSERT_EQ(traced.exit_code, 0) << traced.out;
  const auto j = nlohmann::json::parse(traced.out);
  const double output = j["steps"][0]["layers"][1]["a"][0].get<double>();
  // predict computes in float32, the trace in double: within float rounding (5943dcf: 1.09 against 0.355).
  EXPECT_NEAR(output, expected, 1e-5 * std::max(1.0, std::fabs(expected)));
  const CommandResult text = run_backprop("trace " + shell_word(dir / "r.model") + " --input 0.7,-0.3 --target 0");
  EXPECT_THAT(text.out, HasSubstr("input  = [0.7000, -0.3000]  (as given; x is it scaled by the model's standard "
                                  "scaling"));
}

// ---- 3: uint8 is value / 255 everywhere, and the model records it ----

TEST(Hardening33Bytes, AModelTrainedOnUint8RecordsItAndRefusesRawFloats) {
  TempDir dir;
  std::vector<std::uint8_t> pixels, labels;
  std::string scaled = "p0,p1,label\n", raw = "p0,p1,label\n";
  for (int r = 0; r < 64; ++r) {
    const auto a = static_cast<std::uint8_t>((r * 37) % 256), b = static_cast<std::uint8_t>((r * 91 + 13) % 256);
    pixels.push_back(a);
    pixels.push_back(b);
    labels.push_back(a > 127 ? 1 : 0);
    scaled += format_float(static_cast<float>(a) / 255.0f) + "," + format_float(static_cast<float>(b) / 255.0f) +
              "," + std::to_string(labels.back()) + "\n";
    raw += std::to_string(a) + "," + std::to_string(b) + "," + std::to_string(labels.back()) + "\n";
  }
  write_file(dir / "x.npy", npy_u8("(64, 2)", pixels));
  write_file(dir / "y.npy", npy_u8("(64,)", labels));
  write_file(dir / "scaled.csv", scaled);
  write_file(dir / "raw.csv", raw);
  write_file(dir / "net.json", kClassifier);
  const CommandResult trained = run_backprop("train " + shell_word(dir / "net.json") + " --data " +
                                             shell_word(dir / "x.npy") + " --labels " + shell_word(dir / "y.npy") +
                                             " --epochs 5 --quiet --out " + shell_word(dir / "m.model"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const io::ModelFile model = io::load_model(dir / "m.model");
  EXPECT_TRUE(model.byte_inputs);
  const std::string bytes = read_text(dir / "m.model");
  EXPECT_EQ(bytes[8], 2);  // format version 2: the header holds "inputs": "uint8"
  EXPECT_THAT(bytes, HasSubstr("\"inputs\":\"uint8\""));
  // The same numbers from the bytes and from floats in [0, 1]: the same figures.
  const CommandResult from_bytes = run_backprop("eval " + shell_word(dir / "m.model") + " --data " +
                                                shell_word(dir / "x.npy") + " --labels " + shell_word(dir / "y.npy") +
                                                " --json");
  const CommandResult from_floats = run_backprop("eval " + shell_word(dir / "m.model") + " --data " +
                                                 shell_word(dir / "scaled.csv") + " --json");
  ASSERT_EQ(from_bytes.exit_code, 0) << from_bytes.out;
  EXPECT_EQ(nlohmann::json::parse(from_floats.out)["loss"], nlohmann::json::parse(from_bytes.out)["loss"]);
  // Raw 0-255 values are not what the model was trained on: refused (5943dcf: exit 0, a loss far off).
  for (const std::string command : {"eval", "predict"}) {
    const CommandResult r = run_backprop(command + " " + shell_word(dir / "m.model") + " --data " +
                                         shell_word(dir / "raw.csv"));
    EXPECT_EQ(r.exit_code, 2) << command << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("raw.csv: row 0, column 1: expected a number in [0, 1] (the model was trained on "
                                 "uint8 data, read as value / 255), got 13"));
  }
  // --target names a CSV column: with NPY data it did nothing (5943dcf: exit 0); refused as every setting
  // that would do nothing is.
  const CommandResult target = run_backprop("eval " + shell_word(dir / "m.model") + " --data " +
                                            shell_word(dir / "x.npy") + " --labels " + shell_word(dir / "y.npy") +
                                            " --target label");
  EXPECT_EQ(target.exit_code, 2) << target.out;
  EXPECT_THAT(target.out, HasSubstr("x.npy: expected no target column with NPY data (the targets are the labels "
                                    "file), got 'label'"));
  // The JSON export says it too, and reads back.
  ASSERT_EQ(run_backprop("export " + shell_word(dir / "m.model") + " --format json --out " +
                         shell_word(dir / "m.json")).exit_code, 0);
  EXPECT_TRUE(io::load_model(dir / "m.json").byte_inputs);
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "m.json"))["version"], 2);
}

TEST(Hardening33Bytes, TheModelApiReadsUint8AsValueOver255) {
  Model model = Model::from_json(kClassifier);
  const std::vector<std::uint8_t> bytes = {0, 255, 51, 102, 204, 153};
  std::vector<float> floats;
  for (const std::uint8_t b : bytes) floats.push_back(static_cast<float>(b) / 255.0f);
  std::vector<float> from_bytes(6), from_floats(6);
  model.predict_bytes(bytes, from_bytes);
  model.predict(floats, from_floats);
  EXPECT_EQ(from_bytes, from_floats);
  const std::vector<float> y = {0, 1, 1};
  model.fit_bytes(bytes, y, {.epochs = 2, .batch_size = 3}, {.device = "cpu"});
  EXPECT_TRUE(model.byte_inputs());
  EXPECT_TRUE(model.to_model_file().byte_inputs);
  const std::vector<float> raw = {0, 255, 51, 102, 204, 153};
  EXPECT_THROW(model.evaluate(raw, y), Error);
  EXPECT_EQ(model.evaluate_bytes(bytes, y).loss, model.evaluate(floats, y).loss);
}

// ---- 6: out of memory while reading a model ----

// The command run in a child with its output in `output`, after `setup` (limits); killed after `seconds`.
struct ChildRun {
  int exit_code = -1;
  bool timed_out = false;
  long peak_mebibytes = -1;
  std::string out;
};
ChildRun run_limited(const std::vector<std::string>& arguments, const std::function<void()>& setup, int seconds,
                     const fs::path& output) {
  const pid_t child = ::fork();
  if (child == 0) {
    const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    setup();
    testing::exec_backprop(arguments);
  }
  ChildRun run;
  int status = 0;
  rusage usage{};
  for (int waited = 0;; waited += 10) {
    if (::wait4(child, &status, WNOHANG, &usage) == child) break;
    if (waited > seconds * 1000) {
      run.timed_out = true;
      ::kill(child, SIGKILL);
      ::wait4(child, &status, 0, &usage);
      break;
    }
    ::usleep(10000);
  }
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.peak_mebibytes = usage.ru_maxrss / 1024;
  run.out = read_text(output);
  return run;
}

void limit_address_space(rlim_t bytes) {
  const rlimit limit{bytes, bytes};
  ::setrlimit(RLIMIT_AS, &limit);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;  // its shadow memory needs terabytes of address space
#else
constexpr bool kAddressSanitizer = false;
#endif

TEST(Hardening33Memory, OutOfMemoryWhileReadingAModelIsSaidSoExit1) {
  if (kAddressSanitizer) GTEST_SKIP() << "ASan's shadow memory cannot run under an address-space limit";
  TempDir dir;
  write_file(dir / "big.json", "{");
  fs::resize_file(dir / "big.json", std::uintmax_t{600} << 20);  // sparse: 600 MiB of zeros after '{'
  const ChildRun run = run_limited({"info", (dir / "big.json").string()}, [] {
    ::setenv("OPENBLAS_NUM_THREADS", "1", 1);  // this test is of the reading, not of item 7's OpenBLAS start
    limit_address_space(rlim_t{400} << 20);
  }, 60, dir / "out.txt");
  EXPECT_FALSE(run.timed_out);
  EXPECT_EQ(run.exit_code, 1) << run.out;  // 5943dcf: exit 2, a syntax error in the part it had read
  EXPECT_THAT(run.out, HasSubstr("backprop: out of memory"));
}

// ---- 7: under ulimit -v every command spun for ever ----

TEST(Hardening33Memory, UnderAnAddressSpaceLimitTheCommandStillRuns) {
  if (kAddressSanitizer) GTEST_SKIP() << "ASan's shadow memory cannot run under an address-space limit";
  TempDir dir;
  const ChildRun run = run_limited({"--version"}, [] {
    ::unsetenv("OPENBLAS_NUM_THREADS");
    limit_address_space(rlim_t{200} << 20);
  }, 30, dir / "out.txt");
  EXPECT_FALSE(run.timed_out) << "spun until killed (OpenBLAS's worker in blas_memory_alloc)";
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("backprop "));
}

// ---- 8: files checked by their first bytes, not read whole first ----

TEST(Hardening33Memory, AFileThatIsNotAModelOrCsvIsRefusedFromItsFirstBytes) {
  TempDir dir;
  write_file(dir / "zeros.bin", "");
  fs::resize_file(dir / "zeros.bin", std::uintmax_t{300} << 20);  // sparse: costs no disk
  fs::copy_file(dir / "zeros.bin", dir / "zeros.csv");
  for (const auto& arguments : std::vector<std::vector<std::string>>{
           {"info", (dir / "zeros.bin").string()},
           {"eval", testing::source_path("examples/xor.json"), "--data", (dir / "zeros.csv").string()}}) {
    const ChildRun run = run_limited(arguments, [] {}, 60, dir / "out.txt");
    EXPECT_EQ(run.exit_code, 2) << arguments[0] << ": " << run.out;
    // 5943dcf read all 300 MiB first (a peak above 300 MiB); the test program's own pages are counted too.
    EXPECT_LT(run.peak_mebibytes, 150) << arguments[0] << ": " << run.out;
  }
  // A stream that never ends: 5943dcf grew without end.
  const ChildRun random = run_limited({"info", "/dev/urandom"}, [] {}, 30, dir / "out.txt");
  EXPECT_FALSE(random.timed_out);
  EXPECT_EQ(random.exit_code, 2) << random.out;
  EXPECT_THAT(random.out, HasSubstr("/dev/urandom: offset"));
}

// ---- 9: no temporary outlives its command ----

TEST(Hardening33Signals, SigtermDuringTheFinalSaveLeavesNoTemporaryFile) {
  TempDir dir;
  // A model of 16 million parameters (64 MB) to make the save long enough to be caught.
  constexpr int kInputs = 4000;
  write_file(dir / "big.json", "{\"input\": " + std::to_string(kInputs) +
                                   ", \"layers\": [{\"units\": 4000, \"activation\": \"identity\"}, {\"units\": 1, "
                                   "\"activation\": \"identity\"}], \"loss\": \"mse\", \"seed\": 1, "
                                   "\"optimizer\": {\"type\": \"sgd\", \"learning_rate\": 1e-9}}");
  std::string header, row;
  for (int i = 0; i < kInputs; ++i) {
    header += "c" + std::to_string(i) + ",";
    row += "0,";
  }
  write_file(dir / "big.csv", header + "y\n" + row + "0\n");
  bool caught = false;
  for (int attempt = 0; attempt < 5 && !caught; ++attempt) {
    const pid_t child = ::fork();
    if (child == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      testing::exec_backprop({"train", (dir / "big.json").string(), "--data", (dir / "big.csv").string(), "--epochs",
                              "1", "--quiet", "--out", (dir / "out.model").string()});
    }
    int status = 0;
    while (::waitpid(child, &status, WNOHANG) == 0) {
      for (const auto& entry : fs::directory_iterator(dir.path())) {
        if (entry.path().filename().string().starts_with("out.model.tmp-")) {
          ::kill(child, SIGTERM);
          caught = true;
          break;
        }
      }
      if (caught) {
        ::waitpid(child, &status, 0);
        break;
      }
    }
    if (!caught) continue;  // the save was over before the folder was looked at: once more
    if (WIFEXITED(status)) {  // the save (and the run) ended between the look and the signal: once more
      caught = false;
      continue;
    }
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);  // ended as the signal ends it
    for (const auto& entry : fs::directory_iterator(dir.path()))
      EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr(".tmp-")));  // 5943dcf left 64 MB there
  }
  EXPECT_TRUE(caught) << "the save's temporary file was never seen: the test could not stop it in time";
}

// ---- 10: integers are decimal ----

TEST(Hardening33Options, IntegersWithALeadingZeroAreDecimal) {
  TempDir dir;
  write_file(dir / "xor.json", read_text(testing::source_path("examples/xor.json")));
  const std::string start = "train " + shell_word(dir / "xor.json") + " --data " +
                            shell_word(testing::source_path("examples/data/xor.csv")) + " --quiet ";
  const CommandResult ten = run_backprop(start + "--epochs 010 --log " + shell_word(dir / "ten.log") + " --out " +
                                         shell_word(dir / "ten.model"));
  ASSERT_EQ(ten.exit_code, 0) << ten.out;
  EXPECT_EQ(lines_of(read_text(dir / "ten.log")).size(), 10u);  // 5943dcf: 8 (octal)
  const CommandResult nine = run_backprop(start + "--epochs 09 --log " + shell_word(dir / "nine.log") + " --out " +
                                          shell_word(dir / "nine.model"));
  ASSERT_EQ(nine.exit_code, 0) << nine.out;  // 5943dcf: "Could not convert"
  EXPECT_EQ(lines_of(read_text(dir / "nine.log")).size(), 9u);
  ASSERT_EQ(run_backprop(start + "--epochs 3 --seed 010 --out " + shell_word(dir / "a.model")).exit_code, 0);
  ASSERT_EQ(run_backprop(start + "--epochs 3 --seed 10 --out " + shell_word(dir / "b.model")).exit_code, 0);
  EXPECT_EQ(read_text(dir / "a.model"), read_text(dir / "b.model"));
  const CommandResult hex = run_backprop(start + "--epochs 0x10 --out " + shell_word(dir / "c.model"));
  EXPECT_EQ(hex.exit_code, 2) << hex.out;
  EXPECT_THAT(hex.out, HasSubstr("expected a whole number in decimal digits, got '0x10'"));
}

// ---- 11: control characters in a model's names ----

TEST(Hardening33Names, AControlCharacterInAModelsClassNameIsRefused) {
  TempDir dir;
  write_file(dir / "net.json", kClassifier);
  write_file(dir / "data.csv", kTwoClasses);
  ASSERT_EQ(run_backprop("train " + shell_word(dir / "net.json") + " --data " + shell_word(dir / "data.csv") +
                         " --epochs 1 --quiet --out " + shell_word(dir / "m.model")).exit_code, 0);
  ASSERT_EQ(run_backprop("export " + shell_word(dir / "m.model") + " --format json --out " +
                         shell_word(dir / "m.json")).exit_code, 0);
  auto root = nlohmann::json::parse(read_text(dir / "m.json"));
  ASSERT_EQ(root["classes"][0], "x");
  for (const std::string bad : {std::string("x\0y", 3), std::string("x\ny"), std::string("x\x1b[2Jy")}) {
    root["classes"][0] = bad;
    write_file(dir / "bad.json", root.dump());
    for (const std::string command : {"info", "predict"}) {
      const CommandResult r = run_backprop(command + " " + shell_word(dir / "bad.json") +
                                           (command == "predict" ? " --data " + shell_word(dir / "data.csv") : ""));
      EXPECT_EQ(r.exit_code, 2) << command << ": " << r.out;  // 5943dcf: 0, the name cut or written raw
      EXPECT_THAT(r.out, HasSubstr("classes[0]: expected a name without control characters"));
    }
  }
}

// ---- 12: the trace's step limit is the library's ----

TEST(Hardening33Trace, TheStepLimitAndTheFigureCapAreTheLibrarys) {
  const NetworkSpec spec = io::parse_network(read_text(testing::source_path("examples/seed.json")), "seed.json");
  TraceOptions options{.input = {1, 2, 3, 4}, .target = {1}, .steps = 1000000000};
  try {
    trace(spec, options);
    ADD_FAILURE() << "10^9 steps accepted";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), "steps");
    EXPECT_THAT(e.what(), HasSubstr("expected a number of steps in [1, 1000000], got 1000000000"));
  }
  // 10^6 steps of a 64-64-64 network would keep 2.5e10 figures: refused before any is computed.
  const NetworkSpec wide = io::parse_network(
      R"({"input": 64, "layers": [{"units": 64, "activation": "tanh"}, {"units": 64, "activation": "identity"}]})",
      "wide.json");
  TraceOptions many{.input = std::vector<double>(64, 0.5), .target = std::vector<double>(64, 0.0), .steps = 1000000};
  EXPECT_THROW(trace(wide, many), OptionError);
}

// ---- 13: user strings escaped in every format ----

TEST(Hardening33Trace, AFileNameIsEscapedInEveryFormat) {
  TempDir dir;
  const std::string seed = read_text(testing::source_path("examples/seed.json"));
  const fs::path newline = dir / "a\nb.json";
  const fs::path html = dir / "<img src=x onerror=alert(1)>.json";
  write_file(newline, seed);
  write_file(html, seed);
  const std::string args = " --input 1,2,3,4 --target 1 --format ";
  const CommandResult dot = run_backprop("trace " + shell_word(newline) + args + "dot");
  ASSERT_EQ(dot.exit_code, 0) << dot.out;
  const std::vector<std::string> lines = lines_of(dot.out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("a\\x0ab.json"));  // 5943dcf: the comment ended at the newline
  EXPECT_EQ(lines[1], "digraph trace {");
  const CommandResult text = run_backprop("trace " + shell_word(newline) + args + "text");
  EXPECT_THAT(lines_of(text.out).at(0), HasSubstr("a\\x0ab.json, network 4-2-3-1"));
  // The command's own lines name files the same way (info, eval, train).
  const CommandResult info = run_backprop("info " + shell_word(newline));
  EXPECT_EQ(lines_of(info.out).at(0), (dir / "a\\x0ab.json").string());
  const CommandResult markdown = run_backprop("trace " + shell_word(html) + args + "markdown");
  ASSERT_EQ(markdown.exit_code, 0) << markdown.out;
  EXPECT_THAT(markdown.out, Not(HasSubstr("<img")));  // 5943dcf: raw HTML in the heading
  EXPECT_THAT(markdown.out, HasSubstr("&lt;img src=x onerror=alert(1)&gt;.json"));
}

// ---- weak spots ----

TEST(Hardening33Outputs, AnOutputFolderThatTakesNoFileIsRefusedBeforeTraining) {
  TempDir dir;
  write_file(dir / "xor.json", read_text(testing::source_path("examples/xor.json")));
  // /proc/self is a folder where no file can be made, even by root (a chmod 0555 folder would not stop root).
  const CommandResult r = run_backprop("train " + shell_word(dir / "xor.json") + " --data " +
                                       shell_word(testing::source_path("examples/data/xor.csv")) +
                                       " --epochs 50 --out /proc/self/m.model");
  EXPECT_EQ(r.exit_code, 2) << r.out;  // 5943dcf: trained 50 epochs, then exit 1
  EXPECT_THAT(r.out, HasSubstr("--out /proc/self/m.model: cannot write: cannot create a file in the folder /proc/self"));
  EXPECT_THAT(r.out, Not(HasSubstr("epoch")));
}

TEST(Hardening33Outputs, ProgressThatCannotBeWrittenDoesNotCostTheModel) {
  TempDir dir;
  write_file(dir / "xor.json", read_text(testing::source_path("examples/xor.json")));
  // More progress than a pipe holds, to a reader that leaves after one line.
  const CommandResult r = run_backprop("train " + shell_word(dir / "xor.json") + " --data " +
                                       shell_word(testing::source_path("examples/data/xor.csv")) +
                                       " --epochs 3000 --out " + shell_word(dir / "m.model") + " | head -1");
  EXPECT_THAT(r.out, HasSubstr("training "));
  EXPECT_TRUE(fs::exists(dir / "m.model"));  // 5943dcf: killed by SIGPIPE (141), no model
  EXPECT_EQ(io::load_model(dir / "m.model").network.layers.size(), 2u);
}

TEST(Hardening33Options, ASettingTheOptimizerDoesNotUseIsRefused) {
  TempDir dir;
  write_file(dir / "xor.json", read_text(testing::source_path("examples/xor.json")));  // adam
  const std::string start = "train " + shell_word(dir / "xor.json") + " --data " +
                            shell_word(testing::source_path("examples/data/xor.csv")) + " --epochs 1 --out " +
                            shell_word(dir / "m.model");
  for (const std::string optimizer : {"adam", "adamw", "sgd"}) {
    const CommandResult r = run_backprop(start + " --optimizer " + optimizer + " --momentum 0.9");
    EXPECT_EQ(r.exit_code, 2) << optimizer << ": " << r.out;  // 5943dcf: 0, the momentum silently unused
    EXPECT_THAT(r.out, HasSubstr("--momentum: expected no momentum with the optimizer " + optimizer));
  }
  for (const std::string optimizer : {"momentum", "nesterov", "rmsprop"})
    EXPECT_EQ(run_backprop(start + " --optimizer " + optimizer + " --momentum 0.5").exit_code, 0) << optimizer;
  // The same in a network file, for every setting and rule (5943dcf: each ignored); a model's header keeps what it
  // was trained with, so models saved so far load.
  struct Case {
    std::string type, key, value, rules;
  };
  for (const Case& c : std::vector<Case>{{"adam", "momentum", "0.9", "momentum, nesterov and rmsprop"},
                                         {"sgd", "beta1", "0.8", "adam and adamw"},
                                         {"momentum", "epsilon", "1e-6", "adam, adamw and rmsprop"},
                                         {"adamw", "centered", "true", "rmsprop"},
                                         {"nesterov", "alpha", "0.9", "rmsprop"}}) {
    write_file(dir / "file.json", R"({"input": 2, "layers": [{"units": 1, "activation": "sigmoid"}], "loss": "bce",
                                      "optimizer": {"type": ")" + c.type + "\", \"" + c.key + "\": " + c.value + "}}");
    const CommandResult r = run_backprop("info " + shell_word(dir / "file.json"));
    EXPECT_EQ(r.exit_code, 2) << c.key << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("optimizer." + c.key + ": expected no " + c.key + " with the optimizer " + c.type +
                                 ", which does not use it (" + c.rules + " do)"));
  }
}

TEST(Hardening33Csv, OtherSeparatorsAndGzipBytesAreNamed) {
  TempDir dir;
  LoadOptions options;
  const auto message = [&](const std::string& name, const std::string& text) {
    write_file(dir / name, text);
    try {
      load_dataset(dir / name, std::nullopt, options);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_THAT(message("semi.csv", "a;b;y\n1;2;0\n"),
              HasSubstr("semi.csv:1: expected columns separated by ',', got a header of one column that holds ';'"));
  EXPECT_THAT(message("tab.csv", "a\tb\ty\n1\t2\t0\n"), HasSubstr("got a header of one column that holds a tab"));
  EXPECT_THAT(message("packed.csv", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8)),
              HasSubstr("packed.csv:1:1: expected CSV text, got gzip-compressed bytes"));
}

}  // namespace
}  // namespace backprop
