// Data for a network: loading a data file or arrays against it, and the preparation before training (the
// validation split, the scaling fitted on the training rows): training policy, which reads the network's
// spec (the task its loss implies: task_of, nn/spec.hpp). The command, Model and the Python module all call
// these, so that they decide alike.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

// The class names a data file is read against: the model's when it has them; "0".."K-1" for IDX and NPY
// labels (K = class_count); empty (collected from the data) for CSV.
std::vector<std::string> classes_for(const NetworkSpec& spec, const std::string& data_path,
                                     const std::vector<std::string>& model_classes);

// The names a model carries over to data: arrays have none of their own; a CSV's columns are matched to
// the features (and, without --target, the targets) by name.
struct DataNames {
  // Implicit from the classes alone: a model that knows only its classes (its CSV read by position).
  DataNames(std::vector<std::string> classes = {}, std::vector<std::string> targets = {},  // NOLINT
            std::vector<std::string> features = {}, const TableRecipe* table = nullptr)
      : classes(std::move(classes)), targets(std::move(targets)), features(std::move(features)), table(table) {}
  std::vector<std::string> classes, targets, features;
  const TableRecipe* table;  // a model of a table as it came: its CSV rows are encoded by this recipe
};

// Loads a data file for the network (load_dataset with the network's task and inputs), and checks that a
// classification set has class_count classes and a regression set one target per output. A CSV's columns
// are matched to model.features by name when the model has them (data/columns.hpp's rule).
// sample_weight: a CSV column (by header name) of the rows' weights in the training loss (finite, >= 0),
// read into Dataset::weights and not a feature.
Dataset load_for_network(const NetworkSpec& spec, const std::string& data, const std::string& labels,
                         const std::string& target, const DataNames& model, bool target_optional = false,
                         const std::string& sample_weight = "");

// load_for_network's checks of data read against the network: a classification's class count, a regression's
// target count (`source` names the data in messages).
void check_for_network(const NetworkSpec& spec, const Dataset& data, const std::string& source);

// A table as it comes (data/table.hpp), for training without a network file: the recipe inferred from its
// rows, the task from its target unless given. IDX or NPY data with a labels file is read as for a network
// file (no recipe; the task `task`, classification when unset).
struct TableSettings {
  std::string target;                       // as --target; empty: the last column
  std::optional<TaskKind> task;             // unset: data/table.hpp's rule
  std::vector<std::string> categorical;     // columns read as categories whatever they hold
  ManyCategories many_categories = kDefaultManyCategories;  // columns of many values (--many-categories)
  std::vector<std::string> missing_values;  // empty: TableRecipe's default list
  std::string sample_weight;                // as --sample-weight: a column of the rows' weights, not a feature
  std::string labels;                       // as --labels (IDX or NPY data; a CSV refuses one)
  bool keep_rows = false;                   // keep the cells as read (Dataset::table_rows: cv's folds)
};
Dataset load_table(const std::string& data, const TableSettings& settings);
// A table's classification with fewer than two classes (nothing to learn): Error(bad_input).
void check_table_classes(const Dataset& table);

// The network and recipe a table trains with when no network file is given (docs/tables.md says how they
// were chosen): `hidden` ReLU layers (empty: kDefaultTableHidden), softmax_ce over the classes or mse over
// the targets, AdamW, standard scaling, a validation split with early stopping.
inline const std::vector<int> kDefaultTableHidden{64, 32};
constexpr double kDefaultTableDropout = 0.1;  // of each hidden layer
NetworkSpec default_table_network(const Dataset& data, const std::vector<int>& hidden);
// The default network stops early on its validation rows: a run of it given none (no validation set, and a
// validation split of exactly 0 asked for) and no early stopping trains its epochs instead, as there is nothing
// to stop on (spec.training.early_stopping = 0). The command's --validation-split 0 and Python's
// fit(validation_split=0) on Network.for_table's network, both.
void stop_early_only_with_validation(NetworkSpec& spec, bool validation_given, std::optional<double> validation_split,
                                     std::optional<int> early_stopping);

// The lines to show about a table's rows (none for other data): rows left out for a missing target, values
// the recipe never saw.
std::vector<std::string> table_notes(const Dataset& data);

// A Dataset of arrays ("X" and "y" in messages): x (rows, IN) row-major, rows = x.size() / IN >= 1;
// y: rows class indices (whole numbers in [0, class_count)) for a classifying network, else (rows, OUT)
// numbers. Every value must be finite. The names are kept where their count fits (classes: class_count;
// targets: OUT; features: IN); otherwise classes are "0".."K-1" and targets and features stay unnamed.
// Throws Error(bad_input) naming the array, row and column.
Dataset dataset_from_arrays(const NetworkSpec& spec, std::span<const float> x, std::span<const float> y,
                            const DataNames& names = {});
// The same with uint8 features, kept as bytes and read as value / 255 (as IDX and uint8 NPY files are).
Dataset dataset_from_arrays(const NetworkSpec& spec, std::span<const std::uint8_t> x, std::span<const float> y,
                            const DataNames& names = {});

// The data of one training run.
struct TrainingData {
  Dataset train;
  std::optional<Dataset> validation;
  Scaling scaling;  // for train() and for the model
  TaskKind task = TaskKind::regression;
  // A table's regression on a network not trained yet (mse, identity outputs): the targets standardized for
  // training, y' = (y - offset) / scale per target on the training rows (the validation rows likewise), which
  // an output layer learns far faster than a salary's 1e5; predicting_spec folds it back. Empty: none.
  std::vector<double> target_offset, target_scale;

  const Dataset* validation_or_null() const { return validation ? &*validation : nullptr; }
};

// Prepares a run of spec's recipe: a validation set given replaces the recipe's split (and
// spec.training.validation_split becomes 0, as the trained model then records); otherwise
// spec.training.validation_split > 0 splits off that fraction of train (shuffled by spec.seed). A network
// not trained yet (trained_scaling empty) gets the scaling spec.training.scale fitted on the training rows
// only. A trained model keeps its own scaling, which its parameters were learnt on: a requested kind that
// differs from it is refused (OptionError of "scale"), the same kind is accepted and changes nothing.
// The training rows' weights become their sample weights (if any) times their class's weight
// (spec.training.class_weight, "balanced" counted on the training rows).
TrainingData prepare_training_data(NetworkSpec& spec, Dataset train, std::optional<Dataset> validation,
                                   const std::optional<Scaling>& trained_scaling,
                                   std::optional<ScalingKind> requested_scale);
// The weight of each class (by index) that spec gives data's rows (its labels and class names): 1, balanced's
// n / (K x the class's rows) or the given one; Error(bad_input) for numeric targets or a label not among the
// classes. prepare_training_data multiplies the rows' sample weights by it; trace and gradcheck too.
std::vector<double> class_weights(const ClassWeightSpec& spec, const Dataset& data);

// The trained network as it predicts in the data's units: data's target scaling folded into the output
// layer (W' = W * scale, b' = b * scale + offset per output); the network's spec as it stands without one.
NetworkSpec predicting_spec(const Network<float>& trained, const TrainingData& data);

}  // namespace backprop
