#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/train/options.hpp"
#include "backprop/train/prepare.hpp"
#include "commands.hpp"

namespace backprop::cli {

std::string option_message(const OptionError& error) {
  std::string flag = "--" + error.key();
  std::replace(flag.begin(), flag.end(), '_', '-');
  const bool same = flag.substr(2) == error.key();
  return flag + (same ? "" : " (" + error.key() + ")") + ": " + error.expectation();
}

std::optional<LossKind> loss_option(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return parse_loss(text);  // the option's loss_choice check has already refused unknown names
}

CLI::Validator loss_choice() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return parse_loss(text) ? "" : "expected one of " + loss_names() + ", got '" + text + "'";
      },
      "LOSS");
}

void add_device_option(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device,
                  "Where the math runs: cpu or cuda (default: $BACKPROP_DEVICE, else cuda when a GPU is present and "
                  "this backprop has CUDA, else cpu)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
}

void note_ignored_columns(const Dataset& data) {
  const std::string note = ignored_columns_note(data);
  if (!note.empty()) std::fprintf(stderr, "backprop: note: %s\n", note.c_str());
}

Dataset load_for_model(const io::ModelFile& model, const std::string& data, const std::string& labels,
                       const std::string& target, bool target_optional) {
  Dataset rows = load_for_network(model.network, data, labels, target, {model.classes, model.targets, model.features, model.table.get()},
                                  target_optional);
  note_ignored_columns(rows);
  for (const std::string& note : table_notes(rows)) std::fprintf(stderr, "backprop: note: %s\n", note.c_str());
  if (model.byte_inputs) check_byte_inputs(rows);
  return rows;
}

CLI::Validator seed_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::uint64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || error != std::errc() || end != text.data() + text.size())
          return "expected a whole number in [0, 18446744073709551615], got '" + text + "'";
        return "";
      },
      "SEED");
}

void read_integers_in_decimal(CLI::App& app) {
  // CLI11 converts integers with strtoll's base 0, so "010" would be 8 and "09" an error: every integer
  // option's text is made plain decimal first (a transform runs before the option's checks).
  const CLI::Validator decimal(
      [](std::string& text) -> std::string {
        std::size_t digits = text.size() > 0 && (text[0] == '+' || text[0] == '-') ? 1 : 0;
        const bool negative = digits == 1 && text[0] == '-';
        if (digits == text.size() || text.find_first_not_of("0123456789", digits) != std::string::npos)
          return "expected a whole number in decimal digits, got '" + text + "'";
        while (digits + 1 < text.size() && text[digits] == '0') ++digits;
        text = (negative ? "-" : "") + text.substr(digits);
        return "";
      },
      "");
  for (CLI::App* command : app.get_subcommands({})) {
    for (CLI::Option* option : command->get_options()) {
      const std::string type = option->get_type_name();
      if (type.rfind("INT", 0) == 0 || type.rfind("UINT", 0) == 0) option->transform(decimal);
    }
    read_integers_in_decimal(*command);
  }
}

CLI::Validator target_columns() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (text.find_first_not_of(" \t,") == std::string::npos)
          return "expected a column name or a 0-based index (several separated by ','), got '" + text + "'";
        return "";
      },
      "COLUMNS");
}

CLI::Validator finite_number(const std::string& expected, bool (*accept)(double)) {
  return CLI::Validator(
      [expected, accept](std::string& text) -> std::string {
        const auto value = parse_double(text);
        if (!value || !accept(*value)) return "expected " + expected + ", got '" + text + "'";
        return "";
      },
      "NUMBER");
}

namespace {
bool standard_output_failure_reported = false;  // by write_standard_output's error: said once, not twice
}  // namespace

void write_standard_output(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    standard_output_failure_reported = true;
    throw_runtime_error(std::string("standard output: cannot write: ") + std::strerror(errno));
  }
}

