// cross_validate: the folds, each trained as `backprop train` trains and evaluated on its rows.
#include "backprop/train/cross_validation.hpp"

#include <algorithm>
#include <cmath>
#include <exception>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "backprop/data/folds.hpp"
#include "backprop/kernels/kernels.hpp"

namespace backprop {

namespace {

// One fold's training and evaluation, and what the caller's on_fold takes afterwards.
struct FoldRun {
  int repeat = 0, fold = 0;
  const std::vector<std::size_t>* test_rows = nullptr;
  FoldResult result;
  std::optional<Network<float>> network;  // in the data's units, as `train` saves it
  std::optional<TrainingData> prepared;
  std::exception_ptr error;  // thrown by this fold (folds side by side: rethrown in fold order)
};

void run_fold(FoldRun& run, const NetworkSpec& spec, const Dataset& data, const std::optional<Dataset>& validation,
              const std::optional<Scaling>& trained_scaling, std::optional<ScalingKind> requested_scale,
              const CrossValidationSettings& settings, const TrainingParallelism& parallelism) {
  std::vector<std::size_t> kept;
  std::vector<std::uint8_t> held(data.rows, 0);
  for (std::size_t r : *run.test_rows) held[r] = 1;
  for (std::size_t r = 0; r < data.rows; ++r)
    if (!held[r]) kept.push_back(r);
  // What `backprop train` does with the fold's rows as its --data: a table as it came infers its recipe on them.
  const TableRows* table = data.table_rows.get();
  if (table != nullptr && !settings.fold_network)
    throw_runtime_error("cross_validate: a table whose recipe each fold infers needs settings.fold_network");
  Dataset train_rows = table != nullptr ? table->infer(kept) : take_rows(data, kept);
  const Dataset test = table != nullptr ? table->encode(*run.test_rows, train_rows.table) : take_rows(data, *run.test_rows);
  NetworkSpec fold_spec = table != nullptr ? settings.fold_network(train_rows) : spec;
  std::optional<Dataset> fold_validation =
      table != nullptr && settings.fold_validation ? std::optional<Dataset>(settings.fold_validation(fold_spec, train_rows))
                                                   : validation;
  run.prepared.emplace(prepare_training_data(fold_spec, std::move(train_rows), std::move(fold_validation),
                                             trained_scaling, requested_scale));
  const TrainingData& prepared = *run.prepared;
  if (settings.threshold)
    check_threshold_choice(*settings.threshold, fold_spec, prepared.validation_or_null() != nullptr);
  Network<float> trained(fold_spec);
  FoldResult& result = run.result;
  result.repeat = run.repeat;
  result.fold = run.fold;
  result.training_rows = prepared.train.rows;
  result.unknown_values = test.unknown_values;
  result.training =
      train(trained, prepared.train, prepared.validation_or_null(), prepared.scaling, nullptr, nullptr, parallelism);
  // As `train` saves it: in the data's units (a table's regression trains on standardized targets).
  const Network<float>& network = run.network.emplace(predicting_spec(trained, prepared));
  const std::optional<double> threshold =
      settings.threshold ? std::optional<double>(pick_threshold(*settings.threshold, network,
                                                                prepared.validation_or_null(), prepared.scaling,
                                                                parallelism.device))
                         : std::nullopt;
  result.report =
      evaluate_report(network, test, prepared.scaling, parallelism.device, kEvaluationBatchSize, threshold);
}

}  // namespace

bool folds_side_by_side(const NetworkSpec& spec, std::size_t rows, const TrainingParallelism& parallelism,
                        std::size_t folds) {
  if (parallelism.device != nullptr || parallelism.communicator != nullptr || folds < 2 ||
      kernels::thread_count() < 2)
    return false;
  // Alone, a fold whose products are all too small to share out keeps one thread busy and the others idle.
  return !step_shares_products(spec, rows);
}

std::vector<FoldResult> cross_validate(const NetworkSpec& spec, const Dataset& data,
                                       const std::optional<Dataset>& validation,
                                       const std::optional<Scaling>& trained_scaling,
                                       std::optional<ScalingKind> requested_scale,
                                       const CrossValidationSettings& settings,
                                       const TrainingParallelism& parallelism, const FoldCallback& on_fold) {
  std::vector<std::vector<std::vector<std::size_t>>> drawn;
  std::vector<FoldRun> runs;
  for (int repeat = 0; repeat < settings.repeats; ++repeat)
    drawn.push_back(cross_validation_folds(data, settings.folds, settings.seed + static_cast<std::uint64_t>(repeat)));
  for (std::size_t repeat = 0; repeat < drawn.size(); ++repeat)
    for (std::size_t f = 0; f < drawn[repeat].size(); ++f) {
      FoldRun& run = runs.emplace_back();
      run.repeat = static_cast<int>(repeat);
      run.fold = static_cast<int>(f);
      run.test_rows = &drawn[repeat][f];
    }
  const auto run_one = [&](FoldRun& run) {
    run_fold(run, spec, data, validation, trained_scaling, requested_scale, settings, parallelism);
  };
  std::vector<FoldResult> results;
  const auto finish = [&](FoldRun& run) {
    if (run.error) std::rethrow_exception(run.error);
    if (on_fold) on_fold(run.result, *run.network, *run.prepared);
    results.push_back(std::move(run.result));
    run.network.reset();
    run.prepared.reset();
  };
  if (!folds_side_by_side(spec, data.rows, parallelism, runs.size())) {
    for (FoldRun& run : runs) {
      run_one(run);
      finish(run);
    }
    return results;
  }
  // Each fold on one thread of the pool (its products inline there: the same cut, so the same bits as one
  // after another); the caller sees them in fold order, and the first fold that failed throws as it would have.
  kernels::parallel_ranges(runs.size(), 1, [&](std::size_t first, std::size_t count) {
    for (std::size_t i = first; i < first + count; ++i) try {
        run_one(runs[i]);
      } catch (...) {
        runs[i].error = std::current_exception();
      }
  });
  for (FoldRun& run : runs) finish(run);
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
