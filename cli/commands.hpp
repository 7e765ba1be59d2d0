// The backprop command's subcommands. Each add_*_command registers one subcommand with its options and
// a callback that runs it and stores the exit code; library errors propagate as backprop::Error and are
// mapped to exit codes in main.cpp.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "backprop/data/dataset.hpp"
#include "backprop/kernels/device.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop::cli {

void add_trace_command(CLI::App& app, int& exit_code);
void add_gradcheck_command(CLI::App& app, int& exit_code);
void add_train_command(CLI::App& app, int& exit_code);
void add_eval_command(CLI::App& app, int& exit_code);
void add_predict_command(CLI::App& app, int& exit_code);
void add_export_command(CLI::App& app, int& exit_code);
void add_info_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);

// "4-2-3-1"
std::string architecture(const NetworkSpec& spec);
// An option check: the value must be a finite number and satisfy `accept`; the message says `expected`
// ("a positive number", "a number in [0, 1)"). CLI11's own range checks let NaN through.
CLI::Validator finite_number(const std::string& expected, bool (*accept)(double));
inline bool is_positive(double v) { return v > 0; }
inline bool is_non_negative(double v) { return v >= 0; }
inline bool is_fraction_below_one(double v) { return v >= 0 && v < 1; }
inline bool is_open_fraction(double v) { return v > 0 && v < 1; }

// The network of a file that may be a network file or a model (binary or JSON): trace and gradcheck.
NetworkSpec read_network_or_model(const std::string& path);

// --device cpu|cuda (train, eval, predict, bench).
void add_device_option(CLI::App* cmd, std::string& device);
// The device a command runs on: kernels::open_device (null for the CPU).
using kernels::open_device;
// A validator for --loss.
std::optional<LossKind> loss_option(const std::string& text);

// Classification when the loss is softmax_ce, or bce with one output (two classes); regression otherwise.
TaskKind task_of(const NetworkSpec& spec);

// The class names a data file is read against: the model's when it has them; "0".."K-1" for IDX and NPY
// labels (K = the network's outputs, 2 for one sigmoid output); empty (collected from the data) for CSV.
std::vector<std::string> classes_for(const NetworkSpec& spec, const std::string& data_path,
                                     const std::vector<std::string>& model_classes);

// Loads a data set for the network, and checks that a classification set has as many classes as the
// network has outputs (two for one sigmoid output).
Dataset load_for_network(const NetworkSpec& spec, const std::string& data, const std::string& labels,
                         const std::string& target, const std::vector<std::string>& model_classes,
                         bool target_optional = false);

}  // namespace backprop::cli
