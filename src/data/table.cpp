// Tables as they come (data/table.hpp has the rules): the CSV read into raw columns, a recipe inferred from
// them or taken from a model, and the rows encoded by it.
#include "backprop/data/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <numeric>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/data/columns.hpp"
#include "base/kind_names.hpp"
#include "csv_reader.hpp"
#include "loaders.hpp"

namespace backprop {

int TableColumn::width() const {
  switch (kind) {
    case ColumnKind::numeric: return indicator ? 2 : 1;
    case ColumnKind::binary: return 1;
    case ColumnKind::categorical:
      if (embedding > 0) return 1;
      return static_cast<int>(categories.size()) + (other ? 1 : 0) + (missing_slot ? 1 : 0);
    case ColumnKind::constant:
    case ColumnKind::identifier: return 0;
  }
  return 0;
}

int TableRecipe::width() const {
  int total = 0;
  for (const TableColumn& column : columns) total += column.width();
  return total;
}

std::vector<bool> TableRecipe::measured_inputs() const {
  std::vector<bool> measured;
  for (const TableColumn& c : columns) {
    const int width = c.width();
    for (int i = 0; i < width; ++i) measured.push_back(c.kind == ColumnKind::numeric && i == 0);
  }
  return measured;
}

std::vector<std::string> TableRecipe::input_names() const {
  std::vector<std::string> names;
  for (const TableColumn& c : columns) {
    switch (c.kind) {
      case ColumnKind::numeric:
        names.push_back(c.name);
        if (c.indicator) names.push_back(c.name + " (missing)");
        break;
      case ColumnKind::binary: names.push_back(c.name + "=" + c.categories[1]); break;
      case ColumnKind::categorical:
        if (c.embedding > 0) {
          names.push_back(c.name + " (code)");
          break;
        }
        for (const std::string& category : c.categories) names.push_back(c.name + "=" + category);
        if (c.other) names.push_back(c.name + " (other)");
        if (c.missing_slot) names.push_back(c.name + " (missing)");
        break;
      case ColumnKind::constant:
      case ColumnKind::identifier: break;
    }
  }
  return names;
}

bool TableRecipe::is_missing(std::string_view cell) const {
  return std::find(missing_values.begin(), missing_values.end(), cell) != missing_values.end();
}

std::string_view to_string(ColumnKind kind) { return detail::name_of(kColumnKindNames, kind); }

std::optional<ColumnKind> parse_column_kind(std::string_view name) {
  return detail::value_of(kColumnKindNames, name);
}

std::string_view to_string(ManyCategories choice) { return detail::name_of(kManyCategoriesNames, choice); }

std::optional<ManyCategories> parse_many_categories(std::string_view name) {
  return detail::value_of(kManyCategoriesNames, name);
}

std::string many_categories_names(std::string_view last) { return detail::names_of(kManyCategoriesNames, last); }

int embedding_dim(int codes) {
  const auto dim = static_cast<int>(std::lround(1.6 * std::pow(static_cast<double>(codes), 0.56)));
  return std::clamp(dim, 2, kMaxEmbeddingDim);
}

std::string describe_table(const TableRecipe& recipe) {
  std::size_t name_width = 6;
  for (const TableColumn& c : recipe.columns) name_width = std::max(name_width, printable(c.name).size());
  auto pad = [](std::string text, std::size_t width) {
    if (text.size() < width) text.append(width - text.size(), ' ');
    return text;
  };
  std::string out = pad("column", name_width) + "  kind         inputs  details\n";
  for (const TableColumn& c : recipe.columns) {
    std::string details;
    if (!c.kept()) details = "left out: " + c.reason;
    if (c.kind == ColumnKind::numeric)
      details = "missing -> median " + format_float(static_cast<float>(c.median)) + (c.indicator ? " and an indicator" : "");
    if (c.kind == ColumnKind::binary || c.kind == ColumnKind::categorical) {
      for (std::size_t i = 0; i < c.categories.size() && i < 6; ++i)
        details += (i > 0 ? ", " : "") + printable(quoted_excerpt(c.categories[i]));
      if (c.categories.size() > 6) details += ", ... (" + std::to_string(c.categories.size()) + ")";
      if (c.embedding > 0)
        details += "; an embedding of " + std::to_string(c.embedding) + " values for each of " +
                   std::to_string(c.codes()) + " codes (the rarer and unseen values unknown)";
      else if (c.other) details += "; rarer values pooled as other";
      if (c.missing_slot) details += "; missing its own category";
    }
    out += pad(printable(c.name), name_width) + "  " + pad(std::string(to_string(c.kind)), 11) + "  " +
           pad(std::to_string(c.width()), 6) + "  " + details + "\n";
  }
  return out;
}

namespace data {
namespace {

constexpr std::int32_t kMissing = -1;  // RawColumn::code of a missing cell
constexpr std::int32_t kBeyond = -2;   // of a value past the column's kMaxDistinct
constexpr std::int32_t kNumber = -3;   // of a number not interned (intern_numbers false)

// A number cell's text as a CSV would hold it (TableCells): an integer column's values as integers.
std::string number_cell_text(double value, bool whole) {
  constexpr double kExact = 9007199254740992.0;  // 2^53: every integer up to it is exact in a double
  if (whole && std::fabs(value) <= kExact) return std::to_string(static_cast<long long>(value));
  return format_double(value);
}

}  // namespace

// One column as read: each cell's number (NaN where missing or not a number) and the id of its text.
struct RawColumn {
  std::size_t header_column = 0;  // 0-based, for messages
  std::vector<float> number;
  std::vector<std::int32_t> code;
  std::deque<std::string> texts;  // the distinct values, first seen first (a deque: the views below stay valid)
  std::vector<std::size_t> counts;
  std::unordered_map<std::string_view, std::int32_t> ids;
  std::size_t missing = 0, non_numbers = 0, numbers = 0, beyond = 0;
  std::size_t max_distinct = kMaxDistinct;
  // Numbers are kept as numbers only, unless the column is read as categories: interning a million distinct
  // numbers costs ten times the reading. A column that turns out to mix numbers and text is read again.
  bool intern_numbers = true;

