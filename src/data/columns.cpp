// The columns of a table: targets, features matched by name, the rest ignored (columns.hpp says the rule).
#include "backprop/data/columns.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include "backprop/base/error.hpp"
#include "loaders.hpp"

namespace backprop::data {

std::string header_text(const std::vector<std::string>& names) {
  std::string joined;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) joined += ",";
    joined += names[i];
  }
  return quoted_excerpt(joined);
}

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split_target_option(std::string_view target) {
  std::vector<std::string_view> items;
  if (trim(target).empty()) return items;
  std::size_t start = 0;
  while (start <= target.size()) {
    std::size_t end = target.find(',', start);
    if (end == std::string_view::npos) end = target.size();
    items.push_back(trim(target.substr(start, end - start)));
    start = end + 1;
  }
  return items;
}

std::optional<std::size_t> parse_index(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  std::size_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  return value;
}

std::optional<std::size_t> column_named(const std::vector<std::string>& header, std::string_view name) {
  const auto found = std::find(header.begin(), header.end(), name);
  if (found == header.end()) return std::nullopt;
  return static_cast<std::size_t>(found - header.begin());
}

// "FILE:LINE:" (a file's header row), or "SOURCE:" for a table without lines (line 0: a DataFrame).
std::string at_line(const std::string& source, std::size_t line) {
  return line == 0 ? source + ":" : source + ":" + std::to_string(line) + ":";
}
// "FILE:LINE:COLUMN: ", or "SOURCE: column COLUMN: " (1-based).
std::string at_column(const std::string& source, std::size_t line, std::size_t column) {
  return line == 0 ? source + ": column " + std::to_string(column) + ": "
                   : source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
}

void refuse_duplicate_names(const std::vector<std::string>& header, std::size_t line, const std::string& source) {
  for (std::size_t c = 1; c < header.size(); ++c) {
    const auto first = std::find(header.begin(), header.begin() + static_cast<std::ptrdiff_t>(c), header[c]);
    if (first == header.begin() + static_cast<std::ptrdiff_t>(c)) continue;
    const auto earlier = static_cast<std::size_t>(first - header.begin());
    throw_bad_input(at_column(source, line, c + 1) + "expected each column name once, got '" +
                    quoted_excerpt(header[c]) + "' in columns " + std::to_string(earlier + 1) + " and " +
                    std::to_string(c + 1));
  }
}

// The columns options.target names (header name first, else 0-based index); empty when the target is
// optional and absent.
std::vector<std::size_t> named_targets(const std::vector<std::string>& header, std::size_t header_line,
                                       const std::string& source, const LoadOptions& options) {
  const std::vector<std::string_view> items = split_target_option(options.target);
  std::vector<std::size_t> targets;
  std::size_t missing = 0;
  std::string first_missing;
  for (const std::string_view item : items) {
    std::optional<std::size_t> found = column_named(header, item);
    if (!found) {
      const std::optional<std::size_t> index = parse_index(item);
      if (index && *index < header.size()) found = index;
    }
    if (!found) {
      if (missing++ == 0) first_missing = std::string(item);
      continue;
    }
    if (std::find(targets.begin(), targets.end(), *found) != targets.end())
      throw_bad_input(at_column(source, header_line, *found + 1) +
                      "expected each target column once, got column " + std::to_string(*found + 1) + " (" +
                      header[*found] + ") twice in '" + options.target + "'");
    targets.push_back(*found);
  }
  if (missing > 0) {
    if (options.target_optional && missing == items.size()) return {};
    throw_bad_input(at_line(source, header_line) + " expected a target column named '" + first_missing +
                    "' or a 0-based index below " + std::to_string(header.size()) + ", got header '" +
                    header_text(header) + "'");
  }
  return targets;
}

// Without --target: the model's target names when the header has them all (regression); else, by position,
// the last column; by name, the one column that is not a feature (several: refused, unless the target is
// optional, since guessing could take the wrong one; none: no target).
std::vector<std::size_t> default_targets(const std::vector<std::string>& header, std::size_t header_line,
                                         const std::string& source, const LoadOptions& options, bool by_name) {
  if (options.task == TaskKind::regression && by_name && !options.target_names.empty()) {
    std::vector<std::size_t> targets;
    for (const std::string& name : options.target_names)
      if (const auto c = column_named(header, name)) targets.push_back(*c);
    if (targets.size() == options.target_names.size()) return targets;
  }
  if (!by_name) {
    if (options.target_optional && options.expected_features &&
        static_cast<std::size_t>(*options.expected_features) == header.size())
      return {};
    return {header.size() - 1};
  }
  const std::vector<std::string>& features = options.feature_names;
  std::vector<std::size_t> others;
  for (std::size_t c = 0; c < header.size(); ++c)
    if (std::find(features.begin(), features.end(), header[c]) == features.end()) others.push_back(c);
  if (others.size() <= 1) return others;
  if (options.target_optional) return {};
  std::vector<std::string> names;
  for (const std::size_t c : others) names.push_back(header[c]);
  throw_bad_input(at_line(source, header_line) + " expected one column besides the model's features ('" +
                  header_text(features) + "') to be the target, got " + std::to_string(others.size()) + ": '" +
                  header_text(names) + "'; name the target (--target)");
}

}  // namespace

ColumnPlan plan_columns(const std::vector<std::string>& header, std::size_t header_line, const std::string& source,
                        const LoadOptions& options) {
  refuse_duplicate_names(header, header_line, source);
  const std::vector<std::string>& names = options.feature_names;
  const bool by_name = !names.empty() && (!options.expected_features ||
                                          static_cast<std::size_t>(*options.expected_features) == names.size());
  ColumnPlan plan;
  plan.targets = split_target_option(options.target).empty() ? default_targets(header, header_line, source, options, by_name)
                                                             : named_targets(header, header_line, source, options);
  const auto is_target = [&](std::size_t c) {
    return std::find(plan.targets.begin(), plan.targets.end(), c) != plan.targets.end();
  };
  if (!by_name) {
    for (std::size_t c = 0; c < header.size(); ++c)
      if (!is_target(c)) plan.features.push_back(c);
    return plan;
  }
  std::vector<std::string> missing;
  for (const std::string& name : names) {
    const std::optional<std::size_t> c = column_named(header, name);
    if (!c) {
      missing.push_back(name);
      continue;
    }
    if (is_target(*c))
      throw_bad_input(at_column(source, header_line, *c + 1) + "column '" + quoted_excerpt(name) +
                      "' is a feature of the model, expected it not to be the target ('" + options.target + "')");
    plan.features.push_back(*c);
  }
  if (!missing.empty())
    throw_bad_input(at_line(source, header_line) + " expected a column named '" + quoted_excerpt(missing.front()) +
                    "' (" + (missing.size() == 1 ? std::string("a feature") : std::to_string(missing.size()) +
                                                                                  " features missing: '" +
                                                                                  header_text(missing) + "'") +
                    " of the model, whose features are '" + header_text(names) + "'), got header '" +
                    header_text(header) + "'");
  for (std::size_t c = 0; c < header.size(); ++c)
    if (!is_target(c) && std::find(plan.features.begin(), plan.features.end(), c) == plan.features.end())
      plan.ignored.push_back(c);
  return plan;
}

}  // namespace backprop::data
