// Data for a network: data files and arrays read against it, and the validation split and scaling of a
// training run.
#include "backprop/train/prepare.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <type_traits>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/nn/embedding.hpp"

namespace backprop {

std::vector<std::string> classes_for(const NetworkSpec& spec, const std::string& data_path,
                                     const std::vector<std::string>& model_classes) {
  if (!model_classes.empty()) return model_classes;
  // IDX and NPY labels are class indices; anything else is read as CSV, whose labels are collected.
  const bool indexed_labels = data_path.find("idx") != std::string::npos ||
                              data_path.find(".npy") != std::string::npos;
  if (!indexed_labels || task_of(spec) != TaskKind::classification) return {};
  std::vector<std::string> names;
  for (int c = 0; c < class_count(spec); ++c) names.push_back(std::to_string(c));
  return names;
}

namespace {

// The column named `name` taken out of the features into weights.
void take_weight_column(Dataset& d, const std::string& name) {
  const auto found = std::find(d.feature_names.begin(), d.feature_names.end(), name);
  if (found == d.feature_names.end())
    throw_bad_input(d.source + ": expected a column named '" + name + "' (--sample-weight) in the header, got none");
  const auto column = static_cast<std::size_t>(found - d.feature_names.begin());
  const auto width = static_cast<std::size_t>(d.features);
  std::vector<float> kept;
  kept.reserve(d.rows * (width - 1));
  d.weights.resize(d.rows);
  for (std::size_t r = 0; r < d.rows; ++r) {
    for (std::size_t c = 0; c < width; ++c) {
      const float v = d.feature(r, static_cast<int>(c));
      if (c != column) {
        kept.push_back(v);
      } else if (!(v >= 0)) {
        throw_bad_input(d.source + ": row " + std::to_string(r + 1) + ", column '" + name +
                        "': expected a sample weight >= 0, got " + format_float(v));
      } else {
        d.weights[r] = v;
      }
    }
  }
  d.features_f32 = std::move(kept);
  d.features_u8.clear();
  d.feature_names.erase(found);
  d.features -= 1;
}

}  // namespace

void check_for_network(const NetworkSpec& spec, const Dataset& data, const std::string& source) {
  if (task_of(spec) == TaskKind::classification && !data.class_names.empty()) {
    const auto expected = static_cast<std::size_t>(class_count(spec));
    if (data.class_names.size() != expected) {
      std::string names;
      for (std::size_t i = 0; i < data.class_names.size() && i < 12; ++i) {
        if (i > 0) names += ", ";
        names += "'" + quoted_excerpt(data.class_names[i]) + "'";  // a long label cut to 60 characters
      }
      throw_bad_input(source + ": the data has " + std::to_string(data.class_names.size()) + " classes (" + names +
                      (data.class_names.size() > 12 ? ", ..." : "") + ") but the network's output layer has " +
                      std::to_string(spec.output()) + " unit(s), which makes " + std::to_string(expected) +
                      " classes");
    }
  }
  if (task_of(spec) == TaskKind::regression && data.target_count != 0 && data.target_count != spec.output())
    throw_bad_input(source + ": " + std::to_string(data.target_count) + " target column(s) but the network has " +
                    std::to_string(spec.output()) + " output(s)");
}

Dataset load_for_network(const NetworkSpec& spec, const std::string& data, const std::string& labels,
                         const std::string& target, const DataNames& model, bool target_optional,
                         const std::string& sample_weight) {
  LoadOptions options;
  options.task = task_of(spec);
  options.target = target;
  options.known_classes = classes_for(spec, data, model.classes);
  options.expected_features = spec.input + (sample_weight.empty() ? 0 : 1);
  options.target_optional = target_optional;
  options.feature_names = model.features;
  if (!sample_weight.empty() && !options.feature_names.empty()) options.feature_names.push_back(sample_weight);
  options.target_names = model.targets;
  options.table = model.table;
  if (model.table != nullptr) options.sample_weight = sample_weight;  // a table reads its weight column itself
  Dataset dataset;
  try {
    dataset = load_dataset(data, labels.empty() ? std::nullopt : std::optional<std::filesystem::path>(labels), options);
  } catch (const Error& e) {
    // The count of feature columns it expected includes the weight column: say so.
    if (sample_weight.empty() || e.kind() != ErrorKind::bad_input ||
        std::string(e.what()).find("feature column") == std::string::npos)
      throw;
    throw Error(ErrorKind::bad_input, e.what() + std::string(" (one of them the --sample-weight column '") +
                                          sample_weight + "')");
  }
  if (!sample_weight.empty() && !dataset.table) take_weight_column(dataset, sample_weight);
  check_for_network(spec, dataset, data);
  return dataset;
}

namespace {

void set_labels(Dataset& d, const NetworkSpec& spec, std::span<const float> y, const DataNames& names) {
  const int classes = class_count(spec);
  if (y.size() != d.rows)
    throw_bad_input("y: expected " + std::to_string(d.rows) + " labels (one per row of X), got " +
                    std::to_string(y.size()));
  d.labels.resize(d.rows);
  for (std::size_t r = 0; r < d.rows; ++r) {
    const float label = y[r];
    if (!(label >= 0 && label < static_cast<float>(classes) && label == std::floor(label)))
      throw_bad_input("y: row " + std::to_string(r) + ": expected a class index in [0, " + std::to_string(classes) +
                      "), got " + format_float(label));
    d.labels[r] = static_cast<std::int32_t>(label);
  }
  if (static_cast<int>(names.classes.size()) == classes) {
    d.class_names = names.classes;
  } else {
    for (int c = 0; c < classes; ++c) d.class_names.push_back(std::to_string(c));
  }
}

void set_targets(Dataset& d, const NetworkSpec& spec, std::span<const float> y, const DataNames& names) {
  const auto outputs = static_cast<std::size_t>(spec.output());
  if (y.size() != d.rows * outputs)
    throw_bad_input("y: expected " + std::to_string(d.rows) + " rows of " + std::to_string(outputs) +
                    " target(s) (one row per row of X, one number per output), got " + std::to_string(y.size()) +
                    " numbers");
  check_finite(y, outputs, "y");
  d.targets.assign(y.begin(), y.end());
  d.target_count = spec.output();
  if (names.targets.size() == outputs) d.target_names = names.targets;
}

}  // namespace

namespace {

// Rows and the task's targets of x (float or uint8 features), checked as dataset_from_arrays says.
template <typename Feature>
Dataset arrays_dataset(const NetworkSpec& spec, std::span<const Feature> x, std::span<const float> y,
                       const DataNames& names) {
  const auto in = static_cast<std::size_t>(spec.input);
  if (x.size() % in != 0)
    throw_bad_input("X: expected rows of " + std::to_string(in) + " features (the network's inputs), got " +
                    std::to_string(x.size()) + " numbers, not a whole number of rows");
  if (x.empty()) throw_bad_input("X: expected at least one row, got none");
  Dataset d;
  d.source.push_back('X');  // (not = "X": GCC 12 warns -Wrestrict falsely on that assignment here)
  d.rows = x.size() / in;
  d.features = spec.input;
  if constexpr (std::is_same_v<Feature, float>) {
    check_finite(x, in, "X");
    d.features_f32.assign(x.begin(), x.end());
  } else {
    d.features_u8.assign(x.begin(), x.end());
  }
  if (names.features.size() == in) d.feature_names = names.features;
  d.task = task_of(spec);
  if (d.task == TaskKind::classification)
    set_labels(d, spec, y, names);
  else
    set_targets(d, spec, y, names);
  return d;
}

}  // namespace

Dataset dataset_from_arrays(const NetworkSpec& spec, std::span<const float> x, std::span<const float> y,
                            const DataNames& names) {
  return arrays_dataset(spec, x, y, names);
}

Dataset dataset_from_arrays(const NetworkSpec& spec, std::span<const std::uint8_t> x, std::span<const float> y,
                            const DataNames& names) {
  return arrays_dataset(spec, x, y, names);
}

std::vector<double> class_weights(const ClassWeightSpec& spec, const Dataset& train) {
  if (train.task != TaskKind::classification)
    throw_bad_input(train.source + ": training.class_weight: expected none for numeric targets (regression)");
  const std::size_t k = train.class_names.size();
  std::vector<double> by_class(k, 1.0), counts(k, 0.0);
  for (const std::int32_t label : train.labels) counts[static_cast<std::size_t>(label)] += 1;
  for (std::size_t c = 0; c < k && spec.balanced; ++c)
    if (counts[c] > 0) by_class[c] = static_cast<double>(train.rows) / (static_cast<double>(k) * counts[c]);
  for (const auto& [label, weight] : spec.labels) {
    const auto found = std::find(train.class_names.begin(), train.class_names.end(), label);
    if (found == train.class_names.end()) {
      std::string names;
      for (const auto& name : train.class_names) names += (names.empty() ? "" : ", ") + name;
      throw_bad_input(train.source + ": training.class_weight: no class '" + label + "' in the data (its classes: " +
                      names + ")");
    }
    by_class[static_cast<std::size_t>(found - train.class_names.begin())] = weight;
  }
  return by_class;
}

namespace {

// Each training row's weight: its sample weight (if any) times its class's (ClassWeightSpec's rule, nn/spec.hpp).
void apply_class_weights(const ClassWeightSpec& spec, Dataset& train) {
  if (!spec.empty()) {
    const std::vector<double> by_class = class_weights(spec, train);
    if (train.weights.empty()) train.weights.assign(train.rows, 1.0f);
    for (std::size_t r = 0; r < train.rows; ++r)
      train.weights[r] = static_cast<float>(train.weights[r] * by_class[static_cast<std::size_t>(train.labels[r])]);
  }
  double total = 0;
  for (float w : train.weights) total += w;
  if (!train.weights.empty() && !(total > 0))
    throw_bad_input(train.source + ": expected some training row of weight above 0 (class and sample weights), "
                    "got every weight 0");
}

void standardize_targets(TrainingData& data) {
  const auto width = static_cast<std::size_t>(data.train.target_count);
  const std::size_t rows = data.train.rows;
  std::vector<double> sum(width, 0.0), squares(width, 0.0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t t = 0; t < width; ++t) sum[t] += data.train.targets[r * width + t];
  data.target_offset.resize(width);
  data.target_scale.resize(width);
  for (std::size_t t = 0; t < width; ++t) data.target_offset[t] = sum[t] / static_cast<double>(rows);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t t = 0; t < width; ++t) {
      const double d = data.train.targets[r * width + t] - data.target_offset[t];
      squares[t] += d * d;
    }
  for (std::size_t t = 0; t < width; ++t) {
    const double deviation = std::sqrt(squares[t] / static_cast<double>(rows));
    data.target_scale[t] = deviation > 0 ? deviation : 1.0;
  }
  auto apply = [&](Dataset& d) {
    for (std::size_t i = 0; i < d.targets.size(); ++i)
      d.targets[i] = static_cast<float>((d.targets[i] - data.target_offset[i % width]) / data.target_scale[i % width]);
  };
  apply(data.train);
  if (data.validation) apply(*data.validation);
}

}  // namespace

