// cross_validate: the folds, each trained as `backprop train` trains and evaluated on its rows.
#include "backprop/train/cross_validation.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "backprop/data/folds.hpp"

namespace backprop {

std::vector<FoldResult> cross_validate(const NetworkSpec& spec, const Dataset& data,
                                       const std::optional<Dataset>& validation,
                                       const std::optional<Scaling>& trained_scaling,
                                       std::optional<ScalingKind> requested_scale,
                                       const CrossValidationSettings& settings,
                                       const TrainingParallelism& parallelism, const FoldCallback& on_fold) {
  std::vector<FoldResult> results;
  for (int repeat = 0; repeat < settings.repeats; ++repeat) {
    const auto folds = cross_validation_folds(data, settings.folds, settings.seed + static_cast<std::uint64_t>(repeat));
    for (std::size_t f = 0; f < folds.size(); ++f) {
      std::vector<std::size_t> kept;
      std::vector<std::uint8_t> held(data.rows, 0);
      for (std::size_t r : folds[f]) held[r] = 1;
      for (std::size_t r = 0; r < data.rows; ++r)
        if (!held[r]) kept.push_back(r);
      const Dataset test = take_rows(data, folds[f]);
      // What `backprop train` does with the fold's rows as its --data.
      NetworkSpec fold_spec = spec;
      TrainingData prepared = prepare_training_data(fold_spec, take_rows(data, kept), validation, trained_scaling,
                                                    requested_scale);
      if (settings.threshold)
        check_threshold_choice(*settings.threshold, fold_spec, prepared.validation_or_null() != nullptr);
      Network<float> trained(fold_spec);
      FoldResult result;
      result.repeat = repeat;
      result.fold = static_cast<int>(f);
      result.training_rows = prepared.train.rows;
      result.training = train(trained, prepared.train, prepared.validation_or_null(), prepared.scaling, nullptr,
                              nullptr, parallelism);
      // As `train` saves it: in the data's units (a table's regression trains on standardized targets).
      const Network<float> network(predicting_spec(trained, prepared));
      const std::optional<double> threshold =
          settings.threshold ? std::optional<double>(pick_threshold(*settings.threshold, network,
                                                                    prepared.validation_or_null(), prepared.scaling,
                                                                    parallelism.device))
                             : std::nullopt;
      result.report =
          evaluate_report(network, test, prepared.scaling, parallelism.device, kEvaluationBatchSize, threshold);
      if (on_fold) on_fold(result, network, prepared);
      results.push_back(std::move(result));
    }
  }
  return results;
}

std::vector<MetricSummary> summarize(const std::vector<FoldResult>& folds) {
  std::vector<MetricSummary> summary;
  if (folds.empty()) return summary;
  const auto n = static_cast<double>(folds.size());
  for (const auto& [name, value] : named_metrics(folds.front().report)) summary.push_back({name, 0, 0});
  for (const FoldResult& fold : folds) {
    const auto values = named_metrics(fold.report);
    for (std::size_t i = 0; i < summary.size(); ++i) summary[i].mean += values[i].second / n;
  }
  for (const FoldResult& fold : folds) {
    const auto values = named_metrics(fold.report);
    for (std::size_t i = 0; i < summary.size(); ++i) {
      const double d = values[i].second - summary[i].mean;
      summary[i].std += d * d / n;
    }
  }
  for (MetricSummary& s : summary) s.std = std::sqrt(s.std);
  return summary;
}

std::string cross_validation_json(const std::vector<FoldResult>& folds) {
  nlohmann::ordered_json j;
  j["folds"] = nlohmann::ordered_json::array();
  for (const FoldResult& fold : folds) {
    nlohmann::ordered_json entry;
    entry["repeat"] = fold.repeat + 1;
    entry["fold"] = fold.fold + 1;
    for (const auto& [name, value] : named_metrics(fold.report)) entry[name] = value;
    entry["rows"] = fold.report.basic.rows;
    if (fold.report.threshold) entry["threshold"] = *fold.report.threshold;  // as eval --json names it
    j["folds"].push_back(std::move(entry));
  }
  j["mean"] = nlohmann::ordered_json::object();
  j["std"] = nlohmann::ordered_json::object();
  for (const MetricSummary& s : summarize(folds)) {
    j["mean"][s.name] = s.mean;
    j["std"][s.name] = s.std;
  }
  return j.dump();
}

}  // namespace backprop
