// The high-level C++ API, the same as the Python module's Network (python/backprop_module.cpp):
//
//   backprop::Model model = backprop::Model::load("net.json");   // a network file, binary or JSON model
//   backprop::TrainingResult result = model.fit(x, y, {});        // {}: the network file's own recipe
//   std::vector<float> outputs = model.predict(x);                 // (rows, OUT)
//   backprop::Metrics metrics = model.evaluate(x, y);              // loss, accuracy or rmse and mae, rows
//   backprop::EvaluationReport all = model.report(x, y);           // and F1, ROC AUC, R², ... (metrics.hpp)
//   model.save("model.bin");
//
// Arrays are std::span<const float>: x is (rows, IN) row-major; y is one class index per row (0..K-1, as
// floats) for a classifying network (softmax_ce, or bce with one sigmoid output: K = 2), and (rows, OUT)
// numbers otherwise. fit with TrainingOptions{} trains as `backprop train NET --data D --out M` without
// flags, and with options set as with the matching flags: the same numbers, bit for bit, on the CPU.
// predict gives the network's outputs: one column for one sigmoid output (P(class 1)); Python's predict
// shows that case as two columns [1 - p, p]. Errors are backprop::Error (bad_input: the caller's file,
// option or arrays; runtime: training diverged).
//
// fit writes checkpoints, resumes and writes the training report as the command does (RunSettings::files).
// The low-level API (Network, Workspace, Optimizer, train(), TrainingRun, evaluate()) stays for the learner
// and for what this one does not do (data files, MPI).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/spec.hpp"
#include "backprop/train/metrics.hpp"
#include "backprop/train/options.hpp"
#include "backprop/train/run.hpp"
#include "backprop/train/threshold.hpp"
#include "backprop/train/trainer.hpp"

namespace backprop {

// How fit and evaluate run (not what they compute).
struct RunSettings {
  // "cpu", "cuda" or "emulated" (kernels/device.hpp); "": $BACKPROP_DEVICE if set, else the GPU when there
  // is one and this backprop has CUDA, else the CPU.
  std::string device;
  TrainingObserver* observer = nullptr;  // fit's progress (train/progress.hpp: ConsoleProgress, JsonLinesLog)
  int batch_size = 256;                  // evaluate's batch (no effect on the figures but rounding)
  // fit's checkpoints, resume and report (train/run.hpp), as `backprop train --checkpoint --checkpoint-every
  // --resume --report`: a fit resumed from the checkpoint of an interrupted fit (the same model as it started,
  // the same x, y, options and sample weights) gives the uninterrupted fit's model, bit for bit.
  RunFiles files;
  RunSources sources{"Model::fit", "", "arrays x and y", ""};  // what the report names
  std::function<void(const std::string&)> notice;              // fit's lines for the user (resuming); null: none
  // fit: the decision threshold a two-class model keeps (train/threshold.hpp, `backprop train --threshold`): f1
  // and youden picked on the validation rows of options.validation_split. None: fit drops a threshold the model
  // had (picked on the probabilities before this training).
  std::optional<ThresholdChoice> threshold;
};

enum class ModelFormat { binary, json };

// How a recipe is inferred from a table given by columns (Model::for_table, fit_table), as `backprop train`'s
// flags without a network file.
struct TableInference {
  std::optional<TaskKind> task;             // for_table: unset, data/table.hpp's rule (--task)
  std::vector<int> hidden;                  // for_table: the hidden layers (--hidden; empty: the default's)
  std::optional<std::uint64_t> seed;        // for_table: the network's seed (--seed: its initialization)
  std::vector<std::string> categorical;     // columns read as categories whatever they hold (--categorical)
  // for_table: columns of many values (--many-categories); a network without a recipe pools them (it has no
  // embedding entries).
  ManyCategories many_categories = kDefaultManyCategories;
  std::vector<std::string> missing_values;  // the cells that mean missing; empty: the default list
};

class Model {
 public:
  // A network file (JSON), a binary model or a JSON model; throws Error(bad_input) naming the file.
  static Model load(const std::filesystem::path& path);
  // A network from the text of a network file; `source` names it in messages.
  static Model from_json(std::string_view text, const std::string& source = "<json>");
  // A network spec (parameters given or drawn from its seed), with no scaling or names.
  explicit Model(const NetworkSpec& spec);
  explicit Model(io::ModelFile model);