  void clear() {
    number.clear();
    code.clear();
    texts.clear();
    counts.clear();
    ids.clear();
    missing = non_numbers = numbers = beyond = 0;
  }

  // A column of numbers and missing cells keeps no codes (its cells' codes follow from `number`) until its
  // first text cell: writing a code per cell doubled the memory that a numeric column fills.
  std::int32_t code_at(std::size_t row) const {
    if (row < code.size()) return code[row];
    return std::isnan(number[row]) ? kMissing : kNumber;
  }

  void materialize_codes() {
    code.reserve(number.capacity());
    for (std::size_t r = code.size(); r + 1 < number.size(); ++r) code.push_back(code_at(r));
  }

  // A number cell (TableCells::numbers, not missing): what add() of its text does, without writing the text
  // where the column keeps numbers only (the text's shortest decimal reads back to the same double).
  void add_number(double value, bool whole) {
    if (!intern_numbers && std::fabs(value) <= std::numeric_limits<float>::max()) {
      number.push_back(static_cast<float>(value));
      ++numbers;
      if (!code.empty()) code.push_back(kNumber);
      return;
    }
    add(number_cell_text(value, whole), false);
  }

  void add(std::string_view cell, bool is_missing) {
    if (is_missing) {
      ++missing;
      number.push_back(std::numeric_limits<float>::quiet_NaN());
      if (!code.empty() || intern_numbers) code.push_back(kMissing);
      return;
    }
    const std::optional<double> value = parse_double(cell);
    const bool fits = value && std::fabs(*value) <= std::numeric_limits<float>::max();
    add_present(cell, fits ? static_cast<float>(*value) : std::numeric_limits<float>::quiet_NaN(), false);
  }

  // A cell that is not missing, `value` its number (NaN: not one); `beyond_cap`: past another reading's
  // max_distinct, its text unknown here.
  void add_present(std::string_view cell, float value, bool beyond_cap) {
    const bool fits = !std::isnan(value);
    number.push_back(value);
    if (fits) ++numbers;
    else ++non_numbers;
    if (fits && !intern_numbers) {
      if (!code.empty()) code.push_back(kNumber);
      return;
    }
    if (code.size() < number.size() - 1) materialize_codes();
    const auto found = beyond_cap ? ids.end() : ids.find(cell);
    if (found != ids.end()) {
      ++counts[static_cast<std::size_t>(found->second)];
      code.push_back(found->second);
    } else if (texts.size() < max_distinct && !beyond_cap) {
      const auto id = static_cast<std::int32_t>(texts.size());
      texts.emplace_back(cell);
      counts.push_back(1);
      ids.emplace(texts.back(), id);
      code.push_back(id);
    } else {
      ++beyond;
      code.push_back(kBeyond);
    }
  }

  // Row r of `from` (this column of the same table, read the same way), as add() of its cell added it there.
  void add_row_of(const RawColumn& from, std::size_t r) {
    const std::int32_t id = from.code_at(r);
    if (id == kMissing) return add({}, true);
    add_present(id >= 0 ? std::string_view(from.texts[static_cast<std::size_t>(id)]) : std::string_view(),
                from.number[r], id == kBeyond);
  }

  // An empty column read as this one is, to add rows to.
  RawColumn empty_like() const {
    RawColumn out;
    out.header_column = header_column;
    out.max_distinct = max_distinct;
    out.intern_numbers = intern_numbers;
    return out;
  }
};

struct RawTable {
  std::string source;
  std::vector<std::string> header;
  std::size_t header_line = 0;
  std::vector<std::size_t> lines;  // each row's line
  std::vector<RawColumn> features, targets;
  std::vector<RawColumn> weight;     // LoadOptions::sample_weight's column, read as numbers (empty: none)
  std::vector<std::size_t> ignored;  // the header's columns neither read nor a target

