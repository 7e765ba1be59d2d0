// `backprop trace --expand` and its formats: markdown, html, dot.
//
// The working is checked by re-evaluating it: every printed line `name = working = ... = value` is parsed, each
// working is evaluated in interval arithmetic from its printed numbers (a figure printed with D decimals stands
// for any value within half a unit of its last place; numbers with another count of decimals, such as the
// learning rate or a slope, are exact), and the stated value must lie in that interval, widened by half a unit
// of its own last place and by 1e-12 of the magnitudes involved (double rounding, which matters at --digits 17).
// The stated value must also agree with the JSON trace (full precision) to half a unit of its last place.
// That is done at the default 4 decimals and at 17, for every activation and every loss, on a batch of 3 rows.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backprop/base/text.hpp"
#include "helpers.hpp"
#include "image.hpp"

namespace backprop::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using ::testing::HasSubstr;

// ---- An interval evaluator for the printed working ----

struct Interval {
  double lo = 0, hi = 0;
};

Interval operator+(Interval a, Interval b) { return {a.lo + b.lo, a.hi + b.hi}; }
Interval operator-(Interval a, Interval b) { return {a.lo - b.hi, a.hi - b.lo}; }
Interval operator*(Interval a, Interval b) {
  const double p[] = {a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi};
  return {*std::min_element(p, p + 4), *std::max_element(p, p + 4)};
}
Interval monotonic(Interval a, double (*f)(double)) { return {f(a.lo), f(a.hi)}; }
double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// Grammar: expr = term {(+|-) term}; term = unary {(*|/|juxtaposition) unary}; unary = -unary | power;
// power = primary [^ integer]; primary = number | (expr) | function(expr). Throws std::invalid_argument on
// anything else (a symbolic part such as "delta3[0]").
class Evaluator {
 public:
  Evaluator(std::string text, int digits) : s_(std::move(text)), digits_(digits) {}

  Interval evaluate() {
    const Interval v = expr();
    skip();
    if (at_ < s_.size()) fail();
    return v;
  }
  double magnitude() const { return magnitude_; }

 private:
  [[noreturn]] void fail() const { throw std::invalid_argument("cannot evaluate '" + s_ + "' at " + std::to_string(at_)); }
  void skip() {
    while (at_ < s_.size() && s_[at_] == ' ') ++at_;
  }
  bool take(char c) {
    skip();
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  Interval note(Interval v) {
    magnitude_ = std::max({magnitude_, std::abs(v.lo), std::abs(v.hi)});
    return v;
  }
  Interval expr() {
    Interval v = term();
    for (;;) {
      if (take('+')) v = note(v + term());
      else if (take('-')) v = note(v - term());
      else return v;
    }
  }
  Interval term() {
    Interval v = unary();
    for (;;) {
      skip();
      if (take('*')) {
        v = note(v * unary());
      } else if (take('/')) {
        const Interval d = unary();
        if (d.lo <= 0 && d.hi >= 0) fail();
        v = note(v * Interval{std::min(1 / d.lo, 1 / d.hi), std::max(1 / d.lo, 1 / d.hi)});
      } else if (at_ < s_.size() && (s_[at_] == '(' || std::isalpha(static_cast<unsigned char>(s_[at_])))) {
        v = note(v * unary());
      } else {
        return v;
      }
    }
  }
  Interval unary() {
    if (take('-')) {
      const Interval v = unary();
      return {-v.hi, -v.lo};
    }
    Interval v = primary();
    if (take('^')) {
      skip();
      if (s_.compare(at_, 1, "2") != 0) fail();
      ++at_;
      const double a = v.lo * v.lo, b = v.hi * v.hi;
      v = v.lo <= 0 && v.hi >= 0 ? Interval{0, std::max(a, b)} : Interval{std::min(a, b), std::max(a, b)};
    }
    return note(v);
  }
  Interval primary() {
    skip();
    if (take('(')) {
      const Interval v = expr();
      if (!take(')')) fail();
      return v;
    }
    const std::size_t start = at_;
    if (at_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[at_]))) {
      while (at_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[at_])) || s_[at_] == '.')) ++at_;
      const std::string token = s_.substr(start, at_ - start);
      const double value = std::stod(token);
      const std::size_t dot = token.find('.');
      const bool printed = dot != std::string::npos && static_cast<int>(token.size() - dot - 1) == digits_;
      const double half = printed ? 0.5 * std::pow(10.0, -digits_) : 0.0;
      return {value - half, value + half};
    }
    while (at_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[at_])) || s_[at_] == '_')) ++at_;
    const std::string name = s_.substr(start, at_ - start);
    static const std::map<std::string, double (*)(double)> functions = {
        {"exp", [](double x) { return std::exp(x); }}, {"ln", [](double x) { return std::log(x); }},
        {"sigmoid", sigmoid}, {"tanh", [](double x) { return std::tanh(x); }},
        {"sqrt", [](double x) { return std::sqrt(x); }}};
    if (name == "max") {  // relu's max(0, z): monotonic in each argument
      if (!take('(')) fail();
      const Interval a = expr();
      if (!take(',')) fail();
      const Interval b = expr();
      if (!take(')')) fail();
      return {std::max(a.lo, b.lo), std::max(a.hi, b.hi)};
    }
    const auto f = functions.find(name);
    if (f == functions.end() || !take('(')) fail();
    const Interval v = expr();
    if (!take(')')) fail();
    return monotonic(v, f->second);
  }

  std::string s_;
  std::size_t at_ = 0;
  int digits_;
  double magnitude_ = 0;
};

// ---- The printed lines against the JSON trace ----

// A JSON number, list or list of rows as one list.
std::vector<double> flat(const Json& value) {
  if (value.is_number()) return {value.get<double>()};
  std::vector<double> out;
  for (const Json& item : value)
    for (double v : flat(item)) out.push_back(v);
  return out;
}

std::vector<std::string> split(const std::string& text, const std::string& separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t at; (at = text.find(separator, start)) != std::string::npos; start = at + separator.size())
    parts.push_back(text.substr(start, at - start));
  parts.push_back(text.substr(start));
  return parts;
}

