// The high-level C++ API (model.hpp) against the low-level path and the command: Model::fit gives the
// parameters, scaling and history that train() and `backprop train` give for the same options on the same
// data, bit for bit (CPU); predict and evaluate give what `backprop predict` and `backprop eval` print;
// save and load round-trip exactly; options out of range are refused naming their key (and, by the
// command, their flag); arrays of the wrong shape are refused naming the array, row and expectation.
#include <cmath>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backprop/backprop.hpp"
#include "helpers.hpp"
#include "synthetic_data.hpp"

namespace {

using backprop::Dataset;
using backprop::Model;
using backprop::TrainingOptions;
using backprop::testing::CommandResult;
using backprop::testing::read_text;
using backprop::testing::run_backprop;
using backprop::testing::shell_word;
using backprop::testing::source_path;
using backprop::testing::TempDir;
using backprop::testing::write_file;
using ::testing::HasSubstr;

// A data file read as the command reads it, and its rows as the arrays Model takes.
struct Arrays {
  Dataset data;
  std::vector<float> y;  // class indices as floats, or (rows, OUT) targets
  std::span<const float> x() const { return data.features_f32; }
};

Arrays arrays_of(const std::string& network, const std::string& csv) {
  Arrays a;
  a.data = backprop::load_for_network(backprop::io::read_model(network).model.network, csv, "", "", {});
  if (a.data.task == backprop::TaskKind::classification)
    a.y.assign(a.data.labels.begin(), a.data.labels.end());
  else
    a.y = a.data.targets;
  return a;
}

// Rings (two classes, labels 0 and 1) as a CSV whose numbers read back to the same floats, and a 2-8-2
// softmax network for them.
void write_rings(const TempDir& dir) {
  const Dataset rings = backprop::testing::rings(240, 5);
  std::string csv = "x1,x2,label\n";
  char line[96];
  for (std::size_t r = 0; r < rings.rows; ++r) {
    std::snprintf(line, sizeof line, "%.9g,%.9g,%d\n", rings.features_f32[2 * r], rings.features_f32[2 * r + 1],
                  rings.labels[r]);
    csv += line;
  }
  write_file(dir / "rings.csv", csv);
  write_file(dir / "rings.json", R"({"input": 2, "layers": [{"units": 8, "activation": "relu", "dropout": 0.1},
    {"units": 2, "activation": "softmax"}], "loss": "softmax_ce", "optimizer": {"type": "momentum",
    "learning_rate": 0.05}, "training": {"epochs": 7, "batch_size": 16}, "seed": 4})");
}

// Every parameter, the scaling and the recipe of two models, compared exactly.
void expect_same_model(const backprop::io::ModelFile& actual, const backprop::io::ModelFile& expected) {
  ASSERT_EQ(actual.network.layers.size(), expected.network.layers.size());
  for (std::size_t l = 0; l < actual.network.layers.size(); ++l) {
    EXPECT_EQ(actual.network.layers[l].weights, expected.network.layers[l].weights) << "layer " << l;
    EXPECT_EQ(actual.network.layers[l].bias, expected.network.layers[l].bias) << "layer " << l;
  }
  EXPECT_EQ(actual.scaling.kind, expected.scaling.kind);
  EXPECT_EQ(actual.scaling.offset, expected.scaling.offset);
  EXPECT_EQ(actual.scaling.scale, expected.scaling.scale);
  EXPECT_EQ(backprop::io::network_to_json(actual.network), backprop::io::network_to_json(expected.network));
}

