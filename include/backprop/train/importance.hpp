// Permutation importance (`backprop importance`), as sklearn.inspection.permutation_importance defines it:
// for each input column, its values shuffled among the rows (the others kept), the drop of a figure of
// train/metrics.hpp from its value on the data as given, over `repeats` shuffles. A column the model ignores
// scores zero whatever the shuffle; one it relies on scores clearly above.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/train/metrics.hpp"

namespace backprop {

struct ColumnImportance {
  std::string name;            // the data's column name, or "column N" (0-based) where it has none
  double mean = 0, std = 0;    // of the drops (std: numpy's, ddof 0, as permutation_importance's)
  std::vector<double> drops;   // (repeats)
};

struct ImportanceResult {
  std::string metric;
  double baseline = 0;  // the figure on the data as given
  std::vector<ColumnImportance> columns;
};

// The figures it may use: higher is better for accuracy, balanced_accuracy, f1_macro, f1_weighted,
// roc_auc, average_precision (classification) and r2 (regression), and the drop is baseline - shuffled;
// lower is better for log_loss, mean_absolute_error and root_mean_squared_error, and the drop is
// shuffled - baseline. Empty metric: accuracy for classification, r2 for regression (scikit-learn's default
// scores). Error(bad_input) for another name or one of the other task.
std::string importance_metric(const std::string& metric, TaskKind task);

// repeats >= 1 shuffles of each column, drawn from seed (each shuffle a Fisher-Yates from one stream, column
// by column, repeat by repeat). threshold: a two-class model's kept threshold, at which the figures of predicted
// classes are taken (as eval takes them).
ImportanceResult permutation_importance(const Network<float>& network, const Dataset& data, const Scaling& scaling,
                                        const std::string& metric, int repeats, std::uint64_t seed,
                                        kernels::DeviceBackend* device = nullptr,
                                        std::optional<double> threshold = std::nullopt);

// `backprop importance --json`: {"metric", "baseline", "columns": [{"name", "mean", "std"}, ...]}, columns
// in the data's order.
std::string importance_json(const ImportanceResult& result);

}  // namespace backprop