namespace {

// An embedding's codes are indices, not measures, and a table's one-hot, binary and missing inputs are 0/1
// flags: they are left as they are (scale 1, offset 0), as scikit-learn's ColumnTransformer scales its numeric
// columns only. Standardized, a rare category's flag became a large input (5 rows of 248: 7.0), which the
// network fitted to those few rows (docs/performance.md, "The same folds for both, and a table's 0/1 inputs
// left unscaled").
void leave_flags_unscaled(Scaling& scaling, const NetworkSpec& spec, const Dataset& train) {
  const auto leave = [&scaling](std::size_t column) {
    scaling.offset[column] = 0.0;
    scaling.scale[column] = 1.0;
  };
  for (const int column : embedding_code_columns(spec)) leave(static_cast<std::size_t>(column));
  if (!train.table) return;
  const std::vector<bool> measured = train.table->measured_inputs();
  for (std::size_t column = 0; column < measured.size() && column < scaling.offset.size(); ++column)
    if (!measured[column]) leave(column);
}

}  // namespace

TrainingData prepare_training_data(NetworkSpec& spec, Dataset train, std::optional<Dataset> validation,
                                   const std::optional<Scaling>& trained_scaling,
                                   std::optional<ScalingKind> requested_scale) {
  if (trained_scaling && requested_scale && *requested_scale != trained_scaling->kind)
    throw OptionError("scale", "expected " + std::string(to_string(trained_scaling->kind)) +
                                   " or no scale: a trained model keeps its own scaling (" +
                                   std::string(to_string(trained_scaling->kind)) +
                                   ", which its weights were learnt on) when trained further, got " +
                                   std::string(to_string(*requested_scale)));
  TrainingData data;
  data.task = train.task;
  if (validation) {
    spec.training.validation_split = 0;  // the validation set given replaces the recipe's split
    data.validation = std::move(validation);
  } else if (spec.training.validation_split > 0) {
    data.validation.emplace();
    split_validation(train, *data.validation, spec.training.validation_split, spec.seed);
  }
  apply_class_weights(spec.training.class_weight, train);
  if (trained_scaling) {
    data.scaling = *trained_scaling;
    spec.training.scale = trained_scaling->kind;  // the recipe the model records says what it was trained with
  } else {
    data.scaling = fit_scaling(spec.training.scale, train);
    if (!data.scaling.empty()) leave_flags_unscaled(data.scaling, spec, train);
  }
  data.train = std::move(train);
  const bool plain_outputs = spec.loss == LossKind::mse && spec.layers.back().activation == Activation::identity &&
                             spec.layers.back().kind == LayerKind::dense;
  if (data.train.table && data.task == TaskKind::regression && !trained_scaling && plain_outputs)
    standardize_targets(data);
  return data;
}

