// The tutorial's worked example (../shared/seed/, examples/seed.json): a 4-2-3-1 sigmoid network,
// x = [1, 2, 3, 4], y = 1, SGD with learning rate 0.1, two steps, under both readings of its loss.
//
// `backprop trace --json` is checked against two independent references, at 1e-9 (absolute, or relative
// for figures above 1) in double precision:
//  - tests/data/seed_reference.json, computed by PyTorch autograd in float64
//    (tests/reference/seed_reference.py);
//  - the derivation written out below by hand with scalar loops, the way the tutorial does it on paper.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "helpers.hpp"

namespace backprop::testing {
namespace {

using Json = nlohmann::json;
constexpr double kTolerance = 1e-9;

void expect_near_all(const Json& actual, const Json& expected, const std::string& where) {
  if (expected.is_array()) {
    ASSERT_TRUE(actual.is_array()) << where;
    ASSERT_EQ(actual.size(), expected.size()) << where;
    for (std::size_t i = 0; i < expected.size(); ++i)
      expect_near_all(actual[i], expected[i], where + "[" + std::to_string(i) + "]");
    return;
  }
  const double a = actual.get<double>();
  const double e = expected.get<double>();
  EXPECT_LE(std::abs(a - e), kTolerance * std::max(1.0, std::abs(e))) << where << ": " << a << " vs " << e;
}

// ---- The derivation by hand: the tutorial's formulas, one scalar at a time. ----
struct HandLayer {
  std::vector<std::vector<double>> W;  // [in][out]
  std::vector<double> b;
  std::vector<double> z, a, delta;
  std::vector<std::vector<double>> gW;
  std::vector<double> gb;
};

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// One SGD step of the seed network on x, y; fills z, a, delta, gradients and updates W, b. Returns the loss.
double hand_step(std::vector<HandLayer>& net, const std::vector<double>& x, double y, bool bce) {
  std::vector<double> input = x;
  for (auto& L : net) {
    const std::size_t out = L.b.size();
    L.z.assign(out, 0.0);
    L.a.assign(out, 0.0);
    for (std::size_t o = 0; o < out; ++o) {
      double z = L.b[o];  // z_o = sum_i W[i][o] a_i + b_o  (z = W^T a + b)
      for (std::size_t i = 0; i < input.size(); ++i) z += L.W[i][o] * input[i];
      L.z[o] = z;
      L.a[o] = sigmoid(z);
    }
    input = L.a;
  }
  const double a3 = net.back().a[0];
  const double loss = bce ? -(y * std::log(a3) + (1 - y) * std::log(1 - a3)) : 0.5 * (a3 - y) * (a3 - y);
  // Output delta: bce: a - y (the tutorial's formula). mse: (a - y) * a (1 - a).
  net.back().delta = {bce ? a3 - y : (a3 - y) * a3 * (1 - a3)};
  // Hidden deltas: delta_l = (W_{l+1} delta_{l+1}) * a_l (1 - a_l).
  for (std::size_t l = net.size() - 1; l-- > 0;) {
    HandLayer& L = net[l];
    const HandLayer& above = net[l + 1];
    L.delta.assign(L.b.size(), 0.0);
    for (std::size_t i = 0; i < L.b.size(); ++i) {
      double sum = 0;
      for (std::size_t o = 0; o < above.b.size(); ++o) sum += above.W[i][o] * above.delta[o];
      L.delta[i] = sum * L.a[i] * (1 - L.a[i]);
    }
  }
  // Gradients: dW[i][o] = a_prev[i] delta[o], db = delta; then W -= 0.1 dW, b -= 0.1 db.
  for (std::size_t l = 0; l < net.size(); ++l) {
    HandLayer& L = net[l];
    const std::vector<double>& prev = l == 0 ? x : net[l - 1].a;
    L.gW.assign(prev.size(), std::vector<double>(L.b.size()));
    for (std::size_t i = 0; i < prev.size(); ++i)
      for (std::size_t o = 0; o < L.b.size(); ++o) L.gW[i][o] = prev[i] * L.delta[o];
    L.gb = L.delta;
  }
  for (auto& L : net) {
    for (std::size_t i = 0; i < L.W.size(); ++i)
      for (std::size_t o = 0; o < L.b.size(); ++o) L.W[i][o] -= 0.1 * L.gW[i][o];
    for (std::size_t o = 0; o < L.b.size(); ++o) L.b[o] -= 0.1 * L.gb[o];
  }
  return loss;
}

Json hand_derivation(bool bce) {
  std::vector<HandLayer> net(3);
  net[0].W = {{0.1, 0.2}, {0.3, 0.4}, {0.5, 0.6}, {0.7, 0.8}};
  net[0].b = {0.1, 0.1};
  net[1].W = {{0.1, 0.2, 0.3}, {0.4, 0.5, 0.6}};
  net[1].b = {0.1, 0.1, 0.1};
  net[2].W = {{0.1}, {0.2}, {0.3}};
  net[2].b = {0.1};
  Json steps = Json::array();
  for (int step = 1; step <= 2; ++step) {
    const double loss = hand_step(net, {1, 2, 3, 4}, 1.0, bce);
    Json layers = Json::array();
    for (const auto& L : net)
      layers.push_back({{"z", L.z}, {"a", L.a}, {"delta", L.delta}, {"grad_weights", L.gW}, {"grad_bias", L.gb},
                        {"weights", L.W}, {"bias", L.b}});
    steps.push_back({{"step", step}, {"loss", loss}, {"layers", layers}});
  }
  return {{"steps", steps}};
}

Json traced(const std::string& loss) {
  const auto result = run_backprop("trace \"" + source_path("examples/seed.json") +
                                   "\" --input 1,2,3,4 --target 1 --steps 2 --json --loss " + loss);
  EXPECT_EQ(result.exit_code, 0) << result.out;
  return Json::parse(result.out);
}

void expect_trace_matches(const Json& actual, const Json& expected) {
  ASSERT_EQ(actual["steps"].size(), 2u);
  for (std::size_t s = 0; s < 2; ++s) {
    const Json& a = actual["steps"][s];
    const Json& e = expected["steps"][s];
    EXPECT_EQ(a["step"], e["step"]);
    expect_near_all(a["loss"], e["loss"], "step " + std::to_string(s + 1) + " loss");
    ASSERT_EQ(a["layers"].size(), 3u);
    for (std::size_t l = 0; l < 3; ++l) {
      for (const char* key : {"z", "a", "delta", "grad_weights", "grad_bias", "weights", "bias"}) {
        expect_near_all(a["layers"][l][key], e["layers"][l][key],
                        "step " + std::to_string(s + 1) + " layer " + std::to_string(l + 1) + " " + key);
      }
    }
  }
}

class SeedTrace : public ::testing::TestWithParam<std::string> {};

TEST_P(SeedTrace, MatchesPyTorchFloat64) {
  const Json reference = Json::parse(read_text(source_path("tests/data/seed_reference.json")));
  expect_trace_matches(traced(GetParam()), reference[GetParam()]);
}

TEST_P(SeedTrace, MatchesHandDerivation) {
  expect_trace_matches(traced(GetParam()), hand_derivation(GetParam() == "bce"));
}

INSTANTIATE_TEST_SUITE_P(BothReadings, SeedTrace, ::testing::Values("mse", "bce"));

// The tutorial's own formula for the output error, delta3 = a3 - y, is the bce reading; under mse the
// sigmoid's derivative multiplies it. Checked on the traced figures themselves.
TEST(SeedTraceReadings, OutputDeltaIsAMinusYForBceAndCarriesTheSigmoidDerivativeForMse) {
  const Json bce = traced("bce")["steps"][0]["layers"][2];
  const Json mse = traced("mse")["steps"][0]["layers"][2];
  const double a3 = bce["a"][0].get<double>();
  EXPECT_NEAR(bce["delta"][0].get<double>(), a3 - 1.0, 1e-15);
  EXPECT_NEAR(mse["delta"][0].get<double>(), (a3 - 1.0) * a3 * (1.0 - a3), 1e-15);
}

// The readable form prints the same figures, 4 decimals, as the tutorial does.
TEST(SeedTraceReadable, PrintsEveryFigureToFourDecimals) {
  const Json reference = Json::parse(read_text(source_path("tests/data/seed_reference.json")))["bce"];
  const auto result = run_backprop("trace \"" + source_path("examples/seed.json") +
                                   "\" --input 1,2,3,4 --target 1 --steps 2 --loss bce");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  auto fixed4 = [](double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.4f", v);
    return std::string(buffer);
  };
  const Json& step1 = reference["steps"][0];
  EXPECT_THAT(result.out, ::testing::HasSubstr("z3 = W3^T a2 + b3 = [" + fixed4(step1["layers"][2]["z"][0]) + "]"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("a3 = sigmoid(z3) = [" + fixed4(step1["layers"][2]["a"][0]) + "]"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("delta3 = (a3 - y) = [" + fixed4(step1["layers"][2]["delta"][0]) + "]"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("Loss (bce) = " + fixed4(step1["loss"])));
  EXPECT_THAT(result.out, ::testing::HasSubstr("=== Step 2 ==="));
}

// A batch of several rows traces too; figures come back as one row per input row.
TEST(SeedTraceBatch, TwoRowsGiveRowsOfFiguresAndTheMeanGradient) {
  const auto both = run_backprop("trace \"" + source_path("examples/seed.json") +
                                 "\" --input '1,2,3,4;4,3,2,1' --target '1;0' --json");
  ASSERT_EQ(both.exit_code, 0) << both.out;
  const auto one = run_backprop("trace \"" + source_path("examples/seed.json") + "\" --input 1,2,3,4 --target 1 --json");
  const auto other = run_backprop("trace \"" + source_path("examples/seed.json") + "\" --input 4,3,2,1 --target 0 --json");
  const Json b = Json::parse(both.out)["steps"][0]["layers"][2];
  const Json o1 = Json::parse(one.out)["steps"][0]["layers"][2];
  const Json o2 = Json::parse(other.out)["steps"][0]["layers"][2];
  ASSERT_EQ(b["z"].size(), 2u);
  EXPECT_NEAR(b["z"][0][0].get<double>(), o1["z"][0].get<double>(), 1e-15);
  EXPECT_NEAR(b["z"][1][0].get<double>(), o2["z"][0].get<double>(), 1e-15);
  // Every loss averages over the batch, so the batch gradient is the mean of the rows' gradients.
  for (int i = 0; i < 3; ++i) {
    const double mean = 0.5 * (o1["grad_weights"][i][0].get<double>() + o2["grad_weights"][i][0].get<double>());
    EXPECT_NEAR(b["grad_weights"][i][0].get<double>(), mean, 1e-15);
  }
}

TEST(SeedTraceErrors, InputOfTheWrongLengthIsRefusedWithExitCode2) {
  const auto result = run_backprop("trace \"" + source_path("examples/seed.json") + "\" --input 1,2,3 --target 1");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.out, ::testing::HasSubstr("--input: expected 4 numbers per row"));
  const auto nan = run_backprop("trace \"" + source_path("examples/seed.json") + "\" --input 1,2,nan,4 --target 1");
  EXPECT_EQ(nan.exit_code, 2);
  EXPECT_THAT(nan.out, ::testing::HasSubstr("'nan'"));
  const auto loss = run_backprop("trace \"" + source_path("examples/seed.json") +
                                 "\" --input 1,2,3,4 --target 1 --loss softmax_ce");
  EXPECT_EQ(loss.exit_code, 2);
  EXPECT_THAT(loss.out, ::testing::HasSubstr("softmax_ce needs a softmax output layer"));
}

}  // namespace
}  // namespace backprop::testing
