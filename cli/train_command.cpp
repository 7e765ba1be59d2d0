// backprop train NET.json --data D [...] --out MODEL: trains a network (or continues a model) on a data set
// and saves the model. Options given here override the network file's "optimizer" and "training".
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>

#include "backprop/dist/communicator.hpp"
#include "backprop/train/prepare.hpp"
#include "backprop/base/error.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/model_io.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/io/output_files.hpp"
#include "backprop/base/text.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/train/options.hpp"
#include "backprop/train/progress.hpp"
#include "backprop/train/run.hpp"
#include "backprop/train/settings.hpp"
#include "backprop/train/threshold.hpp"
#include "backprop/train/trainer.hpp"
#include "commands.hpp"
#include "train_arguments.hpp"

namespace backprop::cli {
namespace {

// Ranks > 0 end with exit code 0 when rank 0 reports a failure of the job: mpirun kills the other ranks as
// soon as one exits with another code, and rank 0 could be killed before it printed its message. The job's
// exit code (mpirun's) is rank 0's.
constexpr int kQuietExit = 0;

// The flags of the run's files and the report's sources (the training run, train/run.hpp, owns the policy).
TrainingRunSettings run_settings(const TrainArguments& args, dist::Communicator& communicator,
                                 kernels::DeviceBackend* device, TrainingObserver* observer) {
  TrainingRunSettings settings;
  settings.files = {args.checkpoint, args.checkpoint_every, args.resume, args.report};
  validate(settings.files);  // the library's checks, before the data is read
  settings.sources = {std::filesystem::path(args.network.empty() ? args.data : args.network).filename().string(), args.network,
                      args.data + (args.labels.empty() ? "" : ", labels " + args.labels), args.validation};
  settings.observer = observer;
  settings.parallelism = {&communicator, args.deterministic, device};
  if (!args.threshold.empty()) settings.threshold = parse_threshold(args.threshold);
  if (args.report_importance > 0 && args.report.empty()) throw_bad_input("--report-importance needs --report FILE");
  settings.report_importance = args.report_importance;
  if (!args.quiet) settings.notice = [](const std::string& line) { std::printf("%s\n", line.c_str()); };
  return settings;
}

int run_train_rank(const TrainArguments& args, dist::Communicator& communicator, bool& setup_agreed) {
  // Before any work: no output may be one of the inputs or another output (resuming from the checkpoint
  // that the run rewrites is how a run continues).
  io::check_output_files({{"the network file", args.network}, {"--data", args.data}, {"--labels", args.labels},
                          {"--validation", args.validation}, {"--validation-labels", args.validation_labels},
                          {"--resume", args.resume}},
                         {{"--out", args.out}, {"--log", args.log}, {"--report", args.report},
                          {"--checkpoint", args.checkpoint}},
                         {{"--resume", "--checkpoint"}});
  TrainingInputs inputs = load_training_inputs(args);
  NetworkSpec& spec = inputs.spec;
  TrainingData data = prepare_training_data(spec, std::move(inputs.data), std::move(inputs.validation),
                                            trained_scaling(inputs.read.model), requested_scale(args.options));
  const Dataset& train_data = data.train;
  const Scaling& scaling = data.scaling;
  const Dataset* validation_pointer = data.validation_or_null();
  const bool has_validation = validation_pointer != nullptr;

  Network<float> network(spec);
  const auto device = open_device(args.device, communicator.size() > 1 || args.deterministic);
  const bool classification = train_data.task == TaskKind::classification;
  ObserverList observers;
  ConsoleProgress progress(stdout, ::isatty(STDOUT_FILENO) != 0, classification);
  if (!args.quiet) observers.add(&progress);
  TrainingRun run(network, data, run_settings(args, communicator, device.get(), &observers));
  setup_agreed = true;
  if (!run.agree()) return kQuietExit;
  std::unique_ptr<JsonLinesLog> log;  // created once the run may start
  if (!args.log.empty()) {
    log = std::make_unique<JsonLinesLog>(args.log);
    observers.add(log.get());
  }
  if (!args.quiet)
    std::printf("training %s on %s: %zu rows%s, network %s, %s, batch %d, %d epochs\n",
                args.network.empty() ? "the default network" : printable(args.network).c_str(), printable(args.data).c_str(), train_data.rows,
                has_validation ? (", " + std::to_string(validation_pointer->rows) + " for validation").c_str() : "",
                architecture(spec).c_str(), std::string(to_string(spec.optimizer.type)).c_str(), spec.training.batch_size,
                spec.training.epochs);
  if (!args.quiet && device) std::printf("device %s\n", describe(device).c_str());
  if (!args.quiet && !data.target_scale.empty())
    std::printf("the targets are standardized for training (the losses below are in those units); the model "
                "predicts in the data's units\n");
  const TrainingResult result = run.train();
  const double seconds = run.seconds();
  if (communicator.rank() > 0) return 0;  // rank 0 writes the model, the report and prints
  if (communicator.size() > 1 && !args.quiet) {
    const long steps = std::max(1L, communicator.gradient_reductions());
    const double wait = communicator.wait_seconds(), transfer = communicator.communication_seconds();
    std::printf("data parallel: %d ranks, %ld steps in %.3f s: gradient allreduce %.3f s (%.3f ms a step, %.1f%%), "
                "waiting for the slowest rank %.3f s (%.3f ms a step, %.1f%%)\n",
                communicator.size(), communicator.gradient_reductions(), seconds, transfer,
                1e3 * transfer / static_cast<double>(steps), 100.0 * transfer / std::max(seconds, 1e-9), wait,
                1e3 * wait / static_cast<double>(steps), 100.0 * wait / std::max(seconds, 1e-9));
  }

  io::ModelFile trained = io::build_model(network, scaling, train_data);
  trained.network = predicting_spec(network, data);  // in the data's units
  trained.byte_inputs = trained.byte_inputs || inputs.read.model.byte_inputs;  // further on floats in [0, 1]
  trained.threshold = run.threshold();
  if (inputs.read.model.threshold && !trained.threshold && !args.quiet)
    std::printf("the threshold of %s (%s) is not kept: picked on the probabilities before this training "
                "(give --threshold to keep one)\n",
                printable(args.network).c_str(), format_double(*inputs.read.model.threshold).c_str());
  io::save_model(args.out, trained);
  if (!args.quiet)
    std::printf("saved %s (epoch %d of %zu%s)\n", printable(args.out).c_str(), result.best_epoch,
                result.history.size(),
                trained.threshold ? (", threshold " + format_general(*trained.threshold, 6)).c_str() : "");
  if (run.write_report(result) && !args.quiet) std::printf("wrote %s\n", printable(args.report).c_str());
  return 0;
}

// One process, or one rank of an mpirun job (docs/distributed.md): every rank trains, rank 0 alone prints
// and writes files; a failure before training is agreed so that all ranks end with one message.
int run_train(const TrainArguments& args) {
  const std::unique_ptr<dist::Communicator> communicator = dist::start();
  bool setup_agreed = true;
  if (communicator->size() == 1) return run_train_rank(args, *communicator, setup_agreed);
  TrainArguments mine = args;
  if (!args.threads)  // the host's cores shared among its ranks
    mine.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / dist::local_process_count());
  if (communicator->rank() > 0) {
    mine.quiet = true;
    mine.log.clear();
    mine.report.clear();
    mine.report_importance = 0;
    mine.checkpoint.clear();
    mine.checkpoint_every.reset();
  }
  setup_agreed = false;
  try {
    return run_train_rank(mine, *communicator, setup_agreed);
  } catch (const std::exception& e) {
    const auto* error = dynamic_cast<const Error*>(&e);
    const int code = error != nullptr && error->kind() == ErrorKind::bad_input ? 2 : 1;
    if (!setup_agreed) agree_on_setup(*communicator, {code, e.what()}, {});  // rank 0 throws the message
    else if (communicator->rank() == 0) throw;  // a failure of every rank (divergence): rank 0 says it
    return kQuietExit;
  }
}

}  // namespace