// The JSON figure a printed name stands for ("grad W2[1][0]", "z3[2][0]", "L"); nullptr for a matrix line.
const Json* figure_of(const Json& step, const std::string& name) {
  static const std::regex pattern(
      R"(^(grad W|grad b|grad scale|grad shift|grad x|running_mean|running_var|mean|var|xhat|scale|shift|s|W|b|z|a|delta)(\d+)((?:\[\d+\])+)$)");
  if (name == "L") return &step["loss"];
  std::smatch m;
  if (!std::regex_match(name, m, pattern)) return nullptr;
  // A batch_norm entry's figures under `trace --json`'s names for them.
  static const std::map<std::string, std::string> keys = {
      {"grad W", "grad_weights"}, {"grad b", "grad_bias"}, {"W", "weights"}, {"b", "bias"}, {"z", "z"}, {"a", "a"},
      {"delta", "delta"}, {"grad scale", "grad_scale"}, {"grad shift", "grad_shift"}, {"grad x", "grad_input"},
      {"running_mean", "running_mean"}, {"running_var", "running_var"}, {"mean", "mean"}, {"var", "variance"},
      {"xhat", "xhat"}, {"scale", "scale"}, {"shift", "shift"}, {"s", "inv_std"}};
  const Json* at = &step["layers"][std::stoul(m[2].str()) - 1][keys.at(m[1].str())];
  std::vector<std::size_t> indices;
  static const std::regex index(R"(\[(\d+)\])");
  const std::string all = m[3].str();
  for (auto it = std::sregex_iterator(all.begin(), all.end(), index); it != std::sregex_iterator(); ++it)
    indices.push_back(std::stoul((*it)[1].str()));
  // One row (or one input) is written as a flat list: [i][j] is then [j] with i = 0.
  if (indices.size() == 2 && !(*at)[0].is_array()) {
    EXPECT_EQ(indices[0], 0u) << name;
    indices.erase(indices.begin());
  }
  for (std::size_t i : indices) at = &(*at)[i];
  return at;
}

// Checks every worked line of an expanded text trace; returns how many workings were evaluated, by kind.
std::map<std::string, int> check_working(const std::string& text, const Json& trace, int digits) {
  std::map<std::string, int> evaluated;
  std::istringstream lines(text);
  int step = 0;
  const double half = 0.5 * std::pow(10.0, -digits);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("=== Step ", 0) == 0) step = std::stoi(line.substr(9));
    const std::size_t indent = line.find_first_not_of(' ');
    if (step == 0 || indent == std::string::npos || indent < 4 || line.find(" = ") == std::string::npos) continue;
    const std::vector<std::string> parts = split(line.substr(indent), " = ");
    const Json* expected = figure_of(trace["steps"][step - 1], parts.front());
    if (expected == nullptr) continue;
    const double stated = std::stod(parts.back());
    const double exact = expected->get<double>();
    EXPECT_LE(std::abs(stated - exact), half * (1 + 1e-9) + 1e-15 * std::max(1.0, std::abs(exact)))
        << "step " << step << ": " << line << "\n  full precision: " << exact;
    for (std::size_t p = 1; p + 1 < parts.size(); ++p) {
      Evaluator evaluator(parts[p], digits);
      Interval v;
      try {
        v = evaluator.evaluate();
      } catch (const std::invalid_argument&) {
        EXPECT_EQ(p, 1u) << "only the first part may be symbolic: " << line;
        continue;
      }
      const double slack = half + 1e-12 * std::max({1.0, evaluator.magnitude(), std::abs(stated)});
      EXPECT_GE(stated, v.lo - slack) << "step " << step << ": " << parts[p] << " is [" << v.lo << ", " << v.hi
                                      << "], not " << parts.back() << "\n  in: " << line;
      EXPECT_LE(stated, v.hi + slack) << "step " << step << ": " << parts[p] << " is [" << v.lo << ", " << v.hi
                                      << "], not " << parts.back() << "\n  in: " << line;
      ++evaluated[std::regex_replace(parts.front(), std::regex(R"(\d.*$)"), "")];
    }
  }
  return evaluated;
}

TEST(TraceWorking, TheEvaluatorCatchesAWrongLine) {
  Evaluator right("0.1000(1.0000) + 0.3000(2.0000) + 0.1000", 4);
  const Interval v = right.evaluate();
  EXPECT_LE(v.lo, 0.8);
  EXPECT_GE(v.hi, 0.8);
  EXPECT_GT(v.lo, 0.799);  // a slip of 0.001 falls outside
  Evaluator softmax("exp(0.5000) / (exp(0.5000) + exp(0.2000))", 4);
  const Interval p = softmax.evaluate();
  EXPECT_NEAR(0.5 * (p.lo + p.hi), std::exp(0.5) / (std::exp(0.5) + std::exp(0.2)), 1e-4);
  EXPECT_THROW(Evaluator("delta3[0]", 4).evaluate(), std::invalid_argument);
}

struct Case {
  const char* name;
  const char* network;  // the network file
  const char* target;   // three rows
};

// Every activation in a hidden or output layer, every loss, mse through a softmax too.
const Case kCases[] = {
    {"bce_sigmoid_tanh",
     R"({"input": 3, "layers": [{"units": 4, "activation": "sigmoid"}, {"units": 3, "activation": "tanh"},
         {"units": 1, "activation": "sigmoid"}], "loss": "bce", "optimizer": {"type": "sgd", "learning_rate": 0.5}, "seed": 3})",
     "1;0;0.3"},
    {"mse_relu_leaky_identity",
     R"({"input": 3, "layers": [{"units": 4, "activation": "relu"}, {"units": 3, "activation": "leaky_relu", "slope": 0.1},
         {"units": 2, "activation": "identity"}], "loss": "mse", "optimizer": {"type": "sgd", "learning_rate": 0.1}, "seed": 4})",
     "0.5,-1;2,0.25;-0.75,1"},
    {"mse_leaky_tanh",
     R"({"input": 3, "layers": [{"units": 3, "activation": "leaky_relu"}, {"units": 2, "activation": "tanh"}],
         "loss": "mse", "optimizer": {"type": "sgd", "learning_rate": 0.2}, "seed": 5})",
     "0.5,-0.5;0.1,0.2;-0.3,0.9"},
    {"softmax_ce_tanh",
     R"({"input": 3, "layers": [{"units": 4, "activation": "tanh"}, {"units": 3, "activation": "softmax"}],
         "loss": "softmax_ce", "optimizer": {"type": "sgd", "learning_rate": 0.3}, "seed": 6})",
     "1,0,0;0,0,1;0,1,0"},
    {"mse_sigmoid_softmax",
     R"({"input": 3, "layers": [{"units": 3, "activation": "sigmoid"}, {"units": 3, "activation": "softmax"}],
         "loss": "mse", "optimizer": {"type": "sgd", "learning_rate": 0.3}, "seed": 7})",
     "1,0,0;0,0.5,0.5;0,1,0"},
    {"mse_silu_silu",
     R"({"input": 3, "layers": [{"units": 4, "activation": "silu"}, {"units": 2, "activation": "silu"}],
         "loss": "mse", "optimizer": {"type": "sgd", "learning_rate": 0.2}, "seed": 8})",
     "0.5,-0.5;0.1,0.2;-0.3,0.9"},
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