  // Trains from the current parameters; options override the recipe (training, optimizer, seed). Keeps the
  // trained parameters, the scaling (fitted on the training rows; a trained model keeps its own, and an
  // options.scale of another kind is refused: OptionError "scale") and the class or target names. Returns
  // the per-epoch history.
  // sample_weight: (rows) each row's weight in the loss (>= 0), or empty (nn/loss.hpp; with options.class_weight,
  // multiplied by the row's class weight). settings.files: checkpoints, resume and the report (a report that
  // cannot be written throws after the model has taken the trained parameters).
  TrainingResult fit(std::span<const float> x, std::span<const float> y, const TrainingOptions& options = {},
                     const RunSettings& settings = {}, std::span<const float> sample_weight = {});
  // (rows, OUT) outputs for x (rows, IN), scaled by the model's scaling.
  std::vector<float> predict(std::span<const float> x) const;
  // Classification: the class index of each row, at the kept threshold (threshold()) where there is one, else
  // the more probable class (predicted_class); Error(bad_input) for a regression.
  std::vector<int> predict_classes(std::span<const float> x) const;
  // The same into out (rows x OUT), which must have that size.
  void predict(std::span<const float> x, std::span<float> out) const;
  // Loss and accuracy (classification, at the kept threshold where there is one; rmse and mae NaN) or loss, rmse
  // and mae (regression; accuracy NaN). The loss is the plain one, without the recipe's label smoothing
  // (EvaluatedLoss::plain).
  Metrics evaluate(std::span<const float> x, std::span<const float> y, const RunSettings& settings = {}) const;
  // evaluate's metrics and the figures people quote (train/metrics.hpp: per-class precision, recall and F1,
  // ROC AUC, log loss, ...; R², the largest errors), as `backprop eval` reports them.
  EvaluationReport report(std::span<const float> x, std::span<const float> y, const RunSettings& settings = {}) const;

  // Tables as they come, column by column (a pandas DataFrame: data/dataset.hpp's table_from_columns, the
  // rules of data/table.hpp), the target among the columns (`target`: its name, or names joined by ','):
  // - for_table: the network and recipe `backprop train --data T.csv --target C` makes without a network file
  //   (train/prepare.hpp's load_table and default_table_network), not trained yet; fit_table on the same
  //   columns then trains as that command does, bit for bit on the CPU: a network with a recipe and not trained
  //   yet (for_table's) follows stop_early_only_with_validation, a validation_split of 0 turning its early
  //   stopping off unless early_stopping is given, as the command's --validation-split 0 does.
  // - fit_table: a model with a recipe (table()) reads the columns by it; a network without one infers the
  //   recipe from these rows (`inference`: categorical, missing_values; its encoded width must be the
  //   network's inputs) and keeps it. Rows whose target is missing are left out (Dataset::rows_without_target).
  //   sample_weight: (rows) as fit's, one per row given. notes: where given, the lines the command prints about
  //   the rows read (train/prepare.hpp's table_notes, the columns ignored).
  // - table_data: the columns encoded by the model's recipe (Error(bad_input) for a model without one), as
  //   predict and eval read a CSV: matched by name, other columns ignored, a missing one refused; with_targets:
  //   the target read (labels as class indices, or target numbers), else ignored where present.
  // - for_table's `read`, where given, takes the rows it read (encoded by the recipe it inferred: the command's
  //   reading of the table), and fit_table_read trains on them as fit_table on the same columns would, without
  //   reading them again (Python's Network.for_table then fit); rows read otherwise are Error(bad_input).
  static Model for_table(const std::vector<TableCells>& columns, const std::string& target, const TableInference& inference,
                         Dataset* read = nullptr);
  TrainingResult fit_table(const std::vector<TableCells>& columns, const std::string& target,
                           const TableInference& inference = {}, const TrainingOptions& options = {},
                           const RunSettings& settings = {}, std::span<const float> sample_weight = {},
                           std::vector<std::string>* notes = nullptr);
  TrainingResult fit_table_read(Dataset read, const TrainingOptions& options = {}, const RunSettings& settings = {},
                                std::vector<std::string>* notes = nullptr);
  Dataset table_data(const std::vector<TableCells>& columns, const std::string& target, bool with_targets) const;
  // The recipe of a model trained on a table as it came (io::ModelFile::table), or null.
  const TableRecipe* table() const { return table_.get(); }
  // Gives a network not trained yet a recipe to read tables by (its width must be the network's inputs); the
  // features become the recipe's input names.
  void set_table(std::shared_ptr<const TableRecipe> recipe);

