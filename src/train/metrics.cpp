// The figures of metrics.hpp, each written the way scikit-learn's function computes it (its order of
// operations where that matters at 1e-9: F1 from precision and recall, log loss clipped then renormalised).
#include "backprop/train/metrics.hpp"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"

namespace backprop {
namespace {

double mean_or_nan(double sum, std::size_t count) {
  return count == 0 ? kNotApplicable : sum / static_cast<double>(count);
}

// Row r's probability of class c: the softmax output, or [1 - p, p] for one sigmoid output.
double probability(std::span<const float> outputs, int output_count, std::size_t r, int c) {
  if (output_count == 1) {
    const double p = outputs[r];
    return c == 1 ? p : 1.0 - p;
  }
  return outputs[r * static_cast<std::size_t>(output_count) + static_cast<std::size_t>(c)];
}

// sklearn.metrics.log_loss with eps = DBL_EPSILON: probabilities clipped to [eps, 1 - eps], each row
// renormalised, the mean of -log p(true class). One sigmoid output is clipped before 1 - p is taken, as
// log_loss does with a 1-D y_pred.
double log_loss(std::span<const float> outputs, int output_count, std::span<const std::int32_t> labels, int classes) {
  const double eps = DBL_EPSILON;
  double total = 0;
  std::vector<double> row(static_cast<std::size_t>(classes));
  for (std::size_t r = 0; r < labels.size(); ++r) {
    if (output_count == 1) {
      const double p = std::clamp(static_cast<double>(outputs[r]), eps, 1.0 - eps);
      row = {1.0 - p, p};
    } else {
      for (int c = 0; c < classes; ++c) row[c] = std::clamp(probability(outputs, output_count, r, c), eps, 1.0 - eps);
    }
    double sum = 0;
    for (double p : row) sum += p;
    total -= std::log(row[static_cast<std::size_t>(labels[r])] / sum);
  }
  return mean_or_nan(total, labels.size());
}

// Rows in order of decreasing score, for the curves (ties are adjacent; one curve point per distinct score).
std::vector<std::size_t> by_decreasing_score(std::span<const double> scores) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  return order;
}

// Calls point(score, true positives, false positives) at each distinct score, the counts of the rows scoring
// at least that much; returns (positives, negatives).
template <typename Point>
std::pair<double, double> walk_curve(std::span<const double> scores, std::span<const std::uint8_t> positive,
                                     Point point) {
  const std::vector<std::size_t> order = by_decreasing_score(scores);
  double tp = 0, fp = 0;
  std::size_t i = 0;
  while (i < order.size()) {
    const double score = scores[order[i]];
    double group_tp = 0, group_fp = 0;
    for (; i < order.size() && scores[order[i]] == score; ++i) (positive[order[i]] ? group_tp : group_fp) += 1;
    point(score, tp, fp, group_tp, group_fp);
    tp += group_tp, fp += group_fp;
  }
  return {tp, fp};
}

}  // namespace

double roc_auc(std::span<const double> scores, std::span<const std::uint8_t> positive) {
  // The trapezoids between the curve's points: each distinct score adds its false positives' width times
  // the mean height of the true positive rate across it.
  double area = 0;
  const auto [p, n] = walk_curve(scores, positive, [&](double, double tp, double, double group_tp, double group_fp) {
    area += group_fp * (tp + group_tp / 2);
  });
  if (p == 0 || n == 0) return kNotApplicable;
  return area / (p * n);
}

double average_precision(std::span<const double> scores, std::span<const std::uint8_t> positive) {
  std::vector<std::pair<double, double>> steps;  // (recall gained, precision there)
  const auto [p, n] = walk_curve(scores, positive, [&](double, double tp, double fp, double group_tp, double group_fp) {
    if (group_tp > 0) steps.emplace_back(group_tp, (tp + group_tp) / (tp + group_tp + fp + group_fp));
  });
  if (p == 0) return kNotApplicable;
  double ap = 0;
  for (const auto& [gained, precision] : steps) ap += gained / p * precision;
  return ap;
}

BinaryThresholds binary_thresholds(std::span<const double> scores, std::span<const std::uint8_t> positive) {
  BinaryThresholds best;
  std::vector<std::array<double, 3>> points;  // (score, tp, fp) at that score
  const auto [p, n] = walk_curve(scores, positive, [&](double score, double tp, double fp, double gtp, double gfp) {
    points.push_back({score, tp + gtp, fp + gfp});
  });
  if (p == 0 || n == 0) return best;
  for (const auto& [score, tp, fp] : points) {
    // f1_score's formula, so that equal F1s at two thresholds compare equal here as there.
    const double precision = tp + fp > 0 ? tp / (tp + fp) : 0, recall = tp / p;
    const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    const double j = tp / p - fp / n;
    if (!(f1 <= best.f1)) best.f1 = f1, best.f1_threshold = score;  // the first (highest) of equals; NaN: none yet
    if (!(j <= best.youden_j)) best.youden_j = j, best.youden_threshold = score;
  }
  return best;
}