  // The rows `rows` (0-based, in that order) of this table as a table of their own, as reading a CSV of just
  // those rows gives it (the text of a cell past kMaxDistinct, not kept, stays past it); `features`: which
  // feature columns (all when empty).
  RawTable rows_of(const std::vector<std::size_t>& rows, const std::vector<std::size_t>& features = {}) const {
    RawTable t{source, header, header_line, {}, {}, {}, {}, ignored};
    t.lines.reserve(rows.size());
    for (const std::size_t r : rows) t.lines.push_back(lines[r]);
    const auto copy = [&](const RawColumn& from, std::vector<RawColumn>& into) {
      RawColumn& column = into.emplace_back(from.empty_like());
      column.number.reserve(rows.size());
      for (const std::size_t r : rows) column.add_row_of(from, r);
    };
    if (features.empty())
      for (const RawColumn& c : this->features) copy(c, t.features);
    for (const std::size_t f : features) copy(this->features[f], t.features);
    for (const RawColumn& c : targets) copy(c, t.targets);
    for (const RawColumn& c : weight) copy(c, t.weight);
    return t;
  }
};

namespace {

std::string place(const RawTable& t, std::size_t row, std::size_t column) {
  if (t.header_line == 0)  // a table given by columns (a DataFrame): its rows by their 0-based index
    return t.source + ": row " + std::to_string(t.lines[row]) + ", column " + std::to_string(column + 1) + ": ";
  return t.source + ":" + std::to_string(t.lines[row]) + ":" + std::to_string(column + 1) + ": ";
}

// A column's numbers (its cells that are not missing), in row order.
std::vector<float> present_numbers(const RawColumn& raw) {
  std::vector<float> values;
  values.reserve(raw.number.size() - raw.missing);
  for (const float v : raw.number)
    if (!std::isnan(v)) values.push_back(v);
  return values;
}

// Sorts `values` to count them: only where a count can decide (whole numbers), as a million-row sort per
// column would cost more than reading the table.
std::size_t distinct_count(std::vector<float>& values) {
  std::sort(values.begin(), values.end());
  std::size_t count = values.empty() ? 0 : 1;
  for (std::size_t i = 1; i < values.size(); ++i) count += values[i] != values[i - 1] ? 1 : 0;
  return count;
}

bool all_whole(const std::vector<float>& values) {
  return std::all_of(values.begin(), values.end(), [](float v) { return v == std::floor(v); });
}

TableColumn infer_numeric(TableColumn c, const RawColumn& raw, std::size_t rows) {
  std::vector<float> values = present_numbers(raw);
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  if (*low == *high && raw.missing == 0) {
    c.kind = ColumnKind::constant;
    c.reason = "one value (" + format_float(*low) + ")";
    return c;
  }
  if (raw.missing == 0 && rows >= kIdentifierRows && all_whole(values) && distinct_count(values) == rows) {
    c.kind = ColumnKind::identifier;
    c.reason = "every value a distinct whole number (an identifier)";
    return c;
  }
  c.kind = ColumnKind::numeric;
  const std::size_t n = values.size();
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(n / 2);
  std::nth_element(values.begin(), middle, values.end());
  c.median = *middle;
  if (n % 2 == 0) c.median = (double{*std::max_element(values.begin(), middle)} + c.median) / 2;
  c.indicator = raw.missing > 0;
  return c;
}

TableColumn infer_categorical(TableColumn c, const RawColumn& raw, std::size_t rows, ManyCategories many) {
  const std::size_t distinct = raw.texts.size();
  if (raw.beyond > 0) {
    c.kind = ColumnKind::identifier;
    c.reason = "more than " + std::to_string(kMaxDistinct) + " distinct values";
    return c;
  }
  if (distinct < 2 && raw.missing == 0) {
    c.kind = ColumnKind::constant;
    c.reason = "one value ('" + quoted_excerpt(raw.texts.front()) + "')";
    return c;
  }
  if (distinct == rows && rows >= kIdentifierRows) {
    c.kind = ColumnKind::identifier;
    c.reason = "every value distinct (an identifier)";
    return c;
  }
  std::vector<std::size_t> order(distinct);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return raw.counts[a] != raw.counts[b] ? raw.counts[a] > raw.counts[b] : raw.texts[a] < raw.texts[b];
  });
  // An embedding needs a value seen kMinEmbeddedCount times: without one every code would be the unknown one.
  const bool embedded = many == ManyCategories::embedding && distinct > kMaxCategories &&
                        raw.counts[order.front()] >= kMinEmbeddedCount;
  for (std::size_t i = 0; i < order.size() && (embedded || i < kMaxCategories); ++i)
    if (!embedded || raw.counts[order[i]] >= kMinEmbeddedCount) c.categories.push_back(raw.texts[order[i]]);
  if (distinct == 2 && raw.missing == 0) {
    c.kind = ColumnKind::binary;
    std::sort(c.categories.begin(), c.categories.end());
    return c;
  }
  c.kind = ColumnKind::categorical;
  c.other = distinct > kMaxCategories;
  c.missing_slot = raw.missing > 0;
  if (embedded) c.embedding = embedding_dim(c.codes());
  return c;
}

TableColumn infer_column(const std::string& name, const RawColumn& raw, std::size_t rows, bool categorical,
                         ManyCategories many) {
  TableColumn c;
  c.name = name;
  if (raw.missing == rows) {
    c.kind = ColumnKind::constant;
    c.reason = "every cell missing";
    return c;
  }
  if (raw.non_numbers == 0 && !categorical) return infer_numeric(std::move(c), raw, rows);
  return infer_categorical(std::move(c), raw, rows, many);
}

// Each raw text's input slot in a categorical or binary column (-1: a value the recipe does not know).
std::vector<int> slots_of(const TableColumn& c, const RawColumn& raw) {
  std::unordered_map<std::string_view, int> slot;
  for (std::size_t i = 0; i < c.categories.size(); ++i) slot.emplace(c.categories[i], static_cast<int>(i));
  std::vector<int> out;
  out.reserve(raw.texts.size());
  for (const std::string& text : raw.texts) {
    const auto found = slot.find(text);
    out.push_back(found == slot.end() ? -1 : found->second);
  }
  return out;
}

// One kept column's place in the encoded rows and each of its raw texts' input slot.
struct ColumnEncoder {
  const TableColumn* column = nullptr;
  const RawColumn* raw = nullptr;
  std::vector<int> slots;
  int first = 0;             // its first input
  bool count_unknown = true;  // a value the recipe does not know is counted (Dataset::unknown_values)
};

// Writes one column's inputs for kept rows [begin, end) into data.features_f32 (row stride data.features).
void encode_rows(const ColumnEncoder& e, const RawTable& t, const std::vector<std::size_t>& kept, std::size_t begin,
                 std::size_t end, Dataset& data) {
  const TableColumn& c = *e.column;
  const RawColumn& raw = *e.raw;
  const auto stride = static_cast<std::size_t>(data.features);
  float* out = data.features_f32.data() + begin * stride + static_cast<std::size_t>(e.first);
  const int other = static_cast<int>(c.categories.size());
  const int missing = other + (c.other ? 1 : 0);
  for (std::size_t i = begin; i < end; ++i, out += stride) {
    const std::size_t r = kept[i];
    const std::int32_t code = raw.code_at(r);
    if (c.kind == ColumnKind::numeric) {
      if (code != kMissing && std::isnan(raw.number[r]))
        throw_bad_input(place(t, r, raw.header_column) + "expected a number in column " +
                        std::to_string(raw.header_column + 1) + " (" + c.name +
                        "), numeric in the model's training data, got '" +
                        quoted_excerpt(code >= 0 ? std::string_view(raw.texts[static_cast<std::size_t>(code)]) : "") + "'");
      out[0] = code == kMissing ? static_cast<float>(c.median) : raw.number[r];
      if (c.indicator) out[1] = code == kMissing ? 1.0F : 0.0F;
      continue;
    }
    const int slot = code >= 0 ? e.slots[static_cast<std::size_t>(code)] : -1;
    if (code != kMissing && slot < 0 && e.count_unknown) ++data.unknown_values;
    if (c.embedding > 0) {  // the code: the category's, else missing's or unknown's
      out[0] = static_cast<float>(slot >= 0 ? slot : code == kMissing && c.missing_slot ? missing : other);
      continue;
    }
    if (c.kind == ColumnKind::binary) {
      out[0] = slot < 0 ? 0.5F : static_cast<float>(slot);
      continue;
    }
    if (slot >= 0) out[slot] = 1.0F;
    else if (code == kMissing && c.missing_slot) out[missing] = 1.0F;
    else if (code != kMissing && c.other) out[other] = 1.0F;
  }
}

// Every kept column's inputs into data.features_f32 (zeroed), a block of rows at a time: the block's encoded
// rows stay in cache while each column writes its part of them, where a whole column at a time would stream
// the encoded table through memory once per column.
void encode_blocks(const std::vector<ColumnEncoder>& encoders, const RawTable& t, const std::vector<std::size_t>& kept,
                   Dataset& data) {
  constexpr std::size_t kBlock = 256;
  for (std::size_t begin = 0; begin < kept.size(); begin += kBlock) {
    const std::size_t end = std::min(kept.size(), begin + kBlock);
    for (const ColumnEncoder& e : encoders) encode_rows(e, t, kept, begin, end, data);
  }
}

// The rows after the header into `columns` (t.lines too on the first pass).
void scan_rows(std::string_view text, RawTable& t, const TableRecipe& recipe, const std::vector<RawColumn*>& columns,
               bool first) {
  CsvReader reader(text, t.source);
  CsvRecord record;
  reader.next(record);  // the header
  const std::size_t width = t.header.size();
  // The lengths of the missing-value words: most cells (numbers, words) are told apart by length alone.
  std::uint64_t lengths = 0;
  for (const std::string& word : recipe.missing_values) lengths |= word.size() < 63 ? 1ULL << word.size() : 1ULL << 63;
  auto is_missing = [&](std::string_view cell) {
    return (lengths >> std::min<std::size_t>(cell.size(), 63) & 1U) != 0 && recipe.is_missing(cell);
  };
  while (reader.next(record)) {
    if (record.fields.size() != width) {
      const std::size_t got = record.fields.size();
      throw_bad_input(t.source + ":" + std::to_string(record.line) + ":" + std::to_string(std::min(got, width) + 1) +
                      ": expected " + std::to_string(width) + " columns as in the header, got " + std::to_string(got));
    }
    if (first) t.lines.push_back(record.line);
    for (RawColumn* raw : columns) {
      const std::string_view cell = record.fields[raw->header_column];
      raw->add(cell, is_missing(cell));
    }
  }
  if (t.lines.empty())
    throw_bad_input(t.source + ":" + std::to_string(t.header_line + 1) +
                    ":1: expected rows of data after the header, got the end of the file");
}

// The raw columns of a table whose header is known: the features `plan` names (categories[i]: feature i is
// read as categories, its numbers interned as text too), its targets and the sample weight column. Its rows
// are for the caller to add.
RawTable plan_raw_table(std::vector<std::string> header, std::size_t header_line, const std::string& source,
                        const LoadOptions& options, const std::vector<std::string>& feature_names,
                        const std::function<bool(const std::string&)>& as_categories) {
  RawTable t;
  t.source = source;
  t.header_line = header_line;
  t.header = std::move(header);
  LoadOptions by_name = options;
  by_name.feature_names = feature_names;
  by_name.expected_features = feature_names.empty() ? std::nullopt : std::optional<int>(static_cast<int>(feature_names.size()));
  ColumnPlan plan = plan_columns(t.header, t.header_line, source, by_name);
  std::optional<std::size_t> weight;
  if (!options.sample_weight.empty()) {
    const auto found = std::find(t.header.begin(), t.header.end(), options.sample_weight);
    if (found == t.header.end())
      throw_bad_input(source + ": expected a column named '" + quoted_excerpt(options.sample_weight) +
                      "' (the sample weights) in the header, got '" + header_text(t.header) + "'");
    weight = static_cast<std::size_t>(found - t.header.begin());
    if (std::find(plan.targets.begin(), plan.targets.end(), *weight) != plan.targets.end())
      throw_bad_input(source + ": the sample weight column '" + quoted_excerpt(options.sample_weight) +
                      "' is the target: expected another target (--target)");
    for (std::vector<std::size_t>* columns : {&plan.features, &plan.ignored})
      columns->erase(std::remove(columns->begin(), columns->end(), *weight), columns->end());
  }
  if (plan.features.empty())
    throw_bad_input(source + ":" + (t.header_line > 0 ? std::to_string(t.header_line) + ":" : "") +
                    " expected at least one feature column besides the target, got header '" + header_text(t.header) + "'");
  t.ignored = plan.ignored;
  auto column = [](std::size_t c) {
    RawColumn raw;
    raw.header_column = c;
    return raw;
  };
  for (const std::size_t c : plan.features) t.features.push_back(column(c));
  if (!options.target_optional)
    for (const std::size_t c : plan.targets) t.targets.push_back(column(c));
  if (weight) t.weight.push_back(column(*weight));
  // A model's recipe reads any number of distinct values (each is looked up); inferring one caps them.
  if (options.table != nullptr)
    for (RawColumn& raw : t.features) raw.max_distinct = std::numeric_limits<std::size_t>::max();
  for (RawColumn& raw : t.features) raw.intern_numbers = as_categories(t.header[raw.header_column]);
  for (RawColumn& raw : t.weight) raw.intern_numbers = false;
  return t;
}

// Every column of t, to read: the features, the targets, the weight.
std::vector<RawColumn*> every_column(RawTable& t) {
  std::vector<RawColumn*> all;
  for (std::vector<RawColumn>* group : {&t.features, &t.targets, &t.weight})
    for (RawColumn& raw : *group) all.push_back(&raw);
  return all;
}

// After a first reading: the feature columns that turned out to mix numbers and text, cleared to be read again
// with their numbers interned.
std::vector<RawColumn*> mixed_columns(RawTable& t) {
  std::vector<RawColumn*> mixed;
  for (RawColumn& raw : t.features) {
    if (raw.intern_numbers || raw.non_numbers == 0 || raw.numbers == 0) continue;
    raw.clear();
    raw.intern_numbers = true;
    mixed.push_back(&raw);
  }
  return mixed;
}

// Every row of the CSV into raw columns (plan_raw_table's).
RawTable read_raw_table(std::string_view text, const std::string& source, const LoadOptions& options,
                        const TableRecipe& recipe, const std::vector<std::string>& feature_names,
                        const std::function<bool(const std::string&)>& as_categories) {
  CsvReader reader(text, source);
  CsvRecord record;
  if (!reader.next(record)) throw_bad_input(source + ":1:1: expected a header row of column names, got an empty file");
  std::vector<std::string> header(record.fields.begin(), record.fields.end());
  check_header(header, record.line, source);
  RawTable t = plan_raw_table(std::move(header), record.line, source, options, feature_names, as_categories);
  const std::vector<RawColumn*> all = every_column(t);
  // Room for every row at once (lines bound rows): growing a million-row column copies it over and over.
  const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (RawColumn* raw : all) {
    raw->number.reserve(lines);
    if (raw->intern_numbers) raw->code.reserve(lines);
  }
  t.lines.reserve(lines);
  scan_rows(text, t, recipe, all, true);
  const std::vector<RawColumn*> mixed = mixed_columns(t);
  if (!mixed.empty()) scan_rows(text, t, recipe, mixed, false);
  return t;
}

// The numbers whose cells are missing by the recipe's list (missing_values=["-999"]): a number's text is a
// word of the list exactly where the number is, bit for bit, a word's value whose text is that word.
std::vector<double> missing_numbers(const TableRecipe& recipe, bool whole) {
  std::vector<double> numbers;
  for (const std::string& word : recipe.missing_values)
    if (const std::optional<double> value = parse_double(word); value && number_cell_text(*value, whole) == word)
      numbers.push_back(*value);
  return numbers;
}

// A column of numbers (TableCells::numbers) into a raw column, as the CSV of their texts is read.
void add_numbers(const TableCells& cells, const TableRecipe& recipe, RawColumn& raw) {
  const std::vector<double> missing = missing_numbers(recipe, cells.whole);
  auto listed = [&](double value) {
    return std::any_of(missing.begin(), missing.end(),
                       [&](double m) { return m == value && std::signbit(m) == std::signbit(value); });
  };
  for (const double value : cells.numbers) {
    if (std::isnan(value) || (!missing.empty() && listed(value))) raw.add({}, true);
    else raw.add_number(value, cells.whole);
  }
}

// The cells of columns given one by one (table_from_columns) into raw columns, as a CSV's are read.
void add_cells(const std::vector<TableCells>& columns, const TableRecipe& recipe, const std::vector<RawColumn*>& raws) {
  for (RawColumn* raw : raws) {
    const TableCells& cells = columns[raw->header_column];
    if (cells.text.empty()) {
      add_numbers(cells, recipe, *raw);
      continue;
    }
    for (std::size_t r = 0; r < cells.text.size(); ++r) {
      const std::string_view cell = trim(cells.text[r]);
      raw->add(cell, cells.missing[r] != 0 || recipe.is_missing(cell));
    }
  }
}

// The task of a table without one given: data/table.hpp's rule.
TaskKind infer_task(const RawTable& t) {
  if (t.targets.size() != 1) return TaskKind::regression;
  const RawColumn& target = t.targets[0];
  if (target.non_numbers > 0) return TaskKind::classification;
  std::vector<float> values = present_numbers(target);
  return all_whole(values) && distinct_count(values) <= kMaxClassValues ? TaskKind::classification
                                                                        : TaskKind::regression;
}

// The rows with every target present.
std::vector<std::size_t> rows_with_targets(const RawTable& t) {
  std::vector<std::size_t> kept;
  const std::size_t rows = t.lines.size();
  for (std::size_t r = 0; r < rows; ++r) {
    const bool present = std::all_of(t.targets.begin(), t.targets.end(), [&](const RawColumn& c) { return c.code_at(r) != kMissing; });
    if (present) kept.push_back(r);
  }
  return kept;
}

// The rows with every target present, and the labels or target numbers of those rows.
std::vector<std::size_t> read_targets(const RawTable& t, const LoadOptions& options, Dataset& data) {
  const std::vector<std::size_t> kept = rows_with_targets(t);
  const std::size_t rows = t.lines.size();
  data.rows_without_target = rows - kept.size();
  if (t.targets.empty()) return kept;
  if (kept.empty())
    throw_bad_input(t.source + ": expected rows with a target, got every target cell missing");
  if (data.task == TaskKind::regression) {
    data.target_count = static_cast<int>(t.targets.size());
    for (const RawColumn& c : t.targets) data.target_names.push_back(t.header[c.header_column]);
    for (const std::size_t r : kept)
      for (const RawColumn& c : t.targets) {
        if (std::isnan(c.number[r]))
          throw_bad_input(place(t, r, c.header_column) + "expected a number in the target column " +
                          std::to_string(c.header_column + 1) + " (" + t.header[c.header_column] + "), got '" +
                          quoted_excerpt(c.code_at(r) >= 0 ? std::string_view(c.texts[static_cast<std::size_t>(c.code_at(r))]) : "") + "'");
        data.targets.push_back(c.number[r]);
      }
    return kept;
  }
  if (t.targets.size() > 1)
    throw_bad_input(t.source + ":" + std::to_string(t.header_line) + ": expected one target column for classification, got " +
                    std::to_string(t.targets.size()));
  const RawColumn& c = t.targets[0];
  if (c.beyond > 0)
    throw_bad_input(t.source + ": expected at most " + std::to_string(kMaxDistinct) + " classes in the target column (" +
                    t.header[c.header_column] + "), got more");
  const std::optional<KnownClasses> known =
      options.known_classes.empty() ? std::nullopt : std::optional<KnownClasses>(options.known_classes);
  LabelCollector collected;
  for (const std::size_t r : kept) {
    const std::string& label = c.texts[static_cast<std::size_t>(c.code_at(r))];
    if (first_control_character(label))
      throw_bad_input(place(t, r, c.header_column) + "expected a class label without control characters, got '" +
                      quoted_excerpt(label) + "'");
    if (!known) {
      data.labels.push_back(collected.id_of(label));
      continue;
    }
    const std::optional<std::int32_t> id = known->find(label);
    if (!id)
      throw_bad_input(place(t, r, c.header_column) + "expected a class the model knows (" + known->describe() +
                      ") in column " + std::to_string(c.header_column + 1) + " (" + t.header[c.header_column] +
                      "), got '" + quoted_excerpt(label) + "'");
    data.labels.push_back(*id);
  }
  data.class_names = known ? options.known_classes : collected.finish(data.labels);
  return kept;
}

}  // namespace