class TraceWorkingCase : public ::testing::TestWithParam<Case> {};

TEST_P(TraceWorkingCase, EveryWorkedLineEvaluatesToItsValueAtFourAndSeventeenDecimals) {
  TempDir dir;
  write_file(dir / "net.json", GetParam().network);
  const std::string base = "trace " + shell_word(dir / "net.json") +
                           " --input '0.5,-1,2;1.5,0.25,-0.5;-2,1,0.75' --target '" + GetParam().target + "' --steps 2";
  const auto json = run_backprop(base + " --json");
  ASSERT_EQ(json.exit_code, 0) << json.out;
  const Json trace = Json::parse(json.out);
  for (int digits : {4, 17}) {
    const auto text = run_backprop(base + " --expand --digits " + std::to_string(digits));
    ASSERT_EQ(text.exit_code, 0) << text.out;
    const std::map<std::string, int> evaluated = check_working(text.out, trace, digits);
    // Every kind of figure had its working evaluated, for all 3 rows of both steps.
    for (const char* kind : {"z", "a", "delta", "grad W", "grad b", "W", "b", "L"})
      EXPECT_GT(evaluated.count(kind) ? evaluated.at(kind) : 0, 0) << kind << " at " << digits << " decimals";
    EXPECT_EQ(evaluated.at("L"), 2);
    EXPECT_THAT(text.out, HasSubstr("mean over the batch's 3 rows"));
  }
}

INSTANTIATE_TEST_SUITE_P(EveryActivationAndLoss, TraceWorkingCase, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- The seed network ----

std::string seed_trace(const std::string& options) {
  const auto result = run_backprop("trace " + shell_word(source_path("examples/seed.json")) +
                                   " --input 1,2,3,4 --target 1 --steps 2 " + options);
  EXPECT_EQ(result.exit_code, 0) << result.out;
  return result.out;
}

std::string fixed4(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", v);
  return buffer;
}

// The plain trace writes the weight gradient as the outer product a_(l-1) delta_l^T, IN x OUT like W.
TEST(TraceText, WritesTheWeightGradientAsAnOuterProduct) {
  const std::string text = seed_trace("--loss bce");
  EXPECT_THAT(text, HasSubstr("grad W3 = a2 delta3^T = [[-0.2404], [-0.2568], [-0.2721]]"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("^T delta")));
}

TEST(TraceText, ExpandedSeedReadsLikeTheTutorial) {
  const std::string text = seed_trace("--loss bce --expand");
  EXPECT_THAT(text, HasSubstr("      z1[0] = 0.1000(1.0000) + 0.3000(2.0000) + 0.5000(3.0000) + 0.7000(4.0000) + "
                              "0.1000 = 5.1000\n"));
  EXPECT_THAT(text, HasSubstr("      a3[0] = sigmoid(z3[0]) = sigmoid(0.5216) = 1 / (1 + exp(-0.5216)) = 0.6275\n"));
  EXPECT_THAT(text, HasSubstr("    L = -(ln(0.6275)) = 0.4660\n"));
  EXPECT_THAT(text, HasSubstr("      delta3[0] = (a3[0] - y[0]) = (0.6275 - 1.0000) = -0.3725\n"));
  EXPECT_THAT(text, HasSubstr("      delta2[0] = (sum_k W3[0][k] delta3[k]) sigmoid'(z2[0]) = "
                              "(0.1000(-0.3725))(0.6453(1 - 0.6453)) = -0.0085\n"));
  EXPECT_THAT(text, HasSubstr("      grad W3[0][0] = a2[0] delta3[0] = 0.6453(-0.3725) = -0.2404\n"));
  EXPECT_THAT(text, HasSubstr("    W3[0][0] = 0.1000 - 0.1(-0.2404) = 0.1240\n"));
}

class SeedMarkdown : public ::testing::TestWithParam<std::string> {};

// The tutorial's corrected figures: step 1's output layer under bce, and every z, a and delta of step 2 from
// the PyTorch reference, each on its own worked line.
TEST_P(SeedMarkdown, CarriesTheCorrectedFigures) {
  const std::string loss = GetParam();
  const std::string markdown = seed_trace("--loss " + loss + " --expand --format markdown");
  EXPECT_THAT(markdown, HasSubstr("$$z_{1} = W_{1}^T a_{0} + b_{1} = [5.1000, 6.1000]$$"));
  if (loss == "bce") {
    EXPECT_THAT(markdown, HasSubstr("- $z_{3}[0] = 0.1000\\,(0.6453) + 0.2000\\,(0.6895) + 0.3000\\,(0.7304) + 0.1000 = 0.5216$"));
    EXPECT_THAT(markdown, HasSubstr("= 0.6275$\n"));
    EXPECT_THAT(markdown, HasSubstr("- $\\delta_{3}[0] = (a_{3}[0] - y[0]) = (0.6275 - 1.0000) = -0.3725$"));
  }
  const std::size_t step2 = markdown.find("## Step 2");
  ASSERT_NE(step2, std::string::npos);
  const std::string second = markdown.substr(step2);
  const Json reference = Json::parse(read_text(source_path("tests/data/seed_reference.json")))[loss]["steps"][1];
  for (int l = 0; l < 3; ++l) {
    const std::string L = std::to_string(l + 1);
    for (const auto& [key, tex] : {std::pair{"z", "z_{"}, {"a", "a_{"}, {"delta", "\\delta_{"}}) {
      const Json& values = reference["layers"][l][key];
      for (std::size_t j = 0; j < values.size(); ++j) {
        const std::string start = "\n- $" + std::string(tex) + L + "}[" + std::to_string(j) + "] = ";
        const std::size_t at = second.find(start);
        ASSERT_NE(at, std::string::npos) << loss << ": no line " << start;
        const std::string line = second.substr(at + 1, second.find('\n', at + 1) - at - 1);
        EXPECT_THAT(line, ::testing::EndsWith(" = " + fixed4(values[j]) + "$")) << loss << " step 2";
      }
    }
  }
  EXPECT_THAT(second, HasSubstr("$$L = "));
}

INSTANTIATE_TEST_SUITE_P(BothReadings, SeedMarkdown, ::testing::Values("bce", "mse"));

// ---- batch_norm in the trace ----

// batch_norm of the input (no dL/dx), after a hidden layer (its dL/dx through tanh'), and two in a row with
// their own momentum and eps; 3 rows.
constexpr const char* kBatchNormNetwork =
    R"({"input": 3, "layers": [{"type": "batch_norm"}, {"units": 4, "activation": "tanh"}, {"type": "batch_norm"},
        {"type": "batch_norm", "momentum": 0.3, "eps": 0.001}, {"units": 2, "activation": "softmax"}],
        "loss": "softmax_ce", "optimizer": {"type": "sgd", "learning_rate": 0.5}, "seed": 9})";