int finish_standard_output(int exit_code) {
  // fflush writes what is buffered; the error flag keeps the failure of any earlier write (printf, cout,
  // which share stdout's buffer). close() then reports what only closing says (a deferred write error).
  // close(), not fclose(stdout): C++'s cout flushes stdout once more at exit, which a closed FILE forbids.
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  int error_number = errno;
  bool lost = !flushed || std::ferror(stdout) != 0;
  if (!lost && ::close(STDOUT_FILENO) != 0 && errno != EBADF) {
    lost = true;
    error_number = errno;
  }
  if (!lost || standard_output_failure_reported) return exit_code == 0 && lost ? 1 : exit_code;
  std::fprintf(stderr, "backprop: standard output: cannot write: %s\n",
               error_number != 0 ? std::strerror(error_number) : "an earlier write failed; the output is incomplete");
  return exit_code == 0 ? 1 : exit_code;
}

void guard_standard_descriptors() {
  for (const int descriptor : {STDOUT_FILENO, STDERR_FILENO}) {
    if (::fcntl(descriptor, F_GETFD) != -1 || errno != EBADF) continue;
    // Opened read-only: a write to it fails with EBADF, which finish_standard_output reports.
    const int opened = ::open("/dev/null", O_RDONLY);
    if (opened >= 0 && opened != descriptor) {
      ::dup2(opened, descriptor);
      ::close(opened);
    }
  }
}

void add_row_weight_options(CLI::App* cmd, RowWeightArguments& a, const std::string& class_weight_default) {
  cmd->add_option("--class-weight", a.class_weight,
                  "Weigh each row's loss by its class (read from its target): balanced, LABEL=W,LABEL=W (labels as "
                  "a trained model's data writes them, else the output's index) or none; " +
                      class_weight_default);
  cmd->add_option("--sample-weight", a.sample_weight,
                  "Each row's weight in the loss: one number >= 0 per row, comma-separated (times its class's)");
}

namespace {

// The class of a target row: softmax_ce's one-hot row, or one bce output's 0 or 1.
std::int32_t target_class(const NetworkSpec& spec, const double* y, int outputs, std::size_t row) {
  const std::string which = "--target row " + std::to_string(row + 1) + ": ";
  if (outputs == 1) {
    if (y[0] != 0.0 && y[0] != 1.0)
      throw OptionError("class_weight", which + "expected 0 or 1 (a class), got " + format_double(y[0]));
    return y[0] == 1.0 ? 1 : 0;
  }
  int hot = -1, ones = 0;
  for (int o = 0; o < outputs; ++o) {
    if (y[o] != 0.0 && y[o] != 1.0) ones = outputs + 1;  // not one-hot
    if (y[o] == 1.0) hot = o, ++ones;
  }
  if (ones != 1 || spec.loss != LossKind::softmax_ce)
    throw OptionError("class_weight", which + "expected a one-hot row (a class), got another");
  return hot;
}

}  // namespace

std::vector<double> row_weights(const ClassWeightSpec& classes, const std::string& sample_weight,
                                const NetworkSpec& spec, const std::vector<double>& target,
                                const std::vector<std::string>& class_names) {
  const int outputs = spec.output();
  const std::size_t rows = target.size() / static_cast<std::size_t>(outputs);
  std::vector<double> weights;
  if (!sample_weight.empty()) weights = parse_number_list(sample_weight, "--sample-weight");
  if (classes.empty()) return weights;
  const bool classifies = spec.loss == LossKind::softmax_ce || (spec.loss == LossKind::bce && outputs == 1);
  if (!classifies)
    throw OptionError("class_weight", "expected none for a network that does not classify (loss " +
                                          std::string(to_string(spec.loss)) + " with " + std::to_string(outputs) +
                                          " outputs)");
  Dataset data;
  data.source = "--target";
  data.rows = rows;
  data.task = TaskKind::classification;
  data.class_names = class_names;
  for (int c = static_cast<int>(class_names.size()); c < std::max(outputs, 2); ++c)
    data.class_names.push_back(std::to_string(c));
  for (std::size_t r = 0; r < rows; ++r)
    data.labels.push_back(target_class(spec, target.data() + r * outputs, outputs, r));
  const std::vector<double> by_class = class_weights(classes, data);
  if (weights.empty()) weights.assign(rows, 1.0);
  if (weights.size() != rows) return weights;  // trace and gradcheck say how many they expected
  for (std::size_t r = 0; r < rows; ++r) weights[r] *= by_class[static_cast<std::size_t>(data.labels[r])];
  return weights;
}

}  // namespace backprop::cli
