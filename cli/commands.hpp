// The backprop command's subcommands. Each add_*_command registers one subcommand with its options and
// a callback that runs it and stores the exit code; library errors propagate as backprop::Error and are
// mapped to exit codes in main.cpp.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "backprop/train/prepare.hpp"
#include "backprop/io/model_io.hpp"
#include "backprop/device.hpp"
#include "backprop/nn/spec.hpp"
#include "backprop/train/options.hpp"

namespace backprop::cli {

void add_trace_command(CLI::App& app, int& exit_code);
void add_gradcheck_command(CLI::App& app, int& exit_code);
void add_train_command(CLI::App& app, int& exit_code);
void add_eval_command(CLI::App& app, int& exit_code);
void add_predict_command(CLI::App& app, int& exit_code);
void add_export_command(CLI::App& app, int& exit_code);
void add_info_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);
void add_cv_command(CLI::App& app, int& exit_code);
void add_importance_command(CLI::App& app, int& exit_code);

// An option check: the value must be a finite number and satisfy `accept`; the message says `expected`
// ("a positive number", "a number in [0, 1)"). CLI11's own range checks let NaN through.
CLI::Validator finite_number(const std::string& expected, bool (*accept)(double));
inline bool is_positive(double v) { return v > 0; }
// A seed: an unsigned 64-bit whole number, every one of them kept exactly; others refused (not clamped).
CLI::Validator seed_number();
// Makes every integer option of app's commands (and theirs) read its text as decimal: "010" is 10, "0x10"
// refused (CLI11 alone would take "010" as octal 8). Called once, after every command is added.
void read_integers_in_decimal(CLI::App& app);
// --target: at least one column; '' (which would silently mean the default, the last column) is refused.
CLI::Validator target_columns();

// The message of an option's error with the command's flag added (main.cpp prints it):
// "--clip-grad-norm (clip_grad_norm): expected a positive number, got 0", "--input: expected 4 numbers ...".
std::string option_message(const OptionError& error);

// Writes text to standard output and flushes it; a failed write (a full disk, a closed descriptor, a pipe
// whose reader is gone) throws Error(runtime) "standard output: cannot write: REASON" at once.
void write_standard_output(std::string_view text);

// The end of every run (main): flushes standard output and closes its descriptor, checking both and the
// stream's error flag, so that output lost by any earlier write is reported. Returns exit_code, or 1 (a
// runtime failure, with the message on standard error) when standard output was lost and exit_code was 0.
int finish_standard_output(int exit_code);

// Makes a closed standard output or error a descriptor on which writes fail (EBADF), so that the first
// file the program opens does not take descriptor 1 or 2 and receive the printed text.
void guard_standard_descriptors();

// Prints data's ignored_columns_note (data/dataset.hpp) on standard error, when there is one.
void note_ignored_columns(const Dataset& data);

// A data file's rows for a trained model (eval, predict, importance, export's calibration): load_for_network
// with the model's names (CSV columns matched by name), the ignored columns noted, and uint8 inputs checked
// where the model was trained on them. `target_optional`: the target column may be absent (predict).
Dataset load_for_model(const io::ModelFile& model, const std::string& data, const std::string& labels,
                       const std::string& target, bool target_optional = false);

// --device cpu|cuda (train, eval, predict, bench).
void add_device_option(CLI::App* cmd, std::string& device);
// --loss's value (empty: none given), and its check: a name of the losses' table (nn/spec.hpp).
std::optional<LossKind> loss_option(const std::string& text);
CLI::Validator loss_choice();

// The names of a kind's table (base/kinds.hpp's KindName), for CLI::IsMember: a flag's choices are the kind's.
template <typename Enum, std::size_t N>
std::vector<std::string> names_in(const KindName<Enum> (&table)[N]) {
  std::vector<std::string> names;
  for (const auto& entry : table) names.emplace_back(entry.name);
  return names;
}

// trace's and gradcheck's --class-weight and --sample-weight: their options, and the rows' weights from them
// (empty when neither weighs). Each row's weight is its --sample-weight number (one per row) times its class's
// weight (class_weights, train's rule), its class read from its target (softmax_ce: a one-hot row; bce with one
// output: 0 or 1), the classes named as the data writes them where the file is a trained model, else by
// index. OptionError where the network does not classify or a target is not a class.
struct RowWeightArguments {
  std::string class_weight, sample_weight;
};
void add_row_weight_options(CLI::App* cmd, RowWeightArguments& a, const std::string& class_weight_default);
std::vector<double> row_weights(const ClassWeightSpec& classes, const std::string& sample_weight,
                                const NetworkSpec& spec, const std::vector<double>& target,
                                const std::vector<std::string>& class_names);

}  // namespace backprop::cli
