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
#include "loaders.hpp"

namespace backprop::data {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

struct CsvRecord {
  std::vector<std::string_view> fields;  // valid until the next call of CsvReader::next
  std::vector<std::size_t> field_lines;  // line where each field starts
  std::size_t line = 0;                  // line where the record starts
};

class CsvReader {
 public:
  CsvReader(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  // The next non-blank record, or false at the end of the text.
  bool next(CsvRecord& record) {
    record.fields.clear();
    record.field_lines.clear();
    spans_.clear();
    unescaped_.clear();
    if (!skip_blank_lines()) return false;
    record.line = line_;
    while (true) {
      const std::size_t field_line = line_;
      read_field(field_line);
      record.field_lines.push_back(field_line);
      if (position_ < text_.size() && text_[position_] == ',') {
        ++position_;
        continue;
      }
      end_line();
      break;
    }
    // Unescaped quoted fields live in unescaped_, which no longer grows: their views are safe now.
    for (const FieldSpan& span : spans_) {
      const std::string_view base = span.in_unescaped ? std::string_view(unescaped_) : text_;
      record.fields.push_back(base.substr(span.begin, span.size));
    }
    return true;
  }

 private:
  struct FieldSpan {
    bool in_unescaped;
    std::size_t begin;
    std::size_t size;
  };

  // Skips lines holding only spaces and tabs; false when the text ends first.
  bool skip_blank_lines() {
    while (true) {
      std::size_t p = position_;
      while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t')) ++p;
      if (p == text_.size()) {
        position_ = p;
        return false;
      }
      if (text_[p] != '\n' && text_[p] != '\r') return true;
      position_ = p;
      end_line();
    }
  }

  // Consumes one line ending (LF, CRLF or CR) at position_, if any.
  void end_line() {
    if (position_ >= text_.size()) return;
    if (text_[position_] == '\r') ++position_;
    if (position_ < text_.size() && text_[position_] == '\n') ++position_;
    ++line_;
  }

  void read_field(std::size_t field_line) {
    const std::size_t column = spans_.size() + 1;
    std::size_t p = position_;
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t')) ++p;
    if (p < text_.size() && text_[p] == '"') {
      read_quoted_field(p + 1, field_line, column);
      return;
    }
    std::size_t end = position_;
    while (end < text_.size()) {
      const char c = text_[end];
      if (c == ',' || c == '\n' || c == '\r') break;
      ++end;
    }
    const std::string_view field = trim(text_.substr(position_, end - position_));
    spans_.push_back({false, static_cast<std::size_t>(field.data() - text_.data()), field.size()});
    position_ = end;
  }

  // p: the first byte after the opening quote.
  void read_quoted_field(std::size_t p, std::size_t field_line, std::size_t column) {
    const std::size_t begin = p;
    bool escaped = false;  // saw "", so the content is copied to unescaped_ without the doubled quotes
    std::size_t unescaped_begin = unescaped_.size();
    while (true) {
      const std::size_t quote = text_.find('"', p);
      if (quote == std::string_view::npos)
        throw_bad_input(source_ + ":" + std::to_string(field_line) + ":" + std::to_string(column) +
                        ": expected a closing '\"' for the quoted field that starts here, got the end of the file");
      line_ += static_cast<std::size_t>(std::count(text_.begin() + static_cast<std::ptrdiff_t>(p),
                                                   text_.begin() + static_cast<std::ptrdiff_t>(quote), '\n'));
      if (quote + 1 < text_.size() && text_[quote + 1] == '"') {
        if (!escaped) {
          escaped = true;
          unescaped_begin = unescaped_.size();
          unescaped_.append(text_.substr(begin, quote + 1 - begin));
        } else {
          unescaped_.append(text_.substr(p, quote + 1 - p));
        }
        p = quote + 2;
        continue;
      }
      if (escaped) {
        unescaped_.append(text_.substr(p, quote - p));
        spans_.push_back({true, unescaped_begin, unescaped_.size() - unescaped_begin});
      } else {
        spans_.push_back({false, begin, quote - begin});
      }
      p = quote + 1;
      break;
    }
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t')) ++p;
    if (p < text_.size() && text_[p] != ',' && text_[p] != '\n' && text_[p] != '\r') {
      std::size_t end = p;
      while (end < text_.size() && text_[end] != ',' && text_[end] != '\n' && text_[end] != '\r') ++end;
      throw_bad_input(source_ + ":" + std::to_string(line_) + ":" + std::to_string(column) +
                      ": expected ',' or the end of the line after the closing quote, got '" +
                      quoted_excerpt(text_.substr(p, end - p)) + "'");
    }
    position_ = p;
  }

  std::string_view text_;
  const std::string& source_;
  std::size_t position_ = 0;
  std::size_t line_ = 1;
  std::vector<FieldSpan> spans_;
  std::string unescaped_;
};

// Class labels as they are read: each distinct text gets an id in order of first appearance; the ids
// are renumbered into the final class order at the end.
class LabelCollector {
 public:
  std::int32_t id_of(std::string_view label) {
    const auto found = ids_.find(label);
    if (found != ids_.end()) return found->second;
    const auto id = static_cast<std::int32_t>(texts_.size());
    texts_.emplace_back(label);
    ids_.emplace(std::string(label), id);
    return id;
  }