std::vector<CurvePoint> roc_curve(std::span<const double> scores, std::span<const std::uint8_t> positive) {
  std::vector<CurvePoint> points = {{0, 0}};
  const auto [p, n] = walk_curve(scores, positive, [&](double, double tp, double fp, double gtp, double gfp) {
    points.push_back({fp + gfp, tp + gtp});
  });
  if (p == 0 || n == 0) return {};
  for (CurvePoint& point : points) point = {point.x / n, point.y / p};
  return points;
}

std::vector<CurvePoint> precision_recall_curve(std::span<const double> scores, std::span<const std::uint8_t> positive) {
  std::vector<CurvePoint> points = {{0, 1}};
  const auto [p, n] = walk_curve(scores, positive, [&](double, double tp, double fp, double gtp, double gfp) {
    points.push_back({tp + gtp, (tp + gtp) / (tp + gtp + fp + gfp)});
  });
  if (p == 0 || n == 0) return {};
  for (std::size_t i = 1; i < points.size(); ++i) points[i].x /= p;
  return points;
}

std::vector<CalibrationBin> calibration_curve(std::span<const double> scores, std::span<const std::uint8_t> positive,
                                              int bins) {
  const double width = 1.0 / bins;  // numpy's linspace(0, 1, bins + 1): edge i is i * width
  std::vector<CalibrationBin> all(static_cast<std::size_t>(bins));
  std::vector<double> sums(all.size(), 0.0), positives(all.size(), 0.0);
  for (std::size_t r = 0; r < scores.size(); ++r) {
    std::size_t bin = 0;  // the inner edges below the score
    while (bin + 1 < all.size() && static_cast<double>(bin + 1) * width < scores[r]) ++bin;
    sums[bin] += scores[r];
    positives[bin] += positive[r];
    ++all[bin].count;
  }
  std::vector<CalibrationBin> kept;
  for (std::size_t b = 0; b < all.size(); ++b) {
    if (all[b].count == 0) continue;
    const auto count = static_cast<double>(all[b].count);
    kept.push_back({static_cast<double>(b) * width, b + 1 == all.size() ? 1.0 : static_cast<double>(b + 1) * width,
                    sums[b] / count, positives[b] / count, all[b].count});
  }
  return kept;
}

namespace {

// Precision, recall, F1 and support per class from the confusion matrix, and their macro and weighted means
// (precision_recall_fscore_support, zero_division 0).
void add_class_scores(ClassificationMetrics& m, const std::vector<std::string>& names, std::size_t rows) {
  const std::size_t k = names.size();
  double recall_sum = 0;
  std::size_t with_support = 0, present = 0;
  double macro[3] = {0, 0, 0}, weighted[3] = {0, 0, 0};
  for (std::size_t c = 0; c < k; ++c) {
    std::size_t predicted = 0, support = 0;
    for (std::size_t o = 0; o < k; ++o) predicted += m.confusion[o * k + c], support += m.confusion[c * k + o];
    const double tp = static_cast<double>(m.confusion[c * k + c]);
    ClassScores s{names[c], 0, 0, 0, support};
    if (predicted > 0) s.precision = tp / static_cast<double>(predicted);
    if (support > 0) s.recall = tp / static_cast<double>(support);
    const double denominator = s.precision + s.recall;
    s.f1 = 2 * s.precision * s.recall / (denominator == 0 ? 1 : denominator);
    if (support > 0) recall_sum += s.recall, ++with_support;
    if (support > 0 || predicted > 0) {
      ++present;
      macro[0] += s.precision, macro[1] += s.recall, macro[2] += s.f1;
    }
    const double w = static_cast<double>(support);
    weighted[0] += s.precision * w, weighted[1] += s.recall * w, weighted[2] += s.f1 * w;
    m.classes.push_back(std::move(s));
  }
  m.balanced_accuracy = mean_or_nan(recall_sum, with_support);
  m.precision_macro = mean_or_nan(macro[0], present);
  m.recall_macro = mean_or_nan(macro[1], present);
  m.f1_macro = mean_or_nan(macro[2], present);
  m.precision_weighted = mean_or_nan(weighted[0], rows);
  m.recall_weighted = mean_or_nan(weighted[1], rows);
  m.f1_weighted = mean_or_nan(weighted[2], rows);
}

// ROC AUC and average precision: of P(second class) for two classes, else one class against the rest, macro.
void add_ranking_scores(ClassificationMetrics& m, std::span<const float> outputs, int output_count,
                        std::span<const std::int32_t> labels, int classes) {
  const std::size_t rows = labels.size();
  std::vector<double> scores(rows);
  std::vector<std::uint8_t> positive(rows);
  auto one_class = [&](int c) {
    for (std::size_t r = 0; r < rows; ++r) {
      scores[r] = probability(outputs, output_count, r, c);
      positive[r] = labels[r] == c ? 1 : 0;
    }
  };
  if (classes == 2) {
    one_class(1);
    m.roc_auc = roc_auc(scores, positive);
    m.average_precision = average_precision(scores, positive);
    m.thresholds = binary_thresholds(scores, positive);
    return;
  }
  double auc_sum = 0, ap_sum = 0;
  for (int c = 0; c < classes; ++c) {
    one_class(c);
    auc_sum += roc_auc(scores, positive);  // NaN when a class is absent: the mean is then NaN too
    ap_sum += average_precision(scores, positive);
  }
  m.roc_auc = auc_sum / classes;
  m.average_precision = ap_sum / classes;
}

}  // namespace