namespace {

// The recipe a table is read by (a model's, or one to infer), the names of its columns to match, and which
// columns are read as categories.
struct TableStart {
  std::shared_ptr<TableRecipe> recipe = std::make_shared<TableRecipe>();
  std::vector<std::string> by_name;  // a model's kept columns, matched by name
  std::function<bool(const std::string&)> as_categories;

  explicit TableStart(const LoadOptions& options) {
    if (options.table != nullptr) *recipe = *options.table;
    else if (!options.missing_values.empty()) recipe->missing_values = options.missing_values;
    if (options.table != nullptr)
      for (const TableColumn& c : recipe->columns)
        if (c.kept()) by_name.push_back(c.name);
    as_categories = [&options, recipe = recipe](const std::string& name) {
      if (options.table == nullptr)
        return std::find(options.categorical.begin(), options.categorical.end(), name) != options.categorical.end();
      for (const TableColumn& c : recipe->columns)
        if (c.name == name) return c.kind != ColumnKind::numeric;
      return true;
    };
  }
};

// The kept rows' sample weights (LoadOptions::sample_weight): each a number >= 0.
void read_weights(const RawTable& t, const std::vector<std::size_t>& kept, Dataset& data) {
  if (t.weight.empty()) return;
  const RawColumn& c = t.weight.front();
  data.weights.reserve(kept.size());
  for (const std::size_t r : kept) {
    const float w = c.number[r];
    const std::int32_t code = c.code_at(r);
    if (code == kMissing || !(w >= 0))
      throw_bad_input(place(t, r, c.header_column) + "expected a sample weight (a number >= 0) in column " +
                      std::to_string(c.header_column + 1) + " (" + t.header[c.header_column] + "), got '" +
                      (code >= 0 ? quoted_excerpt(c.texts[static_cast<std::size_t>(code)])
                                 : code == kMissing ? std::string() : format_float(w)) + "'");
    data.weights.push_back(w);
  }
}

// The Dataset of a table read into raw columns: the recipe inferred (unless a model's), the rows encoded.
Dataset encode_table(const RawTable& t, std::shared_ptr<TableRecipe> recipe, const LoadOptions& options) {
  Dataset data;
  data.source = t.source;
  data.task = options.infer_task ? infer_task(t) : options.task;
  const std::vector<std::size_t> kept = read_targets(t, options, data);
  read_weights(t, kept, data);
  if (options.table == nullptr) {
    for (const RawColumn& raw : t.features) {
      const std::string& name = t.header[raw.header_column];
      const bool forced = std::find(options.categorical.begin(), options.categorical.end(), name) != options.categorical.end();
      recipe->columns.push_back(infer_column(name, raw, t.lines.size(), forced, options.many_categories));
    }
    if (recipe->width() == 0)
      throw_bad_input(t.source + ":" + (t.header_line > 0 ? std::to_string(t.header_line) + ":" : "") +
                      " expected a column that carries information, got only constant and identifier columns\n" +
                      describe_table(*recipe));
  }
  for (const std::size_t c : t.ignored) data.ignored_columns.push_back(t.header[c]);
  data.features = recipe->width();
  data.feature_names = recipe->input_names();
  data.rows = kept.size();
  data.features_f32.assign(data.rows * static_cast<std::size_t>(data.features), 0.0F);
  std::vector<ColumnEncoder> encoders;
  int first = 0;
  std::size_t raw_index = 0;
  for (const TableColumn& c : recipe->columns) {
    if (!c.kept()) {
      if (options.table == nullptr) ++raw_index;
      continue;
    }
    const RawColumn& raw = t.features[raw_index++];
    // In a pooled column an unseen value cannot be told from a pooled rare one: neither is counted. An
    // embedding's rare values, read as unknown in training, are counted where the recipe is a model's.
    const bool count_unknown = c.embedding > 0 ? options.table != nullptr : !c.other;
    encoders.push_back(
        {&c, &raw, c.kind == ColumnKind::numeric ? std::vector<int>{} : slots_of(c, raw), first, count_unknown});
    first += c.width();
  }
  encode_blocks(encoders, t, kept, data);
  data.table = std::move(recipe);
  return data;
}

}  // namespace

