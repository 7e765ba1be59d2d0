// Network files: every refused file gets Error(bad_input) with the file and what is wrong, and the
// command exits 2; good files round-trip; initializers are reproducible from the seed.
#include <cmath>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backprop/base/error.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/nn/network.hpp"
#include "helpers.hpp"

namespace backprop {
namespace {

using ::testing::HasSubstr;

// The message of the bad_input error that parsing `text` as "net.json" throws ("" when none is thrown).
std::string refusal(const std::string& text) {
  try {
    io::parse_network(text, "net.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::bad_input);
    return e.what();
  }
  return "";
}

const std::string kLayer = R"({"units": 2, "activation": "sigmoid"})";

struct Refused {
  const char* name;
  std::string text;
  std::string expected;  // a part of the message
};

class NetworkFileRefuses : public ::testing::TestWithParam<Refused> {};

TEST_P(NetworkFileRefuses, WithAMessageNamingTheFileAndTheProblem) {
  const std::string message = refusal(GetParam().text);
  EXPECT_THAT(message, HasSubstr("net.json")) << GetParam().name;
  EXPECT_THAT(message, HasSubstr(GetParam().expected)) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    EveryKindOfBadFile, NetworkFileRefuses,
    ::testing::Values(
        Refused{"syntax_error_line_column", "{\n  \"input\": 4,\n  \"layers\": [\n    {\"units\": 2,, }\n  ]\n}",
                "net.json:4:17: syntax error"},
        Refused{"empty", "", "net.json:1:1: syntax error"},
        Refused{"truncated", "{\"input\": 4, \"layers\": [", "syntax error"},
        Refused{"not_an_object", "[1, 2]", "expected a JSON object"},
        Refused{"missing_input", "{\"layers\": [" + kLayer + "]}", "input: missing"},
        Refused{"missing_layers", "{\"input\": 4}", "layers: missing"},
        Refused{"empty_layers", "{\"input\": 4, \"layers\": []}", "layers: expected a non-empty array"},
        Refused{"unknown_activation", R"({"input": 4, "layers": [{"units": 2, "activation": "swish"}]})",
                "layers[0].activation: unknown activation 'swish'"},
        Refused{"unknown_loss", "{\"input\": 4, \"layers\": [" + kLayer + "], \"loss\": \"hinge\"}",
                "loss: unknown loss 'hinge'"},
        Refused{"unknown_key", "{\"input\": 4, \"layers\": [" + kLayer + "], \"lerning_rate\": 1}",
                "lerning_rate: unknown key"},
        Refused{"units_zero", R"({"input": 4, "layers": [{"units": 0, "activation": "relu"}]})",
                "layers[0].units: expected a whole number >= 1, got 0"},
        Refused{"units_negative", R"({"input": 4, "layers": [{"units": -3, "activation": "relu"}]})",
                "layers[0].units: expected a whole number >= 1"},
        Refused{"units_fraction", R"({"input": 4, "layers": [{"units": 2.5, "activation": "relu"}]})",
                "layers[0].units: expected a whole number"},
        // 2^32 + 1 units: held at 2^24 (Reader::size), not wrapped to 1 unit by a cast to int.
        Refused{"units_beyond_int", R"({"input": 4, "layers": [{"units": 4294967297, "activation": "relu"}]})",
                "layers[0].units: expected a network of at most 16777216 parameters, got 83886080"},
        Refused{"input_zero", "{\"input\": 0, \"layers\": [" + kLayer + "]}", "input: expected a whole number >= 1"},
        Refused{"units_string", R"({"input": 4, "layers": [{"units": "2", "activation": "relu"}]})",
                "layers[0].units: expected a whole number >= 1, got the string \"2\""},
        Refused{"weights_wrong_rows",
                R"({"input": 2, "layers": [{"units": 2, "activation": "relu", "weights": [[1, 2]]}]})",
                "layers[0].weights: expected 2 rows of 2 numbers (IN x OUT), got an array of 1"},
        Refused{"weights_wrong_columns",
                R"({"input": 2, "layers": [{"units": 2, "activation": "relu", "weights": [[1, 2], [3]]}]})",
                "layers[0].weights[1]: expected 2 rows of 2 numbers (IN x OUT), got a row an array of 1"},
        Refused{"weights_transposed",
                R"({"input": 3, "layers": [{"units": 2, "activation": "relu", "weights": [[1, 2, 3], [4, 5, 6]]}]})",
                "layers[0].weights: expected 3 rows of 2 numbers"},
        Refused{"weights_non_number",
                R"({"input": 2, "layers": [{"units": 1, "activation": "relu", "weights": [[1], ["x"]]}]})",
                "layers[0].weights[1][0]: expected a number, got the string \"x\""},
        Refused{"weights_null",
                R"({"input": 2, "layers": [{"units": 1, "activation": "relu", "weights": [[1], [null]]}]})",
                "layers[0].weights[1][0]: expected a number, got null"},
        Refused{"weights_overflow",
                R"({"input": 1, "layers": [{"units": 1, "activation": "relu", "weights": [[1e999]]}]})",
                "net.json"},
        Refused{"bias_wrong_length",
                R"({"input": 2, "layers": [{"units": 2, "activation": "relu", "bias": [0.1, 0.2, 0.3]}]})",
                "layers[0].bias: expected an array of 2 numbers, got an array of 3"},
        Refused{"bias_non_number",
                R"({"input": 2, "layers": [{"units": 2, "activation": "relu", "bias": [0.1, true]}]})",
                "layers[0].bias[1]: expected a number, got true"},
        Refused{"softmax_not_last",
                R"({"input": 2, "layers": [{"units": 3, "activation": "softmax"}, {"units": 1, "activation": "sigmoid"}]})",
                "layers[0].activation: softmax is allowed only in the last layer"},
        Refused{"bce_without_sigmoid",
                R"({"input": 2, "layers": [{"units": 3, "activation": "softmax"}], "loss": "bce"})",
                "loss: bce needs a sigmoid output layer, the last layer is softmax"},
        Refused{"softmax_ce_without_softmax", "{\"input\": 4, \"layers\": [" + kLayer + "], \"loss\": \"softmax_ce\"}",
                "loss: softmax_ce needs a softmax output layer, the last layer is sigmoid"},
        Refused{"learning_rate_negative",
                "{\"input\": 4, \"layers\": [" + kLayer + "], \"optimizer\": {\"learning_rate\": -1}}",
                "optimizer.learning_rate: expected a positive number"},
        Refused{"dropout_one", R"({"input": 2, "layers": [{"units": 2, "activation": "relu", "dropout": 1}]})",
                "layers[0].dropout: expected a probability in [0, 1)"},
        Refused{"unknown_initializer", "{\"input\": 4, \"layers\": [" + kLayer + "], \"initializer\": \"ones\"}",
                "initializer: unknown initializer 'ones'"},
        Refused{"seed_negative", "{\"input\": 4, \"layers\": [" + kLayer + "], \"seed\": -1}",
                "seed: expected a whole number >= 0"},
        Refused{"invalid_utf8", "{\"input\": 4, \"layers\": [{\"units\": 2, \"activation\": \"sig\xff\"}]}",
                "syntax error"}),
    [](const ::testing::TestParamInfo<Refused>& info) { return std::string(info.param.name); });

TEST(NetworkFileRefusesOnTheCommandLine, ExitCode2AndTheFileNamed) {
  testing::TempDir dir;
  const auto path = dir / "broken.json";
  testing::write_file(path, "{\"input\": 4,\n \"layers\": [{\"units\": 2, \"activation\": \"sigmoid\"}],\n \"loss\": 3}");
  const auto result = testing::run_backprop("trace " + path.string() + " --input 1,2,3,4 --target 1,1");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.out, HasSubstr(path.string() + ": loss: expected a string, got 3"));
  const auto missing = testing::run_backprop("gradcheck " + (dir / "absent.json").string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.out, HasSubstr("absent.json"));
  const auto usage = testing::run_backprop("trace " + path.string() + " --steps 0 --input 1 --target 1");
  EXPECT_EQ(usage.exit_code, 2);
}

TEST(NetworkFile, SeedExampleReadsAsTheTutorialWritesIt) {
  const NetworkSpec spec = io::read_network_file(testing::source_path("examples/seed.json"));
  ASSERT_EQ(spec.layers.size(), 3u);
  EXPECT_EQ(spec.input, 4);
  EXPECT_EQ(spec.layers[1].units, 3);
  // W1 is IN x OUT: row 2 (the third input) is [0.5, 0.6].
  EXPECT_EQ(spec.layers[0].weights[4], 0.5);
  EXPECT_EQ(spec.layers[0].weights[5], 0.6);
  EXPECT_EQ(spec.loss, LossKind::mse);
  EXPECT_EQ(spec.optimizer.learning_rate, 0.1);
  Network<double> network(spec);
  EXPECT_EQ(network.weights(1)[3], 0.4);  // W2[1][0]
}

TEST(NetworkFile, DefaultsAndRoundTrip) {
  const NetworkSpec spec = io::parse_network(
      R"({"input": 3, "layers": [{"units": 4, "activation": "leaky_relu", "slope": 0.2},
                                 {"units": 2, "activation": "softmax"}], "seed": 9,
          "initializer": {"type": "uniform", "scale": 0.3}})",
      "net.json");
  EXPECT_EQ(spec.loss, LossKind::softmax_ce);  // the default after a softmax layer
  EXPECT_EQ(spec.layers[0].slope, 0.2);
  EXPECT_EQ(spec.initializer.kind, InitializerKind::uniform);
  const NetworkSpec filled = Network<double>(spec).spec_with_parameters();
  const NetworkSpec back = io::parse_network(io::network_to_json(filled), "round-trip.json");
  ASSERT_EQ(back.layers.size(), 2u);
  EXPECT_EQ(back.layers[0].weights, filled.layers[0].weights);  // bit-exact: shortest round-trip printing
  EXPECT_EQ(back.layers[1].bias, filled.layers[1].bias);
  EXPECT_EQ(back.layers[0].activation, Activation::leaky_relu);
  EXPECT_EQ(back.seed, 9u);
}