  // fit, predict, evaluate and report with uint8 features, each read as value / 255, as IDX and uint8 NPY
  // files are (one meaning for the same bytes everywhere). A model trained on uint8 data records it
  // (byte_inputs()): given floats, it takes only values in [0, 1] (check_byte_inputs, data/dataset.hpp).
  TrainingResult fit_bytes(std::span<const std::uint8_t> x, std::span<const float> y,
                           const TrainingOptions& options = {}, const RunSettings& settings = {},
                           std::span<const float> sample_weight = {});
  void predict_bytes(std::span<const std::uint8_t> x, std::span<float> out) const;
  Metrics evaluate_bytes(std::span<const std::uint8_t> x, std::span<const float> y,
                         const RunSettings& settings = {}) const;
  EvaluationReport report_bytes(std::span<const std::uint8_t> x, std::span<const float> y,
                                const RunSettings& settings = {}) const;
  bool byte_inputs() const { return byte_inputs_; }
  // The two-class decision threshold on P(second class) (io::ModelFile::threshold): predict_classes, report and
  // Python's MLPClassifier.predict use it. set_threshold: Error(bad_input) outside [0, 1] or for a model that
  // does not make two classes; nullopt removes it.
  std::optional<double> threshold() const { return threshold_; }
  void set_threshold(std::optional<double> threshold);
  // Atomic write: binary (default) or JSON (readable; reads back bit-exact).
  void save(const std::filesystem::path& path, ModelFormat format = ModelFormat::binary) const;

  const NetworkSpec& spec() const { return network_->spec(); }
  const Network<float>& network() const { return *network_; }
  TaskKind task() const;
  int input_size() const { return network_->input_size(); }
  int output_size() const { return network_->output_size(); }
  const Scaling& scaling() const { return scaling_; }
  const std::vector<std::string>& classes() const { return classes_; }
  const std::vector<std::string>& targets() const { return targets_; }
  const std::vector<std::string>& features() const { return features_; }
  // What save writes: the parameters, scaling and names.
  io::ModelFile to_model_file() const;
  // The spec for a trace in double: as loaded (a network file's numbers as written) until fit, then the
  // trained float32 parameters.
  NetworkSpec spec_for_trace() const;

 private:
  Model(io::ModelFile model, NetworkSpec exact_network);

  std::unique_ptr<Network<float>> network_;
  NetworkSpec exact_network_;  // spec_for_trace until fit
  Scaling scaling_;
  std::vector<std::string> classes_, targets_, features_;
  bool trained_ = false;          // fit has run (spec_for_trace)
  bool scaling_trained_ = false;  // a trained model's scaling (a model file's or fit's): kept by fit
  bool byte_inputs_ = false;      // trained on uint8 data (io::ModelFile::byte_inputs)
  std::optional<double> threshold_;  // io::ModelFile::threshold
  std::shared_ptr<const TableRecipe> table_;  // io::ModelFile::table

  Dataset read_table(const NetworkSpec& spec, const std::vector<TableCells>& columns, const std::string& target,
                     bool with_targets, const TableInference& inference, std::span<const float> sample_weight) const;

  // fit_table's spec (the options applied; for_table's network stops early only with validation rows) and its
  // training on rows read.
  NetworkSpec table_fit_spec(const TrainingOptions& options) const;
  TrainingResult fit_table_rows(Dataset train_data, NetworkSpec spec, const TrainingOptions& options,
                                const RunSettings& settings, std::vector<std::string>* notes);
  TrainingResult fit_data(Dataset train_data, NetworkSpec spec, const TrainingOptions& options,
                          const RunSettings& settings, std::span<const float> sample_weight);
  template <typename Feature>
  void predict_rows(std::span<const Feature> x, std::span<float> out) const;
  template <typename Feature>
  Dataset evaluation_data(std::span<const Feature> x, std::span<const float> y, const RunSettings& settings) const;
};

}  // namespace backprop
