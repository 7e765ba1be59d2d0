// The figures people quote about a model, computed once for `backprop eval`, `backprop cv`, Model::report and
// Python's evaluate, as scikit-learn's sklearn.metrics computes them from the same predictions (the network's
// float32 outputs read as doubles): accuracy_score, balanced_accuracy_score, precision_recall_fscore_support
// (zero_division 0; "macro" over the classes present in the labels or the predictions, "weighted" by support),
// log_loss (clipped to [eps, 1 - eps], eps = DBL_EPSILON, rows renormalised), roc_auc_score (binary;
// multi_class="ovr", average="macro" for more classes), average_precision_score (per class of the binarized
// labels, macro), confusion_matrix; mean_absolute_error, root_mean_squared_error and r2_score
// (multioutput="uniform_average"). A figure that scikit-learn refuses or leaves undefined (ROC AUC with one
// class present, R² of one row) is NaN, null in JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/train/trainer.hpp"

namespace backprop {

struct ClassScores {
  std::string name;  // the label as the data writes it
  double precision = 0, recall = 0, f1 = 0;
  std::size_t support = 0;  // rows whose label is this class
};

// Two classes: the thresholds on P(second class) (a row is predicted positive when its probability is at
// least the threshold) that maximise F1 and Youden's J = TPR - FPR, among the probabilities that occur.
struct BinaryThresholds {
  double f1_threshold = kNotApplicable, f1 = kNotApplicable;
  double youden_threshold = kNotApplicable, youden_j = kNotApplicable;
};

struct ClassificationMetrics {
  double accuracy = kNotApplicable, balanced_accuracy = kNotApplicable, log_loss = kNotApplicable;
  double roc_auc = kNotApplicable, average_precision = kNotApplicable;
  double precision_macro = kNotApplicable, recall_macro = kNotApplicable, f1_macro = kNotApplicable;
  double precision_weighted = kNotApplicable, recall_weighted = kNotApplicable, f1_weighted = kNotApplicable;
  std::vector<ClassScores> classes;
  std::vector<std::size_t> confusion;  // (K x K): confusion[true * K + predicted]
  BinaryThresholds thresholds;         // two classes only
};

struct RowError {
  std::size_t row = 0;  // 0-based, in the data's order (predict's output rows)
  int output = 0;       // the output whose error is largest in the row
  double target = 0, prediction = 0;
};

struct RegressionMetrics {
  double mean_absolute_error = kNotApplicable, root_mean_squared_error = kNotApplicable, r2 = kNotApplicable;
  std::vector<RowError> largest_errors;  // by |prediction - target|, largest first
};

// A model's evaluation: today's Metrics (evaluate(): the network's own loss, accuracy or RMSE and MAE) and
// the figures above.
struct EvaluationReport {
  TaskKind task = TaskKind::classification;
  // Two classes: the model's kept threshold, at which the figures of predicted classes (accuracy, the classes'
  // precision, recall and F1, the confusion matrix) are taken; none: the more probable class.
  std::optional<double> threshold;
  Metrics basic;
  ClassificationMetrics classification;
  RegressionMetrics regression;
};

// outputs (rows, output_count): softmax rows, or one sigmoid column (P(class 1); two classes). labels: rows
// class indices in [0, class_names.size()). threshold: the rows' predicted classes by it (predicted_class).
ClassificationMetrics classification_metrics(std::span<const float> outputs, int output_count,
                                             std::span<const std::int32_t> labels,
                                             const std::vector<std::string>& class_names,
                                             std::optional<double> threshold = std::nullopt);

// The ROC AUC and average precision of scores against positives (1) and negatives (0), ties as
// scikit-learn's curves take them (one point per distinct score); NaN without both kinds of row.
double roc_auc(std::span<const double> scores, std::span<const std::uint8_t> positive);
double average_precision(std::span<const double> scores, std::span<const std::uint8_t> positive);
BinaryThresholds binary_thresholds(std::span<const double> scores, std::span<const std::uint8_t> positive);

// The curves behind roc_auc and average_precision, one point per distinct score from the highest: (false
// positive rate, true positive rate) from (0, 0) to (1, 1), and (recall, precision) from (0, 1). Empty
// without both kinds of row.
struct CurvePoint {
  double x = 0, y = 0;
};
std::vector<CurvePoint> roc_curve(std::span<const double> scores, std::span<const std::uint8_t> positive);
std::vector<CurvePoint> precision_recall_curve(std::span<const double> scores, std::span<const std::uint8_t> positive);

// A reliability (calibration) plot's bins, as sklearn.calibration.calibration_curve(strategy="uniform") makes
// them: `bins` equal bins of [0, 1], a score in the first bin whose upper edge is at least it (numpy's
// searchsorted); each non-empty bin's mean score, fraction of positives and row count, in order.
struct CalibrationBin {
  double low = 0, high = 0;                             // the bin's edges
  double mean_predicted = 0, fraction_positive = 0;     // calibration_curve's prob_pred and prob_true
  std::size_t count = 0;                                // rows in the bin
};
std::vector<CalibrationBin> calibration_curve(std::span<const double> scores, std::span<const std::uint8_t> positive,
                                              int bins = 10);

// outputs and targets (rows, output_count); the `largest` rows by their largest absolute error.
RegressionMetrics regression_metrics(std::span<const float> outputs, std::span<const float> targets,
                                     int output_count, std::size_t largest = 5);

// The network's outputs for every row (rows, OUT), in batches without dropout.
std::vector<float> network_outputs(const Network<float>& network, const Dataset& data, const Scaling& scaling,
                                   kernels::DeviceBackend* device = nullptr);

// evaluate() and the figures above for a labelled data set; with a two-class model's kept threshold, the
// figures of predicted classes at it (basic.accuracy included).
EvaluationReport evaluate_report(const Network<float>& network, const Dataset& data, const Scaling& scaling,
                                 kernels::DeviceBackend* device = nullptr, int batch_size = kEvaluationBatchSize,
                                 std::optional<double> threshold = std::nullopt);
// The same from outputs already computed (rows, OUT) and the basic metrics.
EvaluationReport report_from_outputs(const Dataset& data, std::span<const float> outputs, int output_count,
                                     const Metrics& basic, std::optional<double> threshold = std::nullopt);

// Every single-number figure by its name in `eval --json` (scikit-learn's function names without "_score";
// today's "loss", "accuracy", "rmse", "mae", "rows" first), in a fixed order: what `cv` averages.
std::vector<std::pair<std::string, double>> named_metrics(const EvaluationReport& report);

// The JSON object of `eval --json` (one line): the named figures, then "classes" (label -> precision, recall,
// f1, support), "confusion_matrix" (rows: true class), "thresholds" and the kept "threshold" (when the model
// has one) for classification, "largest_errors" for regression. NaN is null.
std::string report_json(const EvaluationReport& report);

}  // namespace backprop