Dataset parse_table(std::string_view text, const std::string& source, const LoadOptions& options) {
  TableStart start(options);
  auto t = std::make_shared<const RawTable>(
      read_raw_table(text, source, options, *start.recipe, start.by_name, start.as_categories));
  Dataset data = encode_table(*t, std::move(start.recipe), options);
  if (options.keep_rows && options.table == nullptr)
    data.table_rows = std::make_shared<const TableRows>(t, options, rows_with_targets(*t), data);
  return data;
}

}  // namespace data

Dataset table_from_columns(const std::vector<TableCells>& columns, const std::string& source, const LoadOptions& options) {
  std::vector<std::string> header;
  for (const TableCells& c : columns) {
    if (c.size() != columns.front().size() || (!c.text.empty() && c.missing.size() != c.text.size()))
      throw_bad_input(source + ": expected columns of one length, got " + std::to_string(columns.front().size()) +
                      " cells in column '" + quoted_excerpt(columns.front().name) + "' and " +
                      std::to_string(c.size()) + " in '" + quoted_excerpt(c.name) + "'");
    header.push_back(c.name);
  }
  if (columns.empty() || columns.front().size() == 0)
    throw_bad_input(source + ": expected at least one row and one column, got none");
  data::TableStart start(options);
  data::RawTable t = data::plan_raw_table(std::move(header), 0, source, options, start.by_name, start.as_categories);
  t.lines.resize(columns.front().size());
  for (data::RawColumn* raw : data::every_column(t)) raw->number.reserve(t.lines.size());
  std::iota(t.lines.begin(), t.lines.end(), std::size_t{0});
  data::add_cells(columns, *start.recipe, data::every_column(t));
  const std::vector<data::RawColumn*> mixed = data::mixed_columns(t);
  if (!mixed.empty()) data::add_cells(columns, *start.recipe, mixed);
  return data::encode_table(t, std::move(start.recipe), options);
}