TEST(ModelApi, FitGivesTheCommandsModelBitForBit) {
  TempDir dir;
  write_rings(dir);
  struct Case {
    std::string network, data, flags;
    TrainingOptions options;
  };
  const std::vector<Case> cases = {
      // {}: the network file's own recipe, as `backprop train` without flags
      {(dir / "rings.json").string(), (dir / "rings.csv").string(), "", {}},
      {(dir / "rings.json").string(), (dir / "rings.csv").string(),
       "--epochs 4 --batch-size 1 --optimizer adam --learning-rate 0.01 --validation-split 0.25 --scale minmax "
       "--seed 9 --dropout 0.2 --clip-grad-norm 0.5",
       {.epochs = 4, .batch_size = 1, .optimizer = "adam", .learning_rate = 0.01, .clip_grad_norm = 0.5,
        .dropout = 0.2, .scale = "minmax", .validation_split = 0.25, .seed = 9}},
      {(dir / "rings.json").string(), (dir / "rings.csv").string(), "--label-smoothing 0.15 --epochs 3",
       {.epochs = 3, .label_smoothing = 0.15}},
      {source_path("examples/noisy-function.json"), source_path("examples/data/noisy-function.csv"),
       "--epochs 6 --schedule step --warmup 5 --weight-decay 0.001 --early-stopping 2",
       {.epochs = 6, .weight_decay = 0.001, .schedule = "step", .warmup = 5, .early_stopping = 2}},
      {source_path("examples/xor.json"), source_path("examples/data/xor.csv"), "--epochs 30 --optimizer nesterov",
       {.epochs = 30, .optimizer = "nesterov"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.network + " " + c.flags);
    const CommandResult r = run_backprop("train " + shell_word(c.network) + " --data " + shell_word(c.data) + " " +
                                         c.flags + " --quiet --device cpu --out " + shell_word(dir / "cli.bin"));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const backprop::io::ModelFile command = backprop::io::load_model(dir / "cli.bin");

    const Arrays a = arrays_of(c.network, c.data);
    Model model = Model::load(c.network);
    const backprop::TrainingResult result = model.fit(a.x(), a.y, c.options, {.device = "cpu"});
    EXPECT_FALSE(result.history.empty());
    expect_same_model(model.to_model_file(), command);
    // Saved and read back, the model is the same again.
    model.save(dir / "api.bin");
    expect_same_model(backprop::io::load_model(dir / "api.bin"), command);
  }
}

// fit(threshold f1 or youden) keeps the threshold that eval's computation (binary_thresholds) gives on the
// validation rows of the split, the one the command's --threshold keeps; predict_classes and report take it,
// and a fit without one drops it.
TEST(ModelApi, FitKeepsTheThresholdEvalPicksOnTheValidationRows) {
  TempDir dir;
  write_rings(dir);
  const Arrays a = arrays_of((dir / "rings.json").string(), (dir / "rings.csv").string());
  const TrainingOptions options{.epochs = 4, .validation_split = 0.3};
  for (const auto& [rule, name] : {std::pair{backprop::ThresholdRule::f1, "f1"},
                                   std::pair{backprop::ThresholdRule::youden, "youden"}}) {
    SCOPED_TRACE(name);
    Model model = Model::load(dir / "rings.json");
    model.fit(a.x(), a.y, options, {.device = "cpu", .threshold = backprop::ThresholdChoice{rule, 0}});
    ASSERT_TRUE(model.threshold().has_value());

    // The same split, scaling and outputs as the fit's: eval's thresholds on them.
    backprop::NetworkSpec spec = options.start_spec(Model::load(dir / "rings.json").spec(),
                                                    backprop::io::read_model(dir / "rings.json").exact_network);
    const backprop::TrainingData prepared =
        backprop::prepare_training_data(spec, a.data, std::nullopt, std::nullopt, std::nullopt);
    ASSERT_NE(prepared.validation_or_null(), nullptr);
    const backprop::Dataset& validation = *prepared.validation_or_null();
    const std::vector<float> outputs = backprop::network_outputs(model.network(), validation, prepared.scaling);
    const backprop::ClassificationMetrics eval =
        backprop::classification_metrics(outputs, 2, validation.labels, validation.class_names);
    EXPECT_EQ(*model.threshold(), rule == backprop::ThresholdRule::f1 ? eval.thresholds.f1_threshold
                                                                      : eval.thresholds.youden_threshold);

    const CommandResult r = run_backprop("train " + shell_word(dir / "rings.json") + " --data " +
                                         shell_word(dir / "rings.csv") + " --epochs 4 --validation-split 0.3 "
                                         "--threshold " + name + " --quiet --device cpu --out " +
                                         shell_word(dir / "cli.bin"));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(backprop::io::load_model(dir / "cli.bin").threshold, model.threshold());

    // predict_classes: the second class at or above the threshold; the report's accuracy counts those.
    const std::vector<float> all = model.predict(a.x());
    const std::vector<int> classes = model.predict_classes(a.x());
    std::size_t correct = 0;
    for (std::size_t row = 0; row < classes.size(); ++row) {
      EXPECT_EQ(classes[row], all[2 * row + 1] >= *model.threshold() ? 1 : 0);
      correct += classes[row] == a.data.labels[row] ? 1 : 0;
    }
    const backprop::EvaluationReport report = model.report(a.x(), a.y);
    EXPECT_EQ(report.basic.accuracy, static_cast<double>(correct) / static_cast<double>(classes.size()));
    EXPECT_EQ(model.evaluate(a.x(), a.y).accuracy, report.basic.accuracy);
    EXPECT_EQ(report.threshold, model.threshold());

    model.fit(a.x(), a.y, {.epochs = 1});  // trained further without one: its threshold is dropped
    EXPECT_FALSE(model.threshold().has_value());
  }
}

TEST(ModelApi, AThresholdIsRefusedWithoutValidationRowsOrTwoClasses) {
  TempDir dir;
  write_rings(dir);
  const Arrays a = arrays_of((dir / "rings.json").string(), (dir / "rings.csv").string());
  Model model = Model::load(dir / "rings.json");
  try {
    model.fit(a.x(), a.y, {.epochs = 1}, {.threshold = backprop::parse_threshold("f1")});
    ADD_FAILURE() << "fit picked a threshold without validation rows";
  } catch (const backprop::OptionError& e) {
    EXPECT_EQ(e.key(), "threshold");
    EXPECT_THAT(e.what(), HasSubstr("needs validation rows"));
  }
  EXPECT_THROW(model.set_threshold(1.25), backprop::Error);
  model.set_threshold(0.25);
  EXPECT_EQ(model.threshold(), 0.25);
  EXPECT_EQ(Model(model.to_model_file()).threshold(), 0.25);
  model.set_threshold(std::nullopt);
  EXPECT_FALSE(model.threshold().has_value());
  Model regression = Model::load(source_path("examples/noisy-function.json"));
  EXPECT_THROW(regression.set_threshold(0.5), backprop::Error);
  EXPECT_THROW(backprop::parse_threshold("0.5x"), backprop::OptionError);
}

// fit's seed is the network file's "seed", the initialization included (TrainingOptions::start_spec): the
// file of seed 4 fitted with seed 9 is the file of seed 9 fitted as it is.
TEST(ModelApi, FitsSeedRedrawsTheInitializationOfANetworkFile) {
  TempDir dir;
  write_rings(dir);
  std::string nine = read_text(dir / "rings.json");
  nine.replace(nine.find("\"seed\": 4"), 9, "\"seed\": 9");
  write_file(dir / "rings9.json", nine);
  const Arrays a = arrays_of((dir / "rings.json").string(), (dir / "rings.csv").string());
  Model with_option = Model::load(dir / "rings.json");
  with_option.fit(a.x(), a.y, {.epochs = 2, .seed = 9}, {.device = "cpu"});
  Model with_file = Model::load(dir / "rings9.json");
  with_file.fit(a.x(), a.y, {.epochs = 2}, {.device = "cpu"});
  expect_same_model(with_option.to_model_file(), with_file.to_model_file());
  Model unchanged = Model::load(dir / "rings.json");
  unchanged.fit(a.x(), a.y, {.epochs = 2}, {.device = "cpu"});
  EXPECT_NE(unchanged.to_model_file().network.layers[0].weights, with_file.to_model_file().network.layers[0].weights);
}

// The low-level steps Model::fit stands for: read, the options' start spec, prepare the data, train().
TEST(ModelApi, FitIsTheLowLevelTrainOfThePreparedData) {
  TempDir dir;
  write_rings(dir);
  const Arrays a = arrays_of((dir / "rings.json").string(), (dir / "rings.csv").string());
  const TrainingOptions options{.epochs = 5, .validation_split = 0.2, .seed = 2};

  const backprop::io::LoadedModel loaded = backprop::io::read_model(dir / "rings.json");
  const backprop::io::ModelFile& read = loaded.model;
  backprop::NetworkSpec spec = options.start_spec(read.network, loaded.exact_network);
  backprop::TrainingData data = backprop::prepare_training_data(spec, a.data, std::nullopt, std::nullopt, std::nullopt);
  ASSERT_NE(data.validation_or_null(), nullptr);
  EXPECT_EQ(data.validation->rows, 48u);  // 0.2 of 240
  backprop::Network<float> network(spec);
  const backprop::TrainingResult low = backprop::train(network, data.train, data.validation_or_null(), data.scaling);

  Model model = Model::load(dir / "rings.json");
  const backprop::TrainingResult high = model.fit(a.x(), a.y, options, {.device = "cpu"});
  ASSERT_EQ(high.history.size(), low.history.size());
  for (std::size_t e = 0; e < low.history.size(); ++e) {
    EXPECT_EQ(high.history[e].train.loss, low.history[e].train.loss) << "epoch " << e + 1;
    EXPECT_EQ(high.history[e].validation.loss, low.history[e].validation.loss) << "epoch " << e + 1;
  }
  const auto expected = network.parameters();
  const auto actual = model.network().parameters();
  ASSERT_EQ(actual.size(), expected.size());
  EXPECT_TRUE(std::equal(actual.begin(), actual.end(), expected.begin()));
  EXPECT_EQ(model.classes(), (std::vector<std::string>{"0", "1"}));
}

// predict and evaluate against `backprop predict` and `backprop eval --json` on the same saved model.
TEST(ModelApi, PredictAndEvaluateGiveWhatTheCommandPrints) {
  TempDir dir;
  struct Case {
    std::string network, data;
  };
  for (const Case& c : {Case{source_path("examples/noisy-function.json"), source_path("examples/data/noisy-function.csv")},
                        Case{source_path("examples/xor.json"), source_path("examples/data/xor.csv")}}) {
    SCOPED_TRACE(c.network);
    const Arrays a = arrays_of(c.network, c.data);
    Model model = Model::load(c.network);
    model.fit(a.x(), a.y, {.epochs = 3}, {.device = "cpu"});
    model.save(dir / "model.bin");

    const std::vector<float> outputs = model.predict(a.x());
    ASSERT_EQ(outputs.size(), a.data.rows * static_cast<std::size_t>(model.output_size()));
    const CommandResult predicted = run_backprop("predict " + shell_word(dir / "model.bin") + " --data " +
                                                 shell_word(c.data) + " --device cpu");
    ASSERT_EQ(predicted.exit_code, 0) << predicted.out;
    // The output column: y_<name> (regression), or p_1 of `class,p_0,p_1` (one sigmoid output, P(class 1)).
    std::vector<float> printed;
    std::size_t start = predicted.out.find('\n') + 1;
    while (start < predicted.out.size()) {
      const std::size_t end = predicted.out.find('\n', start);
      const std::string line = predicted.out.substr(start, end - start);
      printed.push_back(std::stof(line.substr(line.rfind(',') + 1)));
      start = end + 1;
    }
    EXPECT_EQ(printed, outputs);

    const backprop::Metrics m = model.evaluate(a.x(), a.y, {.device = "cpu"});
    const CommandResult evaluated = run_backprop("eval " + shell_word(dir / "model.bin") + " --data " +
                                                 shell_word(c.data) + " --json --device cpu");
    ASSERT_EQ(evaluated.exit_code, 0) << evaluated.out;
    const auto json = nlohmann::json::parse(evaluated.out);
    EXPECT_EQ(m.loss, json["loss"].get<double>());
    EXPECT_EQ(m.rows, a.data.rows);
    if (model.task() == backprop::TaskKind::classification) {
      EXPECT_EQ(m.accuracy, json["accuracy"].get<double>());
      EXPECT_TRUE(std::isnan(m.rmse) && std::isnan(m.mae));
    } else {
      EXPECT_EQ(m.rmse, json["rmse"].get<double>());
      EXPECT_EQ(m.mae, json["mae"].get<double>());
      EXPECT_TRUE(std::isnan(m.accuracy));
    }
  }
}

TEST(ModelApi, SaveAndLoadRoundTripInBothFormats) {
  TempDir dir;
  write_rings(dir);
  const Arrays a = arrays_of((dir / "rings.json").string(), (dir / "rings.csv").string());
  Model model = Model::load(dir / "rings.json");
  model.fit(a.x(), a.y, {.epochs = 2, .scale = "standard"}, {.device = "cpu"});
  const std::vector<float> expected = model.predict(a.x());
  for (const auto& [name, format] : {std::pair{"m.bin", backprop::ModelFormat::binary},
                                     std::pair{"m.json", backprop::ModelFormat::json}}) {
    SCOPED_TRACE(name);
    model.save(dir / name, format);
    const Model loaded = Model::load(dir / name);
    EXPECT_EQ(loaded.predict(a.x()), expected);
    EXPECT_EQ(loaded.classes(), model.classes());
    EXPECT_EQ(loaded.scaling().offset, model.scaling().offset);
    EXPECT_EQ(loaded.scaling().kind, backprop::ScalingKind::standard);
    EXPECT_EQ(loaded.evaluate(a.x(), a.y).loss, model.evaluate(a.x(), a.y).loss);
  }
  EXPECT_EQ(read_text(dir / "m.json").front(), '{');
}

// A model trained further keeps its scaling unless `scale` is given, as `backprop train MODEL` does.
// Issue 33: a trained model's parameters were learnt on inputs scaled its way, so training further keeps that
// scaling; the same kind asked again changes nothing, another kind is refused (it refitted the scaling under
// the trained weights before: RMSE 0.098 became 0.679).
TEST(ModelApi, TrainingFurtherKeepsTheScalingAndRefusesAnotherKind) {
  TempDir dir;
  write_rings(dir);
  const Arrays a = arrays_of((dir / "rings.json").string(), (dir / "rings.csv").string());
  Model model = Model::load(dir / "rings.json");
  model.fit(a.x(), a.y, {.epochs = 1, .scale = "standard"}, {.device = "cpu"});
  const std::vector<double> fitted = model.scaling().offset;
  const std::span<const float> half = a.x().first(a.x().size() / 2);
  const std::span<const float> half_y = std::span<const float>(a.y).first(a.y.size() / 2);
  model.fit(half, half_y, {.epochs = 1}, {.device = "cpu"});
  EXPECT_EQ(model.scaling().offset, fitted);
  model.fit(half, half_y, {.epochs = 1, .scale = "standard"}, {.device = "cpu"});
  EXPECT_EQ(model.scaling().offset, fitted);
  const std::vector<float> before = model.predict(a.x());
  try {
    model.fit(half, half_y, {.epochs = 1, .scale = "minmax"}, {.device = "cpu"});
    ADD_FAILURE() << "a scale of another kind was accepted";
  } catch (const backprop::OptionError& e) {
    EXPECT_EQ(e.key(), "scale");
    EXPECT_THAT(e.what(), HasSubstr("a trained model keeps its own scaling (standard"));
  }
  EXPECT_EQ(model.scaling().kind, backprop::ScalingKind::standard);
  EXPECT_EQ(model.predict(a.x()), before);  // nothing trained
}

// Each option out of range: OptionError naming the key, before anything is trained.
TEST(ModelApi, OptionsOutOfRangeAreRefusedNamingTheKey) {
  struct Case {
    TrainingOptions options;
    std::string key, message;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Case> cases = {
      {{.epochs = 0}, "epochs", "epochs: expected a number of epochs in [1, 1000000], got 0"},
      {{.batch_size = -3}, "batch_size", "batch_size: expected a number of rows in [1, 1048576], got -3"},
      {{.optimizer = "adagrad"}, "optimizer", "optimizer: expected one of sgd, momentum, nesterov, adam, adamw, rmsprop, got 'adagrad'"},
      {{.learning_rate = nan}, "learning_rate", "learning_rate: expected a positive number, got nan"},
      {{.momentum = 1}, "momentum", "momentum: expected a number in [0, 1), got 1"},
      {{.weight_decay = -0.5}, "weight_decay", "weight_decay: expected a number >= 0, got -0.5"},
      {{.schedule = "linear"}, "schedule", "schedule: expected constant, step, cosine, one_cycle, got 'linear'"},
      {{.warmup = -1}, "warmup", "warmup: expected a number of steps in [0, 1000000000], got -1"},
      {{.clip_grad_norm = 0}, "clip_grad_norm", "clip_grad_norm: expected a positive number, got 0"},
      {{.dropout = 1}, "dropout", "dropout: expected a probability in [0, 1), got 1"},
      {{.scale = "bogus"}, "scale", "scale: expected none, standard or minmax, got 'bogus'"},
      {{.early_stopping = -2}, "early_stopping", "early_stopping: expected a patience in [0, 1000000] (0: off), got -2"},
      {{.validation_split = 1}, "validation_split", "validation_split: expected a fraction in [0, 1), got 1"},
      {{.label_smoothing = 1}, "label_smoothing", "label_smoothing: expected a number in [0, 1) (0: off), got 1"},
      {{.label_smoothing = -0.1}, "label_smoothing",
       "label_smoothing: expected a number in [0, 1) (0: off), got -0.1"},
  };
  TempDir dir;
  write_rings(dir);
  const Arrays a = arrays_of((dir / "rings.json").string(), (dir / "rings.csv").string());
  Model model = Model::load(dir / "rings.json");
  const std::vector<float> before = model.predict(a.x());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    try {
      c.options.validate();
      ADD_FAILURE() << "validate() accepted it";
    } catch (const backprop::OptionError& e) {
      EXPECT_EQ(e.key(), c.key);
      EXPECT_EQ(std::string(e.what()), c.message);
      EXPECT_EQ(e.kind(), backprop::ErrorKind::bad_input);
    }
    EXPECT_THROW(model.fit(a.x(), a.y, c.options), backprop::OptionError);
  }
  EXPECT_EQ(model.predict(a.x()), before) << "a refused fit changed the model";
  // In range for the option but not for the network: the network file's key.
  try {
    model.fit(a.x(), a.y, {.optimizer = "nesterov", .momentum = 0});
    ADD_FAILURE() << "nesterov with momentum 0 was accepted";
  } catch (const backprop::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("optimizer.momentum: expected a number in (0, 1) for nesterov"));
  }
  // Label smoothing is softmax_ce's: for another loss, an OptionError of its key (0 is accepted).
  Model regression = Model::load(source_path("examples/noisy-function.json"));
  const Arrays r = arrays_of(source_path("examples/noisy-function.json"),
                             source_path("examples/data/noisy-function.csv"));
  try {
    regression.fit(r.x(), r.y, {.epochs = 1, .label_smoothing = 0.1});
    ADD_FAILURE() << "label smoothing with mse was accepted";
  } catch (const backprop::OptionError& e) {
    EXPECT_EQ(e.key(), "label_smoothing");
    EXPECT_EQ(std::string(e.what()),
              "label_smoothing: expected 0 with the loss mse (label smoothing is for softmax_ce only), got 0.1");
  }
  EXPECT_NO_THROW(regression.fit(r.x(), r.y, {.epochs = 1, .label_smoothing = 0.0}));
}

