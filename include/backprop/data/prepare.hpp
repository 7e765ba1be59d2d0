// Data for a network: which task its loss implies, loading a data file or arrays against it, and the
// preparation before training (the validation split, the scaling fitted on the training rows). The
// command and the Python module both call these, so that they decide alike.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

// Classification when the loss is softmax_ce, or bce with one output (two classes); regression otherwise.
TaskKind task_of(const NetworkSpec& spec);
// The classes of a classifying network: its outputs, 2 for one sigmoid output.
int class_count(const NetworkSpec& spec);

// The class names a data file is read against: the model's when it has them; "0".."K-1" for IDX and NPY
// labels (K = class_count); empty (collected from the data) for CSV.
std::vector<std::string> classes_for(const NetworkSpec& spec, const std::string& data_path,
                                     const std::vector<std::string>& model_classes);

// Loads a data file for the network (load_dataset with the network's task and inputs), and checks that a
// classification set has class_count classes and a regression set one target per output.
Dataset load_for_network(const NetworkSpec& spec, const std::string& data, const std::string& labels,
                         const std::string& target, const std::vector<std::string>& model_classes,
                         bool target_optional = false);

// The names a model carries over to data given as arrays (which have none of their own).
struct DataNames {
  std::vector<std::string> classes, targets, features;
};

// Every value of a (rows, width) row-major array finite, else Error(bad_input) naming the array ("X"), the
// row and the column.
void check_finite(std::span<const float> values, std::size_t width, const char* array);

// A Dataset of arrays ("X" and "y" in messages): x (rows, IN) row-major, rows = x.size() / IN >= 1;
// y: rows class indices (whole numbers in [0, class_count)) for a classifying network, else (rows, OUT)
// numbers. Every value must be finite. The names are kept where their count fits (classes: class_count;
// targets: OUT; features: IN); otherwise classes are "0".."K-1" and targets and features stay unnamed.
// Throws Error(bad_input) naming the array, row and column.
Dataset dataset_from_arrays(const NetworkSpec& spec, std::span<const float> x, std::span<const float> y,
                            const DataNames& names = {});

// The data of one training run.
struct TrainingData {
  Dataset train;
  std::optional<Dataset> validation;
  Scaling scaling;  // for train() and for the model
  TaskKind task = TaskKind::regression;

  const Dataset* validation_or_null() const { return validation ? &*validation : nullptr; }
};

// Prepares a run of spec's recipe: a validation set given replaces the recipe's split (and
// spec.training.validation_split becomes 0, as the trained model then records); otherwise
// spec.training.validation_split > 0 splits off that fraction of train (shuffled by spec.seed). The
// scaling (spec.training.scale) is fitted on the training rows only; a model trained further keeps its
// own (model_scaling: its parameters were learnt on inputs scaled that way) unless refit_scaling.
TrainingData prepare_training_data(NetworkSpec& spec, Dataset train, std::optional<Dataset> validation,
                                   const Scaling& model_scaling, bool refit_scaling);

}  // namespace backprop