constexpr const char* kBatchNormRows = " --input '0.5,-1,2;1.5,0.25,-0.5;-2,1,0.75' --target '1,0;0,1;1,0'";

// Two steps of `network` traced on `rows` with `options`: the command's output, its exit code expected 0.
std::string two_step_trace(const TempDir& dir, const char* network, const char* rows, const std::string& options) {
  write_file(dir / "net.json", network);
  const auto result = run_backprop("trace " + shell_word(dir / "net.json") + rows + " --steps 2 " + options);
  EXPECT_EQ(result.exit_code, 0) << result.out;
  return result.out;
}

std::string batch_norm_trace(const TempDir& dir, const std::string& options) {
  return two_step_trace(dir, kBatchNormNetwork, kBatchNormRows, options);
}

// Every worked line of the batch_norm entries re-evaluated from its printed numbers, as for dense layers, and
// each figure equal to the JSON trace's (which tests/test_batch_norm.cpp holds to torch).
TEST(BatchNormTraceWorking, EveryWorkedLineEvaluatesToItsValueAtFourAndSeventeenDecimals) {
  TempDir dir;
  const Json trace = Json::parse(batch_norm_trace(dir, "--json"));
  EXPECT_EQ(trace["steps"][0]["layers"][0]["type"], "batch_norm");
  EXPECT_FALSE(trace["steps"][0]["layers"][0].contains("grad_input")) << "the first entry's input is the data";
  EXPECT_TRUE(trace["steps"][0]["layers"][2].contains("grad_input"));
  EXPECT_TRUE(trace["steps"][0]["layers"][1].contains("z")) << "a dense layer keeps its keys";
  for (int digits : {4, 17}) {
    const std::string text = batch_norm_trace(dir, "--expand --digits " + std::to_string(digits));
    const std::map<std::string, int> evaluated = check_working(text, trace, digits);
    const int rows = 3, steps = 2;
    // Per step: mean, var, s, running statistics, grads of scale and shift and scale and shift updated for
    // 3 + 4 + 4 features; xhat for their 3 rows each; grad x of the two entries that are not first.
    const std::map<std::string, int> expected = {
        {"mean", 11 * steps}, {"var", 11 * steps}, {"s", 11 * steps}, {"xhat", 11 * rows * steps},
        {"running_mean", 11 * steps}, {"running_var", 11 * steps}, {"grad scale", 11 * steps},
        {"grad shift", 11 * steps}, {"scale", 11 * steps}, {"shift", 11 * steps}, {"grad x", 8 * rows * steps}};
    for (const auto& [kind, count] : expected)
      EXPECT_EQ(evaluated.count(kind) ? evaluated.at(kind) : 0, count) << kind << " at " << digits << " decimals";
    // a: the batch_norms' outputs (11 features) and the dense layers' (4 + 2 units), every row of both steps.
    EXPECT_GE(evaluated.at("a"), (11 + 4 + 2) * rows * steps);
    EXPECT_GT(evaluated.at("delta"), 0);
    EXPECT_EQ(evaluated.at("L"), 2);
  }
}

// The readable forms name the layer's mean, variance and normalized values and carry their working.
TEST(BatchNormTraceFormats, TextMarkdownHtmlAndDotShowTheMeanVarianceAndNormalizedValues) {
  TempDir dir;
  const std::string text = batch_norm_trace(dir, "");
  EXPECT_THAT(text, HasSubstr("Layer 1 (batch_norm of a0, 3 features, eps 1e-05, momentum 0.1)"));
  EXPECT_THAT(text, HasSubstr("Layer 4 (batch_norm of a3, 4 features, eps 0.001, momentum 0.3)"));
  for (const char* line : {"    mean3 = (sum_r a2[r]) / 3 = [", "    var3 = (sum_r (a2[r] - mean3)^2) / 3 = [",
                           "    s3 = 1 / sqrt(var3 + eps) = [", "    xhat3 = (a2 - mean3) s3 = [[",
                           "    a3 = scale3 xhat3 + shift3 = [[", "    running_var4 = (1 - 0.3) running_var4 + 0.3 var4 (3 / 2) = [",
                           "    delta2 = grad x3 * tanh'(z2) = [[", "    delta4 = (W5 delta5) = [[",
                           "    delta3 = grad x4 = [[", "    grad x3 = scale3 s3 / 3 (3 delta3 - grad shift3 - xhat3 grad scale3) = [[",
                           "  shift1 = [", "shift <- shift - 0.5 grad shift)"})
    EXPECT_THAT(text, HasSubstr(line));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("grad x1"))) << "the first entry has no dL/dx to show";
  EXPECT_THAT(text, ::testing::Not(HasSubstr("mean1[0] ="))) << "the plain trace has no working";

  const std::string markdown = batch_norm_trace(dir, "--expand --format markdown");
  for (const char* tex : {"$$\\mu_{3} = \\frac{1}{3}\\sum_r a_{2}[r] = ", "$$\\sigma^2_{3} = ", "$$\\hat{x}_{3} = ",
                          "- $\\mu_{3}[0] = \\frac{1}{3}\\sum_r a_{2}[r][0] = (", "- $s_{4}[1] = 1 / \\sqrt{",
                          "- $\\mathrm{grad}\\,x_{3}[2][1] = ", "- $\\mathrm{running\\_var}_{4}[0] = "})
    EXPECT_THAT(markdown, HasSubstr(tex));

  const std::string html = batch_norm_trace(dir, "--format html");
  EXPECT_THAT(html, HasSubstr("<h3>Step 2, layer 3 (batch_norm), feature 1</h3>"));
  for (const char* figure : {">mean3[1] = (sum_r a2[r][1]) / 3 = (", ">var3[1] = ", ">xhat3[2][1] = (a2[2][1] - mean3[1]) s3[1] = ("})
    EXPECT_THAT(html, HasSubstr(figure));
  EXPECT_THAT(html, ::testing::Not(HasSubstr("id=\"w3-"))) << "a batch_norm has no weights to draw";

  const std::string dot = batch_norm_trace(dir, "--format dot");
  EXPECT_THAT(dot, HasSubstr("u2_1 -> u3_1 [label=\"normalize\""));
  for (const char* label : {"layer 3, batch_norm of feature 1\\nmean3[1] = ", "\\nvar3[1] = ", "\\nxhat3[0][1] = "})
    EXPECT_THAT(dot, HasSubstr(label));
  if (std::system("command -v dot > /dev/null 2>&1") != 0) return;  // TraceDot says where Graphviz is missing
  write_file(dir / "bn.dot", dot);
  EXPECT_EQ(std::system(("dot -Tsvg " + shell_word(dir / "bn.dot") + " -o /dev/null").c_str()), 0);
}