void add_training_arguments(CLI::App* cmd, TrainArguments& a) {
  cmd->add_option("--threshold", a.threshold,
                  "Two classes: the threshold on the second class's probability the model keeps (predict and eval "
                  "use it; cv: each fold's figures at its model's): f1 or youden (the one that maximises F1 or "
                  "Youden's J on the validation rows, as eval prints them) or a probability in [0, 1]");
  cmd->add_option("network", a.network,
                  "Network file (JSON) or a model to train further; without one, a CSV table as it comes trains the "
                  "default network (text columns, blank cells: docs/tables.md)")
      ->check(CLI::ExistingFile);
  std::string hidden_default;
  for (const int units : kDefaultTableHidden) {
    if (!hidden_default.empty()) hidden_default += ',';
    hidden_default += std::to_string(units);
  }
  cmd->add_option("--hidden", a.hidden,
                  "Without a network file: the hidden layers' units, e.g. 128,64 (default " + hidden_default + ")");
  cmd->add_option("--task", a.task, "Without a network file: classification or regression (default: from the target)")
      ->check(CLI::IsMember(names_in(kTaskNames)));
  cmd->add_option("--categorical", a.categorical,
                  "Without a network file: columns (names, ',') read as categories whatever they hold");
  cmd->add_option("--many-categories", a.many_categories,
                  "Without a network file: a text column of more than " + std::to_string(kMaxCategories) +
                      " values is pooled (its most frequent values one input each, the rarer ones one input) or "
                      "embedding (one input of codes and an embedding entry) (default " +
                      std::string(to_string(kDefaultManyCategories)) + "; docs/tables.md)")
      ->check(CLI::IsMember(names_in(kManyCategoriesNames)));
  cmd->add_option("--missing-values", a.missing_values,
                  "Without a network file: the cells that mean missing, ',' between them (default: ,NA,N/A,NaN,?,null)");
  cmd->add_option("--data", a.data,
                  "Training data: .csv (header row), IDX images (*-idx3-ubyte[.gz], with --labels) or .npy "
                  "(with --labels)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--labels", a.labels, "Labels for IDX (IDX1 file) or NPY (.npy) data")->check(CLI::ExistingFile);
  cmd->add_option("--target", a.target,
                  "CSV target column(s), by name or 0-based index, several separated by ','; default: the last column")
      ->check(target_columns());
  CLI::Option* validation = cmd->add_option("--validation", a.validation, "Validation data file (same format as --data)")
                                ->check(CLI::ExistingFile);
  cmd->add_option("--validation-labels", a.validation_labels, "Labels of the validation data (IDX, NPY)")
      ->check(CLI::ExistingFile)
      ->needs(validation);
  // The recipe's flags fill TrainingOptions, one for each setting of the library's table (train/settings.hpp:
  // the flag, its help, the choices from the kinds' name tables); the library checks their ranges (main.cpp
  // names the flag of an OptionError). A switch (--centered) is a flag: given, it is on; --centered=false, off.
  for (const TrainingSetting& setting : training_settings()) {
    CLI::Option* option = std::visit(
        [&](auto field) {
          // add_flag would set an absent switch to false, over the file's value: this one sets it only when given.
          if constexpr (std::is_same_v<std::remove_reference_t<decltype(a.options.*field)>, std::optional<bool>>)
            return cmd->add_flag_function(
                setting.flag(), [&a, field](std::int64_t count) { a.options.*field = count > 0; }, setting.help_text());
          else
            return cmd->add_option(setting.flag(), a.options.*field, setting.help_text());
        },
        setting.field);
    if (setting.key == "seed") option->check(seed_number());
  }
  cmd->add_option("--sample-weight", a.sample_weight,
                  "CSV column (by header name) of each row's weight in the loss (>= 0), not a feature");
  cmd->add_option("--threads", a.threads, "Threads for the matrix products (default: all cores)")
      ->check(CLI::Range(1, kernels::kMaxThreads));
  cmd->add_flag("--deterministic", a.deterministic,
                "Bit-identical results for a seed across runs, thread counts, MPI rank counts and --resume "
                "(gradients summed exactly in fixed point; slower; a checkpoint resumes only with the same choice)");
  add_device_option(cmd, a.device);
  cmd->add_flag("--quiet", a.quiet, "Print nothing but errors");
}

