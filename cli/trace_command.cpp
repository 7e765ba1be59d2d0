// backprop trace NET.json --input 1,2,3,4 --target 1 [--steps N] [--loss L] [--learning-rate X]
//                [--digits D] [--expand] [--format text|markdown|html|dot] [--json]
//                [--class-weight W] [--sample-weight W,W,...]
// Prints every figure of the forward pass, backward pass and SGD update, like the tutorial.
#include <cstdio>
#include <iostream>
#include <string>

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

// A batch_norm entry's figures under nn/batch_norm.hpp's names: "type" first, so that a reader tells it from a
// dense layer's {"z", ...}; the running statistics before this step's forward ("..._before") and after it;
// "grad_input" only where there is an entry below.
nlohmann::ordered_json batch_norm_json(const TraceLayer& layer, int batch) {
  const TraceBatchNorm& bn = layer.batch_norm;
  nlohmann::ordered_json out{{"type", "batch_norm"},
                             {"mean", bn.mean},
                             {"variance", bn.variance},
                             {"inv_std", bn.inv_std},
                             {"xhat", rows_json(bn.xhat, batch, layer.out)},
                             {"a", rows_json(layer.a, batch, layer.out)},
                             {"running_mean_before", bn.running_mean_before},
                             {"running_var_before", bn.running_var_before},
                             {"running_mean", bn.running_mean},
                             {"running_var", bn.running_var},
                             {"delta", rows_json(layer.delta, batch, layer.out)},
                             {"grad_scale", layer.grad_weights},
                             {"grad_shift", layer.grad_bias}};
  if (!bn.grad_input.empty()) out["grad_input"] = rows_json(bn.grad_input, batch, layer.out);
  out["scale"] = layer.weights;
  out["shift"] = layer.bias;
  return out;
}

// An embedding entry's figures under nn/embedding.hpp's names: its table W (N, D) as "weights" after the step and
// its gradient as "grad_weights" (every row: those of codes absent from the batch 0), each row's code, dL/dy as
// "delta"; "grad_input" only where there is an entry below.
nlohmann::ordered_json embedding_json(const TraceLayer& layer, int batch) {
  const TraceEmbedding& e = layer.embedding;
  nlohmann::ordered_json out{{"type", "embedding"},
                             {"input", e.column},
                             {"categories", e.categories},
                             {"dim", e.dim},
                             {"codes", e.codes},
                             {"a", rows_json(layer.a, batch, layer.out)},
                             {"delta", rows_json(layer.delta, batch, layer.out)},
                             {"grad_weights", rows_json(layer.grad_weights, e.categories, e.dim)}};
  if (!e.grad_input.empty()) out["grad_input"] = rows_json(e.grad_input, batch, layer.in);
  out["weights"] = rows_json(layer.weights, e.categories, e.dim);
  return out;
}

void print_json(const Trace& trace) {
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  for (const auto& step : trace.steps) {
    nlohmann::ordered_json layers = nlohmann::ordered_json::array();
    for (const auto& layer : step.layers) {
      switch (layer.kind) {
        case LayerKind::dense: break;
        case LayerKind::batch_norm:
          layers.push_back(batch_norm_json(layer, trace.batch));
          continue;
        case LayerKind::embedding:
          layers.push_back(embedding_json(layer, trace.batch));
          continue;
      }
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