ClassificationMetrics classification_metrics(std::span<const float> outputs, int output_count,
                                             std::span<const std::int32_t> labels,
                                             const std::vector<std::string>& class_names,
                                             std::optional<double> threshold) {
  const int classes = static_cast<int>(class_names.size());
  const std::size_t rows = labels.size();
  if (classes != (output_count == 1 ? 2 : output_count) || outputs.size() != rows * output_count)
    throw_bad_input("classification_metrics: expected " + std::to_string(rows) + " rows of " +
                    std::to_string(output_count) + " outputs for " + std::to_string(classes) + " classes, got " +
                    std::to_string(outputs.size()) + " numbers");
  ClassificationMetrics m;
  const auto k = static_cast<std::size_t>(classes);
  m.confusion.assign(k * k, 0);
  std::size_t correct = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const auto predicted =
        static_cast<std::size_t>(predicted_class(outputs.data() + r * output_count, output_count, threshold));
    const auto actual = static_cast<std::size_t>(labels[r]);
    ++m.confusion[actual * k + predicted];
    correct += actual == predicted ? 1 : 0;
  }
  m.accuracy = mean_or_nan(static_cast<double>(correct), rows);
  add_class_scores(m, class_names, rows);
  m.log_loss = log_loss(outputs, output_count, labels, classes);
  add_ranking_scores(m, outputs, output_count, labels, classes);
  return m;
}

RegressionMetrics regression_metrics(std::span<const float> outputs, std::span<const float> targets,
                                     int output_count, std::size_t largest) {
  const auto width = static_cast<std::size_t>(output_count);
  if (outputs.size() != targets.size() || width == 0 || outputs.size() % width != 0)
    throw_bad_input("regression_metrics: expected outputs and targets of the same (rows, " +
                    std::to_string(output_count) + ") shape, got " + std::to_string(outputs.size()) + " and " +
                    std::to_string(targets.size()) + " numbers");
  const std::size_t rows = outputs.size() / width;
  RegressionMetrics m;
  if (rows == 0) return m;
  double mae = 0, rmse = 0, r2 = 0;
  for (std::size_t o = 0; o < width; ++o) {
    double absolute = 0, squared = 0, mean = 0;
    for (std::size_t r = 0; r < rows; ++r) {
      const double d = static_cast<double>(targets[r * width + o]) - outputs[r * width + o];
      absolute += std::fabs(d), squared += d * d, mean += targets[r * width + o];
    }
    mean /= static_cast<double>(rows);
    double spread = 0;
    for (std::size_t r = 0; r < rows; ++r) spread += (targets[r * width + o] - mean) * (targets[r * width + o] - mean);
    mae += absolute / static_cast<double>(rows);
    rmse += std::sqrt(squared / static_cast<double>(rows));
    // r2_score's force_finite: a constant target scores 1 when predicted exactly, else 0.
    r2 += spread != 0 ? 1 - squared / spread : (squared == 0 ? 1.0 : 0.0);
  }
  m.mean_absolute_error = mae / static_cast<double>(width);
  m.root_mean_squared_error = rmse / static_cast<double>(width);
  m.r2 = rows < 2 ? kNotApplicable : r2 / static_cast<double>(width);  // r2_score: not defined for one row

  std::vector<RowError> errors(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    RowError& e = errors[r];
    e.row = r;
    for (std::size_t o = 0; o < width; ++o) {
      const double target = targets[r * width + o], prediction = outputs[r * width + o];
      if (o == 0 || std::fabs(prediction - target) > std::fabs(e.prediction - e.target))
        e = {r, static_cast<int>(o), target, prediction};
    }
  }
  const std::size_t kept = std::min(largest, rows);
  std::partial_sort(errors.begin(), errors.begin() + static_cast<std::ptrdiff_t>(kept), errors.end(),
                    [](const RowError& a, const RowError& b) {
                      const double ea = std::fabs(a.prediction - a.target), eb = std::fabs(b.prediction - b.target);
                      return ea != eb ? ea > eb : a.row < b.row;
                    });
  errors.resize(kept);
  m.largest_errors = std::move(errors);
  return m;
}

