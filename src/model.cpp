// Model: the high-level API over the library's policy (io/model_io, train/prepare, train/options) and
// train(), evaluate(); Python's Network wraps it.
#include "backprop/model.hpp"

#include <algorithm>
#include <numeric>
#include <type_traits>

#include "backprop/train/prepare.hpp"
#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/io/model_io.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/device.hpp"

namespace backprop {

Model::Model(io::ModelFile model, NetworkSpec exact_network)
    : network_(std::make_unique<Network<float>>(model.network)),
      exact_network_(std::move(exact_network)),
      scaling_(std::move(model.scaling)),
      classes_(std::move(model.classes)),
      targets_(std::move(model.targets)),
      features_(std::move(model.features)),
      scaling_trained_(model.trained),
      byte_inputs_(model.byte_inputs),
      threshold_(model.threshold),
      table_(std::move(model.table)) {}

Model::Model(const NetworkSpec& spec) : network_(std::make_unique<Network<float>>(spec)), exact_network_(spec) {}

Model::Model(io::ModelFile model) : Model(model, model.network) {}

Model Model::load(const std::filesystem::path& path) {
  io::LoadedModel loaded = io::read_model(path);
  return Model(std::move(loaded.model), std::move(loaded.exact_network));
}

Model Model::from_json(std::string_view text, const std::string& source) {
  return Model(io::parse_network(text, source));
}

TaskKind Model::task() const { return task_of(spec()); }

TrainingResult Model::fit(std::span<const float> x, std::span<const float> y, const TrainingOptions& options,
                          const RunSettings& settings, std::span<const float> sample_weight) {
  // Training continues from the current parameters; the options override the recipe (and a new seed redraws
  // the initialization of a network not trained yet).
  NetworkSpec spec = options.start_spec(network_->spec_with_parameters(),
                                        trained_ ? network_->spec_with_parameters() : exact_network_);
  Dataset train_data = dataset_from_arrays(spec, x, y, {classes_, targets_, features_});
  return fit_data(std::move(train_data), std::move(spec), options, settings, sample_weight);
}

TrainingResult Model::fit_bytes(std::span<const std::uint8_t> x, std::span<const float> y, const TrainingOptions& options,
                          const RunSettings& settings, std::span<const float> sample_weight) {
  NetworkSpec spec = options.start_spec(network_->spec_with_parameters(),
                                        trained_ ? network_->spec_with_parameters() : exact_network_);
  Dataset train_data = dataset_from_arrays(spec, x, y, {classes_, targets_, features_});
  return fit_data(std::move(train_data), std::move(spec), options, settings, sample_weight);
}

TrainingResult Model::fit_data(Dataset train_data, NetworkSpec spec, const TrainingOptions& options,
                               const RunSettings& settings, std::span<const float> sample_weight) {
  if (!sample_weight.empty()) {
    if (sample_weight.size() != train_data.rows)
      throw_bad_input("sample_weight: expected " + std::to_string(train_data.rows) + " weights (one per row of X), got " +
                      std::to_string(sample_weight.size()));
    check_finite(sample_weight, 1, "sample_weight");
    for (std::size_t r = 0; r < sample_weight.size(); ++r)
      if (sample_weight[r] < 0)
        throw_bad_input("sample_weight: row " + std::to_string(r) + ": expected a weight >= 0, got " +
                        std::to_string(sample_weight[r]));
    train_data.weights.assign(sample_weight.begin(), sample_weight.end());
  }
  if (byte_inputs_) check_byte_inputs(train_data);
  const bool byte_data = !train_data.features_u8.empty();
  TrainingData data = prepare_training_data(
      spec, std::move(train_data), std::nullopt, scaling_trained_ ? std::optional<Scaling>(scaling_) : std::nullopt,
      options.scale ? parse_scaling(*options.scale) : std::nullopt);
  const auto device = open_device(settings.device);
  auto network = std::make_unique<Network<float>>(spec);
  TrainingRun run(*network, data,
                  {settings.files, settings.sources, settings.observer, {nullptr, false, device.get()}, settings.notice,
                   settings.threshold});
  const TrainingResult result = run.train();
  threshold_ = run.threshold();
  // In the data's units (a table's standardized targets folded back, as the command saves it); the run's report
  // reads the trained network, which `network` keeps alive where it is not the model's own.
  if (data.target_scale.empty()) network_ = std::move(network);
  else network_ = std::make_unique<Network<float>>(predicting_spec(*network, data));
  scaling_ = data.scaling;
  classes_ = data.train.class_names;
  targets_ = data.train.target_names;
  if (data.train.table) {
    table_ = data.train.table;
    features_ = data.train.feature_names;
  }
  trained_ = true;
  scaling_trained_ = true;
  byte_inputs_ = byte_inputs_ || byte_data;
  run.write_report(result);
  return result;
}

template <typename Feature>
void Model::predict_rows(std::span<const Feature> x, std::span<float> out) const {
  const auto in = static_cast<std::size_t>(network_->input_size());
  const auto outputs = static_cast<std::size_t>(network_->output_size());
  if (x.size() % in != 0)
    throw_bad_input("X: expected rows of " + std::to_string(in) + " features (the network's inputs), got " +
                    std::to_string(x.size()) + " numbers, not a whole number of rows");
  const std::size_t rows = x.size() / in;
  if (out.size() != rows * outputs)
    throw_bad_input("predict: expected room for " + std::to_string(rows) + " x " + std::to_string(outputs) +
                    " outputs, got " + std::to_string(out.size()));
  if (rows == 0) return;
  constexpr bool bytes = std::is_same_v<Feature, std::uint8_t>;
  if constexpr (!bytes) {
    check_finite(x, in, "X");  // as the data files and fit's arrays are
    if (byte_inputs_) check_byte_inputs(x, in, "X");
  }
  const std::size_t batch_size = std::min<std::size_t>(kEvaluationBatchSize, rows);
  Workspace<float> workspace(*network_, static_cast<int>(batch_size));
  // With a scaling or bytes, each batch is copied into a one-batch Dataset and converted by gather_rows (the
  // one place the formulas are written); float rows without a scaling are read where they lie.
  const bool converted = bytes || !scaling_.empty();
  Dataset batch;
  batch.source = "X";
  batch.features = static_cast<int>(in);
  std::vector<float> scaled(converted ? batch_size * in : 0);  // (B, IN)
  std::vector<std::size_t> indices(batch_size);
  std::iota(indices.begin(), indices.end(), std::size_t{0});
  for (std::size_t start = 0; start < rows; start += batch_size) {
    const std::size_t count = std::min(batch_size, rows - start);
    const Feature* rows_in = x.data() + start * in;  // (count, IN)
    const float* input = nullptr;
    if (converted) {
      batch.rows = count;
      if constexpr (bytes)
        batch.features_u8.assign(rows_in, rows_in + count * in);
      else
        batch.features_f32.assign(rows_in, rows_in + count * in);
      batch.gather_rows(scaled.data(), indices.data(), count, scaling_);
      input = scaled.data();
    } else if constexpr (!bytes) {
      input = rows_in;
    }
    network_->forward(workspace, input, static_cast<int>(count));
    const float* a = network_->output(workspace);  // (count, OUT)
    std::copy(a, a + count * outputs, out.data() + start * outputs);
  }
}

void Model::predict(std::span<const float> x, std::span<float> out) const { predict_rows(x, out); }
void Model::predict_bytes(std::span<const std::uint8_t> x, std::span<float> out) const { predict_rows(x, out); }

std::vector<int> Model::predict_classes(std::span<const float> x) const {
  if (task() != TaskKind::classification)
    throw_bad_input("predict_classes: expected a classifying network (loss " + std::string(to_string(spec().loss)) +
                    " does regression)");
  const std::vector<float> outputs = predict(x);  // (rows, OUT)
  const int width = output_size();
  std::vector<int> classes(outputs.size() / static_cast<std::size_t>(width));
  for (std::size_t r = 0; r < classes.size(); ++r)
    classes[r] = predicted_class(outputs.data() + r * static_cast<std::size_t>(width), width, threshold_);
  return classes;
}

void Model::set_threshold(std::optional<double> threshold) {
  io::check_threshold(threshold, spec(), "");
  threshold_ = threshold;
}

std::vector<float> Model::predict(std::span<const float> x) const {
  const auto in = static_cast<std::size_t>(network_->input_size());
  std::vector<float> out(x.size() / in * static_cast<std::size_t>(network_->output_size()));  // (rows, OUT)
  predict(x, out);
  return out;
}

template <typename Feature>
Dataset Model::evaluation_data(std::span<const Feature> x, std::span<const float> y,
                               const RunSettings& settings) const {
  if (settings.batch_size < 1)
    throw_bad_input("batch_size: expected a number >= 1, got " + std::to_string(settings.batch_size));
  Dataset data = dataset_from_arrays(spec(), x, y, {classes_, targets_, features_});
  if (byte_inputs_) check_byte_inputs(data);
  return data;
}

Metrics Model::evaluate(std::span<const float> x, std::span<const float> y, const RunSettings& settings) const {
  if (threshold_) return report(x, y, settings).basic;  // the accuracy at the kept threshold
  const Dataset data = evaluation_data(x, y, settings);
  const auto device = open_device(settings.device);
  return backprop::evaluate(*network_, data, scaling_, settings.batch_size, device.get());
}

Metrics Model::evaluate_bytes(std::span<const std::uint8_t> x, std::span<const float> y,
                              const RunSettings& settings) const {
  if (threshold_) return report_bytes(x, y, settings).basic;
  const Dataset data = evaluation_data(x, y, settings);
  const auto device = open_device(settings.device);
  return backprop::evaluate(*network_, data, scaling_, settings.batch_size, device.get());
}

EvaluationReport Model::report(std::span<const float> x, std::span<const float> y,
                                const RunSettings& settings) const {
  const Dataset data = evaluation_data(x, y, settings);
  const auto device = open_device(settings.device);
  return evaluate_report(*network_, data, scaling_, device.get(), settings.batch_size, threshold_);
}

EvaluationReport Model::report_bytes(std::span<const std::uint8_t> x, std::span<const float> y,
                                     const RunSettings& settings) const {
  const Dataset data = evaluation_data(x, y, settings);
  const auto device = open_device(settings.device);
  return evaluate_report(*network_, data, scaling_, device.get(), settings.batch_size, threshold_);
}

Model Model::for_table(const std::vector<TableCells>& columns, const std::string& target, const TableInference& inference,
                       Dataset* read) {
  LoadOptions options;
  options.infer_table = true;
  options.infer_task = !inference.task;
  options.task = inference.task.value_or(TaskKind::classification);
  options.target = target;
  options.categorical = inference.categorical;
  options.many_categories = inference.many_categories;
  options.missing_values = inference.missing_values;
  Dataset data = table_from_columns(columns, "X", options);
  check_table_classes(data);
  io::ModelFile model;
  model.network = default_table_network(data, inference.hidden);
  if (inference.seed) model.network.seed = *inference.seed;
  model.classes = data.class_names;
  model.targets = data.target_names;
  model.features = data.feature_names;
  model.table = data.table;
  if (read != nullptr) *read = std::move(data);
  return Model(std::move(model));
}

Dataset Model::read_table(const NetworkSpec& spec, const std::vector<TableCells>& columns, const std::string& target,
                          bool with_targets, const TableInference& inference, std::span<const float> sample_weight) const {
  LoadOptions options;
  options.task = task_of(spec);
  options.target = target;
  options.target_optional = !with_targets;
  options.known_classes = classes_;
  options.target_names = targets_;
  options.table = table_.get();
  options.infer_table = !table_;
  options.categorical = inference.categorical;
  options.many_categories = ManyCategories::pool;  // the network has no embedding entries for codes
  options.missing_values = inference.missing_values;
  std::vector<TableCells> all = columns;
  if (!sample_weight.empty()) {  // a column of the table, so that the rows left out take their weights along
    TableCells weights;
    weights.name = "(sample_weight)";
    weights.numbers.assign(sample_weight.begin(), sample_weight.end());
    all.push_back(std::move(weights));
    options.sample_weight = all.back().name;
  }
  Dataset data = table_from_columns(all, "X", options);
  if (data.features != spec.input)
    throw_bad_input("X: expected columns that make the network's " + std::to_string(spec.input) + " inputs, got " +
                    std::to_string(data.features) + " from the recipe inferred:\n" + describe_table(*data.table));
  check_for_network(spec, data, "X");
  return data;
}

TrainingResult Model::fit_table(const std::vector<TableCells>& columns, const std::string& target,
                                const TableInference& inference, const TrainingOptions& options,
                                const RunSettings& settings, std::span<const float> sample_weight,
                                std::vector<std::string>* notes) {
  NetworkSpec spec = table_fit_spec(options);
  Dataset train_data = read_table(spec, columns, target, true, inference, sample_weight);
  return fit_table_rows(std::move(train_data), std::move(spec), options, settings, notes);
}

TrainingResult Model::fit_table_read(Dataset read, const TrainingOptions& options, const RunSettings& settings,
                                     std::vector<std::string>* notes) {
  if (!table_ || read.table != table_)
    throw_bad_input("X: expected the rows that Model::for_table read for this model's recipe, got rows read otherwise");
  NetworkSpec spec = table_fit_spec(options);
  check_for_network(spec, read, "X");
  return fit_table_rows(std::move(read), std::move(spec), options, settings, notes);
}

NetworkSpec Model::table_fit_spec(const TrainingOptions& options) const {
  NetworkSpec spec = options.start_spec(network_->spec_with_parameters(),
                                        trained_ ? network_->spec_with_parameters() : exact_network_);
  if (table_ && !scaling_trained_)  // for_table's network (a model file of a table is trained)
    stop_early_only_with_validation(spec, false, options.validation_split, options.early_stopping);
  return spec;
}

TrainingResult Model::fit_table_rows(Dataset train_data, NetworkSpec spec, const TrainingOptions& options,
                                     const RunSettings& settings, std::vector<std::string>* notes) {
  if (notes != nullptr) {
    *notes = table_notes(train_data);
    if (const std::string ignored = ignored_columns_note(train_data); !ignored.empty()) notes->push_back(ignored);
  }
  return fit_data(std::move(train_data), std::move(spec), options, settings, {});
}

void Model::set_table(std::shared_ptr<const TableRecipe> recipe) {
  if (recipe && recipe->width() != input_size())
    throw_bad_input("table: expected a recipe of the network's " + std::to_string(input_size()) + " inputs, got one of " +
                    std::to_string(recipe->width()));
  features_ = recipe ? recipe->input_names() : std::vector<std::string>{};
  table_ = std::move(recipe);
}

Dataset Model::table_data(const std::vector<TableCells>& columns, const std::string& target, bool with_targets) const {
  if (!table_)
    throw_bad_input("X: expected a model trained on a table as it comes (with a recipe) for a table of text columns "
                    "or missing cells, got a network without one");
  return read_table(spec(), columns, target, with_targets, {}, {});
}

io::ModelFile Model::to_model_file() const {
  io::ModelFile model;
  model.network = network_->spec_with_parameters();
  model.scaling = scaling_;
  model.classes = classes_;
  model.targets = targets_;
  model.features = features_;
  model.trained = scaling_trained_;
  model.byte_inputs = byte_inputs_;
  model.threshold = threshold_;
  model.table = table_;
  return model;
}

void Model::save(const std::filesystem::path& path, ModelFormat format) const {
  if (format == ModelFormat::json)
    io::export_model_json(path, to_model_file());
  else
    io::save_model(path, to_model_file());
}

NetworkSpec Model::spec_for_trace() const { return trained_ ? network_->spec_with_parameters() : exact_network_; }

}  // namespace backprop
