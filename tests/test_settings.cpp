// The table of training settings (train/settings.hpp) against what is built from it or must agree with it:
// the network file's key of each setting reads as its option does, the file's defaults are the spec's,
// every setting marked so changes a run's fingerprint, the options' checks are the table's ranges and
// choices, an optimizer's coefficient is refused with a rule that does not read it (the option as the file),
// and the command has each setting's flag with its help, the optimizer's flags training as the file's keys do.
// (Python's keywords, the stub, the estimators and the docs' lists: tests/python/test_settings.py.)
#include <filesystem>
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
using ::testing::StartsWith;

// A classifier whose loss takes label smoothing and class weights, with an optimizer that uses momentum.
const Json kBase = Json::parse(R"({"input": 2, "layers": [{"units": 4, "activation": "tanh"},
  {"units": 3, "activation": "tanh"}, {"units": 2, "activation": "softmax"}], "loss": "softmax_ce",
  "optimizer": {"type": "momentum"}})");

backprop::NetworkSpec parse(const Json& file) { return backprop::io::parse_network(file.dump(), "<test>"); }

// The setting's value `text` as its type: an int, a float, a switch or a text (for a file and for
// TrainingOptions).
Json typed(const TrainingSetting& setting, std::string_view text) {
  const std::string value(text);
  if (setting.type() == "int") return std::stoll(value);
  if (setting.type() == "float") return std::stod(value);
  if (setting.type() == "bool") {
    EXPECT_TRUE(value == "true" || value == "false") << setting.key << ": " << value;
    return value == "true";
  }
  return value;
}

// The first optimizer of the kinds' list that reads an optimizer's coefficient.
std::string first_rule_reading(std::string_view key) {
  for (const auto& [kind, name] : backprop::kOptimizerNames)
    if (backprop::optimizer_uses(kind, key)) return std::string(name);
  ADD_FAILURE() << "no optimizer reads " << key;
  return "";
}

// `base` where the setting applies: an optimizer's coefficient that base's rule (kBase's momentum; sgd, the
// default, without "optimizer") does not read gets the first rule that does.
Json base_for(const TrainingSetting& setting, Json base = kBase) {
  const std::string_view key = setting.optimizer_key();
  const std::string type = base.contains("optimizer") ? base["optimizer"]["type"].get<std::string>() : "sgd";
  if (!key.empty() && !backprop::optimizer_uses(*backprop::parse_optimizer(type), key))
    base["optimizer"]["type"] = first_rule_reading(key);
  return base;
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
    const Json base = base_for(setting);
    backprop::NetworkSpec by_option = parse(base);
    options_with(setting, setting.example).apply(by_option);
    const backprop::NetworkSpec by_file = parse(file_with(setting, typed(setting, setting.example), base));
    EXPECT_EQ(backprop::io::network_to_json(by_file), backprop::io::network_to_json(by_option));
    // And the example is not the default: it changes what the file says.
    EXPECT_NE(backprop::io::network_to_json(by_file), backprop::io::network_to_json(parse(base)));
  }
}