  // Numbers in numeric order (texts of equal value are one class, named as first written), otherwise
  // strings in lexicographic order. Renumbers labels into that order.
  std::vector<std::string> finish(std::vector<std::int32_t>& labels) const {
    std::vector<std::optional<double>> values(texts_.size());
    bool all_numbers = true;
    for (std::size_t i = 0; i < texts_.size(); ++i) {
      values[i] = parse_double(texts_[i]);
      all_numbers = all_numbers && values[i].has_value();
    }
    std::vector<std::int32_t> order(texts_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int32_t>(i);
    if (all_numbers) {
      std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return *values[a] < *values[b]; });
    } else {
      std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return texts_[a] < texts_[b]; });
    }
    std::vector<std::int32_t> class_of_id(texts_.size());
    std::vector<std::string> class_names;
    for (std::size_t k = 0; k < order.size(); ++k) {
      const std::int32_t id = order[k];
      // stable_sort keeps the first-written text first among equal values.
      const bool same_as_previous = all_numbers && k > 0 && *values[order[k - 1]] == *values[id];
      if (!same_as_previous) class_names.push_back(texts_[static_cast<std::size_t>(id)]);
      class_of_id[static_cast<std::size_t>(id)] = static_cast<std::int32_t>(class_names.size() - 1);
    }
    for (std::int32_t& label : labels) label = class_of_id[static_cast<std::size_t>(label)];
    return class_names;
  }

 private:
  std::map<std::string, std::int32_t, std::less<>> ids_;
  std::vector<std::string> texts_;
};

// Labels mapped through the classes a model knows: the exact text, else a number equal in value to a
// numeric class name ("1.0" is class "1").
class KnownClasses {
 public:
  explicit KnownClasses(const std::vector<std::string>& names) : names_(names), values_(names.size()) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      ids_.emplace(names[i], static_cast<std::int32_t>(i));
      values_[i] = parse_double(names[i]);
    }
  }

  std::optional<std::int32_t> find(std::string_view label) const {
    const auto found = ids_.find(label);
    if (found != ids_.end()) return found->second;
    const std::optional<double> value = parse_double(label);
    if (value) {
      for (std::size_t i = 0; i < values_.size(); ++i)
        if (values_[i] && *values_[i] == *value) return static_cast<std::int32_t>(i);
    }
    return std::nullopt;
  }

  std::string describe() const { return header_text(names_); }

 private:
  const std::vector<std::string>& names_;
  std::vector<std::optional<double>> values_;
  std::map<std::string, std::int32_t, std::less<>> ids_;
};

// What a header row must be beyond its shape: comma-separated (a file of one column whose name holds ';' or
// a tab is another separator's), and names free of control characters (they go into the model, messages
// and predict's CSV).
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
