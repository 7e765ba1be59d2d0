// The training report (`backprop train ... --report FILE.html`): one self-contained HTML page, readable
// offline (inline CSS and SVG; no script, font, image or link to fetch): the loss per epoch for training
// and validation, the accuracy (classification) or RMSE (regression) per epoch, the confusion matrix, the
// per-class scores, ROC and precision-recall curves (one against the rest for more than two classes) and the
// reliability plot (classification), the residual plot (regression), the permutation importance when computed,
// the network's layers and parameter counts, and the run's settings. Each plot's numbers are in its SVG
// elements' data-values attributes (full precision), so that a test reads them back. Every text put
// into the page is HTML-escaped.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backprop/data/scaling.hpp"
#include "backprop/nn/spec.hpp"
#include "backprop/train/importance.hpp"
#include "backprop/train/metrics.hpp"
#include "backprop/train/trainer.hpp"

namespace backprop {

// (name, value) rows, shown in this order.
using ReportSettings = std::vector<std::pair<std::string, std::string>>;

// The recipe as spec holds it: the optimizer with the settings its type uses, the schedule, batch size,
// epochs, gradient clipping, early stopping, the scaling, the seed.
ReportSettings recipe_settings(const NetworkSpec& spec, ScalingKind scaling);

struct TrainingReport {
  std::string title;                          // e.g. the network file's name
  std::string table;                          // a table as it came: its recipe (describe_table), or empty
  NetworkSpec spec;                           // the trained network (its layers; weights are not shown)
  TrainingResult result;
  std::vector<std::size_t> confusion;         // (K x K) from confusion_matrix, or empty (regression)
  std::vector<std::string> class_names;       // K names; empty for regression
  std::string confusion_data;                 // what the confusion matrix counts, e.g. "validation set"
  // On the same rows (issue 30), where given: each class's precision, recall, F1 (bars), and for two classes
  // the ROC and precision-recall curves of P(second class) with their areas.
  std::vector<ClassScores> class_scores;
  std::vector<CurvePoint> roc, precision_recall;
  double roc_auc = kNotApplicable, average_precision = kNotApplicable;
  // More than two classes: each class's ROC and precision-recall curves against the rest (one-vs-rest, as
  // eval's macro ROC AUC and average precision take them), with their areas.
  struct ClassCurves {
    std::string name;
    std::vector<CurvePoint> roc, precision_recall;
    double roc_auc = kNotApplicable, average_precision = kNotApplicable;
  };
  std::vector<ClassCurves> class_curves;
  // The reliability plot (10 bins, calibration_curve): of P(second class) for two classes; of the most probable
  // class's probability against whether it is the true class for more. calibration_of says which.
  std::vector<CalibrationBin> calibration;
  std::string calibration_of;
  // Regression, on the same rows: (prediction, prediction - target) of each output of the rows drawn (at most
  // kMostResidualPoints, every n-th row past that).
  std::vector<CurvePoint> residuals;
  std::size_t residual_rows = 0;  // the rows they stand for
  // Permutation importance (`train --report-importance N`, train/importance.hpp) on the same rows.
  std::vector<ColumnImportance> importance;
  std::string importance_metric;
  int importance_repeats = 0;
  ReportSettings settings;                    // recipe_settings plus the run's (data files, rows, wall time)
};

inline constexpr std::size_t kMostResidualPoints = 2000;

// The page. Throws Error(bad_input) when the confusion matrix is not K x K for the K class names.
std::string training_report_html(const TrainingReport& report);

// Writes the page atomically (io::write_file_atomically); on failure the file is left as it was.
void write_training_report(const std::filesystem::path& path, const TrainingReport& report);

}  // namespace backprop
