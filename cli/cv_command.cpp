// backprop cv NET --data D [--folds K] [--repeats R] [train's options, --threshold] [--json] [--out-dir DIR]:
// k-fold cross-validation (train/cross_validation.hpp); prints each fold's figures and their mean and standard
// deviation. Writes nothing unless --out-dir is given (each fold's model).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/model_io.hpp"
#include "backprop/io/output_files.hpp"
#include "backprop/train/cross_validation.hpp"
#include "backprop/train/prepare.hpp"
#include "commands.hpp"
#include "train_arguments.hpp"

namespace backprop::cli {
namespace {

struct CvArguments {
  TrainArguments train;
  int folds = 5;
  int repeats = 1;
  bool json = false;
  std::string out_dir;
};

// The figures a fold's line shows; --json has them all.
bool shown(const std::string& name, bool classification) {
  if (classification)
    return name == "loss" || name == "accuracy" || name == "balanced_accuracy" || name == "f1_macro" ||
           name == "roc_auc";
  return name == "loss" || name == "rmse" || name == "mae" || name == "r2";
}

std::string fold_line(const FoldResult& fold, bool classification) {
  std::string line;
  char buffer[64];
  for (const auto& [name, value] : named_metrics(fold.report)) {
    if (!shown(name, classification)) continue;
    std::snprintf(buffer, sizeof buffer, "  %s %.4f", name.c_str(), value);
    line += buffer;
  }
  if (fold.report.threshold) line += "  at threshold " + format_general(*fold.report.threshold, 6);
  return line;
}

void print_summary(const std::vector<FoldResult>& folds, bool classification) {
  const auto summary = summarize(folds);
  for (const char* which : {"mean", "std"}) {
    std::string line = std::string(which) + (which[0] == 'm' ? ":  " : ":   ");
    char buffer[64];
    for (const MetricSummary& s : summary) {
      if (!shown(s.name, classification)) continue;
      std::snprintf(buffer, sizeof buffer, "  %s %.4f", s.name.c_str(), which[0] == 'm' ? s.mean : s.std);
      line += buffer;
    }
    std::printf("%s\n", line.c_str());
  }
}

int run_cv(const CvArguments& a) {
  const TrainArguments& args = a.train;
  io::check_output_files({{"the network file", args.network}, {"--data", args.data}, {"--labels", args.labels},
                          {"--validation", args.validation}, {"--validation-labels", args.validation_labels}},
                         {});
  TrainArguments loading = args;
  loading.quiet = args.quiet || a.json;  // --json prints nothing but the JSON on standard output
  TrainingInputs inputs = load_training_inputs(loading, true);
  const bool classification = inputs.data.task == TaskKind::classification;
  const auto device = open_device(args.device, args.deterministic);
  const bool chatty = !args.quiet && !a.json;
  if (!a.out_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(a.out_dir, error);
    if (!std::filesystem::is_directory(a.out_dir))
      throw_bad_input("--out-dir " + a.out_dir + ": expected a folder (or none, to be made), got " +
                      (error ? error.message() : std::string("a file")));
  }
  if (chatty)
    std::printf("cross-validating %s on %s: %zu rows, %d folds%s%s, network %s\n", args.network.empty() ? "the default network" : args.network.c_str(),
                args.data.c_str(), inputs.data.rows, a.folds, classification ? " (stratified)" : "",
                a.repeats > 1 ? (" x " + std::to_string(a.repeats) + " repeats").c_str() : "",
                architecture(inputs.spec).c_str());
  CrossValidationSettings settings;
  settings.folds = a.folds;
  settings.repeats = a.repeats;
  settings.seed = inputs.spec.seed;
  if (!args.threshold.empty()) settings.threshold = parse_threshold(args.threshold);
  if (inputs.data.table_rows) {
    if (chatty) std::printf("each fold infers its own recipe on its training rows (above: the whole table's)\n");
    settings.fold_network = [&args](const Dataset& train) { return table_network(args, train); };
    if (!args.validation.empty())
      settings.fold_validation = [&args](const NetworkSpec& spec, const Dataset& train) {
        return load_for_network(spec, args.validation, args.validation_labels, args.target,
                                {train.class_names, train.target_names, train.feature_names, train.table.get()});
      };
  }
  const auto folds = cross_validate(
      inputs.spec, inputs.data, inputs.validation, trained_scaling(inputs.read.model), requested_scale(args.options),
      settings, {nullptr, args.deterministic, device.get()},
      [&](const FoldResult& fold, const Network<float>& network, const TrainingData& data) {
        if (chatty)
          std::printf("repeat %d fold %d (%zu training, %zu test rows):%s\n", fold.repeat + 1, fold.fold + 1,
                      fold.training_rows, fold.report.basic.rows, fold_line(fold, classification).c_str());
        if (a.out_dir.empty()) return;
        const auto path = std::filesystem::path(a.out_dir) /
                          ("fold-" + std::to_string(fold.repeat + 1) + "-" + std::to_string(fold.fold + 1) + ".model");
        io::ModelFile model = io::build_model(network, data.scaling, data.train);
        model.threshold = fold.report.threshold;
        io::save_model(path, model);
      });
  std::size_t unknown = 0;
  for (const FoldResult& fold : folds) unknown += fold.unknown_values;
  if (unknown > 0 && !args.quiet)
    std::fprintf(stderr,
                 "backprop: note: %s: %zu cell(s) of the folds' test rows held a category their fold's training rows "
                 "never held, or held too seldom to keep (read as unknown)\n",
                 args.data.c_str(), unknown);
  if (a.json)
    write_standard_output(cross_validation_json(folds) + "\n");
  else if (!args.quiet)
    print_summary(folds, classification);
  return 0;
}

}  // namespace

void add_cv_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<CvArguments>();
  CLI::App* cmd = app.add_subcommand(
      "cv", "Cross-validate a network: train it on all folds but one, as train does, and evaluate it on that one, "
            "for each fold (stratified for classification); each fold's figures, their mean and standard deviation");
  add_training_arguments(cmd, a->train);
  cmd->add_option("--folds", a->folds, "Number of folds (default 5)")->check(CLI::Range(2, 1000000));
  cmd->add_option("--repeats", a->repeats, "Repeat with the folds drawn again from --seed + 1, + 2, ... (default 1)")
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", a->json,
                "Print one JSON object: {\"folds\": [{\"repeat\", \"fold\", eval --json's figures...}], \"mean\": "
                "{...}, \"std\": {...}} (std: over the folds, ddof 0)");
  cmd->add_option("--out-dir", a->out_dir, "Keep each fold's model in this folder as fold-R-F.model");
  cmd->callback([a, &exit_code] { exit_code = run_cv(*a); });
}

}  // namespace backprop::cli