namespace {

std::vector<std::string> comma_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    items.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

// --hidden's layers (empty: the default's).
std::vector<int> hidden_layers(const TrainArguments& args) {
  std::vector<int> hidden;
  if (!args.hidden.empty())
    for (const double units : parse_number_list(args.hidden, "--hidden")) {
      if (units < 1 || units > 1e6 || units != std::floor(units))
        throw_bad_input("--hidden: expected whole numbers of units in [1, 1000000], got '" + args.hidden + "'");
      hidden.push_back(static_cast<int>(units));
    }
  return hidden;
}

// The network of a table's data, as the model records it (before the recipe's flags).
NetworkSpec table_spec(const TrainArguments& args, const Dataset& data) {
  NetworkSpec spec = args.network.empty() ? default_table_network(data, hidden_layers(args))
                                          : io::read_network_for_table(args.network, data);
  if (args.network.empty())
    stop_early_only_with_validation(spec, !args.validation.empty(), args.options.validation_split,
                                    args.options.early_stopping);
  return spec;
}

// No network file, or one that leaves "input" out (`shape`): the table read as it comes, and the default network
// (or --hidden's, or the file's) for it.
void load_table_inputs(const TrainArguments& args, const io::NetworkTemplate& shape, TrainingInputs& inputs,
                       bool keep_rows) {
  TableSettings settings;
  settings.keep_rows = keep_rows;
  settings.target = args.target;
  settings.labels = args.labels;
  settings.sample_weight = args.sample_weight;
  if (!args.task.empty())
    settings.task = *parse_task(args.task);
  if (!args.network.empty()) {  // its loss says the task (task_of's rule, before the output count is known)
    if (!args.hidden.empty() || !args.task.empty() || !args.many_categories.empty())
      throw_bad_input("--hidden, --task and --many-categories are for a table without a network file; the network "
                      "file says these");
    settings.task = shape.loss == LossKind::mse ? TaskKind::regression : TaskKind::classification;
    settings.many_categories = ManyCategories::pool;  // the file has no embedding entries for codes
  }
  if (!args.categorical.empty()) settings.categorical = comma_list(args.categorical);
  if (!args.many_categories.empty()) settings.many_categories = *parse_many_categories(args.many_categories);
  if (!args.missing_values.empty()) settings.missing_values = comma_list(args.missing_values);
  hidden_layers(args);  // refused before the table is read
  inputs.data = load_table(args.data, settings);
  NetworkSpec& spec = inputs.read.model.network;
  spec = table_spec(args, inputs.data);
  inputs.read.exact_network = spec;
  inputs.read.task = inputs.data.task;
  inputs.spec = args.options.start_spec(spec, spec);
  if (!args.quiet && inputs.data.table) std::printf("%s", describe_table(*inputs.data.table).c_str());
}

}  // namespace

