// Optimizers, gradient clipping and learning-rate schedules.
//
// The optimizers are held against torch.optim in float64: tests/data/optimizer_reference.json, written by
// tests/reference/optimizer_reference.py, holds a 3-4-2 network, a batch, and for each optimizer case the
// parameters after each of 5 steps. Tolerance 1e-12, relative to max(1, |value|): the update rules are
// the same expressions in the same order, so double differs from torch by rounding only (a few ulps,
// grown over 5 steps), and 1e-12 is far below any change of rule (a wrong default or a missed bias
// correction moves parameters by 1e-4 or more). Clipping and schedules are held against figures
// computed by hand here.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <fstream>
#include <limits>
#include <numbers>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/optimizer.hpp"
#include "backprop/nn/schedule.hpp"
#include "backprop/train/settings.hpp"

namespace backprop {
namespace {

using Json = nlohmann::json;

constexpr double kTorchTolerance = 1e-12;  // double vs torch float64, relative to max(1, |value|)
constexpr double kFloatTolerance = 1e-5;   // float vs double after 5 steps, relative to max(1, |value|)

const Json& reference() {
  static const Json document = [] {
    std::ifstream file(std::string(BACKPROP_SOURCE_DIR) + "/tests/data/optimizer_reference.json");
    EXPECT_TRUE(file) << "cannot open tests/data/optimizer_reference.json";
    return file ? Json::parse(file) : Json::object();
  }();
  return document;
}

const Json& reference_case(const std::string& name) {
  for (const Json& c : reference()["cases"])
    if (c["name"] == name) return c;
  throw std::runtime_error("no case " + name + " in optimizer_reference.json");
}

// The reference network with the case's optimizer object, read as a network file: this also checks that
// the network file takes every optimizer key and supplies the same defaults as torch.
NetworkSpec case_spec(const Json& reference_case) {
  Json network = reference()["network"];
  network["optimizer"] = reference_case["optimizer"];
  return io::parse_network(network.dump(), "optimizer_reference.json (" + reference_case["name"].get<std::string>() + ")");
}

// The parameters in the arena's layout without its padding: per layer W (IN x OUT row-major), then b.
template <typename T>
std::vector<double> unpadded_parameters(const Network<T>& network) {
  std::vector<double> out;
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    for (T w : network.weights(l)) out.push_back(static_cast<double>(w));
    for (T b : network.bias(l)) out.push_back(static_cast<double>(b));
  }
  return out;
}

struct StepRecord {
  double loss = 0;
  double gradient_norm = 0;  // before clipping; 0 when the case does not clip
  std::vector<double> parameters;
};

// Trains the reference network for the case's steps as the trainer will: forward, backward, clip, step.
template <typename T>
std::vector<StepRecord> train(const Json& reference_case, const NetworkSpec& spec) {
  Network<T> network(spec);
  Optimizer<T> optimizer(spec.optimizer, network.parameters().size());
  std::vector<T> x, y;
  for (const Json& row : reference()["x"])
    for (double v : row) x.push_back(static_cast<T>(v));
  for (const Json& row : reference()["y"])
    for (double v : row) y.push_back(static_cast<T>(v));
  const int batch = static_cast<int>(reference()["x"].size());
  Workspace<T> workspace(network, batch);
  std::vector<StepRecord> records;
  for (const Json& learning_rate : reference_case["learning_rates"]) {
    StepRecord record;
    network.forward(workspace, x.data(), batch);
    record.loss = static_cast<double>(network.loss_value(workspace, y.data(), batch));
    network.backward(workspace, x.data(), y.data(), batch);
    if (reference_case.contains("clip_grad_norm"))
      record.gradient_norm = clip_gradient_norm(network.gradients(), reference_case["clip_grad_norm"].get<double>());
    optimizer.step(network.parameters(), network.gradients(), learning_rate.get<double>());
    record.parameters = unpadded_parameters(network);
    records.push_back(std::move(record));
  }
  EXPECT_EQ(optimizer.step_count(), static_cast<long>(records.size()));
  return records;
}

template <typename T>
std::vector<StepRecord> train(const Json& reference_case) {
  return train<T>(reference_case, case_spec(reference_case));
}

void expect_near(double actual, double expected, double tolerance, const std::string& what) {
  EXPECT_LE(std::abs(actual - expected), tolerance * std::max(1.0, std::abs(expected)))
      << what << ": got " << actual << ", expected " << expected;
}

TEST(OptimizerReference, FileHoldsEveryCase) {
  ASSERT_EQ(reference().value("format", ""), "backprop optimizer reference");
  EXPECT_EQ(reference()["cases"].size(), 16u);
}

// Each step's loss, gradient norm and parameters against torch's, in double.
void expect_torch_steps(const Json& c, const std::vector<StepRecord>& ours) {
  const std::string name = c["name"];
  const Json& steps = c["steps"];
  ASSERT_EQ(ours.size(), steps.size());
  for (std::size_t s = 0; s < ours.size(); ++s) {
    const std::string where = name + " step " + std::to_string(s + 1);
    expect_near(ours[s].loss, steps[s]["loss"].get<double>(), kTorchTolerance, where + " loss");
    if (c.contains("clip_grad_norm"))
      expect_near(ours[s].gradient_norm, steps[s]["gradient_norm"].get<double>(), kTorchTolerance,
                  where + " gradient norm");
    const std::vector<double> expected = steps[s]["parameters"].get<std::vector<double>>();
    ASSERT_EQ(ours[s].parameters.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
      expect_near(ours[s].parameters[i], expected[i], kTorchTolerance, where + " parameter " + std::to_string(i));
  }
}

TEST(OptimizerReference, EveryParameterAfterEveryStepMatchesTorchInDouble) {
  for (const Json& c : reference()["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    expect_torch_steps(c, train<double>(c));
  }
}

// The case's coefficients given as training options (train --beta1 ..., fit(beta1=...): the table of
// train/settings.hpp, each key of the file's "optimizer" a setting) over a network that names only the type:
// torch's steps too, so each option reaches the optimizer.
TEST(OptimizerReference, EachCasesCoefficientsAsOptionsMatchTorch) {
  for (const Json& c : reference()["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    Json network = reference()["network"];
    network["optimizer"] = {{"type", c["optimizer"]["type"]}};
    NetworkSpec spec = io::parse_network(network.dump(), "<type only>");
    TrainingOptions options;
    for (const auto& item : c["optimizer"].items()) {
      // Not a structured binding: clang 14 refuses a lambda that captures one.
      const std::string& key = item.key();
      const Json& value = item.value();
      if (key == "type") continue;
      std::visit(
          [&](auto field) {
            options.*field = value.get<typename std::remove_reference_t<decltype(options.*field)>::value_type>();
          },
          training_setting(key).field);
    }
    options.apply(spec);
    expect_torch_steps(c, train<double>(c, spec));
  }
}

TEST(OptimizerReference, FloatAgreesWithDouble) {
  for (const Json& c : reference()["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const std::vector<StepRecord> single = train<float>(c);
    const std::vector<StepRecord> twice = train<double>(c);
    const std::vector<double>& last_single = single.back().parameters;
    const std::vector<double>& last_double = twice.back().parameters;
    for (std::size_t i = 0; i < last_double.size(); ++i)
      expect_near(last_single[i], last_double[i], kFloatTolerance, name + " parameter " + std::to_string(i));
  }
}

// A checkpoint holds state() and step_count(); an optimizer restored from them continues exactly.
TEST(OptimizerState, RestoredStateContinuesExactly) {
  for (const std::string name : {"nesterov", "adamw", "rmsprop_centered"}) {
    SCOPED_TRACE(name);
    const NetworkSpec spec = case_spec(reference_case(name));
    const std::size_t n = 40;
    std::vector<double> start(n), gradients(n);
    for (std::size_t i = 0; i < n; ++i) {
      start[i] = std::sin(0.3 * static_cast<double>(i));
      gradients[i] = std::cos(0.7 * static_cast<double>(i));
    }
    std::vector<double> straight = start, resumed = start;
    Optimizer<double> first(spec.optimizer, n);
    for (int s = 0; s < 5; ++s) first.step(straight, gradients, 0.01 * (s + 1));

    Optimizer<double> before(spec.optimizer, n);
    for (int s = 0; s < 2; ++s) before.step(resumed, gradients, 0.01 * (s + 1));
    Optimizer<double> after(spec.optimizer, n);
    ASSERT_EQ(after.state().size(), before.state().size());
    for (std::size_t k = 0; k < after.state().size(); ++k)
      std::ranges::copy(before.state()[k], after.state()[k].begin());
    after.set_step_count(before.step_count());
    for (int s = 2; s < 5; ++s) after.step(resumed, gradients, 0.01 * (s + 1));
    EXPECT_EQ(resumed, straight);
    EXPECT_EQ(after.step_count(), 5);
  }
}

TEST(OptimizerState, ArenasPerType) {
  auto names = [](const std::string& type, std::optional<double> momentum, bool centered) {
    OptimizerSpec spec;
    spec.type = *parse_optimizer(type);
    spec.momentum = momentum;
    spec.centered = centered;
    Optimizer<float> optimizer(spec, 7);
    for (auto arena : optimizer.state()) EXPECT_EQ(arena.size(), 7u);
    auto list = optimizer.state_names();
    return std::vector<std::string>(list.begin(), list.end());
  };
  using Names = std::vector<std::string>;
  EXPECT_EQ(names("sgd", {}, false), Names{});
  EXPECT_EQ(names("momentum", {}, false), Names{"momentum_buffer"});
  EXPECT_EQ(names("nesterov", {}, false), Names{"momentum_buffer"});
  EXPECT_EQ(names("adam", {}, false), (Names{"exp_avg", "exp_avg_sq"}));
  EXPECT_EQ(names("adamw", {}, false), (Names{"exp_avg", "exp_avg_sq"}));
  EXPECT_EQ(names("rmsprop", {}, false), Names{"square_avg"});
  EXPECT_EQ(names("rmsprop", 0.5, true), (Names{"square_avg", "grad_avg", "momentum_buffer"}));
}

TEST(OptimizerState, ResetAndWrongSizes) {
  OptimizerSpec spec;
  spec.type = OptimizerKind::adam;
  Optimizer<double> optimizer(spec, 3);
  std::vector<double> parameters{1, 2, 3}, gradients{0.1, -0.2, 0.3};
  optimizer.step(parameters, gradients, 0.1);
  EXPECT_EQ(optimizer.step_count(), 1);
  EXPECT_NE(optimizer.state()[0][0], 0.0);
  optimizer.reset();
  EXPECT_EQ(optimizer.step_count(), 0);
  for (auto arena : optimizer.state())
    for (double v : arena) EXPECT_EQ(v, 0.0);
  std::vector<double> too_few{0.1, 0.2};
  EXPECT_THROW(optimizer.step(parameters, too_few, 0.1), Error);
}

// One adam step by hand: m = 0.1 g, v = 0.001 g^2, and the bias corrections make the update
// lr * g / (|g| + eps) = lr * sign(g) up to eps.
TEST(OptimizerRules, FirstAdamStepIsLearningRateTimesSign) {
  OptimizerSpec spec;
  spec.type = OptimizerKind::adam;
  Optimizer<double> optimizer(spec, 2);
  std::vector<double> parameters{1.0, -1.0}, gradients{0.5, -2.0};
  optimizer.step(parameters, gradients, 0.1);
  EXPECT_NEAR(parameters[0], 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
  EXPECT_NEAR(parameters[1], -1.0 + 0.1 * 2.0 / (2.0 + 1e-8), 1e-15);
}

// Zero gradients and zero parameters (the arena's padding) stay zero under every rule: no 0/0.
TEST(OptimizerRules, PaddingStaysZero) {
  for (const std::string type : {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}) {
    OptimizerSpec spec;
    spec.type = *parse_optimizer(type);
    spec.weight_decay = 0.1;
    Optimizer<float> optimizer(spec, 4);
    std::vector<float> parameters(4, 0.0f), gradients(4, 0.0f);
    for (int s = 0; s < 3; ++s) optimizer.step(parameters, gradients, 0.1);
    for (float p : parameters) EXPECT_EQ(p, 0.0f) << type;
  }
}

TEST(OptimizerSpecDefaults, FollowTorch) {
  OptimizerSpec spec;
  EXPECT_EQ(spec.beta1, 0.9);
  EXPECT_EQ(spec.beta2, 0.999);
  EXPECT_EQ(spec.epsilon, 1e-8);
  EXPECT_EQ(spec.alpha, 0.99);
  EXPECT_FALSE(spec.centered);
  auto defaults = [](const std::string& type) {
    OptimizerSpec s;
    s.type = *parse_optimizer(type);
    return std::pair{s.momentum_or_default(), s.weight_decay_or_default()};
  };
  EXPECT_EQ(defaults("sgd"), (std::pair{0.0, 0.0}));
  EXPECT_EQ(defaults("momentum"), (std::pair{0.9, 0.0}));
  EXPECT_EQ(defaults("nesterov"), (std::pair{0.9, 0.0}));
  EXPECT_EQ(defaults("adam"), (std::pair{0.0, 0.0}));
  EXPECT_EQ(defaults("adamw"), (std::pair{0.0, 0.01}));
  EXPECT_EQ(defaults("rmsprop"), (std::pair{0.0, 0.0}));
  spec.type = OptimizerKind::adamw;
  spec.weight_decay = 0.0;  // given, so not replaced by adamw's default
  EXPECT_EQ(spec.weight_decay_or_default(), 0.0);
}

std::string validation_message(const OptimizerSpec& spec) {
  try {
    validate(spec);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::bad_input);
    return e.what();
  }
  return "";
}

TEST(OptimizerSpecValidation, NamesTheSettingAndTheRange) {
  auto with = [](auto change) {
    OptimizerSpec spec;
    spec.type = OptimizerKind::adam;
    change(spec);
    return validation_message(spec);
  };
  EXPECT_EQ(with([](OptimizerSpec&) {}), "");
  EXPECT_EQ(with([](OptimizerSpec& s) { s.learning_rate = 0; }), "optimizer.learning_rate: expected a positive number");
  EXPECT_EQ(with([](OptimizerSpec& s) { s.momentum = 1.0; }), "optimizer.momentum: expected a number in [0, 1)");
  EXPECT_EQ(with([](OptimizerSpec& s) { s.momentum = NAN; }), "optimizer.momentum: expected a number in [0, 1)");
  EXPECT_EQ(with([](OptimizerSpec& s) { s.type = OptimizerKind::nesterov;
    s.momentum = 0.0; }),
            "optimizer.momentum: expected a number in (0, 1) for nesterov");
  EXPECT_EQ(with([](OptimizerSpec& s) { s.beta1 = -0.1; }), "optimizer.beta1: expected a number in [0, 1)");
  EXPECT_EQ(with([](OptimizerSpec& s) { s.beta2 = 1.0; }), "optimizer.beta2: expected a number in [0, 1)");
  EXPECT_EQ(with([](OptimizerSpec& s) { s.epsilon = 0.0; }), "optimizer.epsilon: expected a positive number");
  EXPECT_EQ(with([](OptimizerSpec& s) { s.weight_decay = -1e-3; }),
            "optimizer.weight_decay: expected a number >= 0");
  EXPECT_EQ(with([](OptimizerSpec& s) { s.weight_decay = INFINITY; }),
            "optimizer.weight_decay: expected a number >= 0");
  EXPECT_EQ(with([](OptimizerSpec& s) { s.alpha = 1.5; }), "optimizer.alpha: expected a number in [0, 1)");
}

const char* kNetwork = R"({"input": 2, "layers": [{"units": 1, "activation": "identity"}], "optimizer": )";

std::string parse_message(const std::string& optimizer) {
  try {
    io::parse_network(std::string(kNetwork) + optimizer + "}", "net.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(OptimizerSpecFile, RejectsWithTheKeyAndTheChoices) {
  EXPECT_EQ(parse_message(R"({"type": "adagrad"})"),
            "net.json: optimizer.type: unknown optimizer 'adagrad' (expected sgd, momentum, nesterov, adam, adamw, "
            "rmsprop)");
  EXPECT_EQ(parse_message(R"({"type": "momentum", "momentum": 1.2})"),
            "net.json: optimizer.momentum: expected a number in [0, 1)");
  EXPECT_EQ(parse_message(R"({"type": "rmsprop", "centered": 1})"),
            "net.json: optimizer.centered: expected true or false, got 1");
  EXPECT_EQ(parse_message(R"({"type": "adam", "beta1": "0.9"})"),
            "net.json: optimizer.beta1: expected a number, got the string \"0.9\"");
  EXPECT_NE(parse_message(R"({"type": "adam", "betas": [0.9, 0.999]})").find("optimizer.betas: unknown key"),
            std::string::npos);
}

TEST(OptimizerSpecFile, RoundTripsEverySetting) {
  for (const Json& c : reference()["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const NetworkSpec spec = case_spec(c);
    const NetworkSpec back = io::parse_network(io::network_to_json(spec), "round trip");
    const OptimizerSpec& a = spec.optimizer;
    const OptimizerSpec& b = back.optimizer;
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.learning_rate, b.learning_rate);
    EXPECT_EQ(a.momentum, b.momentum);
    EXPECT_EQ(a.beta1, b.beta1);
    EXPECT_EQ(a.beta2, b.beta2);
    EXPECT_EQ(a.epsilon, b.epsilon);
    EXPECT_EQ(a.weight_decay, b.weight_decay);
    EXPECT_EQ(a.alpha, b.alpha);
    EXPECT_EQ(a.centered, b.centered);
  }
  // A plain sgd network file keeps its short optimizer object.
  NetworkSpec plain = io::parse_network(std::string(kNetwork) + R"({"type": "sgd", "learning_rate": 0.5}})", "x");
  const Json written = Json::parse(io::network_to_json(plain));
  EXPECT_EQ(written["optimizer"], Json::parse(R"({"type": "sgd", "learning_rate": 0.5})"));
}

// Global norm clipping by hand: gradients (3, 4, 0, 12) have norm 13.
TEST(ClipGradientNorm, ScalesToMaxNormAsTorch) {
  std::vector<double> gradients{3, 4, 0, 12};
  EXPECT_EQ(clip_gradient_norm(std::span<double>(gradients), 2.6), 13.0);
  const double factor = 2.6 / (13.0 + 1e-6);
  EXPECT_DOUBLE_EQ(gradients[0], 3 * factor);
  EXPECT_DOUBLE_EQ(gradients[1], 4 * factor);
  EXPECT_EQ(gradients[2], 0.0);
  EXPECT_DOUBLE_EQ(gradients[3], 12 * factor);
  EXPECT_NEAR(std::sqrt(gradients[0] * gradients[0] + gradients[1] * gradients[1] + gradients[3] * gradients[3]),
              2.6, 1e-6);
}

TEST(ClipGradientNorm, LeavesSmallGradientsAlone) {
  std::vector<float> gradients{3, 4};
  EXPECT_EQ(clip_gradient_norm(std::span<float>(gradients), 5.0 + 2e-6), 5.0);  // factor >= 1: untouched
  EXPECT_EQ(gradients, (std::vector<float>{3, 4}));
  // torch's 1e-6 guard: a norm equal to max_norm is scaled by max_norm / (norm + 1e-6), just under 1.
  std::vector<double> at_limit{3, 4};
  clip_gradient_norm(std::span<double>(at_limit), 5.0);
  EXPECT_DOUBLE_EQ(at_limit[0], 3 * 5.0 / (5.0 + 1e-6));
  std::vector<double> none;
  EXPECT_EQ(clip_gradient_norm(std::span<double>(none), 1.0), 0.0);
}

TEST(ClipGradientNorm, NormAccumulatesInDouble) {
  // 1e4^2 + 1^2 = 100000001, which float rounds to 1e8 (its spacing there is 8); double keeps it.
  std::vector<float> gradients{1e4f, 1.0f};
  EXPECT_EQ(clip_gradient_norm(std::span<float>(gradients), 1e9), std::sqrt(100000001.0));
}

TEST(ClipGradientNorm, NonFiniteNormLeavesGradients) {
  std::vector<double> gradients{1.0, NAN};
  EXPECT_TRUE(std::isnan(clip_gradient_norm(std::span<double>(gradients), 1.0)));
  EXPECT_EQ(gradients[0], 1.0);
}

TEST(Schedule, Constant) {
  const ScheduleSpec constant;
  for (long step : {0L, 1L, 99L, 1000L}) EXPECT_EQ(learning_rate_at(constant, 0.1, step, 100), 0.1);
}

TEST(Schedule, StepDecaysEveryStepSize) {
  ScheduleSpec schedule{.kind = ScheduleKind::step, .step_size = 3, .gamma = 0.5};
  const double expected[] = {1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125};
  for (long s = 0; s < 10; ++s) EXPECT_EQ(learning_rate_at(schedule, 1.0, s, 10), expected[s]) << "step " << s;
  // step_size 0: ceil(T / 3), T = 10 steps -> 4
  schedule.step_size = 0;
  EXPECT_EQ(learning_rate_at(schedule, 1.0, 3, 10), 1.0);
  EXPECT_EQ(learning_rate_at(schedule, 1.0, 4, 10), 0.5);
  EXPECT_EQ(learning_rate_at(schedule, 1.0, 8, 10), 0.25);
  EXPECT_EQ(learning_rate_at(schedule, 1.0, 9, 10), 0.25);
  // T = 9 -> 3
  EXPECT_EQ(learning_rate_at(schedule, 1.0, 3, 9), 0.5);
}

TEST(Schedule, CosineFromBaseToMinimum) {
  const ScheduleSpec schedule{.kind = ScheduleKind::cosine, .min_learning_rate = 0.01};
  EXPECT_DOUBLE_EQ(learning_rate_at(schedule, 0.1, 0, 10), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate_at(schedule, 0.1, 5, 10), 0.01 + 0.09 * 0.5);
  EXPECT_DOUBLE_EQ(learning_rate_at(schedule, 0.1, 2, 10), 0.01 + 0.09 * (1 + std::cos(std::numbers::pi * 0.2)) / 2);
  EXPECT_DOUBLE_EQ(learning_rate_at(schedule, 0.1, 10, 10), 0.01);
  EXPECT_DOUBLE_EQ(learning_rate_at(schedule, 0.1, 25, 10), 0.01);  // past the end: stays at the minimum
}

// one_cycle against torch.optim.lr_scheduler.OneCycleLR's rates, step by step (tests/reference/
// schedule_reference.py wrote them in float64). Same formula, same order, same roundings: equal.
TEST(Schedule, OneCycleIsTorchsOneCycleLR) {
  std::ifstream file(std::string(BACKPROP_SOURCE_DIR) + "/tests/data/one_cycle_reference.json");
  ASSERT_TRUE(file) << "cannot open tests/data/one_cycle_reference.json";
  const Json reference = Json::parse(file);
  ASSERT_GE(reference["cases"].size(), 5u);
  for (const Json& c : reference["cases"]) {
    ScheduleSpec schedule{.kind = ScheduleKind::one_cycle};
    schedule.pct_start = c["pct_start"].get<double>();
    schedule.div_factor = c["div_factor"].get<double>();
    schedule.final_div_factor = c["final_div_factor"].get<double>();
    const long total = c["total_steps"].get<long>();
    const double max_lr = c["max_lr"].get<double>();
    const auto& rates = c["rates"];
    ASSERT_EQ(rates.size(), static_cast<std::size_t>(total));
    for (long s = 0; s < total; ++s) {
      const double expected = rates[static_cast<std::size_t>(s)].get<double>();
      EXPECT_EQ(learning_rate_at(schedule, max_lr, s, total), expected) << "total " << total << ", step " << s;
    }
    // Past the end it stays at the last rate.
    EXPECT_EQ(learning_rate_at(schedule, max_lr, total + 5, total), learning_rate_at(schedule, max_lr, total - 1, total));
  }
}

TEST(Schedule, OneCycleRefusesAWarmUpAndOutOfRangeSettings) {
  ScheduleSpec schedule{.kind = ScheduleKind::one_cycle};
  EXPECT_NO_THROW(validate(schedule));
  schedule.warmup_steps = 10;
  EXPECT_THROW(validate(schedule), Error);
  schedule.warmup_steps = 0;
  for (const double bad : {0.0, 1.0, -0.5}) {
    schedule.pct_start = bad;
    EXPECT_THROW(validate(schedule), Error) << bad;
  }
  schedule.pct_start = 0.3;
  schedule.div_factor = 0.5;
  EXPECT_THROW(validate(schedule), Error);
}

TEST(Schedule, WarmupRampsThenTheScheduleStarts) {
  const ScheduleSpec cosine{.kind = ScheduleKind::cosine, .warmup_steps = 4};
  EXPECT_DOUBLE_EQ(learning_rate_at(cosine, 0.8, -3, 14), 0.2);  // before the start counts as step 0
  EXPECT_DOUBLE_EQ(learning_rate_at(cosine, 0.8, 0, 14), 0.2);
  EXPECT_DOUBLE_EQ(learning_rate_at(cosine, 0.8, 1, 14), 0.4);
  EXPECT_DOUBLE_EQ(learning_rate_at(cosine, 0.8, 3, 14), 0.8);  // the last warm-up step reaches the base
  EXPECT_DOUBLE_EQ(learning_rate_at(cosine, 0.8, 4, 14), 0.8);  // cosine t = 0
  EXPECT_DOUBLE_EQ(learning_rate_at(cosine, 0.8, 9, 14), 0.4);  // t = 5 of T = 10
  EXPECT_DOUBLE_EQ(learning_rate_at(cosine, 0.8, 14, 14), 0.0);
  const ScheduleSpec step{.kind = ScheduleKind::step, .warmup_steps = 2, .step_size = 2, .gamma = 0.1};
  EXPECT_DOUBLE_EQ(learning_rate_at(step, 1.0, 1, 10), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(step, 1.0, 3, 10), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(step, 1.0, 4, 10), 0.1);
  // A warm-up as long as the run: T is taken as 1, the rate never exceeds the base.
  EXPECT_DOUBLE_EQ(learning_rate_at(cosine, 0.8, 4, 4), 0.8);
  EXPECT_DOUBLE_EQ(learning_rate_at(cosine, 0.8, 5, 4), 0.0);
}

TEST(Schedule, NamesAndValidation) {
  for (ScheduleKind kind : {ScheduleKind::constant, ScheduleKind::step, ScheduleKind::cosine})
    EXPECT_EQ(parse_schedule(to_string(kind)), kind);
  EXPECT_EQ(to_string(ScheduleKind::cosine), "cosine");
  EXPECT_FALSE(parse_schedule("linear"));
  EXPECT_NO_THROW(validate(ScheduleSpec{}));
  EXPECT_THROW(validate(ScheduleSpec{.warmup_steps = -1}), Error);
  EXPECT_THROW(validate(ScheduleSpec{.step_size = -1}), Error);
  EXPECT_THROW(validate(ScheduleSpec{.gamma = 0.0}), Error);
  EXPECT_THROW(validate(ScheduleSpec{.min_learning_rate = NAN}), Error);
}

// step() says whether every updated parameter is finite, found in the update's own pass: true for an ordinary
// step, false for a gradient that is not finite and for an update that throws a parameter past float's range;
// under every rule, on arenas of several update pieces (kUpdateGrain is 2^15) with the bad value in the last.
// The update writes the arena in pieces on the pool and, on more than one thread, block by block with the lines of
// a later block asked for ahead (kernels/cpu/write_ahead.hpp): every value of a long arena, the last partial block
// and piece included, must still take exactly its own rule, bit for bit what an optimizer of that one value gives,
// on 2 threads (blocks and asks) and on 1 (one loop).
void expect_every_value_takes_its_own_rule(int threads) {
  SCOPED_TRACE(std::to_string(threads) + " threads");
  kernels::set_thread_count(threads);
  const std::size_t n = 3 * 32768 + 1000 + 7;
  const auto start = [](std::size_t i) { return 0.5f + 0.01f * static_cast<float>(i % 101); };
  const auto gradient = [](std::size_t i) { return 0.001f * (static_cast<float>(i % 37) - 18.0f); };
  for (const std::string type : {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}) {
    SCOPED_TRACE(type);
    OptimizerSpec spec;
    spec.type = *parse_optimizer(type);
    spec.weight_decay = 0.01;
    std::vector<float> parameters(n), gradients(n);
    for (std::size_t i = 0; i < n; ++i) parameters[i] = start(i), gradients[i] = gradient(i);
    Optimizer<float> optimizer(spec, n);
    for (int step = 0; step < 2; ++step) ASSERT_TRUE(optimizer.step(parameters, gradients, 0.01));
    for (std::size_t i = 0; i < n; ++i) {
      if (i % 61 != 0 && i > 600 && i + 600 < n) continue;  // every 61st, and all of both ends
      std::vector<float> one{start(i)}, one_gradient{gradient(i)};
      Optimizer<float> alone(spec, 1);
      for (int step = 0; step < 2; ++step) ASSERT_TRUE(alone.step(one, one_gradient, 0.01));
      ASSERT_EQ(std::bit_cast<std::uint32_t>(parameters[i]), std::bit_cast<std::uint32_t>(one[0]))
          << "value " << i << ": " << parameters[i] << " against " << one[0];
    }
  }
}

TEST(OptimizerRules, EveryValueOfALongArenaTakesItsOwnRule) {
  const int saved = kernels::thread_count();
  expect_every_value_takes_its_own_rule(2);
  expect_every_value_takes_its_own_rule(1);
  kernels::set_thread_count(saved);
}

TEST(OptimizerRules, StepSaysWhetherTheUpdatedParametersAreFinite) {
  const std::size_t n = (1 << 16) + 37;
  for (const std::string type : {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}) {
    for (const bool centered : {false, true}) {
      if (centered && type != "rmsprop") continue;
      OptimizerSpec spec;
      spec.type = *parse_optimizer(type);
      spec.centered = centered;
      std::vector<float> parameters(n, 0.5f), gradients(n, 0.25f);
      Optimizer<float> optimizer(spec, n);
      EXPECT_TRUE(optimizer.step(parameters, gradients, 0.01)) << type;
      for (float p : parameters) ASSERT_TRUE(std::isfinite(p)) << type;
      gradients[n - 1] = std::numeric_limits<float>::quiet_NaN();
      EXPECT_FALSE(optimizer.step(parameters, gradients, 0.01)) << type << ": a NaN gradient";
      EXPECT_TRUE(std::isnan(parameters[n - 1])) << type;
      // A finite gradient and a finite rate whose product overflows: the parameter becomes infinite.
      Optimizer<float> fresh(spec, n);
      std::vector<float> ordinary(n, 0.5f), large(n, 0.25f);
      large[n - 2] = 3e38f;
      const bool overflowed = !fresh.step(ordinary, large, 1e30);
      EXPECT_EQ(overflowed, !std::isfinite(ordinary[n - 2])) << type;
      if (type == "sgd" || type == "momentum" || type == "nesterov") EXPECT_TRUE(overflowed) << type;
    }
  }
}

}  // namespace
}  // namespace backprop
