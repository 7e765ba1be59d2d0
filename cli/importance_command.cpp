// backprop importance MODEL --data TABLE [--repeats N] [--metric NAME] [--seed S] [--json]: permutation
// importance of each input column (train/importance.hpp).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>

#include "backprop/io/model_io.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/train/importance.hpp"
#include "commands.hpp"

namespace backprop::cli {
namespace {

struct ImportanceArguments {
  std::string model, data, labels, target, metric, device;
  int repeats = 5;
  std::uint64_t seed = 0;
  bool json = false;
};

int run_importance(const ImportanceArguments& a) {
  const io::ModelFile model = io::read_model(a.model).model;
  Network<float> network(model.network);
  const Dataset data = load_for_model(model, a.data, a.labels, a.target);
  importance_metric(a.metric, data.task);  // a bad name refused before any work
  const auto device = open_device(a.device);
  const ImportanceResult result =
      permutation_importance(network, data, model.scaling, a.metric, a.repeats, a.seed, device.get(), model.threshold);
  if (a.json) {
    write_standard_output(importance_json(result) + "\n");
    return 0;
  }
  std::printf("%s on %s: %s %.4f (%zu rows); its drop when a column is shuffled (%d repeats), largest first:\n",
              a.model.c_str(), a.data.c_str(), result.metric.c_str(), result.baseline, data.rows, a.repeats);
  std::vector<std::size_t> order(result.columns.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return result.columns[x].mean > result.columns[y].mean; });
  std::size_t width = 6;
  for (const ColumnImportance& c : result.columns) width = std::max(width, c.name.size());
  for (std::size_t i : order)
    std::printf("  %-*s  %8.4f +/- %.4f\n", static_cast<int>(width), result.columns[i].name.c_str(),
                result.columns[i].mean, result.columns[i].std);
  return 0;
}

}  // namespace

void add_importance_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<ImportanceArguments>();
  CLI::App* cmd = app.add_subcommand(
      "importance", "Permutation importance of each input column: how much a figure drops when the column's values "
                    "are shuffled among the rows (mean and standard deviation over --repeats shuffles)");
  cmd->add_option("model", a->model, "Model file (binary or JSON export) or a network file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", a->data, "Labelled data: .csv (header row), IDX images or .npy")->required();
  cmd->add_option("--labels", a->labels, "Labels for IDX (IDX1 file) or NPY (.npy) data");
  cmd->add_option("--target", a->target, "CSV target column(s), by name or 0-based index; default: the last column")
      ->check(target_columns());
  cmd->add_option("--repeats", a->repeats, "Shuffles of each column (default 5)")->check(CLI::Range(1, 100000));
  cmd->add_option("--metric", a->metric,
                  "accuracy (default), balanced_accuracy, f1_macro, f1_weighted, roc_auc, average_precision, "
                  "log_loss; r2 (default), mean_absolute_error, root_mean_squared_error");
  cmd->add_option("--seed", a->seed, "Seed of the shuffles (default 0)")->check(seed_number());
  cmd->add_flag("--json", a->json,
                "Print one JSON object: {\"metric\", \"baseline\", \"columns\": [{\"name\", \"mean\", \"std\"}, ...]}");
  add_device_option(cmd, a->device);
  cmd->callback([a, &exit_code] { exit_code = run_importance(*a); });
}

}  // namespace backprop::cli