NetworkSpec table_network(const TrainArguments& args, const Dataset& data) {
  const NetworkSpec spec = table_spec(args, data);
  return args.options.start_spec(spec, spec);
}

TrainingInputs load_training_inputs(const TrainArguments& args, bool keep_rows) {
  if (args.threads) kernels::set_thread_count(*args.threads);
  if (!args.validation.empty() && args.options.validation_split)
    throw_bad_input("give --validation or --validation-split, not both");
  TrainingInputs inputs;
  const io::NetworkTemplate shape = args.network.empty() ? io::NetworkTemplate{} : io::network_template(args.network);
  if (args.network.empty() || shape.open) {
    load_table_inputs(args, shape, inputs, keep_rows);
  } else {
    if (!args.hidden.empty() || !args.task.empty() || !args.categorical.empty() || !args.missing_values.empty() ||
        !args.many_categories.empty())
      throw_bad_input("--hidden, --task, --categorical, --many-categories and --missing-values are for a table "
                      "without a network file; the network file (or model) says these");
    inputs.read = io::read_model(args.network);  // a network file, or a model
    const io::ModelFile& model = inputs.read.model;
    inputs.spec = args.options.start_spec(model.network, inputs.read.exact_network);
    // A model's CSV columns are matched by its feature names, the validation file's by the training file's.
    inputs.data = load_for_network(inputs.spec, args.data, args.labels, args.target,
                                   {model.classes, model.targets, model.features, model.table.get()}, false,
                                   args.sample_weight);
  }
  const io::ModelFile& model = inputs.read.model;
  for (const std::string& note : table_notes(inputs.data)) std::fprintf(stderr, "backprop: note: %s\n", note.c_str());
  note_ignored_columns(inputs.data);
  if (model.byte_inputs) check_byte_inputs(inputs.data);
  if (!args.validation.empty()) {
    const Dataset& data = inputs.data;
    inputs.validation = load_for_network(inputs.spec, args.validation, args.validation_labels, args.target,
                                         {data.class_names, data.target_names, data.feature_names, data.table.get()});
    note_ignored_columns(*inputs.validation);
    for (const std::string& note : table_notes(*inputs.validation))
      std::fprintf(stderr, "backprop: note: %s\n", note.c_str());
    if (model.byte_inputs || !data.features_u8.empty()) check_byte_inputs(*inputs.validation);
  }
  return inputs;
}

