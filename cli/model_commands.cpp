// The commands that use a trained model: eval, predict, export, info.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <sstream>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/io/c_export.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/onnx_export.hpp"
#include "backprop/io/output_files.hpp"
#include "backprop/base/text.hpp"
#include "backprop/io/write_file.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/train/metrics.hpp"
#include "backprop/train/calibration.hpp"
#include "backprop/train/trainer.hpp"
#include "commands.hpp"

namespace backprop::cli {
namespace {

struct DataArguments {
  std::string model, data, labels, target, out, format, device;
  bool json = false;
  std::optional<double> threshold;  // predict: two classes, the second when its probability is at least this
  std::string name = "model", quantize, calibration;  // export --format c
};

void add_data_options(CLI::App* cmd, DataArguments& a) {
  cmd->add_option("model", a.model, "Model file (binary or JSON export) or a network file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", a.data, "Data: .csv (header row), IDX images (*-idx3-ubyte[.gz]) or .npy")
      ->required();
  cmd->add_option("--labels", a.labels, "Labels for IDX (IDX1 file) or NPY (.npy) data");
  cmd->add_option("--target", a.target, "CSV target column(s), by name or 0-based index; default: the last column")
      ->check(target_columns());
}

// --- eval ---
// The plain output stays short: today's line, then one line of the figures people quote, the per-class
// table and the confusion matrix where the classes are few, the thresholds of two classes; --json has all.
void print_classification(const ClassificationMetrics& m) {
  std::printf("  balanced accuracy %.4f  f1 macro %.4f  f1 weighted %.4f  log loss %.6f  roc auc %.4f  "
              "average precision %.4f\n",
              m.balanced_accuracy, m.f1_macro, m.f1_weighted, m.log_loss, m.roc_auc, m.average_precision);
  constexpr std::size_t kMostClassesShown = 12;
  const std::size_t k = m.classes.size();
  if (k > kMostClassesShown) return;
  std::size_t width = 5;
  for (const ClassScores& s : m.classes) width = std::max(width, s.name.size());
  std::printf("  %-*s  precision  recall      f1  support   predicted:", static_cast<int>(width), "class");
  for (const ClassScores& s : m.classes) std::printf(" %s", s.name.c_str());
  std::printf("\n");
  for (std::size_t c = 0; c < k; ++c) {
    const ClassScores& s = m.classes[c];
    std::printf("  %-*s  %9.4f  %6.4f  %6.4f  %7zu  ", static_cast<int>(width), s.name.c_str(), s.precision,
                s.recall, s.f1, s.support);
    for (std::size_t o = 0; o < k; ++o) std::printf(" %zu", m.confusion[c * k + o]);
    std::printf("\n");
  }
  if (k == 2) {
    const BinaryThresholds& t = m.thresholds;
    std::printf("  threshold on p_%s: %.6g maximises F1 (%.4f), %.6g maximises Youden's J (%.4f)\n",
                m.classes[1].name.c_str(), t.f1_threshold, t.f1, t.youden_threshold, t.youden_j);
  }
}

void print_regression(const RegressionMetrics& m) {
  std::printf("  r2 %.6f  largest errors:", m.r2);
  for (const RowError& e : m.largest_errors)
    std::printf(" row %zu%s %.6g (target %.6g)", e.row,
                e.output == 0 ? "" : (" output " + std::to_string(e.output)).c_str(), e.prediction - e.target,
                e.target);
  std::printf("\n");
}

int run_eval(const DataArguments& a) {
  const io::ModelFile model = io::read_model(a.model).model;
  Network<float> network(model.network);
  const Dataset data = load_for_model(model, a.data, a.labels, a.target);
  const auto device = open_device(a.device);
  const EvaluationReport report =
      evaluate_report(network, data, model.scaling, device.get(), kEvaluationBatchSize, model.threshold);
  const Metrics& m = report.basic;
  if (a.json) {
    write_standard_output(report_json(report) + "\n");
  } else if (data.task == TaskKind::classification) {
    std::printf("%s on %s: loss %.6f  accuracy %.4f  (%zu rows)%s\n", printable(a.model).c_str(),
                printable(a.data).c_str(), m.loss, m.accuracy, m.rows,
                model.threshold ? ("  at the model's threshold " + format_general(*model.threshold, 6)).c_str() : "");
    print_classification(report.classification);
  } else {
    std::printf("%s on %s: loss %.6f  rmse %.6f  mae %.6f  (%zu rows)\n", printable(a.model).c_str(),
                printable(a.data).c_str(), m.loss,
                m.rmse, m.mae, m.rows);
    print_regression(report.regression);
  }
  return 0;
}

// --- predict ---
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

int run_predict(const DataArguments& a) {
  io::check_output_files({{"the model", a.model}, {"--data", a.data}, {"--labels", a.labels}}, {{"--out", a.out}});
  const io::LoadedModel loaded = io::read_model(a.model);
  const io::ModelFile& model = loaded.model;
  const bool classification = loaded.task == TaskKind::classification;
  if (a.threshold && !(classification && class_count(model.network) == 2))
    throw_bad_input("--threshold: expected a model of two classes (the threshold is on the second's probability), " +
                    a.model + " has " +
                    (classification ? std::to_string(class_count(model.network)) + " classes" : "numeric targets"));
  const std::optional<double> threshold = a.threshold ? a.threshold : model.threshold;  // --threshold overrides
  Network<float> network(model.network);
  const Dataset data = load_for_model(model, a.data, a.labels, a.target, true);
  const int outputs = network.output_size();

  const auto device = open_device(a.device);
  std::string text;
  // A network file has no class names: its classes are 0, 1, ..., in the header as in the rows.
  std::vector<std::string> classes = model.classes;
  if (classification && classes.empty())
    for (int c = 0; c < class_count(model.network); ++c) classes.push_back(std::to_string(c));
  if (classification) {
    text = "class";
    for (const auto& name : classes) text += "," + csv_field(std::string("p_").append(name));
  } else {
    for (int o = 0; o < outputs; ++o) {
      const std::string name = o < static_cast<int>(model.targets.size()) ? model.targets[o] : std::to_string(o);
      text += (o ? "," : "") + csv_field(std::string("y_").append(name));
    }
  }
  text += "\n";

  forward_batches(network, data, model.scaling, kEvaluationBatchSize,
                  [&](std::size_t, std::size_t count, const Workspace<float>& workspace) {
                    for (std::size_t r = 0; r < count; ++r) {
                      const float* row = network.output(workspace) + r * outputs;
                      std::string line;
                      if (classification) {
                        const int predicted = predicted_class(row, outputs, threshold);
                        line = csv_field(classes[predicted]);
                        if (outputs == 1) {
                          line.append(",").append(format_float(1.0f - row[0])).append(",");
                          line.append(format_float(row[0]));
                        } else {
                          for (int o = 0; o < outputs; ++o) line.append(",").append(format_float(row[o]));
                        }
                      } else {
                        for (int o = 0; o < outputs; ++o) line.append(o ? "," : "").append(format_float(row[o]));
                      }
                      text += line + "\n";
                    }
                  },
                  device.get());
  if (a.out.empty() || a.out == "-")
    write_standard_output(text);
  else
    io::write_file_atomically(a.out, text);
  return 0;
}

// --- export ---
// --format c: the model as X.h and X.c (io/c_export.hpp); int8 calibrated on --calibration's rows.
void export_c(const DataArguments& a) {
  if (a.format != "c" && (!a.quantize.empty() || !a.calibration.empty() || a.name != "model"))
    throw_bad_input("--name, --quantize and --calibration are options of --format c");
  if (!a.quantize.empty() && a.calibration.empty())
    throw_bad_input("--quantize int8: expected --calibration DATA (rows the layers' input ranges are measured on)");
  if (a.quantize.empty() && !a.calibration.empty())
    throw_bad_input("--calibration: expected --quantize int8 with it (a float export needs no calibration)");
  io::check_c_name(a.name);
  io::check_output_files({{"the model", a.model}, {"--calibration", a.calibration}},
                         {{"--out", a.out}, {"--out's .c", io::c_source_path(a.out).string()}});
  const io::LoadedModel loaded = io::read_model(a.model);
  io::CExportOptions options;
  options.name = a.name;
  options.int8 = a.quantize == "int8";
  options.source = a.model;
  if (options.int8) {
    const Network<float> network(loaded.model.network);
    const io::ModelFile& model = loaded.model;
    const Dataset rows = load_for_model(model, a.calibration, "", "", true);
    options.input_ranges = layer_input_ranges(network, rows, loaded.model.scaling);
  }
  io::export_c(a.out, loaded.model, loaded.task, options);
}

int run_export(const DataArguments& a) {
  if (a.format == "c" || !a.quantize.empty() || !a.calibration.empty() || a.name != "model") {
    export_c(a);
    return 0;
  }
  io::check_output_files({{"the model", a.model}}, {{"--out", a.out}});
  const io::ModelFile model = io::read_model(a.model).model;
  if (a.format == "onnx")
    io::export_onnx(a.out, model);  // without ONNX built in: Error(bad_input), exit 2
  else
    io::export_model_json(a.out, model);
  return 0;
}

// --- info ---
int run_info(const DataArguments& a) {
  const io::ModelFile model = io::read_model(a.model).model;
  const NetworkSpec& spec = model.network;
  std::size_t parameters = 0;
  std::printf("%s\n", printable(a.model).c_str());
  const double smoothing = spec.training.label_smoothing;
  std::printf("  network     %s, loss %s%s\n", architecture(spec).c_str(), std::string(to_string(spec.loss)).c_str(),
              smoothing > 0 ? (" (trained with label smoothing " + format_double(smoothing) + ")").c_str() : "");
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const auto& layer = spec.layers[l];
    const std::size_t in = static_cast<std::size_t>(spec.layer_input(l));
    std::size_t count = 0;  // the trained arrays (a batch_norm's running statistics are not parameters)
    for (const LayerArray& array : spec.arrays(l)) count += array.trained ? array.size : 0;
    parameters += count;
    std::printf("  layer %zu     %zu -> %d, %s%s, %zu parameters\n", l + 1, in, layer.units,
                std::string(layer_label(layer)).c_str(),
                layer.dropout > 0 ? (", dropout " + format_double(layer.dropout)).c_str() : "", count);
  }
  std::printf("  parameters  %zu\n", parameters);
  std::printf("  optimizer   %s, learning rate %s\n", std::string(to_string(spec.optimizer.type)).c_str(),
              format_double(spec.optimizer.learning_rate).c_str());
  std::printf("  scaling     %s\n", std::string(to_string(model.scaling.kind)).c_str());
  if (!model.classes.empty()) {
    std::string names;
    for (std::size_t i = 0; i < model.classes.size(); ++i) names += (i ? ", " : "") + model.classes[i];
    std::printf("  classes     %zu: %s\n", model.classes.size(), names.c_str());
  }
  if (!model.targets.empty()) {
    std::string names;
    for (std::size_t i = 0; i < model.targets.size(); ++i) names += (i ? ", " : "") + model.targets[i];
    std::printf("  targets     %s\n", names.c_str());
  }
  if (!model.features.empty()) std::printf("  features    %zu named\n", model.features.size());
  if (model.table) {
    std::printf("  table       the recipe of its raw columns (docs/tables.md):\n");
    std::istringstream lines(describe_table(*model.table));
    for (std::string line; std::getline(lines, line);) std::printf("    %s\n", line.c_str());
  }
  if (model.threshold)
    std::printf("  threshold   %s on p_%s (predict's class when its probability is at least this)\n",
                format_general(*model.threshold, 6).c_str(), model.classes.empty() ? "1" : model.classes[1].c_str());
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<DataArguments>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a model on labelled data: loss, accuracy, per-class precision, recall and F1, ROC AUC, ...; or RMSE, MAE, R²");
  add_data_options(cmd, *a);
  cmd->add_flag("--json", a->json,
                "Print one JSON object: \"loss\", \"accuracy\" or \"rmse\" and \"mae\", \"rows\", then scikit-learn's "
                "figures by its names (balanced_accuracy, log_loss, roc_auc, average_precision, f1_macro, ..., "
                "classes, confusion_matrix, thresholds; r2, mean_absolute_error, root_mean_squared_error, "
                "largest_errors)");
  add_device_option(cmd, a->device);
  cmd->callback([a, &exit_code] { exit_code = run_eval(*a); });
}

void add_predict_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<DataArguments>();
  CLI::App* cmd = app.add_subcommand(
      "predict", "Predict every row of a data set: a CSV of class,p_<label>... or y_<name>...; a target column named "
                 "by --target (or the last column, when the data has one more column than the model's inputs) is "
                 "ignored");
  add_data_options(cmd, *a);
  cmd->add_option("--out", a->out, "Output CSV file (written atomically); - or omitted: standard output");
  cmd->add_option("--threshold", a->threshold,
                  "Two classes: predict the second when its probability is at least this (default: the model's "
                  "kept threshold (train --threshold), else the more probable class; eval prints the thresholds "
                  "that maximise F1 and Youden's J)")
      ->check(finite_number("a probability in [0, 1]", [](double v) { return v >= 0 && v <= 1; }));
  add_device_option(cmd, a->device);
  cmd->callback([a, &exit_code] { exit_code = run_predict(*a); });
}