// The command's JSON carries the figures torch computes (tests/data/batch_norm_reference.json's "traces").
TEST(BatchNormTraceJson, MatchesTorchInDouble) {
  std::ifstream file(source_path("tests/data/batch_norm_reference.json"));
  const Json reference = Json::parse(file);
  TempDir dir;
  for (const Json& c : reference["traces"]) {
    write_file(dir / "net.json", c["network"].dump());
    auto rows = [](const Json& values) {
      std::string out;
      for (const Json& row : values) {
        out += out.empty() ? "" : ";";
        for (std::size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + format_double(row[i].get<double>());
      }
      return "'" + out + "'";
    };
    const auto result = run_backprop("trace " + shell_word(dir / "net.json") + " --input " + rows(c["x"]) +
                                     " --target " + rows(c["y"]) + " --steps 2 --json");
    ASSERT_EQ(result.exit_code, 0) << result.out;
    const Json traced = Json::parse(result.out);
    for (std::size_t s = 0; s < 2; ++s)
      for (std::size_t l = 0; l < c["network"]["layers"].size(); ++l) {
        const Json& expected = c["steps"][s]["layers"][l];
        const Json& got = traced["steps"][s]["layers"][l];
        for (const auto& [key, value] : expected.items()) {
          ASSERT_TRUE(got.contains(key)) << key;
          if (key == "type") {
            EXPECT_EQ(got[key], value);
            continue;
          }
          const std::vector<double> e = flat(value), g = flat(got[key]);
          ASSERT_EQ(g.size(), e.size()) << key;
          for (std::size_t i = 0; i < e.size(); ++i)
            EXPECT_LE(std::abs(g[i] - e[i]), 1e-12 * std::max(1.0, std::abs(e[i]))) << c["name"] << " " << key;
        }
        if (expected.contains("type")) {
          // The running statistics before the step: the start's (0 and 1 unless the file gives them), then
          // those torch has after the step before.
          const Json& entry = c["network"]["layers"][l];
          const std::size_t features = got["mean"].size();
          const std::vector<double> mean = s == 0 ? entry.value("running_mean", std::vector<double>(features, 0.0))
                                                  : flat(c["steps"][s - 1]["layers"][l]["running_mean"]);
          const std::vector<double> var = s == 0 ? entry.value("running_var", std::vector<double>(features, 1.0))
                                                 : flat(c["steps"][s - 1]["layers"][l]["running_var"]);
          for (const auto& [key, value] : {std::pair{"running_mean_before", &mean}, std::pair{"running_var_before", &var}}) {
            const std::vector<double> g = flat(got[key]);
            ASSERT_EQ(g.size(), value->size()) << key;
            for (std::size_t i = 0; i < g.size(); ++i)
              EXPECT_LE(std::abs(g[i] - (*value)[i]), 1e-12 * std::max(1.0, std::abs((*value)[i]))) << c["name"] << " " << key;
          }
        }
        EXPECT_EQ(got.size(), expected.size() + (expected.contains("type") ? 2 : 0))
            << "no figure beyond torch's and the running statistics before the step";
      }
  }
}

TEST(BatchNormTraceRefusals, OneRowExitsWith2NamingWhatIsExpected) {
  TempDir dir;
  write_file(dir / "bn.json", kBatchNormNetwork);
  const auto result = run_backprop("trace " + shell_word(dir / "bn.json") + " --input 0.5,-1,2 --target 1,0");
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_THAT(result.out, HasSubstr("--input: expected at least 2 rows for a network with batch_norm (one row has "
                                    "no batch variance"));
}

// Two embeddings (the second's code read through the first's output, so that it has a dL/dx), a tanh layer and a
// softmax output; 3 rows with a repeated code and codes absent from the batch (rows 0 and 2 of W1, row 1 of W2).
constexpr const char* kEmbeddingNetwork =
    R"({"input": 3, "layers": [{"type": "embedding", "input": 1, "categories": 4, "dim": 2,
        "weights": [[0.5, -1.25], [0.75, 0.2], [-0.3, 0.9], [1.1, -0.4]]},
        {"type": "embedding", "input": 0, "categories": 3, "dim": 1, "weights": [[0.3], [-0.2], [0.7]]},
        {"units": 3, "activation": "tanh"}, {"units": 2, "activation": "softmax"}],
        "loss": "softmax_ce", "optimizer": {"type": "sgd", "learning_rate": 0.5}, "seed": 12})";
constexpr const char* kEmbeddingRows = " --input '2,3,0.5;0,1,-1;2,3,0.25' --target '1,0;0,1;1,0'";

std::string embedding_trace(const TempDir& dir, const std::string& options) {
  return two_step_trace(dir, kEmbeddingNetwork, kEmbeddingRows, options);
}