NetworkSpec wide_network(InitializerKind kind, Activation activation, std::uint64_t seed) {
  NetworkSpec spec;
  spec.input = 400;
  spec.seed = seed;
  spec.initializer.kind = kind;
  spec.layers.push_back({.units = 300, .activation = activation});
  return spec;
}

// Initializers: the sample mean, spread and bounds of 120,000 draws against each rule's definition.
TEST(Initializer, DrawsFollowEachRule) {
  struct Case {
    InitializerKind kind;
    double bound;   // 0: unbounded
    double stddev;  // of the distribution
  };
  const double xavier_limit = std::sqrt(6.0 / 700.0);
  const Case cases[] = {
      {InitializerKind::xavier_uniform, xavier_limit, xavier_limit / std::sqrt(3.0)},
      {InitializerKind::xavier_normal, 0.0, std::sqrt(2.0 / 700.0)},
      {InitializerKind::he_normal, 0.0, std::sqrt(2.0 / 400.0)},
      {InitializerKind::uniform, 0.05, 0.05 / std::sqrt(3.0)},
  };
  for (const Case& c : cases) {
    Network<double> network(wide_network(c.kind, Activation::tanh, 3));
    double sum = 0, sum_squares = 0, largest = 0;
    for (double w : network.weights(0)) {
      sum += w;
      sum_squares += w * w;
      largest = std::max(largest, std::abs(w));
    }
    const double n = 120000.0;
    const double mean = sum / n;
    const double stddev = std::sqrt(sum_squares / n - mean * mean);
    // The sample mean's standard error is stddev / sqrt(n) ~ 0.003 stddev: 5 of them is a safe bound.
    EXPECT_LT(std::abs(mean), 5 * c.stddev / std::sqrt(n)) << to_string(c.kind);
    EXPECT_NEAR(stddev, c.stddev, 0.02 * c.stddev) << to_string(c.kind);
    if (c.bound > 0) EXPECT_LE(largest, c.bound) << to_string(c.kind);
    for (double b : network.bias(0)) EXPECT_EQ(b, 0.0);
  }
}

