// What `train` and `cv` share: their flags (the network, the data, the recipe's overrides, the threads and
// the device) and reading the network and the data they name.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "backprop/data/dataset.hpp"
#include "backprop/io/model_io.hpp"
#include "backprop/train/options.hpp"

namespace backprop::cli {

struct TrainArguments {
  std::string network, data, labels, target, validation, validation_labels, out, log, report;
  std::string checkpoint, resume, device;
  std::string sample_weight;  // a CSV column of the rows' weights in the loss
  std::string threshold;      // f1, youden or a number: the two-class threshold the model keeps (train, cv)
  int report_importance = 0;  // train: permutation importance's shuffles per column in the report (0: none)
  // Without a network file: a table as it comes (train/prepare.hpp's load_table, default_table_network).
  std::string hidden, task, categorical, missing_values, many_categories;
  std::optional<long> checkpoint_every;
  bool deterministic = false;
  std::optional<int> threads;
  TrainingOptions options;  // the flags that override the network file's recipe
  bool quiet = false;
};

// The network, --data, --labels, --target, --validation, --validation-labels, every recipe flag (into
// a.options), --threads, --deterministic, --device and --quiet.
void add_training_arguments(CLI::App* cmd, TrainArguments& a);

// The network (or model) read, the options applied to its recipe, the data and the --validation set loaded.
struct TrainingInputs {
  io::LoadedModel read;
  NetworkSpec spec;
  Dataset data;
  std::optional<Dataset> validation;
};
// keep_rows: a table whose recipe is inferred keeps its cells as read (Dataset::table_rows), for cv's folds.
TrainingInputs load_training_inputs(const TrainArguments& args, bool keep_rows = false);

// A table's network for data (no network file, or one that leaves "input" out): the default (or --hidden's, or
// the file's) for data's inputs and outputs, the options applied, as load_training_inputs builds it.
NetworkSpec table_network(const TrainArguments& args, const Dataset& data);

// What prepare_training_data (and cross_validate) take about the scaling: a trained model's own (kept), and
// the kind --scale asks for (refused when it differs from a trained model's).
std::optional<Scaling> trained_scaling(const io::ModelFile& model);
std::optional<ScalingKind> requested_scale(const TrainingOptions& options);

}  // namespace backprop::cli