NetworkSpec predicting_spec(const Network<float>& trained, const TrainingData& data) {
  NetworkSpec spec = trained.spec_with_parameters();
  if (data.target_scale.empty()) return spec;
  LayerSpec& out = spec.layers.back();
  const auto outputs = static_cast<std::size_t>(out.units);
  for (std::size_t i = 0; i < out.weights.size(); ++i) out.weights[i] *= data.target_scale[i % outputs];
  for (std::size_t j = 0; j < outputs; ++j) out.bias[j] = out.bias[j] * data.target_scale[j] + data.target_offset[j];
  return spec;
}

Dataset load_table(const std::string& data, const TableSettings& settings) {
  LoadOptions options;
  options.infer_table = true;
  options.infer_task = !settings.task;
  options.task = settings.task.value_or(TaskKind::classification);
  options.target = settings.target;
  options.categorical = settings.categorical;
  options.many_categories = settings.many_categories;
  options.missing_values = settings.missing_values;
  options.sample_weight = settings.sample_weight;
  options.keep_rows = settings.keep_rows;
  Dataset table = load_dataset(data, settings.labels.empty() ? std::nullopt : std::optional<std::filesystem::path>(settings.labels),
                               options);
  if (!table.table && !settings.sample_weight.empty())  // IDX or NPY data: no columns
    throw_bad_input(data + ": expected a CSV table for --sample-weight (a column of it), got IDX or NPY data");
  check_table_classes(table);
  return table;
}

