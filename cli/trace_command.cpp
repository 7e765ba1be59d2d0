// backprop trace NET.json --input 1,2,3,4 --target 1 [--steps N] [--loss L] [--learning-rate X]
//                [--digits D] [--expand] [--format text|markdown|html|dot] [--json]
//                [--class-weight W] [--sample-weight W,W,...]
// Prints every figure of the forward pass, backward pass and SGD update, like the tutorial.
#include <cstdio>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "backprop/io/network_file.hpp"
#include "backprop/base/text.hpp"
#include "backprop/io/trace_render.hpp"
#include "backprop/nn/trace.hpp"
#include "backprop/train/options.hpp"
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
  bool expand = false;
  std::string format = "text";
  RowWeightArguments weights;
};

// A (rows, cols) block as nlohmann JSON: a flat array for one row, an array of rows otherwise.
nlohmann::ordered_json rows_json(const std::vector<double>& values, int rows, int cols) {
  if (rows == 1) return values;
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (int r = 0; r < rows; ++r)
    out.push_back(std::vector<double>(values.begin() + r * cols, values.begin() + (r + 1) * cols));
  return out;
}

// A figure as nlohmann JSON: numbers as rows_json writes them, a 1-D array as a flat one.
nlohmann::ordered_json figure_json(const TraceFigure& figure) {
  if (const auto* word = std::get_if<std::string_view>(&figure.value)) return std::string(*word);
  if (const auto* number = std::get_if<int>(&figure.value)) return *number;
  if (const auto* codes = std::get_if<std::span<const int>>(&figure.value))
    return std::vector<int>(codes->begin(), codes->end());
  const auto numbers = std::get<std::span<const double>>(figure.value);
  std::vector<double> values(numbers.begin(), numbers.end());
  if (figure.rows > 0) return rows_json(values, figure.rows, figure.cols);
  return values;
}

void print_json(const Trace& trace) {
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  for (const auto& step : trace.steps) {
    nlohmann::ordered_json layers = nlohmann::ordered_json::array();
    for (const auto& layer : step.layers) {
      nlohmann::ordered_json figures;
      for (const TraceFigure& figure : trace_figures(layer, trace.batch)) figures[std::string(figure.name)] = figure_json(figure);
      layers.push_back(std::move(figures));
    }
    steps.push_back({{"step", step.step}, {"loss", step.loss}, {"layers", std::move(layers)}});
  }
  nlohmann::ordered_json out{{"steps", std::move(steps)}};
  if (!trace.weights.empty()) out["row_weights"] = trace.weights;  // the loss's weights, after the steps
  std::cout << out.dump() << "\n";
}

int run_trace(const TraceArguments& args) {
  const io::LoadedModel loaded = io::read_model(args.network);
  const NetworkSpec& spec = loaded.exact_network;
  TraceOptions options;
  const std::vector<double> given = parse_number_list(args.input, "--input");
  // What the model computes: its inputs scaled as predict scales them (the trace shows both).
  options.input = traced_input(loaded.model, given);
  options.target = parse_number_list(args.target, "--target");
  options.steps = args.steps;
  options.loss = loss_option(args.loss);
  if (args.learning_rate > 0) options.learning_rate = args.learning_rate;
  NetworkSpec traced = spec;  // the loss the trace computes, for the classes of --class-weight
  if (options.loss) traced.loss = *options.loss;
  // Only the weights asked for: the file's class_weight is training's, like its label smoothing.
  const std::string& class_weight = args.weights.class_weight;
  options.weights = row_weights(class_weight.empty() ? ClassWeightSpec{} : parse_class_weight(class_weight),
                                args.weights.sample_weight, traced, options.target, loaded.model.classes);
  if (args.json && args.expand)
    throw OptionError("expand", "not with --json, which holds every figure at full precision; the working is "
                                "written in the text, markdown, html and dot formats");
  const io::TraceFormat format = io::parse_trace_format(args.format);
  if (args.json && format != io::TraceFormat::text)
    throw OptionError("format", "not with --json: choose one (--json prints every figure at full precision)");
  const Trace result = trace(spec, options);
  if (args.json) {
    print_json(result);
  } else {
    std::cout << io::render_trace(result, format, trace_render_options(loaded.model, given, args.digits, args.expand,
                                                                        args.network));
  }
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
                  "make a batch (at least 2 rows for a network with batch_norm)")
      ->required();
  cmd->add_option("--target", args->target,
                  "Target: one number per output (one-hot for softmax_ce), a row per input row")
      ->required();
  cmd->add_option("--steps", args->steps, "Number of SGD steps to trace")->check(CLI::Range(1, kMaxTraceSteps));
  cmd->add_option("--loss", args->loss, "Loss, overriding the network file's: " + loss_names())
      ->check(loss_choice());
  cmd->add_option("--learning-rate", args->learning_rate, "SGD learning rate, overriding the network file's")
      ->check(finite_number("a positive number", is_positive));
  cmd->add_option("--digits", args->digits, "Decimals printed in the readable form")->check(CLI::Range(0, 17));
  cmd->add_flag("--expand", args->expand,
                "Write every figure with its working, as the tutorial does: each z as its weight x activation "
                "terms plus the bias, each delta, gradient and update with its numbers (at most " +
                    std::to_string(io::kExpandMaxUnits) + " units in a layer and " + std::to_string(io::kExpandMaxRows) +
                    " rows)");
  cmd->add_option("--format", args->format,
                  "text (default), markdown (LaTeX math), html (a self-contained page that steps through the trace) "
                  "or dot (Graphviz, the last step); html and dot always carry the working");
  cmd->add_flag("--json", args->json,
                "Print one JSON object {\"steps\":[{\"step\",\"loss\",\"layers\":[{\"z\",\"a\",\"delta\","
                "\"grad_weights\",\"grad_bias\",\"weights\",\"bias\"}]}]} with every figure at full precision (a "
                "batch_norm entry: {\"type\":\"batch_norm\",\"mean\",\"variance\",\"inv_std\",\"xhat\",\"a\","
                "\"running_mean_before\",\"running_var_before\",\"running_mean\",\"running_var\",\"delta\",\"grad_scale\",\"grad_shift\",\"grad_input\",\"scale\","
                "\"shift\"}; an embedding entry: {\"type\":\"embedding\",\"input\",\"categories\",\"dim\",\"codes\",\"a\","
                "\"delta\",\"grad_weights\",\"grad_input\",\"weights\"}), and \"row_weights\" where the rows are weighted");
  add_row_weight_options(cmd, args->weights, "default: none (the file's training.class_weight is training's)");
  cmd->callback([args, &exit_code] { exit_code = run_trace(*args); });
}

}  // namespace backprop::cli