std::optional<Scaling> trained_scaling(const io::ModelFile& model) {
  return model.trained ? std::optional<Scaling>(model.scaling) : std::nullopt;
}

std::optional<ScalingKind> requested_scale(const TrainingOptions& options) {
  return options.scale ? parse_scaling(*options.scale) : std::nullopt;
}

void add_train_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<TrainArguments>();
  CLI::App* cmd = app.add_subcommand("train", "Train a network (or continue a model) on a data set and save the model");
  add_training_arguments(cmd, *a);
  cmd->add_option("--log", a->log, "Write one JSON object per epoch to this file (JSON lines)");
  cmd->add_option("--report", a->report,
                  "Write a training report to this file: one self-contained HTML page (loss and accuracy or RMSE "
                  "curves, confusion matrix, per-class scores, ROC, precision-recall and reliability plots or the "
                  "residuals, network, settings)");
  cmd->add_option("--report-importance", a->report_importance,
                  "Add each input column's permutation importance (backprop importance, this many shuffles) to the "
                  "report, on its rows (the validation set, else the training set)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--checkpoint", a->checkpoint,
                  "Save the training state to this file (atomically) between epochs and every --checkpoint-every "
                  "steps, to continue with --resume");
  cmd->add_option("--checkpoint-every", a->checkpoint_every, "Steps between checkpoints (with --checkpoint)")
      ->check(CLI::Range(1L, 1000000000L));
  cmd->add_option("--resume", a->resume,
                  "Continue from this checkpoint; give the same network file, data and options as the run that "
                  "wrote it (the result is bit-identical to an uninterrupted run)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", a->out, "The model file to write (binary; written atomically)")->required();
  cmd->callback([a, &exit_code] { exit_code = run_train(*a); });
}

}  // namespace backprop::cli
