// backprop gradcheck NET.json [--input ... --target ...] [--batch N] [--seed N] [--loss L] [--tolerance X]
//                    [--class-weight W] [--sample-weight W,W,...]
// Every analytic gradient against central finite differences in double; exit 1 above the tolerance.
#include <cstdio>
#include <iostream>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/base/text.hpp"
#include "backprop/nn/gradient_check.hpp"
#include "backprop/train/options.hpp"
#include "commands.hpp"

namespace backprop::cli {
namespace {

struct GradcheckArguments {
  std::string network;
  std::string input;
  std::string target;
  int batch = 4;
  std::uint64_t seed = 1;
  std::string loss;
  double tolerance = kDefaultGradientTolerance;
  RowWeightArguments weights;
};

int run_gradcheck(const GradcheckArguments& args) {
  const io::LoadedModel loaded = io::read_model(args.network);
  NetworkSpec spec = loaded.exact_network;
  if (const auto loss = loss_option(args.loss)) {
    spec.loss = *loss;
    // The file's label smoothing belongs to its softmax_ce; another loss checked here has none.
    if (spec.loss != LossKind::softmax_ce) spec.training.label_smoothing = 0.0;
  }
  validate(spec);

  std::vector<double> x, y;
  std::string source;
  if (args.input.empty() != args.target.empty())
    throw_bad_input("gradcheck: give both --input and --target, or neither (random ones)");
  if (!args.input.empty()) {
    x = parse_number_list(args.input, "--input");
    y = parse_number_list(args.target, "--target");
    source = "given input";
  } else {
    random_batch(x, y, spec, args.batch, args.seed);
    source = std::to_string(args.batch) + " random rows (seed " + std::to_string(args.seed) + ")";
  }
  // The training objective's weights: the file's class_weight unless --class-weight replaces it.
  const ClassWeightSpec classes = args.weights.class_weight.empty() ? spec.training.class_weight
                                                                    : parse_class_weight(args.weights.class_weight);
  const std::vector<double> weights = row_weights(classes, args.weights.sample_weight, spec, y, loaded.model.classes);
  const GradientCheckResult result = gradient_check(spec, x, y, weights);

  const double smoothing = spec.training.label_smoothing;
  std::string weighted;
  for (const double w : weights) weighted += (weighted.empty() ? ", row weights " : " ") + format_double(w);
  std::printf("gradcheck %s: network %s, loss %s%s%s, %s, %zu parameters, central differences h = %g\n",
              args.network.c_str(), architecture(spec).c_str(), std::string(to_string(spec.loss)).c_str(),
              smoothing > 0 ? (" (label smoothing " + format_double(smoothing) + ")").c_str() : "", weighted.c_str(),
              source.c_str(), result.parameters_checked, kGradientCheckStep);
  std::printf("%-6s %-11s %-16s %-16s\n", "layer", "activation", "max error W", "max error b");
  for (std::size_t l = 0; l < result.layers.size(); ++l) {
    std::printf("%-6zu %-11s %-16.3e %-16.3e\n", l + 1, std::string(layer_label(spec.layers[l])).c_str(),
                result.layers[l].max_error_weights, result.layers[l].max_error_bias);
  }
  const bool pass = result.max_error() <= args.tolerance;
  std::printf("largest relative error %.3e %s tolerance %.1e: %s\n", result.max_error(), pass ? "<=" : ">",
              args.tolerance, pass ? "pass" : "FAIL");
  return pass ? 0 : 1;
}

}  // namespace

void add_gradcheck_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<GradcheckArguments>();
  CLI::App* cmd = app.add_subcommand(
      "gradcheck", "Check every analytic gradient against central finite differences in double precision; "
                   "exit 1 when the largest relative error exceeds the tolerance");
  cmd->add_option("network", args->network, "Network file (JSON) or model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--input", args->input, "Input rows (comma-separated, rows separated by ';'); random if omitted");
  cmd->add_option("--target", args->target, "Targets, one row per input row; random if omitted");
  cmd->add_option("--batch", args->batch, "Rows of random input when --input is not given")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--seed", args->seed, "Seed of the random input")->check(seed_number());
  cmd->add_option("--loss", args->loss, "Loss, overriding the network file's: " + loss_names())
      ->check(loss_choice());
  cmd->add_option("--tolerance", args->tolerance, "Largest relative error accepted")
      ->check(finite_number("a positive number", is_positive));
  add_row_weight_options(cmd, args->weights, "default: the network file's training.class_weight");
  cmd->callback([args, &exit_code] { exit_code = run_gradcheck(*args); });
}

}  // namespace backprop::cli