// Every worked line of the embedding entries re-evaluated from its printed numbers, each figure equal to the JSON
// trace's (which tests/test_embedding.cpp holds to torch and to training); each looked-up value's line names the
// row its row's code picks and prints that row's value as the table stood during the step.
TEST(EmbeddingTraceWorking, EveryWorkedLineEvaluatesAndEachLookupReadsTheCodesRow) {
  TempDir dir;
  const Json trace = Json::parse(embedding_trace(dir, "--json"));
  const Json& first = trace["steps"][0]["layers"];
  ASSERT_EQ(first[0]["type"], "embedding");
  EXPECT_EQ(first[0]["codes"], Json::parse("[3, 1, 3]"));
  EXPECT_EQ(first[1]["codes"], Json::parse("[2, 0, 2]"));
  EXPECT_FALSE(first[0].contains("grad_input")) << "the first entry's input is the data";
  EXPECT_TRUE(first[1].contains("grad_input"));
  // The rows of codes absent from the batch: gradient 0 and unchanged by the update, exactly.
  const Json net = Json::parse(kEmbeddingNetwork);
  for (const auto& [l, absent] : std::vector<std::pair<int, std::vector<int>>>{{0, {0, 2}}, {1, {1}}}) {
    const std::vector<int> rows = absent;
    for (const int c : rows) {
      for (const Json& g : first[l]["grad_weights"][c]) EXPECT_EQ(g.get<double>(), 0.0) << l << " row " << c;
      EXPECT_EQ(first[l]["weights"][c], net["layers"][l]["weights"][c]) << l << " row " << c;
    }
  }
  const std::regex lookup(R"(^\s+a(\d)((?:\[\d+\])+) = W(\d)\[(\d+)\]\[(\d+)\] = (\S+) = (\S+)$)");
  for (int digits : {4, 17}) {
    const std::string text = embedding_trace(dir, "--expand --digits " + std::to_string(digits));
    const std::map<std::string, int> evaluated = check_working(text, trace, digits);
    const int rows = 3, steps = 2;
    // Per step: the looked-up rows' gradients and updates (2 codes x 2 values, 2 codes x 1 value) and the dense
    // layers' (4 x 3 + 3 x 2); dL/dx of the second entry but at its code's place (an index: no working).
    EXPECT_EQ(evaluated.count("grad W") ? evaluated.at("grad W") : 0, (4 + 2 + 18) * steps) << digits;
    EXPECT_EQ(evaluated.count("W") ? evaluated.at("W") : 0, (4 + 2 + 18) * steps) << digits;
    EXPECT_EQ(evaluated.count("grad x") ? evaluated.at("grad x") : 0, 3 * rows * steps) << digits;
    // a: every value of both embeddings' outputs (4 + 4) and the dense layers' (3 + 2), every row of both steps.
    EXPECT_GE(evaluated.at("a"), (4 + 4 + 3 + 2) * rows * steps) << digits;
    EXPECT_GE(evaluated.at("delta"), (4 + 4 + 3 + 2) * rows * steps) << digits;
    EXPECT_EQ(evaluated.at("L"), 2);
    int step = 0, lookups = 0;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("=== Step ", 0) == 0) step = std::stoi(line.substr(9));
      std::smatch m;
      if (!std::regex_match(line, m, lookup)) continue;
      const int l = std::stoi(m[1].str()) - 1, row = std::stoi(m[2].str().substr(1)), code = std::stoi(m[4].str());
      ASSERT_EQ(m[3].str(), m[1].str()) << line;
      EXPECT_EQ(code, trace["steps"][step - 1]["layers"][l]["codes"][row].get<int>()) << line;
      const Json& table = step == 1 ? net["layers"][l]["weights"] : trace["steps"][step - 2]["layers"][l]["weights"];
      const double before = table[code][std::stoi(m[5].str())].get<double>();
      EXPECT_LE(std::abs(std::stod(m[6].str()) - before), 0.5 * std::pow(10.0, -digits) * (1 + 1e-9) + 1e-15) << line;
      ++lookups;
    }
    EXPECT_EQ(lookups, (2 + 1) * rows * steps) << "one line per looked-up value";
  }
}

// The readable forms say which row each code picks, the rows whose gradient is not 0 and their update.
TEST(EmbeddingTraceFormats, TextMarkdownHtmlAndDotShowTheLookupAndTheScatteredGradient) {
  TempDir dir;
  const std::string text = embedding_trace(dir, "");
  for (const char* line : {"  Layer 1 (embedding of a0[1]: 4 categories, 2 value(s) each, placed at a1[1..2])\n",
                           "    code1 = a0[r][1] = [3, 1, 3]  (the row of W1 each row picks)\n",
                           "  Layer 2 (embedding of a1[0]: 3 categories, 1 value(s) each, placed at a2[0])\n",
                           "    a1 = a0 with a0[1] replaced by W1[code1] = [[", "    delta2 = (W3 delta3) = [[",
                           "    delta1 = grad x2 = [[", "    grad W1, rows 1, 3 (each the sum of delta1[r][1..2] over",
                           "    grad x2 = delta2 without a2[0], 0 at the code = [[", "  W2, rows 0, 2 = [[",
                           "(the other 2 row(s) unchanged: gradient 0)"})
    EXPECT_THAT(text, HasSubstr(line));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("grad x1"))) << "the first entry has no dL/dx to show";
  const std::string expanded = embedding_trace(dir, "--expand");
  EXPECT_THAT(expanded, HasSubstr("      grad W1[3][0] = delta1[0][1] + delta1[2][1] = "));
  EXPECT_THAT(expanded, HasSubstr("      grad x2[1][0] = 0 (the code: an index, not a value the loss varies with) = 0.0000"));

  const std::string markdown = embedding_trace(dir, "--expand --format markdown");
  for (const char* tex : {"$$c_{1} = a_{0}[r][1] = [3, 1, 3]$$", "- $a_{1}[0][1] = W_{1}[3][0] = ",
                          "$$\\mathrm{grad}\\,W_{1}[1; 3] = ", "- $\\mathrm{grad}\\,W_{1}[3][0] = \\delta_{1}[0][1] + ",
                          "$$W_{2}[0; 2] = "})
    EXPECT_THAT(markdown, HasSubstr(tex));

  const std::string html = embedding_trace(dir, "--format html");
  EXPECT_THAT(html, HasSubstr("<h3>Step 2, layer 1 (embedding), value 1</h3>"));
  EXPECT_THAT(html, HasSubstr(">a1[0][1] = W1[3][0] = "));
  EXPECT_THAT(html, HasSubstr("<line class=\"lookup\""));
  EXPECT_THAT(html, ::testing::Not(HasSubstr("id=\"w1-"))) << "an embedding's table is not drawn as weights";

  const std::string dot = embedding_trace(dir, "--format dot");
  EXPECT_THAT(dot, HasSubstr("u0_1 -> u1_2 [label=\"W1[code][1]\""));
  EXPECT_THAT(dot, HasSubstr("u0_2 -> u1_3 [label=\"pass\""));
  EXPECT_THAT(dot, HasSubstr("layer 1, embedding value 1\\na1[0][1] = "));
  EXPECT_THAT(dot, HasSubstr("; each embedding value's lookup (the table row its code picks)"));
  if (std::system("command -v dot > /dev/null 2>&1") != 0) return;  // TraceDot says where Graphviz is missing
  write_file(dir / "emb.dot", dot);
  EXPECT_EQ(std::system(("dot -Tsvg " + shell_word(dir / "emb.dot") + " -o /dev/null").c_str()), 0);
}