void check_table_classes(const Dataset& table) {
  if (table.task == TaskKind::classification && table.class_names.size() < 2)
    throw_bad_input(table.source + ": expected at least two classes in the target column, got one ('" +
                    quoted_excerpt(table.class_names.front()) + "'): nothing to learn");
}

namespace {

// An embedding entry for each embedded column of the recipe, in column order: each reads its column's code
// where the entries before it have put their values (an entry's "input" is a position of the one before).
void add_embeddings(const TableRecipe& recipe, NetworkSpec& spec) {
  int input = 0, shift = 0;
  for (const TableColumn& c : recipe.columns) {
    if (c.embedding > 0) {
      LayerSpec layer;
      layer.kind = LayerKind::embedding;
      layer.activation = Activation::identity;
      layer.embedding.column = input + shift;
      layer.embedding.categories = c.codes();
      layer.units = spec.layer_input(spec.layers.size()) - 1 + c.embedding;
      spec.layers.push_back(layer);
      shift += c.embedding - 1;
    }
    input += c.width();
  }
}

}  // namespace

NetworkSpec default_table_network(const Dataset& data, const std::vector<int>& hidden) {
  NetworkSpec spec;
  spec.input = data.features;
  if (data.table) add_embeddings(*data.table, spec);
  for (const int units : hidden.empty() ? kDefaultTableHidden : hidden) {
    LayerSpec layer;
    layer.units = units;
    layer.activation = Activation::relu;
    layer.dropout = kDefaultTableDropout;
    spec.layers.push_back(layer);
  }
  LayerSpec output;
  const bool classification = data.task == TaskKind::classification;
  output.units = classification ? static_cast<int>(data.class_names.size()) : data.target_count;
  output.activation = classification ? Activation::softmax : Activation::identity;
  spec.layers.push_back(output);
  spec.loss = classification ? LossKind::softmax_ce : LossKind::mse;
  spec.initializer.kind = InitializerKind::automatic;
  spec.optimizer.type = OptimizerKind::adamw;
  spec.optimizer.learning_rate = 0.003;
  spec.optimizer.weight_decay = 1e-4;
  spec.training.epochs = 200;
  spec.training.batch_size = 32;
  spec.training.early_stopping = 20;
  spec.training.validation_split = 0.2;
  spec.training.scale = ScalingKind::standard;
  validate(spec);
  return spec;
}

void stop_early_only_with_validation(NetworkSpec& spec, bool validation_given, std::optional<double> validation_split,
                                     std::optional<int> early_stopping) {
  if (!validation_given && validation_split == 0.0 && !early_stopping) spec.training.early_stopping = 0;
}

std::vector<std::string> table_notes(const Dataset& data) {
  std::vector<std::string> notes;
  if (data.rows_without_target > 0)
    notes.push_back(data.source + ": left out " + std::to_string(data.rows_without_target) +
                    " row(s) whose target is missing");
  if (data.unknown_values > 0)
    notes.push_back(data.source + ": " + std::to_string(data.unknown_values) +
                    " cell(s) held a category the model never saw in training, or saw too seldom to keep (read as unknown)");
  return notes;
}

}  // namespace backprop