// The command adds its flag to the library's message (the key too where the two differ), exit code 2.
TEST(ModelApi, TheCommandNamesTheFlagAndTheKey) {
  TempDir dir;
  write_rings(dir);
  const std::string start = "train " + shell_word(dir / "rings.json") + " --data " + shell_word(dir / "rings.csv") +
                            " --out " + shell_word(dir / "m.bin") + " ";
  for (const auto& [flags, message] :
       {std::pair{"--clip-grad-norm 0", "--clip-grad-norm (clip_grad_norm): expected a positive number, got 0"},
        std::pair{"--batch-size 0", "--batch-size (batch_size): expected a number of rows in [1, 1048576], got 0"},
        std::pair{"--scale bogus", "--scale: expected none, standard or minmax, got 'bogus'"},  // flag = key
        std::pair{"--validation-split 1", "--validation-split (validation_split): expected a fraction in [0, 1), got 1"},
        std::pair{"--label-smoothing 1.5",
                  "--label-smoothing (label_smoothing): expected a number in [0, 1) (0: off), got 1.5"}}) {
    const CommandResult r = run_backprop(start + flags);
    EXPECT_EQ(r.exit_code, 2) << flags << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr(message)) << flags;
  }
}

TEST(ModelApi, ArraysOfTheWrongShapeAreRefusedNamingTheArray) {
  TempDir dir;
  write_rings(dir);
  Model classifier = Model::load(dir / "rings.json");
  Model regression = Model::load(source_path("examples/noisy-function.json"));
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};  // 3 rows of 2
  const auto message = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const backprop::Error& e) {
      EXPECT_EQ(e.kind(), backprop::ErrorKind::bad_input);
      return e.what();
    }
    return "no error";
  };
  const std::vector<float> labels = {0, 1, 1};
  EXPECT_THAT(message([&] { classifier.fit(std::span(x).first(5), labels, {.epochs = 1}); }),
              HasSubstr("X: expected rows of 2 features (the network's inputs), got 5 numbers"));
  EXPECT_THAT(message([&] { classifier.fit({}, {}, {.epochs = 1}); }), HasSubstr("X: expected at least one row, got none"));
  EXPECT_THAT(message([&] { classifier.fit(x, std::vector<float>{0, 1}, {.epochs = 1}); }),
              HasSubstr("y: expected 3 labels (one per row of X), got 2"));
  EXPECT_THAT(message([&] { classifier.evaluate(x, std::vector<float>{0, 2, 1}); }),
              HasSubstr("y: row 1: expected a class index in [0, 2), got 2"));
  EXPECT_THAT(message([&] { classifier.evaluate(x, std::vector<float>{0, 0.5f, 1}); }),
              HasSubstr("y: row 1: expected a class index in [0, 2), got 0.5"));
  std::vector<float> bad_x = x;
  bad_x[3] = std::numeric_limits<float>::infinity();
  EXPECT_THAT(message([&] { classifier.evaluate(bad_x, labels); }),
              HasSubstr("X: row 1, column 1: expected a finite number, got inf"));
  EXPECT_THAT(message([&] { regression.fit(x, std::vector<float>{1, 2}, {.epochs = 1}); }),
              HasSubstr("y: expected 3 rows of 1 target(s) (one row per row of X, one number per output), got 2 numbers"));
  EXPECT_THAT(message([&] { regression.predict(std::span(x).first(3)); }),
              HasSubstr("X: expected rows of 2 features"));
  std::vector<float> out(2);
  EXPECT_THAT(message([&] { regression.predict(x, out); }), HasSubstr("predict: expected room for 3 x 1 outputs, got 2"));
  EXPECT_THAT(message([&] { (void)Model::load(dir / "missing.json"); }), HasSubstr("missing.json"));
  write_file(dir / "broken.json", "{\"input\": 2, \"layers\": [");
  EXPECT_THAT(message([&] { (void)Model::load(dir / "broken.json"); }), HasSubstr("broken.json:1:"));
}

}  // namespace