std::vector<float> network_outputs(const Network<float>& network, const Dataset& data, const Scaling& scaling,
                                   kernels::DeviceBackend* device) {
  const auto width = static_cast<std::size_t>(network.output_size());
  std::vector<float> outputs(data.rows * width);  // (rows, OUT)
  forward_batches(network, data, scaling, kEvaluationBatchSize,
                  [&](std::size_t start, std::size_t count, const Workspace<float>& workspace) {
                    const float* a = network.output(workspace);
                    std::copy(a, a + count * width, outputs.begin() + static_cast<std::ptrdiff_t>(start * width));
                  },
                  device);
  return outputs;
}

EvaluationReport report_from_outputs(const Dataset& data, std::span<const float> outputs, int output_count,
                                     const Metrics& basic, std::optional<double> threshold) {
  EvaluationReport report;
  report.task = data.task;
  report.basic = basic;
  if (data.task == TaskKind::classification) {
    report.classification = classification_metrics(outputs, output_count, data.labels, data.class_names, threshold);
    report.threshold = threshold;
    if (threshold) report.basic.accuracy = report.classification.accuracy;  // evaluate() takes the probable class
  } else {
    report.regression = regression_metrics(outputs, data.targets, output_count);
  }
  return report;
}

EvaluationReport evaluate_report(const Network<float>& network, const Dataset& data, const Scaling& scaling,
                                 kernels::DeviceBackend* device, int batch_size, std::optional<double> threshold) {
  const Metrics basic = evaluate(network, data, scaling, batch_size, device);
  const std::vector<float> outputs = network_outputs(network, data, scaling, device);
  return report_from_outputs(data, outputs, network.output_size(), basic, threshold);
}

std::vector<std::pair<std::string, double>> named_metrics(const EvaluationReport& report) {
  const Metrics& b = report.basic;
  const auto rows = static_cast<double>(b.rows);
  if (report.task == TaskKind::regression) {
    const RegressionMetrics& m = report.regression;
    return {{"loss", b.loss}, {"rmse", b.rmse}, {"mae", b.mae}, {"rows", rows},
            {"mean_absolute_error", m.mean_absolute_error}, {"root_mean_squared_error", m.root_mean_squared_error},
            {"r2", m.r2}};
  }
  const ClassificationMetrics& m = report.classification;
  return {{"loss", b.loss},
          {"accuracy", b.accuracy},
          {"rows", rows},
          {"balanced_accuracy", m.balanced_accuracy},
          {"log_loss", m.log_loss},
          {"roc_auc", m.roc_auc},
          {"average_precision", m.average_precision},
          {"precision_macro", m.precision_macro},
          {"recall_macro", m.recall_macro},
          {"f1_macro", m.f1_macro},
          {"precision_weighted", m.precision_weighted},
          {"recall_weighted", m.recall_weighted},
          {"f1_weighted", m.f1_weighted}};
}

std::string report_json(const EvaluationReport& report) {
  nlohmann::ordered_json j;
  for (const auto& [name, value] : named_metrics(report)) {
    if (name == "rows")
      j[name] = report.basic.rows;
    else
      j[name] = value;  // NaN: null
  }
  if (report.task == TaskKind::regression) {
    j["largest_errors"] = nlohmann::ordered_json::array();
    for (const RowError& e : report.regression.largest_errors)
      j["largest_errors"].push_back(
          {{"row", e.row}, {"output", e.output}, {"target", e.target}, {"prediction", e.prediction},
           {"error", e.prediction - e.target}});
    return j.dump();
  }
  const ClassificationMetrics& m = report.classification;
  j["classes"] = nlohmann::ordered_json::object();
  for (const ClassScores& s : m.classes)
    j["classes"][s.name] = {{"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}, {"support", s.support}};
  const std::size_t k = m.classes.size();
  j["confusion_matrix"] = nlohmann::ordered_json::array();
  for (std::size_t t = 0; t < k; ++t)
    j["confusion_matrix"].push_back(std::vector<std::size_t>(m.confusion.begin() + static_cast<std::ptrdiff_t>(t * k),
                                                             m.confusion.begin() + static_cast<std::ptrdiff_t>(t * k + k)));
  if (k == 2) {
    const BinaryThresholds& t = m.thresholds;
    j["thresholds"] = {{"f1", {{"threshold", t.f1_threshold}, {"f1", t.f1}}},
                       {"youden", {{"threshold", t.youden_threshold}, {"j", t.youden_j}}}};
  }
  if (report.threshold) j["threshold"] = *report.threshold;
  return j.dump();
}

}  // namespace backprop
