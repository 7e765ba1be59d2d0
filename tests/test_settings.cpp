// The table of training settings (train/settings.hpp) against what is built from it or must agree with it:
// the network file's key of each setting reads as its option does, the file's defaults are the spec's,
// every setting marked so changes a run's fingerprint, the options' checks are the table's ranges and
// choices, and the command has each setting's flag with its help. (Python's keywords, the stub, the
// estimators and the docs' lists: tests/python/test_settings.py.)
#include <string>
#include <variant>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backprop/backprop.hpp"
#include "helpers.hpp"
#include "synthetic_data.hpp"

namespace {

using backprop::TrainingOptions;
using backprop::TrainingSetting;
using Json = nlohmann::json;
using ::testing::HasSubstr;

// A classifier whose loss takes label smoothing and class weights, with an optimizer that uses momentum.
const Json kBase = Json::parse(R"({"input": 2, "layers": [{"units": 4, "activation": "tanh"},
  {"units": 3, "activation": "tanh"}, {"units": 2, "activation": "softmax"}], "loss": "softmax_ce",
  "optimizer": {"type": "momentum"}})");

backprop::NetworkSpec parse(const Json& file) { return backprop::io::parse_network(file.dump(), "<test>"); }

// The setting's value `text` as its type: an int, a float or a text (for a file and for TrainingOptions).
Json typed(const TrainingSetting& setting, std::string_view text) {
  const std::string value(text);
  if (setting.type() == "int") return std::stoll(value);
  if (setting.type() == "float") return std::stod(value);
  return value;
}

TrainingOptions options_with(const TrainingSetting& setting, std::string_view text) {
  TrainingOptions options;
  const Json value = typed(setting, text);
  std::visit(
      [&](auto field) {
        using Value = typename std::remove_reference_t<decltype(options.*field)>::value_type;
        options.*field = value.get<Value>();
      },
      setting.field);
  return options;
}

// The network file `base` with the setting's key set to value.
Json file_with(const TrainingSetting& setting, const Json& value, const Json& base = kBase) {
  Json file = base;
  const std::string key(setting.file_key);
  if (key == "layers[].dropout") {
    for (std::size_t l = 0; l + 1 < file["layers"].size(); ++l) file["layers"][l]["dropout"] = value;
    return file;
  }
  Json* at = &file;
  std::size_t start = 0;
  for (std::size_t dot = key.find('.'); dot != std::string::npos; start = dot + 1, dot = key.find('.', start))
    at = &(*at)[key.substr(start, dot - start)];
  (*at)[key.substr(start)] = value;
  // A schedule written as an object names its type (the default's, when the setting is not the type).
  if (key.starts_with("training.schedule.") && !file["training"]["schedule"].contains("type"))
    file["training"]["schedule"]["type"] = "constant";
  return file;
}

TEST(Settings, EachSettingsFileKeyReadsAsItsOption) {
  for (const TrainingSetting& setting : backprop::training_settings()) {
    SCOPED_TRACE(std::string(setting.key) + " = " + std::string(setting.example));
    ASSERT_FALSE(setting.file_key.empty());
    backprop::NetworkSpec by_option = parse(kBase);
    options_with(setting, setting.example).apply(by_option);
    const backprop::NetworkSpec by_file = parse(file_with(setting, typed(setting, setting.example)));
    EXPECT_EQ(backprop::io::network_to_json(by_file), backprop::io::network_to_json(by_option));
    // And the example is not the default: it changes what the file says.
    EXPECT_NE(backprop::io::network_to_json(by_file), backprop::io::network_to_json(parse(kBase)));
  }
}

