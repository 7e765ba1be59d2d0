// What the two CSV loaders of data/ share (csv.cpp: numeric tables; table.cpp: tables as they come): the
// tokenizer (RFC 4180 quoting, line endings LF, CRLF or CR, blank lines skipped, unquoted fields trimmed of
// spaces and tabs) and the class labels' collection and matching. Private to data/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/data/columns.hpp"

namespace backprop::data {

inline std::string_view trim(std::string_view text) {
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

}  // namespace backprop::data