TableRows::TableRows(std::shared_ptr<const data::RawTable> raw, LoadOptions options, std::vector<std::size_t> kept,
                     const Dataset& data)
    : raw_(std::move(raw)), options_(std::move(options)), kept_(std::move(kept)) {
  options_.table = nullptr;
  options_.infer_table = true;
  options_.infer_task = false;
  options_.task = data.task;
  options_.known_classes = data.class_names;
  options_.keep_rows = false;
  for (const data::RawColumn& column : raw_->features)
    if (column.non_numbers > 0) options_.categorical.push_back(raw_->header[column.header_column]);
}

Dataset TableRows::infer(const std::vector<std::size_t>& rows) const {
  std::vector<std::size_t> raw_rows;
  raw_rows.reserve(rows.size());
  for (const std::size_t r : rows) raw_rows.push_back(kept_.at(r));
  data::TableStart start(options_);
  return data::encode_table(raw_->rows_of(raw_rows), std::move(start.recipe), options_);
}

Dataset TableRows::encode(const std::vector<std::size_t>& rows, const std::shared_ptr<const TableRecipe>& recipe) const {
  if (recipe->columns.size() != raw_->features.size())
    throw_runtime_error("TableRows::encode: expected a recipe of the table's " +
                        std::to_string(raw_->features.size()) + " columns, got " + std::to_string(recipe->columns.size()));
  std::vector<std::size_t> raw_rows, kept_columns;
  raw_rows.reserve(rows.size());
  for (const std::size_t r : rows) raw_rows.push_back(kept_.at(r));
  for (std::size_t c = 0; c < recipe->columns.size(); ++c)
    if (recipe->columns[c].kept()) kept_columns.push_back(c);
  LoadOptions options = options_;
  options.table = recipe.get();
  options.infer_table = false;
  return data::encode_table(raw_->rows_of(raw_rows, kept_columns), std::make_shared<TableRecipe>(*recipe), options);
}

}  // namespace backprop