namespace interrupted {

struct Interrupted {};

// Stops a fit after batch `batch` of epoch `epoch`, as a kill would: an exception out of train().
class StopAt : public backprop::TrainingObserver {
 public:
  StopAt(int epoch, std::size_t batch) : epoch_(epoch), batch_(batch) {}
  void on_batch(int epoch, std::size_t batch, std::size_t, double) override {
    if (epoch == epoch_ && batch == batch_) throw Interrupted{};
  }

 private:
  int epoch_;
  std::size_t batch_;
};

}  // namespace interrupted

// Model::fit with checkpoints, interrupted and resumed from its checkpoint, gives the uninterrupted fit's
// model byte for byte (the command's kill test, tests/test_checkpoint.cpp, for the C++ API): dropout, adam,
// a cosine schedule with warm-up, a validation split with early stopping and shuffling all carry state.
TEST(ModelApi, FitInterruptedAndResumedGivesTheUninterruptedModelByteForByte) {
  TempDir dir;
  write_rings(dir);
  const Arrays a = arrays_of((dir / "rings.json").string(), (dir / "rings.csv").string());
  // 180 training rows in batches of 16: 12 steps an epoch, 72 in all.
  const TrainingOptions options{.epochs = 6, .batch_size = 16, .optimizer = "adam", .learning_rate = 0.01,
                                .schedule = "cosine", .warmup = 10, .early_stopping = 3, .validation_split = 0.25};
  Model whole = Model::load(dir / "rings.json");
  const backprop::TrainingResult uninterrupted = whole.fit(a.x(), a.y, options, {.device = "cpu"});
  whole.save(dir / "whole.bin");

  const std::filesystem::path checkpoint = dir / "run.ckpt";
  backprop::RunSettings saving{.device = "cpu"};
  saving.files = {.checkpoint = checkpoint, .checkpoint_every = 5};
  // Stopped at step 42 (epoch 4, batch 6): the last checkpoint is of step 40, mid-epoch.
  ASSERT_EQ(uninterrupted.history.size(), 6u);  // no early stop before the interruption
  Model stopped = Model::load(dir / "rings.json");
  interrupted::StopAt stop(4, 6);
  saving.observer = &stop;
  EXPECT_THROW(stopped.fit(a.x(), a.y, options, saving), interrupted::Interrupted);
  EXPECT_EQ(backprop::load_checkpoint(checkpoint).state.step, 40);
  // A fit that did not end leaves the model as it was.
  EXPECT_EQ(backprop::io::model_bytes(stopped.to_model_file()),
            backprop::io::model_bytes(Model::load(dir / "rings.json").to_model_file()));

  // Another run (another learning rate) is refused naming the checkpoint and what differs.
  backprop::RunSettings resuming{.device = "cpu"};
  resuming.files = {.checkpoint = checkpoint, .checkpoint_every = 5, .resume = checkpoint,
                    .report = dir / "report.html"};
  TrainingOptions other = options;
  other.learning_rate = 0.02;
  Model refused = Model::load(dir / "rings.json");
  try {
    refused.fit(a.x(), a.y, other, resuming);
    ADD_FAILURE() << "another run resumed";
  } catch (const backprop::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(checkpoint.string() + ": this checkpoint was written by a different run"));
    EXPECT_THAT(e.what(), HasSubstr("optimizer.learning_rate"));
  }

  std::vector<std::string> notices;
  resuming.notice = [&](const std::string& line) { notices.push_back(line); };
  Model resumed = Model::load(dir / "rings.json");
  const backprop::TrainingResult result = resumed.fit(a.x(), a.y, options, resuming);
  EXPECT_EQ(notices, std::vector<std::string>{"resuming from " + checkpoint.string() + ": epoch 4, batch 4, step 40"});
  resumed.save(dir / "resumed.bin");
  const std::string expected = read_text(dir / "whole.bin"), actual = read_text(dir / "resumed.bin");
  EXPECT_FALSE(expected.empty());
  EXPECT_TRUE(expected == actual) << "the resumed fit's model differs from the uninterrupted fit's";
  ASSERT_EQ(result.history.size(), uninterrupted.history.size());
  for (std::size_t e = 0; e < result.history.size(); ++e)
    EXPECT_EQ(result.history[e].validation.loss, uninterrupted.history[e].validation.loss) << "epoch " << e + 1;

  // The report: the page, with the run's sources and settings.
  const std::string report = read_text(dir / "report.html");
  EXPECT_THAT(report, HasSubstr("<html"));
  EXPECT_THAT(report, HasSubstr("Model::fit"));
  EXPECT_THAT(report, HasSubstr("arrays x and y"));
  EXPECT_THAT(report, HasSubstr("training wall time"));
  EXPECT_THAT(report, HasSubstr("validation rows"));
}

