// k-fold cross-validation (`backprop cv`): the rows dealt into folds (data/folds.hpp: stratified for
// classification), each fold's network trained on the other rows exactly as `backprop train` trains (the
// recipe's validation split, the scaling fitted on the fold's training rows, train()) and evaluated on the
// fold (train/metrics.hpp), repeated with the folds drawn again.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/train/prepare.hpp"
#include "backprop/nn/spec.hpp"
#include "backprop/train/metrics.hpp"
#include "backprop/train/threshold.hpp"
#include "backprop/train/trainer.hpp"

namespace backprop {

struct CrossValidationSettings {
  int folds = 5;
  int repeats = 1;
  // The folds of repeat r are drawn from seed + r; the training's own seed stays the spec's, as for train.
  std::uint64_t seed = 0;
  // A two-class threshold each fold's model keeps, picked as `train --threshold` picks it (on the fold's
  // validation rows for f1 and youden); the fold's figures are at it (report.threshold), as eval's on that model.
  std::optional<ThresholdChoice> threshold;
  // A table whose recipe was inferred, read with its cells kept (Dataset::table_rows): each fold infers its
  // own recipe on its training rows (TableRows::infer: medians, categories, kinds, then the scaling as always)
  // and reads its test rows by it, as scikit-learn's cross_validate fits a pipeline on each fold's training
  // rows. fold_network: the fold's network for those training rows (their inputs; as train builds it for a
  // table of them); fold_validation, when set: the validation set given, read by the fold's network and recipe.
  std::function<NetworkSpec(const Dataset& train)> fold_network;
  std::function<Dataset(const NetworkSpec& spec, const Dataset& train)> fold_validation;
};

struct FoldResult {
  int repeat = 0, fold = 0;  // from 0
  std::size_t training_rows = 0;
  EvaluationReport report;   // on the fold's rows
  std::size_t unknown_values = 0;  // the fold's cells of a category its recipe does not keep (a table's)
  TrainingResult training;
};

// Called after each fold with its result, the trained network and its data (the scaling, the names), so
// that a caller may print or keep the model.
using FoldCallback = std::function<void(const FoldResult&, const Network<float>&, const TrainingData&)>;

// spec: the recipe with the options applied (TrainingOptions::start_spec); data: every row (with table_rows:
// each fold's recipe its own, settings.fold_network then required); validation: a validation set given for
// every fold (else the recipe's split, if any, from each fold's training rows);
// trained_scaling and requested_scale as prepare_training_data takes them. Throws as train() and
// cross_validation_folds do.
std::vector<FoldResult> cross_validate(const NetworkSpec& spec, const Dataset& data,
                                       const std::optional<Dataset>& validation,
                                       const std::optional<Scaling>& trained_scaling,
                                       std::optional<ScalingKind> requested_scale,
                                       const CrossValidationSettings& settings,
                                       const TrainingParallelism& parallelism = {},
                                       const FoldCallback& on_fold = {});

// Whether cross_validate runs its folds side by side, each on one thread of the pool (kernels::thread_count()):
// on the CPU in one process, with two threads or more, two folds or more, and
// every dense layer's product of a batch too small for the pool to share out (alone, such a fold keeps one
// thread busy and the others idle; docs/performance.md has the measurements). Each fold's results and model
// are the same bits either way; the folds are reported (on_fold) in order, after all of them have run.
bool folds_side_by_side(const NetworkSpec& spec, std::size_t rows, const TrainingParallelism& parallelism,
                        std::size_t folds);

// The mean and the standard deviation (numpy's std, ddof 0) of each of named_metrics over the folds: (name,
// mean, std) in named_metrics' order. A figure NaN in some fold is NaN.
struct MetricSummary {
  std::string name;
  double mean = 0, std = 0;
};
std::vector<MetricSummary> summarize(const std::vector<FoldResult>& folds);

// `backprop cv --json`: {"folds": [{"repeat", "fold", named figures...}, ...], "mean": {...}, "std": {...}}.
std::string cross_validation_json(const std::vector<FoldResult>& folds);

}  // namespace backprop
