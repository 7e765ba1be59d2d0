#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/io/text.hpp"
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
  return parse_loss(text);  // the option's CLI::IsMember check has already refused unknown names
}

void add_device_option(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device,
                  "Where the math runs: cpu or cuda (default: $BACKPROP_DEVICE, else cuda when a GPU is present and "
                  "this backprop has CUDA, else cpu)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
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
        const auto value = io::parse_double(text);
        if (!value || !accept(*value)) return "expected " + expected + ", got '" + text + "'";
        return "";
      },
      "NUMBER");
}

}  // namespace backprop::cli