// The same with batch_norm, whose best epoch under early stopping is its parameters and its running statistics:
// the checkpoint's best state is longer than the parameters' arena, and it must resume (it was refused as "not
// the sizes of a training state") to the uninterrupted fit's model.
TEST(ModelApi, AFitWithBatchNormAndEarlyStoppingResumesToTheUninterruptedModel) {
  TempDir dir;
  write_rings(dir);
  write_file(dir / "bn.json", R"({"input": 2, "layers": [{"units": 8, "activation": "relu"}, {"type": "batch_norm"},
    {"units": 2, "activation": "softmax"}], "loss": "softmax_ce", "seed": 4})");
  const Arrays a = arrays_of((dir / "bn.json").string(), (dir / "rings.csv").string());
  const TrainingOptions options{.epochs = 6, .batch_size = 16, .optimizer = "adam", .learning_rate = 0.01,
                                .early_stopping = 3, .validation_split = 0.25};
  Model whole = Model::load(dir / "bn.json");
  whole.fit(a.x(), a.y, options, {.device = "cpu"});

  const std::filesystem::path checkpoint = dir / "run.ckpt";
  backprop::RunSettings saving{.device = "cpu"};
  saving.files = {.checkpoint = checkpoint, .checkpoint_every = 5};
  Model stopped = Model::load(dir / "bn.json");
  interrupted::StopAt stop(4, 6);
  saving.observer = &stop;
  EXPECT_THROW(stopped.fit(a.x(), a.y, options, saving), interrupted::Interrupted);
  const backprop::Checkpoint saved = backprop::load_checkpoint(checkpoint);
  EXPECT_GT(saved.state.best_parameters.size(), saved.state.optimizer_state.front().size());

  backprop::RunSettings resuming{.device = "cpu"};
  resuming.files = {.checkpoint = checkpoint, .checkpoint_every = 5, .resume = checkpoint};
  Model resumed = Model::load(dir / "bn.json");
  resumed.fit(a.x(), a.y, options, resuming);
  EXPECT_TRUE(backprop::io::model_bytes(resumed.to_model_file()) == backprop::io::model_bytes(whole.to_model_file()))
      << "the resumed fit's model differs from the uninterrupted fit's";
}