// ---- The page in headless Chromium, the graph in Graphviz ----

// The names of the figures an HTML page's panel of `element` in `step` lists, in its order.
std::vector<std::string> panel_figures(const std::string& html, int step, const std::string& element) {
  const std::string start = "data-step=\"" + std::to_string(step) + "\" data-el=\"" + element + "\"";
  const std::size_t from = html.find(start);
  EXPECT_NE(from, std::string::npos) << start;
  if (from == std::string::npos) return {};
  const std::string panel = html.substr(from, html.find("<div class=\"element-panel\"", from) - from);
  std::vector<std::string> names;
  const std::regex line("<div class=\"line\">(.*?) = ");
  for (auto it = std::sregex_iterator(panel.begin(), panel.end(), line); it != std::sregex_iterator(); ++it)
    names.push_back((*it)[1]);
  return names;
}

// A unit's panel lists its working in the order the step computes it: forward (a batch_norm's mean, variance, s and
// normalized values before its output, its running statistics after it), backward (delta, the gradients, then the
// dL/dx it passes down), the update; each kind's own figures among the shared ones.
TEST(TracePage, AUnitsPanelListsItsWorkingInTheStepsOrder) {
  TempDir dir;
  const std::vector<std::string> batch_norm = {
      "mean3[1]", "var3[1]", "s3[1]", "xhat3[0][1]", "xhat3[1][1]", "xhat3[2][1]", "a3[0][1]", "a3[1][1]", "a3[2][1]",
      "running_mean3[1]", "running_var3[1]", "delta3[0][1]", "delta3[1][1]", "delta3[2][1]", "grad scale3[1]",
      "grad shift3[1]", "grad x3[0][1]", "grad x3[1][1]", "grad x3[2][1]", "scale3[1]", "shift3[1]"};
  EXPECT_EQ(panel_figures(batch_norm_trace(dir, "--format html"), 2, "u3-1"), batch_norm);
  const std::vector<std::string> embedding = {"a2[0][2]",      "a2[1][2]",      "a2[2][2]",
                                              "delta2[0][2]",  "delta2[1][2]",  "delta2[2][2]",
                                              "grad x2[0][2]", "grad x2[1][2]", "grad x2[2][2]"};
  EXPECT_EQ(panel_figures(embedding_trace(dir, "--format html"), 2, "u2-2"), embedding);
}

TEST(TracePage, ChromiumDrawsTheNetworkAndShowsAUnitsWorking) {
  const fs::path chromium = "/usr/bin/chromium";
  if (!fs::exists(chromium))
    GTEST_SKIP() << "SKIPPED: /usr/bin/chromium is not installed (Debian package chromium); CI installs it";
  TempDir dir;
  write_file(dir / "trace.html", seed_trace("--loss bce --format html"));
  const std::string page = "file://" + (dir / "trace.html").string();
  const std::string shot = headless_chromium(chromium, dir / "profile") + " --screenshot=" +
                           shell_word(dir / "trace.png") + " --window-size=1000,900 " + shell_word(page) + " > " +
                           shell_word(dir / "chromium.log") + " 2>&1";
  const int status = std::system(shot.c_str());
  ASSERT_TRUE(fs::exists(dir / "trace.png")) << "no screenshot (status " << status << "):\n" << read_text(dir / "chromium.log");
  const Image image = decode_png(read_text(dir / "trace.png"));
  ASSERT_EQ(image.width, 1000);
  // The 10 units' green (#2ca02c; the 4 inputs are grey) and the positive weights' blue (#1f77b4).
  EXPECT_GT(count_pixels_near(image, 0x2c, 0xa0, 0x2c, 24), 6u * 700u) << "the units were not drawn";
  EXPECT_GT(count_pixels_near(image, 0x1f, 0x77, 0xb4, 24), 1500u) << "the weights were not drawn";

  // After the script ran: step 2, unit 0 of layer 3 selected, its working revealed.
  const std::string dom_command = headless_chromium(chromium, dir / "profile2") + " --dump-dom " +
                                  shell_word(page + "#step=2&el=u3-0") + " > " + shell_word(dir / "dom.html") +
                                  " 2> " + shell_word(dir / "chromium.log");
  ASSERT_EQ(std::system(dom_command.c_str()), 0) << read_text(dir / "chromium.log");
  const std::string dom = read_text(dir / "dom.html");
  EXPECT_THAT(dom, HasSubstr("data-ready=\"yes\"")) << "the page's script did not run";
  auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = dom.find(needle); at != std::string::npos; at = dom.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<circle class=\"unit"), 4u + 2u + 3u + 1u);
  EXPECT_EQ(count("<line class=\"weight"), 4u * 2u + 2u * 3u + 3u * 1u);
  const std::string open = "<div class=\"element-panel\" data-step=\"2\" data-el=\"u3-0\">";
  const std::size_t panel = dom.find(open);
  ASSERT_NE(panel, std::string::npos) << "the selected unit's working is not revealed";
  const std::string shown = std::regex_replace(dom.substr(panel, dom.find("</div>\n</div>", panel) - panel),
                                               std::regex("<[^>]*>"), "");
  EXPECT_THAT(shown, HasSubstr("z3[0] = 0.1240(0.6459) + 0.2257(0.6905) + 0.3272(0.7317) + 0.1372 = 0.6126"));
  EXPECT_THAT(shown, HasSubstr("delta3[0] = (a3[0] - y[0]) = (0.6485 - 1.0000) = -0.3515"));
  EXPECT_THAT(dom, ::testing::Not(HasSubstr("http"))) << "the page must load nothing";
}

