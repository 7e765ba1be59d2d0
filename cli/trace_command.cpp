// backprop trace NET.json --input 1,2,3,4 --target 1 [--steps N] [--loss L] [--learning-rate X]
//                [--digits D] [--json]
// Prints every figure of the forward pass, backward pass and SGD update, like the tutorial.
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "backprop/io/network_file.hpp"
#include "backprop/io/text.hpp"
#include "backprop/nn/trace.hpp"
#include "commands.hpp"

namespace backprop::cli {
namespace {

struct TraceArguments {
  std::string network;
  std::string input;
  std::string target;
  int steps = 1;
  std::string loss;
  double learning_rate = 0.0;
  int digits = 4;
  bool json = false;
};

// A (rows, cols) block as nlohmann JSON: a flat array for one row, an array of rows otherwise.
nlohmann::ordered_json rows_json(const std::vector<double>& values, int rows, int cols) {
  if (rows == 1) return values;
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (int r = 0; r < rows; ++r)
    out.push_back(std::vector<double>(values.begin() + r * cols, values.begin() + (r + 1) * cols));
  return out;
}

void print_json(const Trace& trace) {
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  for (const auto& step : trace.steps) {
    nlohmann::ordered_json layers = nlohmann::ordered_json::array();
    for (const auto& layer : step.layers) {
      layers.push_back({{"z", rows_json(layer.z, trace.batch, layer.out)},
                        {"a", rows_json(layer.a, trace.batch, layer.out)},
                        {"delta", rows_json(layer.delta, trace.batch, layer.out)},
                        {"grad_weights", rows_json(layer.grad_weights, layer.in, layer.out)},
                        {"grad_bias", layer.grad_bias},
                        {"weights", rows_json(layer.weights, layer.in, layer.out)},
                        {"bias", layer.bias}});
    }
    steps.push_back({{"step", step.step}, {"loss", step.loss}, {"layers", std::move(layers)}});
  }
  std::cout << nlohmann::ordered_json{{"steps", std::move(steps)}}.dump() << "\n";
}

class Printer {
 public:
  explicit Printer(int digits) : digits_(digits) {}

  std::string number(double v) const {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", digits_, v);  // the program never sets a locale
    return buffer;
  }
  std::string vector(const double* v, int n) const {
    std::string s = "[";
    for (int i = 0; i < n; ++i) s += (i ? ", " : "") + number(v[i]);
    return s + "]";
  }
  // A (rows, cols) block: a vector for one row, else [[row], [row], ...].
  std::string block(const std::vector<double>& v, int rows, int cols) const {
    if (rows == 1) return vector(v.data(), cols);
    std::string s = "[";
    for (int r = 0; r < rows; ++r) s += (r ? ", " : "") + vector(v.data() + r * cols, cols);
    return s + "]";
  }