// checkpoint_every is checked by the library (the command checks its flags before): out of range, or without
// a checkpoint to write.
TEST(ModelApi, CheckpointEveryIsRefusedOutOfRangeOrWithoutACheckpoint) {
  TempDir dir;
  write_rings(dir);
  const Arrays a = arrays_of((dir / "rings.json").string(), (dir / "rings.csv").string());
  Model model = Model::load(dir / "rings.json");
  backprop::RunSettings settings{.device = "cpu"};
  settings.files.checkpoint_every = 5;
  try {
    model.fit(a.x(), a.y, {}, settings);
    ADD_FAILURE() << "checkpoint_every without a checkpoint";
  } catch (const backprop::OptionError& e) {
    EXPECT_EQ(e.key(), "checkpoint_every");
    EXPECT_THAT(e.what(), HasSubstr("expected a checkpoint file to write"));
  }
  settings.files.checkpoint = dir / "run.ckpt";
  settings.files.checkpoint_every = 0;
  try {
    model.fit(a.x(), a.y, {}, settings);
    ADD_FAILURE() << "checkpoint_every 0";
  } catch (const backprop::OptionError& e) {
    EXPECT_EQ(std::string(e.what()), "checkpoint_every: expected a number of steps in [1, 1000000000], got 0");
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "run.ckpt"));
}