TEST(Settings, TheFileDefaultsAreTheSpecsDefaults) {
  Json plain = kBase;
  plain.erase("optimizer");
  const std::string as_read = backprop::io::network_to_json(parse(plain));
  int checked = 0;
  for (const TrainingSetting& setting : backprop::training_settings()) {
    if (setting.file_default.empty()) continue;  // momentum, weight decay: the optimizer's; class_weight: absent
    SCOPED_TRACE(std::string(setting.key) + " = " + std::string(setting.file_default));
    const Json value = typed(setting, setting.file_default);
    EXPECT_EQ(backprop::io::network_to_json(parse(file_with(setting, value, plain))), as_read);
    // The option of the default value changes nothing either, where the option takes it (clip_grad_norm's
    // file default 0 means off, which the option does not take: it is left out to mean the file's).
    if (setting.type() == "text" || setting.expected.empty() || setting.range.contains(value.get<double>())) {
      backprop::NetworkSpec spec = parse(plain);
      options_with(setting, setting.file_default).apply(spec);
      EXPECT_EQ(backprop::io::network_to_json(spec), as_read);
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(backprop::training_settings().size()) - 3);
}

TEST(Settings, EachFingerprintedSettingChangesTheRunsFingerprint) {
  const backprop::Dataset data = backprop::testing::rings(40, 3);
  const auto fingerprint = [&](const backprop::NetworkSpec& spec) {
    return backprop::fingerprint_run(backprop::Network<float>(spec), backprop::Scaling{}, data, nullptr, false);
  };
  const backprop::RunFingerprint base = fingerprint(parse(kBase));
  for (const TrainingSetting& setting : backprop::training_settings()) {
    SCOPED_TRACE(setting.key);
    backprop::NetworkSpec spec = parse(kBase);
    options_with(setting, setting.example).apply(spec);
    EXPECT_EQ(backprop::run_difference(base, fingerprint(spec)).empty(), !setting.fingerprint);
  }
}

TEST(Settings, TheOptionsChecksAreTheTablesRangesAndChoices) {
  for (const TrainingSetting& setting : backprop::training_settings()) {
    SCOPED_TRACE(setting.key);
    std::string refused;
    if (setting.type() == "text") {
      refused = "no such name";
    } else if (!setting.expected.empty()) {
      const backprop::SettingRange& range = setting.range;
      refused = std::to_string(range.minimum_open ? range.minimum : range.minimum - 1);
      if (setting.type() == "int") refused = std::to_string(static_cast<long long>(range.minimum) - 1);
    } else {
      continue;  // the seed: every 64-bit number
    }
    try {
      options_with(setting, refused).validate();
      ADD_FAILURE() << refused << " was accepted";
    } catch (const backprop::OptionError& e) {
      EXPECT_EQ(e.key(), setting.key);
      const std::string expected = setting.expected_names != nullptr ? setting.expected_names()
                                   : setting.expected.empty()       ? "balanced, none or LABEL=WEIGHT"
                                                                    : std::string(setting.expected);
      EXPECT_THAT(e.expectation(), HasSubstr("expected " + expected));
    }
    EXPECT_NO_THROW(options_with(setting, setting.example).validate());
  }
}

TEST(Settings, TheCommandHasEachSettingsFlagWithItsHelp) {
  const backprop::testing::CommandResult help = backprop::testing::run_backprop("train --help");
  ASSERT_EQ(help.exit_code, 0) << help.out;
  for (const TrainingSetting& setting : backprop::training_settings()) {
    EXPECT_THAT(help.out, HasSubstr(setting.flag() + " ")) << setting.key;
    EXPECT_THAT(help.out, HasSubstr(setting.help_text().substr(0, 40))) << setting.key;
  }
  // The choices come from the kinds' name tables.
  EXPECT_THAT(help.out, HasSubstr(backprop::optimizer_names()));
  EXPECT_THAT(help.out, HasSubstr(backprop::schedule_names()));
}

}  // namespace

namespace {

// The command's lists of choices are the kinds' name tables: --loss of trace and gradcheck.
TEST(Settings, TheLossChoicesComeFromTheLossesTable) {
  EXPECT_EQ(backprop::loss_names(), "mse, bce, softmax_ce");
  const std::string seed = backprop::testing::shell_word(backprop::testing::source_path("examples/seed.json"));
  for (const std::string command : {"trace " + seed + " --input 1,2,3,4 --target 1", "gradcheck " + seed}) {
    SCOPED_TRACE(command);
    const backprop::testing::CommandResult refused = backprop::testing::run_backprop(command + " --loss hinge");
    EXPECT_EQ(refused.exit_code, 2) << refused.out;
    EXPECT_THAT(refused.out, HasSubstr("expected one of " + backprop::loss_names() + ", got 'hinge'"));
    const backprop::testing::CommandResult help =
        backprop::testing::run_backprop(command.substr(0, command.find(' ')) + " --help");
    EXPECT_THAT(help.out, HasSubstr("Loss, overriding the network file's: " + backprop::loss_names()));
    EXPECT_EQ(backprop::testing::run_backprop(command + " --loss bce").exit_code, 0);
  }
}

}  // namespace