TEST(TraceDot, GraphvizAcceptsTheGraph) {
  if (std::system("command -v dot > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "SKIPPED: Graphviz's dot is not installed (Debian package graphviz); CI installs it";
  TempDir dir;
  write_file(dir / "trace.dot", seed_trace("--loss mse --format dot"));
  const std::string command = "dot -Tsvg " + shell_word(dir / "trace.dot") + " -o " + shell_word(dir / "trace.svg") +
                              " 2> " + shell_word(dir / "dot.log");
  ASSERT_EQ(std::system(command.c_str()), 0) << read_text(dir / "dot.log");
  const std::string svg = read_text(dir / "trace.svg");
  auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = svg.find(needle); at != std::string::npos; at = svg.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("class=\"node\""), 10u);
  EXPECT_EQ(count("class=\"edge\""), 17u);
  // Step 2 under mse: the last step is drawn (Graphviz writes a minus as &#45;).
  EXPECT_THAT(svg, HasSubstr("delta3[0] = &#45;0.0854"));
}

// ---- The generated docs (docs/regenerate.py writes them) ----

// `backprop ARGUMENTS` run in the source folder, so that the network's name reads as in the docs.
std::string run_in_sources(const std::string& arguments) {
  const std::string command = "cd " + shell_word(source_path("")) + " && \"" + BACKPROP_COMMAND + "\" " + arguments;
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  EXPECT_EQ(::pclose(pipe), 0) << arguments;
  return out;
}

constexpr const char* kRegenerate = "stale: regenerate with `python3 docs/regenerate.py build/backprop`";

// The trace runs in double precision and the library fuses no a * b + c on its own (-ffp-contract=off; without
// BACKPROP_NATIVE no FMA at all), so the same figures print on any x86-64: compared at the printed precision.
TEST(TraceDocs, TheSeedTraceDocumentAndPageAreCurrent) {
  const std::string seed = "trace examples/seed.json --input 1,2,3,4 --target 1 --steps 2 --loss bce";
  EXPECT_EQ(read_text(source_path("docs/seed-trace.md")), run_in_sources(seed + " --expand --format markdown"))
      << "docs/seed-trace.md is " << kRegenerate;
  EXPECT_EQ(read_text(source_path("docs/seed-trace.html")), run_in_sources(seed + " --format html"))
      << "docs/seed-trace.html is " << kRegenerate;
}

// docs/seed-example.md: each generated part is the output of the command it names, headings two levels down;
// the rest (the errata) is written by hand.
TEST(TraceDocs, TheSeedExamplesGeneratedPartsAreCurrent) {
  const std::string text = read_text(source_path("docs/seed-example.md"));
  const std::string open = "<!-- generated by: backprop ", close = "<!-- end of generated part -->";
  int parts = 0;
  for (std::size_t at = text.find(open); at != std::string::npos; at = text.find(open, at + 1)) {
    const std::size_t arguments_end = text.find(" -->\n", at);
    const std::string arguments = text.substr(at + open.size(), arguments_end - at - open.size());
    const std::size_t body = arguments_end + 5, end = text.find(close, body);
    ASSERT_NE(end, std::string::npos);
    std::string expected;
    std::istringstream lines(run_in_sources(arguments));
    for (std::string line; std::getline(lines, line);) expected += (line.rfind('#', 0) == 0 ? "##" : "") + line + "\n";
    EXPECT_EQ(text.substr(body, end - body), expected) << "docs/seed-example.md's part `" << arguments << "` is " << kRegenerate;
    ++parts;
  }
  EXPECT_EQ(parts, 2) << "one generated part per reading of the loss";
  EXPECT_THAT(text, HasSubstr("## Figures in the tutorial that do not follow from its own inputs"));
}

// ---- Refusals ----

TEST(TraceRefusals, TooLargeUnknownFormatAndExpandWithJsonExitWith2) {
  TempDir dir;
  write_file(dir / "wide.json", R"({"input": 2, "layers": [{"units": 17, "activation": "tanh"},
      {"units": 1, "activation": "sigmoid"}], "loss": "bce", "seed": 1})");
  const std::string wide = "trace " + shell_word(dir / "wide.json") + " --input 1,2 --target 1";
  for (const char* options : {" --expand", " --format html", " --format dot", " --format markdown --expand"}) {
    const auto result = run_backprop(wide + options);
    EXPECT_EQ(result.exit_code, 2) << options;
    EXPECT_THAT(result.out, HasSubstr("too large to write out")) << options;
    EXPECT_THAT(result.out, HasSubstr("--json")) << options;
  }
  EXPECT_EQ(run_backprop(wide).exit_code, 0) << "the plain trace has no limit";
  EXPECT_EQ(run_backprop(wide + " --json").exit_code, 0);

  const std::string seed = "trace " + shell_word(source_path("examples/seed.json"));
  const auto rows = run_backprop(seed + " --input '1,2,3,4;1,2,3,4;1,2,3,4;1,2,3,4;1,2,3,4;1,2,3,4;1,2,3,4;1,2,3,4;1,2,3,4'"
                                        " --target '1;1;1;1;1;1;1;1;1' --expand");
  EXPECT_EQ(rows.exit_code, 2);
  EXPECT_THAT(rows.out, HasSubstr("a batch of 9 row(s)"));

  const auto format = run_backprop(seed + " --input 1,2,3,4 --target 1 --format pdf");
  EXPECT_EQ(format.exit_code, 2);
  EXPECT_THAT(format.out, HasSubstr("--format: expected text, markdown, html or dot, got 'pdf'"));

  const auto both = run_backprop(seed + " --input 1,2,3,4 --target 1 --expand --json");
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_THAT(both.out, HasSubstr("--expand: not with --json"));
  const auto json_html = run_backprop(seed + " --input 1,2,3,4 --target 1 --format html --json");
  EXPECT_EQ(json_html.exit_code, 2);
  EXPECT_THAT(json_html.out, HasSubstr("--format: not with --json"));
}

}  // namespace
}  // namespace backprop::testing