void add_export_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<DataArguments>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Export a model as JSON (readable; loads back bit-exact), ONNX (opset 11; input \"input\" "
                "[batch, IN] of raw features, scaling included; output \"output\" [batch, OUT]) or C (X.h and X.c: "
                "NAME_predict(features, outputs, scratch), float or int8; docs/c-export.md)");
  cmd->add_option("model", a->model, "Model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--format", a->format,
                  io::onnx_export_available() ? "json, onnx or c" : "json or c (onnx: not built into this backprop)")
      ->required()
      ->check(CLI::IsMember({"json", "onnx", "c"}));
  cmd->add_option("--out", a->out, "The file to write (atomically); for c the header X.h, X.c written beside it")
      ->required();
  cmd->add_option("--name", a->name, "c: the prefix of the file's names (NAME_predict, NAME_INPUTS, ...); default model");
  cmd->add_option("--quantize", a->quantize, "c: int8 (weights int8 per output unit, inputs int8 per layer, int32 sums)")
      ->check(CLI::IsMember({"int8"}));
  cmd->add_option("--calibration", a->calibration,
                  "c --quantize int8: data whose rows calibrate each layer's input range (any file predict reads)");
  cmd->callback([a, &exit_code] { exit_code = run_export(*a); });
}

void add_info_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<DataArguments>();
  CLI::App* cmd =
      app.add_subcommand("info", "Print a model's summary: architecture, parameters, scaling, classes, kept threshold");
  cmd->add_option("model", a->model, "Model file (binary or JSON) or a network file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->callback([a, &exit_code] { exit_code = run_info(*a); });
}

}  // namespace backprop::cli
