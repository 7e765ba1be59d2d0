// Permutation importance (importance.hpp): one working copy of the data, each column shuffled in place,
// scored, and put back.
#include "backprop/train/importance.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "backprop/base/random.hpp"

namespace backprop {
namespace {

struct MetricRule {
  const char* name;
  TaskKind task;
  bool lower_is_better;
};

constexpr MetricRule kMetrics[] = {
    {"accuracy", TaskKind::classification, false},       {"balanced_accuracy", TaskKind::classification, false},
    {"f1_macro", TaskKind::classification, false},       {"f1_weighted", TaskKind::classification, false},
    {"roc_auc", TaskKind::classification, false},        {"average_precision", TaskKind::classification, false},
    {"log_loss", TaskKind::classification, true},        {"r2", TaskKind::regression, false},
    {"mean_absolute_error", TaskKind::regression, true}, {"root_mean_squared_error", TaskKind::regression, true},
};

const MetricRule& rule_of(const std::string& name) {
  for (const MetricRule& rule : kMetrics)
    if (name == rule.name) return rule;
  throw_bad_input("metric: expected one of accuracy, balanced_accuracy, f1_macro, f1_weighted, roc_auc, "
                  "average_precision, log_loss (classification), r2, mean_absolute_error, root_mean_squared_error "
                  "(regression), got '" + name + "'");
}

// The figure from the network's outputs alone (accuracy from the classification's own count).
double figure(const Network<float>& network, const Dataset& data, const Scaling& scaling, const std::string& metric,
              kernels::DeviceBackend* device, std::optional<double> threshold) {
  const std::vector<float> outputs = network_outputs(network, data, scaling, device);
  const EvaluationReport report = report_from_outputs(data, outputs, network.output_size(), Metrics{}, threshold);
  if (metric == "accuracy") return report.classification.accuracy;
  for (const auto& [name, value] : named_metrics(report))
    if (name == metric) return value;
  throw_bad_input("metric: '" + metric + "' is not a figure of this task");
}

}  // namespace

std::string importance_metric(const std::string& metric, TaskKind task) {
  if (metric.empty()) return task == TaskKind::classification ? "accuracy" : "r2";
  const MetricRule& rule = rule_of(metric);
  if (rule.task != task)
    throw_bad_input("metric: '" + metric + "' is a figure of " + std::string(to_string(rule.task)) +
                    "; the model does " + std::string(to_string(task)));
  return metric;
}

ImportanceResult permutation_importance(const Network<float>& network, const Dataset& data, const Scaling& scaling,
                                        const std::string& metric, int repeats, std::uint64_t seed,
                                        kernels::DeviceBackend* device, std::optional<double> threshold) {
  if (repeats < 1) throw_bad_input("repeats: expected a number >= 1, got " + std::to_string(repeats));
  ImportanceResult result;
  result.metric = importance_metric(metric, data.task);
  const bool lower_is_better = rule_of(result.metric).lower_is_better;
  result.baseline = figure(network, data, scaling, result.metric, device, threshold);
  Dataset shuffled = data;  // one column at a time shuffled, then put back
  const auto width = static_cast<std::size_t>(data.features);
  Random random(seed);
  std::vector<std::size_t> order(data.rows);
  for (std::size_t column = 0; column < width; ++column) {
    ColumnImportance importance;
    importance.name = column < data.feature_names.size() ? data.feature_names[column] : "column " + std::to_string(column);
    for (int repeat = 0; repeat < repeats; ++repeat) {
      std::iota(order.begin(), order.end(), std::size_t{0});
      for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);
      auto permute = [&](const auto& from, auto& to) {
        if (from.empty()) return;
        for (std::size_t r = 0; r < data.rows; ++r) to[r * width + column] = from[order[r] * width + column];
      };
      permute(data.features_f32, shuffled.features_f32);
      permute(data.features_u8, shuffled.features_u8);
      const double value = figure(network, shuffled, scaling, result.metric, device, threshold);
      importance.drops.push_back(lower_is_better ? value - result.baseline : result.baseline - value);
    }
    for (std::size_t r = 0; r < data.rows; ++r) {  // the column as it was
      if (!data.features_f32.empty()) shuffled.features_f32[r * width + column] = data.features_f32[r * width + column];
      if (!data.features_u8.empty()) shuffled.features_u8[r * width + column] = data.features_u8[r * width + column];
    }
    const double n = static_cast<double>(repeats);
    for (double d : importance.drops) importance.mean += d / n;
    for (double d : importance.drops) importance.std += (d - importance.mean) * (d - importance.mean) / n;
    importance.std = std::sqrt(importance.std);
    result.columns.push_back(std::move(importance));
  }
  return result;
}

std::string importance_json(const ImportanceResult& result) {
  nlohmann::ordered_json j;
  j["metric"] = result.metric;
  j["baseline"] = result.baseline;
  j["columns"] = nlohmann::ordered_json::array();
  for (const ColumnImportance& c : result.columns)
    j["columns"].push_back({{"name", c.name}, {"mean", c.mean}, {"std", c.std}});
  return j.dump();
}

}  // namespace backprop
