// backprop train NET.json --data D [...] --out MODEL: trains a network (or continues a model) on a data set
// and saves the model. Options given here override the network file's "optimizer" and "training".
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "backprop/error.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/text.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/train/progress.hpp"
#include "backprop/train/report.hpp"
#include "backprop/train/trainer.hpp"
#include "commands.hpp"

namespace backprop::cli {
namespace {

struct TrainArguments {
  std::string network, data, labels, target, validation, validation_labels, out, log, report;
  std::optional<double> validation_split;
  std::optional<int> epochs, batch_size, early_stopping, threads;
  std::optional<long> warmup;
  std::string optimizer, schedule, scale;
  std::optional<double> learning_rate, momentum, weight_decay, clip_grad_norm, dropout;
  std::optional<std::uint64_t> seed;
  bool quiet = false;
};

// Command-line options override the file's settings.
void apply_overrides(NetworkSpec& spec, const TrainArguments& a) {
  TrainingSpec& t = spec.training;
  if (a.epochs) t.epochs = *a.epochs;
  if (a.batch_size) t.batch_size = *a.batch_size;
  if (a.early_stopping) t.early_stopping = *a.early_stopping;
  if (a.validation_split) t.validation_split = *a.validation_split;
  if (a.clip_grad_norm) t.clip_grad_norm = *a.clip_grad_norm;
  if (!a.scale.empty()) t.scale = *parse_scaling(a.scale);
  if (!a.schedule.empty()) t.schedule.kind = *parse_schedule(a.schedule);
  if (a.warmup) t.schedule.warmup_steps = *a.warmup;
  if (!a.optimizer.empty()) spec.optimizer.type = a.optimizer;
  if (a.learning_rate) spec.optimizer.learning_rate = *a.learning_rate;
  if (a.momentum) spec.optimizer.momentum = *a.momentum;
  if (a.weight_decay) spec.optimizer.weight_decay = *a.weight_decay;
  if (a.seed) spec.seed = *a.seed;
  if (a.dropout)
    for (std::size_t l = 0; l + 1 < spec.layers.size(); ++l) spec.layers[l].dropout = *a.dropout;
  validate(spec);
  validate(spec.optimizer);
  validate(spec.training.schedule);
}

// The --report page: the curves, the confusion matrix (on the validation set if there is one, else on the
// training set), the network, and the recipe with the run's data and wall time.
void write_report(const TrainArguments& args, const Network<float>& network, const Scaling& scaling,
                  const TrainingResult& result, const Dataset& train_data, const Dataset* validation_data,
                  double seconds) {
  TrainingReport report;
  report.title = std::filesystem::path(args.network).filename().string();
  report.spec = network.spec();
  report.result = result;
  if (train_data.task == TaskKind::classification) {
    const Dataset& counted = validation_data ? *validation_data : train_data;
    report.confusion = confusion_matrix(network, counted, scaling);
    report.class_names = train_data.class_names;
    report.confusion_data = std::string(validation_data ? "validation set, " : "training set, ") +
                            std::to_string(counted.rows) + (counted.rows == 1 ? " row" : " rows");
  }
  report.settings = {{"network file", args.network},
                     {"training data", args.data + (args.labels.empty() ? "" : ", labels " + args.labels)},
                     {"training rows", std::to_string(train_data.rows)}};
  if (validation_data) {
    const std::string split = io::format_double(network.spec().training.validation_split);
    report.settings.emplace_back("validation data",
                                 args.validation.empty() ? "split " + split + " of the training data" : args.validation);
    report.settings.emplace_back("validation rows", std::to_string(validation_data->rows));
  }
  for (auto& row : recipe_settings(network.spec(), scaling.kind)) report.settings.push_back(std::move(row));
  char wall_time[32];
  std::snprintf(wall_time, sizeof wall_time, seconds < 10 ? "%.3f s" : "%.1f s", seconds);
  report.settings.emplace_back("training wall time", wall_time);
  write_training_report(args.report, report);
}

int run_train(const TrainArguments& args) {
  if (args.threads) kernels::set_thread_count(*args.threads);
  io::Model model = io::load_model(args.network);  // a network file, or a model to train further
  NetworkSpec spec = model.network;
  apply_overrides(spec, args);
  if (!args.validation.empty() && args.validation_split)
    throw_bad_input("give --validation or --validation-split, not both");
  if (!args.validation.empty()) spec.training.validation_split = 0;  // the command line overrides the file

  Dataset train_data = load_for_network(spec, args.data, args.labels, args.target, model.classes);
  Dataset validation_data;
  bool has_validation = false;
  if (!args.validation.empty()) {
    validation_data =
        load_for_network(spec, args.validation, args.validation_labels, args.target, train_data.class_names);
    has_validation = true;
  } else if (spec.training.validation_split > 0) {
    split_validation(train_data, validation_data, spec.training.validation_split, spec.seed);
    has_validation = true;
  }

  // The scaling is fitted on the training rows only; a model trained further keeps its own unless --scale
  // asks for a new one (its parameters were learnt on inputs scaled that way).
  Scaling scaling = model.scaling;
  if (scaling.empty() || !args.scale.empty()) scaling = fit_scaling(spec.training.scale, train_data);

  Network<float> network(spec);
  const bool classification = train_data.task == TaskKind::classification;
  ObserverList observers;
  ConsoleProgress progress(stdout, ::isatty(STDOUT_FILENO) != 0, classification);
  if (!args.quiet) observers.add(&progress);
  std::unique_ptr<JsonLinesLog> log;
  if (!args.log.empty()) {
    log = std::make_unique<JsonLinesLog>(args.log);
    observers.add(log.get());
  }
  if (!args.quiet)
    std::printf("training %s on %s: %zu rows%s, network %s, %s, batch %d, %d epochs\n", args.network.c_str(),
                args.data.c_str(), train_data.rows,
                has_validation ? (", " + std::to_string(validation_data.rows) + " for validation").c_str() : "",
                architecture(spec).c_str(), spec.optimizer.type.c_str(), spec.training.batch_size,
                spec.training.epochs);
  const auto started = std::chrono::steady_clock::now();
  const TrainingResult result =
      train(network, train_data, has_validation ? &validation_data : nullptr, scaling, &observers);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  io::Model trained;
  trained.network = network.spec_with_parameters();
  trained.scaling = scaling;
  trained.classes = train_data.class_names;
  trained.targets = train_data.target_names;
  trained.features = train_data.feature_names;
  io::save_model(args.out, trained);
  if (!args.quiet)
    std::printf("saved %s (epoch %d of %zu)\n", args.out.c_str(), result.best_epoch, result.history.size());
  if (!args.report.empty()) {
    write_report(args, network, scaling, result, train_data, has_validation ? &validation_data : nullptr, seconds);
    if (!args.quiet) std::printf("wrote %s\n", args.report.c_str());
  }
  return 0;
}

}  // namespace

void add_train_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<TrainArguments>();
  CLI::App* cmd = app.add_subcommand("train", "Train a network (or continue a model) on a data set and save the model");
  cmd->add_option("network", a->network, "Network file (JSON) or a model to train further")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", a->data,
                  "Training data: .csv (header row), IDX images (*-idx3-ubyte[.gz], with --labels) or .npy "
                  "(with --labels)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--labels", a->labels, "Labels for IDX (IDX1 file) or NPY (.npy) data")->check(CLI::ExistingFile);
  cmd->add_option("--target", a->target,
                  "CSV target column(s), by name or 0-based index, several separated by ','; default: the last column");
  cmd->add_option("--validation", a->validation, "Validation data file (same format as --data)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--validation-labels", a->validation_labels, "Labels of the validation data (IDX, NPY)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--validation-split", a->validation_split,
                  "Hold out this fraction of the training rows (shuffled by the seed) for validation")
      ->check(finite_number("a fraction in (0, 1)", is_open_fraction));
  cmd->add_option("--epochs", a->epochs, "Passes over the training data (file default: 10)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--batch-size", a->batch_size, "Rows per step; the last partial batch is used (default 32)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--optimizer", a->optimizer, "sgd, momentum, nesterov, adam, adamw or rmsprop (torch.optim's rules)")
      ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}));
  cmd->add_option("--learning-rate", a->learning_rate, "Base learning rate")
      ->check(finite_number("a positive number", is_positive));
  cmd->add_option("--momentum", a->momentum, "Momentum (momentum, nesterov: default 0.9; rmsprop: 0)")
      ->check(finite_number("a number in [0, 1)", is_fraction_below_one));
  cmd->add_option("--weight-decay", a->weight_decay, "Weight decay: L2, or decoupled for adamw (default 0; adamw 0.01)")
      ->check(finite_number("a number >= 0", is_non_negative));
  cmd->add_option("--schedule", a->schedule, "Learning-rate schedule: constant, step or cosine")
      ->check(CLI::IsMember({"constant", "step", "cosine"}));
  cmd->add_option("--warmup", a->warmup, "Steps of linear warm-up before the schedule")
      ->check(CLI::Range(0L, 1000000000L));
  cmd->add_option("--clip-grad-norm", a->clip_grad_norm, "Clip the gradient's global L2 norm to this")
      ->check(finite_number("a positive number", is_positive));
  cmd->add_option("--dropout", a->dropout, "Dropout probability of every hidden layer (training only)")
      ->check(finite_number("a probability in [0, 1)", is_fraction_below_one));
  cmd->add_option("--scale", a->scale, "Feature scaling fitted on the training data: none, standard or minmax")
      ->check(CLI::IsMember({"none", "standard", "minmax"}));
  cmd->add_option("--early-stopping", a->early_stopping,
                  "Stop after this many epochs without a better validation loss, keeping the best parameters")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--seed", a->seed, "Seed of initialization, shuffling, dropout and the validation split")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", a->threads, "Threads for the matrix products (default: all cores)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--log", a->log, "Write one JSON object per epoch to this file (JSON lines)");
  cmd->add_option("--report", a->report,
                  "Write a training report to this file: one self-contained HTML page (loss and accuracy or RMSE "
                  "curves, confusion matrix, network, settings)");
  cmd->add_flag("--quiet", a->quiet, "Print nothing but errors");
  cmd->add_option("--out", a->out, "The model file to write (binary; written atomically)")->required();
  cmd->callback([a, &exit_code] { exit_code = run_train(*a); });
}

}  // namespace backprop::cli