TEST(Initializer, ReproducibleFromTheSeedAndAutomaticByActivation) {
  Network<double> a(wide_network(InitializerKind::automatic, Activation::relu, 5));
  Network<double> b(wide_network(InitializerKind::automatic, Activation::relu, 5));
  Network<double> c(wide_network(InitializerKind::automatic, Activation::relu, 6));
  Network<double> he(wide_network(InitializerKind::he_normal, Activation::relu, 5));
  Network<double> xavier(wide_network(InitializerKind::xavier_uniform, Activation::tanh, 5));
  Network<double> automatic_tanh(wide_network(InitializerKind::automatic, Activation::tanh, 5));
  EXPECT_TRUE(std::ranges::equal(a.parameters(), b.parameters()));
  EXPECT_FALSE(std::ranges::equal(a.parameters(), c.parameters()));
  EXPECT_TRUE(std::ranges::equal(a.parameters(), he.parameters()));
  EXPECT_TRUE(std::ranges::equal(automatic_tanh.parameters(), xavier.parameters()));
  // float and double networks of one spec start from the same values (drawn in double, then rounded).
  Network<float> f(wide_network(InitializerKind::automatic, Activation::relu, 5));
  for (std::size_t i = 0; i < 100; ++i) EXPECT_EQ(f.parameters()[i], static_cast<float>(a.parameters()[i]));
}

}  // namespace
}  // namespace backprop