TEST(Settings, TheFileDefaultsAreTheSpecsDefaults) {
  Json without_optimizer = kBase;
  without_optimizer.erase("optimizer");
  int checked = 0;
  for (const TrainingSetting& setting : backprop::training_settings()) {
    if (setting.file_default.empty()) continue;  // momentum, weight decay: the optimizer's; class_weight: absent
    SCOPED_TRACE(std::string(setting.key) + " = " + std::string(setting.file_default));
    const Json plain = base_for(setting, without_optimizer);  // an optimizer's coefficient: only its type
    const std::string as_read = backprop::io::network_to_json(parse(plain));
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
  for (const TrainingSetting& setting : backprop::training_settings()) {
    SCOPED_TRACE(setting.key);
    const backprop::NetworkSpec base = parse(base_for(setting));
    backprop::NetworkSpec spec = base;
    options_with(setting, setting.example).apply(spec);
    EXPECT_EQ(backprop::run_difference(fingerprint(base), fingerprint(spec)).empty(), !setting.fingerprint);
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
      continue;  // the seed: every 64-bit number; a switch (centered): true or false, Python's and CLI11's types
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

// optimizer_uses, the one list: the option of a coefficient the rule does not read is refused as the file's key
// is, in the same words.
TEST(Settings, AnOptimizersCoefficientIsRefusedWithARuleThatDoesNotReadIt) {
  int refused = 0;
  for (const TrainingSetting& setting : backprop::training_settings()) {
    const std::string key(setting.optimizer_key());
    if (key.empty()) continue;
    for (const auto& [kind, name] : backprop::kOptimizerNames) {
      SCOPED_TRACE(key + " with " + std::string(name));
      Json file = kBase;
      file["optimizer"]["type"] = name;
      backprop::NetworkSpec spec = parse(file);
      const TrainingOptions options = options_with(setting, setting.example);
      if (backprop::optimizer_uses(kind, key)) {
        EXPECT_NO_THROW(options.apply(spec));
        continue;
      }
      const std::string words = "expected no " + key + " with the optimizer " + std::string(name) +
                                ", which does not use it (" + backprop::optimizers_using(key) + " do)";
      try {
        options.apply(spec);
        ADD_FAILURE() << "the option was accepted";
      } catch (const backprop::OptionError& e) {
        EXPECT_EQ(e.key(), setting.key);
        EXPECT_THAT(e.expectation(), StartsWith(words + ", got "));
      }
      try {
        parse(file_with(setting, typed(setting, setting.example), file));
        ADD_FAILURE() << "the file was accepted";
      } catch (const backprop::Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("optimizer." + key + ": " + words));
      }
      ++refused;
    }
  }
  // momentum by 3 rules, beta1 and beta2 by 4 each, epsilon by 3, alpha and centered by 5 each.
  EXPECT_EQ(refused, 24);
}

// Each optimizer's flag trains the model its file key does, byte for byte, and changes it; a refused value
// (out of range, or for a rule that does not read it) is exit code 2 naming the flag.
TEST(Settings, TheOptimizersFlagsTrainAsTheirFileKeys) {
  backprop::testing::TempDir dir;
  const std::string data = backprop::testing::shell_word(backprop::testing::source_path("examples/data/xor.csv"));
  int checked = 0;
  for (const TrainingSetting& setting : backprop::training_settings()) {
    const std::string key(setting.optimizer_key());
    if (key.empty()) continue;
    SCOPED_TRACE(key);
    Json file = Json::parse(R"({"input": 2, "layers": [{"units": 4, "activation": "tanh"},
      {"units": 1, "activation": "sigmoid"}], "loss": "bce", "seed": 5, "training": {"epochs": 3, "batch_size": 2}})");
    file["optimizer"]["type"] = first_rule_reading(key);
    const auto train = [&](const Json& network, const std::string& flags, const std::string& name) {
      backprop::testing::write_file(dir / (name + ".json"), network.dump());
      const backprop::testing::CommandResult r =
          backprop::testing::run_backprop("train " + backprop::testing::shell_word(dir / (name + ".json")) +
                                          " --data " + data + " --quiet --out " +
                                          backprop::testing::shell_word(dir / (name + ".model")) + flags);
      EXPECT_EQ(r.exit_code, 0) << r.out;
      return backprop::testing::read_text(dir / (name + ".model"));
    };
    const std::string by_flag = train(file, " " + setting.flag() + "=" + std::string(setting.example), "flag");
    const std::string by_file = train(file_with(setting, typed(setting, setting.example), file), "", "file");
    EXPECT_EQ(by_flag, by_file);
    EXPECT_NE(by_flag, train(file, "", "default"));
    // The command's words: the flag, and the key where it is not the flag's name ("--weight-decay (weight_decay)").
    const std::string named = setting.flag() + (key.find('_') == std::string::npos ? "" : " (" + key + ")");
    const std::string refused_run = "train " + backprop::testing::shell_word(dir / "file.json") + " --data " + data +
                                    " --out " + backprop::testing::shell_word(dir / "refused.model");
    if (setting.type() == "float") {
      const backprop::SettingRange& range = setting.range;
      const std::string outside = range.minimum_open ? "0" : "-1";
      const backprop::testing::CommandResult r =
          backprop::testing::run_backprop(refused_run + " " + setting.flag() + "=" + outside);
      EXPECT_EQ(r.exit_code, 2) << r.out;
      EXPECT_THAT(r.out, HasSubstr(named + ": expected " + std::string(setting.expected) + ", got " + outside));
    }
    for (const auto& [kind, name] : backprop::kOptimizerNames) {
      if (backprop::optimizer_uses(kind, key)) continue;
      const backprop::testing::CommandResult r = backprop::testing::run_backprop(
          refused_run + " --optimizer " + std::string(name) + " " + setting.flag() + "=" + std::string(setting.example));
      EXPECT_EQ(r.exit_code, 2) << r.out;
      EXPECT_THAT(r.out, HasSubstr(named + ": expected no " + key + " with the optimizer " + std::string(name)));
      break;  // one rule each: every rule's refusal is the test above's
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "refused.model"));
    ++checked;
  }
  EXPECT_EQ(checked, 8);  // learning_rate, momentum, beta1, beta2, epsilon, weight_decay, alpha, centered
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
