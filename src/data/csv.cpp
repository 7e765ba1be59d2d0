// CSV with a header row (RFC 4180 quoting: a field may be enclosed in double quotes, "" inside one is a
// quote; a quoted field may hold commas and line breaks). Lines end in LF, CRLF or CR; blank lines are
// skipped; unquoted fields are trimmed of spaces and tabs; a UTF-8 byte order mark is skipped.
//
// Messages are "FILE:LINE:COLUMN: expected ..., got '...'" with LINE 1-based counting the header as
// line 1 and COLUMN the 1-based field number.
#include <algorithm>
#include <cstdio>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/data/columns.hpp"
#include "csv_reader.hpp"
#include "loaders.hpp"

namespace backprop::data {

namespace {

void check_feature_count(const Dataset& data, const std::vector<std::string>& header, std::size_t line,
                         const LoadOptions& options) {
  const std::string& source = data.source;
  if (data.features == 0)
    throw_bad_input(source + ":" + std::to_string(line) +
                    ": expected at least one feature column besides the target, got header '" + header_text(header) +
                    "'");
  if (options.expected_features && *options.expected_features != data.features)
    throw_bad_input(source + ":" + std::to_string(line) + ": expected " + std::to_string(*options.expected_features) +
                    " feature columns (the network's inputs), got " + std::to_string(data.features) + " ('" +
                    header_text(data.feature_names) + "')");
}

}  // namespace

void check_header(const std::vector<std::string>& header, std::size_t line, const std::string& source) {
  if (header.size() == 1) {
    for (const char separator : {';', '\t', '|'}) {
      if (header[0].find(separator) == std::string::npos) continue;
      const std::string shown = separator == '\t' ? "a tab" : std::string("'") + separator + "'";
      throw_bad_input(source + ":" + std::to_string(line) + ": expected columns separated by ',', got a header of one "
                      "column that holds " + shown + " ('" + quoted_excerpt(header[0]) +
                      "'): only comma-separated files are read; convert the file to commas");
    }
  }
  for (std::size_t c = 0; c < header.size(); ++c)
    if (first_control_character(header[c]))
      throw_bad_input(source + ":" + std::to_string(line) + ":" + std::to_string(c + 1) +
                      ": expected a column name without control characters, got '" + quoted_excerpt(header[c]) + "'");
}

void check_csv_text(std::string_view text, const std::string& source, bool complete) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (text.size() >= 2 && text[0] == '\x1F' && text[1] == '\x8B')
    throw_bad_input(source + ":1:1: expected CSV text, got gzip-compressed bytes (the magic 0x1F 0x8B): name the "
                    "file with .gz at the end (data.csv.gz) to have it decompressed");
  // Column names and labels end up in the model (JSON, which must be UTF-8): refuse other bytes here. A
  // sequence cut by the end of an incomplete prefix is the next chunk's to finish.
  if (const auto bad = first_invalid_utf8(text); bad && (complete || *bad + 4 <= text.size())) {
    const auto where = position_of(text, *bad);
    throw_bad_input(source + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                    ": expected UTF-8 text, got the byte " + hex_byte(static_cast<std::uint8_t>(text[*bad])) + (*bad < 1024 ? " (is it a binary file?)" : ""));
  }
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    const auto where = position_of(text, nul);
    throw_bad_input(source + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                    ": expected CSV text, got the byte 0x00 (is it a binary file?)");
  }
}