 private:
  int digits_;
};

std::string derivative_name(Activation activation) {
  return std::string(to_string(activation)) + "'(z";
}

void print_readable(const Trace& trace, const std::string& source, int digits) {
  const Printer p(digits);
  const NetworkSpec& spec = trace.spec;
  const int batch = trace.batch;
  const int last = static_cast<int>(spec.layers.size());
  const std::string over_batch = batch > 1 ? " / B" : "";
  std::cout << "backprop trace: " << source << ", network " << architecture(spec) << ", loss "
            << to_string(spec.loss) << ", SGD learning rate " << io::format_double(trace.learning_rate) << ", "
            << trace.steps.size() << " step(s), batch of " << batch << "\n";
  std::cout << "x = a0 = " << p.block(trace.input, batch, spec.input) << "\n";
  std::cout << "y      = " << p.block(trace.target, batch, spec.output()) << "\n";

  for (const auto& step : trace.steps) {
    std::cout << "\n=== Step " << step.step << " ===\nForward pass\n";
    for (int l = 1; l <= last; ++l) {
      const TraceLayer& layer = step.layers[l - 1];
      const std::string L = std::to_string(l);
      const std::string prev = std::to_string(l - 1);
      std::cout << "  Layer " << L << " (" << layer.in << " -> " << layer.out << ", " << to_string(layer.activation)
                << ")\n";
      std::cout << "    z" << L << " = W" << L << "^T a" << prev << " + b" << L << " = "
                << p.block(layer.z, batch, layer.out) << "\n";
      std::cout << "    a" << L << " = " << to_string(layer.activation) << "(z" << L
                << ") = " << p.block(layer.a, batch, layer.out) << "\n";
    }
    std::cout << "  Loss (" << to_string(spec.loss) << ") = " << p.number(step.loss) << "\n";

    std::cout << "Backward pass\n";
    for (int l = last; l >= 1; --l) {
      const TraceLayer& layer = step.layers[l - 1];
      const std::string L = std::to_string(l);
      const std::string prev = std::to_string(l - 1);
      std::cout << "  Layer " << L << "\n";
      std::string rule;
      if (l == last) {
        rule = spec.loss == LossKind::mse ? "(a" + L + " - y)" + over_batch + " * " + derivative_name(layer.activation) + L + ")"
                                          : "(a" + L + " - y)" + over_batch;
      } else {
        rule = "(W" + std::to_string(l + 1) + " delta" + std::to_string(l + 1) + ") * " +
               derivative_name(layer.activation) + L + ")";
      }
      std::cout << "    delta" << L << " = " << rule << " = " << p.block(layer.delta, batch, layer.out) << "\n";
      std::cout << "    grad W" << L << " = a" << prev << "^T delta" << L << " = "
                << p.block(layer.grad_weights, layer.in, layer.out) << "\n";
      std::cout << "    grad b" << L << " = " << (batch > 1 ? "column sums of delta" : "delta") << L << " = "
                << p.vector(layer.grad_bias.data(), layer.out) << "\n";
    }

    std::cout << "Update (W <- W - " << io::format_double(trace.learning_rate) << " grad W, b <- b - "
              << io::format_double(trace.learning_rate) << " grad b)\n";
    for (int l = last; l >= 1; --l) {
      const TraceLayer& layer = step.layers[l - 1];
      const std::string L = std::to_string(l);
      std::cout << "  W" << L << " = " << p.block(layer.weights, layer.in, layer.out) << "\n";
      std::cout << "  b" << L << " = " << p.vector(layer.bias.data(), layer.out) << "\n";
    }
  }
}

int run_trace(const TraceArguments& args) {
  const NetworkSpec spec = io::read_model(args.network).exact_network;
  TraceOptions options;
  options.input = io::parse_number_list(args.input, "--input");
  options.target = io::parse_number_list(args.target, "--target");
  options.steps = args.steps;
  options.loss = loss_option(args.loss);
  if (args.learning_rate > 0) options.learning_rate = args.learning_rate;
  const Trace result = trace(spec, options);
  if (args.json)
    print_json(result);
  else
    print_readable(result, args.network, args.digits);
  return 0;
}

}  // namespace

void add_trace_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TraceArguments>();
  CLI::App* cmd = app.add_subcommand(
      "trace", "Print every figure of the forward pass, the backward pass and the SGD update, step by step, in "
               "double precision (the tutorial's worked example: examples/seed.json)");
  cmd->add_option("network", args->network, "Network file (JSON) or model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--input", args->input,
                  "Input row: comma-separated numbers, one per network input; several rows separated by ';' "
                  "make a batch")
      ->required();
  cmd->add_option("--target", args->target,
                  "Target: one number per output (one-hot for softmax_ce), a row per input row")
      ->required();
  cmd->add_option("--steps", args->steps, "Number of SGD steps to trace")->check(CLI::Range(1, 1000000));
  cmd->add_option("--loss", args->loss, "Loss, overriding the network file's: mse, bce or softmax_ce")
      ->check(CLI::IsMember({"mse", "bce", "softmax_ce"}));
  cmd->add_option("--learning-rate", args->learning_rate, "SGD learning rate, overriding the network file's")
      ->check(finite_number("a positive number", is_positive));
  cmd->add_option("--digits", args->digits, "Decimals printed in the readable form")->check(CLI::Range(0, 17));
  cmd->add_flag("--json", args->json,
                "Print one JSON object {\"steps\":[{\"step\",\"loss\",\"layers\":[{\"z\",\"a\",\"delta\","
                "\"grad_weights\",\"grad_bias\",\"weights\",\"bias\"}]}]} with every figure at full precision");
  cmd->callback([args, &exit_code] { exit_code = run_trace(*args); });
}

}  // namespace backprop::cli