Dataset parse_csv(std::string_view text, const std::string& source, const LoadOptions& options) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  check_csv_text(text, source, true);
  if (options.table != nullptr || options.infer_table) return parse_table(text, source, options);
  CsvReader reader(text, source);
  CsvRecord record;
  if (!reader.next(record))
    throw_bad_input(source + ":1:1: expected a header row of column names, got an empty file");
  const std::size_t header_line = record.line;
  std::vector<std::string> header(record.fields.begin(), record.fields.end());
  const std::size_t columns = header.size();

  check_header(header, header_line, source);
  const ColumnPlan plan = plan_columns(header, header_line, source, options);
  const std::vector<std::size_t>& target_columns = plan.targets;
  // predict (target_optional): a target column present in the data is skipped, not read, so unlabelled
  // rows ("?", empty) predict as well as labelled ones.
  const bool has_targets = !target_columns.empty() && !options.target_optional;
  const bool classification = options.task == TaskKind::classification;
  if (classification && target_columns.size() > 1)
    throw_bad_input(source + ":" + std::to_string(header_line) +
                    ": expected one target column for classification, got " + std::to_string(target_columns.size()) +
                    " ('" + options.target + "')");

  // role[c] >= 0: feature index; role[c] < 0: target index -role[c] - 1; kIgnored: neither.
  constexpr int kIgnored = std::numeric_limits<int>::min();
  std::vector<int> role(columns, kIgnored);
  for (std::size_t t = 0; t < target_columns.size(); ++t) role[target_columns[t]] = -static_cast<int>(t) - 1;
  Dataset data;
  data.source = source;
  data.task = options.task;
  for (const std::size_t c : plan.features) {
    role[c] = data.features++;
    data.feature_names.push_back(header[c]);
  }
  for (const std::size_t c : plan.ignored) data.ignored_columns.push_back(header[c]);
  check_feature_count(data, header, header_line, options);
  for (const std::size_t c : target_columns) {
    if (has_targets && !classification) data.target_names.push_back(header[c]);
  }
  if (has_targets && !classification) data.target_count = static_cast<int>(target_columns.size());

  // A guess of the row count from the line breaks, to allocate once.
  const auto line_breaks = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  data.features_f32.reserve((line_breaks + 1) * static_cast<std::size_t>(data.features));
  if (has_targets) {
    if (classification)
      data.labels.reserve(line_breaks + 1);
    else
      data.targets.reserve((line_breaks + 1) * target_columns.size());
  }

  LabelCollector collected;
  const std::optional<KnownClasses> known =
      options.known_classes.empty() ? std::nullopt : std::optional<KnownClasses>(options.known_classes);
  std::vector<float> row_targets(target_columns.size());
  std::vector<float> row_features(static_cast<std::size_t>(data.features));

  auto where = [&](std::size_t c) {
    return source + ":" + std::to_string(record.field_lines[c]) + ":" + std::to_string(c + 1) + ": ";
  };
  auto parse_number = [&](std::size_t c) -> float {
    const std::string_view field = record.fields[c];
    const std::optional<double> value = parse_double(field);
    if (value && std::fabs(*value) > std::numeric_limits<float>::max())
      throw_bad_input(where(c) + "expected a number within float32's range (magnitude at most 3.4028235e+38) in "
                      "column " + std::to_string(c + 1) + " (" + header[c] + "), got '" + quoted_excerpt(field) +
                      "', which overflows float32");
    if (!value)
      throw_bad_input(where(c) + "expected a finite number in column " + std::to_string(c + 1) + " (" + header[c] +
                      "), got '" + quoted_excerpt(field) + "'");
    return static_cast<float>(*value);
  };

  while (reader.next(record)) {
    if (record.fields.size() != columns) {
      const std::size_t got = record.fields.size();
      const std::size_t column = std::min(got, columns) + 1;
      throw_bad_input(source + ":" + std::to_string(record.line) + ":" + std::to_string(column) + ": expected " +
                      std::to_string(columns) + " columns as in the header, got " + std::to_string(got));
    }
    for (std::size_t c = 0; c < columns; ++c) {
      if (role[c] >= 0) {
        row_features[static_cast<std::size_t>(role[c])] = parse_number(c);
        continue;
      }
      if (!has_targets || role[c] == kIgnored) continue;
      const std::size_t t = static_cast<std::size_t>(-role[c] - 1);
      if (!classification) {
        row_targets[t] = parse_number(c);
        continue;
      }
      const std::string_view label = record.fields[c];
      if (label.empty())
        throw_bad_input(where(c) + "expected a class label in column " + std::to_string(c + 1) + " (" + header[c] +
                        "), got ''");
      if (first_control_character(label))
        throw_bad_input(where(c) + "expected a class label without control characters in column " +
                        std::to_string(c + 1) + " (" + header[c] + "), got '" + quoted_excerpt(label) + "'");
      if (known) {
        const std::optional<std::int32_t> id = known->find(label);
        if (!id)
          throw_bad_input(where(c) + "expected a class the model knows (" + known->describe() + ") in column " +
                          std::to_string(c + 1) + " (" + header[c] + "), got '" + quoted_excerpt(label) + "'");
        data.labels.push_back(*id);
      } else {
        data.labels.push_back(collected.id_of(label));
      }
    }
    data.features_f32.insert(data.features_f32.end(), row_features.begin(), row_features.end());
    if (has_targets && !classification) data.targets.insert(data.targets.end(), row_targets.begin(), row_targets.end());
    ++data.rows;
  }
  if (data.rows == 0)
    throw_bad_input(source + ":" + std::to_string(header_line + 1) +
                    ":1: expected rows of data after the header, got the end of the file");

  if (classification) {
    if (known)
      data.class_names = options.known_classes;
    else if (has_targets)
      data.class_names = collected.finish(data.labels);
  }
  return data;
}

}  // namespace backprop::data
