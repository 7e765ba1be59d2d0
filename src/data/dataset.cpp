// Dataset: reading rows for a batch, the loader dispatch by file name, labels files, the validation split.
#include "backprop/data/dataset.hpp"

#include "backprop/kernels/kernels.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <numeric>
#include <type_traits>

#include "base/clones.hpp"
#include "kernels/math.hpp"
#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/base/random.hpp"
#include "backprop/data/folds.hpp"
#include "loaders.hpp"

namespace backprop {

namespace data {

std::string hex_byte(std::uint8_t value) {
  static constexpr char digits[] = "0123456789ABCDEF";
  return std::string("0x") + digits[value >> 4] + digits[value & 15];
}

}  // namespace data

namespace {

// Integer class names ("0", "7") when every known class is one, so that integer labels are matched by
// value; otherwise integer labels are indices into the known classes.
std::optional<std::map<long long, std::int32_t>> integer_class_names(const std::vector<std::string>& names) {
  std::map<long long, std::int32_t> by_value;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::optional<double> value = parse_double(names[i]);
    if (!value || *value != std::floor(*value) || std::fabs(*value) > 1e15) return std::nullopt;
    by_value.emplace(static_cast<long long>(*value), static_cast<std::int32_t>(i));
  }
  return by_value;
}

void attach_labels(Dataset& data, const data::LabelColumn& column, const std::string& source,
                   const LoadOptions& options) {
  auto record_at = [&](std::size_t i) {
    return source + ": record " + std::to_string(i / static_cast<std::size_t>(column.per_row)) + " (byte offset " +
           std::to_string(column.data_offset + i * column.value_size) + "): ";
  };
  if (column.rows != data.rows)
    throw_bad_input(source + ": header (byte offset " + std::to_string(column.count_offset) + "): expected " +
                    std::to_string(data.rows) + " labels, one per row of " + data.source + ", got " +
                    std::to_string(column.rows));
  if (options.task == TaskKind::regression) {
    data.target_count = column.per_row;
    data.targets.resize(column.values.size());
    for (std::size_t i = 0; i < column.values.size(); ++i) {
      if (std::fabs(column.values[i]) > std::numeric_limits<float>::max())
        throw_bad_input(record_at(i) + "expected a target within float range, got " +
                        format_double(column.values[i]));
      data.targets[i] = static_cast<float>(column.values[i]);
    }
    data.target_names.clear();
    for (int t = 0; t < column.per_row; ++t) data.target_names.push_back(std::to_string(t));
    return;
  }

  if (column.per_row != 1)
    throw_bad_input(source + ": header (byte offset " + std::to_string(column.count_offset) +
                    "): expected one class label per row for classification, got " + std::to_string(column.per_row));
  constexpr double most_classes = 1 << 20;
  const std::vector<std::string>& known = options.known_classes;
  const auto known_by_value = known.empty() ? std::nullopt : integer_class_names(known);
  data.labels.resize(column.rows);
  double largest = 0;
  for (std::size_t i = 0; i < column.rows; ++i) {
    const double value = column.values[i];
    if (value != std::floor(value) || value < 0)
      throw_bad_input(record_at(i) + "expected a class label, an integer >= 0, got " + format_double(value));
    if (known_by_value) {
      // Class names are integers within 1e15 (integer_class_names): a larger label is no class, and casting
      // it to long long would be undefined (tests/fuzz/crashers/npy/label-beyond-long-long-known-classes.npy).
      const auto found = value > 1e15 ? known_by_value->end() : known_by_value->find(static_cast<long long>(value));
      if (found == known_by_value->end())
        throw_bad_input(record_at(i) + "expected a class the model knows (" + std::to_string(known.size()) +
                        " classes, " + known.front() + " to " + known.back() + "), got " + format_double(value));
      data.labels[i] = found->second;
    } else if (!known.empty()) {
      if (value >= static_cast<double>(known.size()))
        throw_bad_input(record_at(i) + "expected a class index below " + std::to_string(known.size()) +
                        " (the model's classes), got " + format_double(value));
      data.labels[i] = static_cast<std::int32_t>(value);
    } else {
      if (value >= most_classes)
        throw_bad_input(record_at(i) + "expected a class index below " + format_double(most_classes) + ", got " +
                        format_double(value));
      data.labels[i] = static_cast<std::int32_t>(value);
    }
    largest = std::max(largest, value);
  }
  if (!known.empty()) {
    data.class_names = known;
  } else {
    data.class_names.clear();
    for (int k = 0; k <= static_cast<int>(largest); ++k) data.class_names.push_back(std::to_string(k));
  }
}

}  // namespace

Dataset load_dataset(const std::filesystem::path& data_path, const std::optional<std::filesystem::path>& labels_path,
                     const LoadOptions& options) {
  if (data_path == "-") {
    if (labels_path) throw_bad_input("<stdin>: expected no labels file with CSV data on standard input, got " +
                                     labels_path->string());
    return data::parse_csv(data::read_standard_input(), "<stdin>", options);
  }
  const auto read = [](const std::filesystem::path& path) { return data::read_file_bytes(path); };
  return data::dataset_from_bytes(read(data_path), data_path, labels_path, read, options);
}

namespace data {

Dataset dataset_from_bytes(std::vector<std::uint8_t> bytes, const std::filesystem::path& data_path,
                           const std::optional<std::filesystem::path>& labels_path,
                           const std::function<std::vector<std::uint8_t>(const std::filesystem::path&)>& read_labels,
                           const LoadOptions& options) {
  const std::string source = data_path.string();
  const data::FileFormat format = data::format_of(data_path, bytes);
  if (format == data::FileFormat::csv) {
    if (labels_path)
      throw_bad_input(source + ": expected no labels file with CSV data (the target is a column of the CSV), got " +
                      labels_path->string());
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return data::parse_csv(text, source, options);
  }

  Dataset data;
  data.source = source;
  data.task = options.task;
  if (bytes.empty()) throw_bad_input(source + ": byte offset 0: expected an IDX or NPY header, got an empty file");
  // A target column names a CSV column: with IDX or NPY data it would do nothing, so it is refused.
  if (options.target.find_first_not_of(" \t,") != std::string::npos)
    throw_bad_input(source + ": expected no target column with " +
                    std::string(format == data::FileFormat::idx ? "IDX" : "NPY") +
                    " data (the targets are the labels file), got '" + options.target + "'");
  if (format == data::FileFormat::idx)
    data::read_idx_features(data, std::move(bytes), source);
  else
    data::read_npy_features(data, bytes, source);
  if (options.expected_features && *options.expected_features != data.features)
    throw_bad_input(source + ": expected " + std::to_string(*options.expected_features) +
                    " features per row (the network's inputs), got " + std::to_string(data.features));

  if (!labels_path) {
    if (!options.target_optional)
      throw_bad_input(source + ": expected a labels file (IDX1 or .npy) beside the " +
                      std::string(format == data::FileFormat::idx ? "IDX" : "NPY") + " features, got none");
    if (options.task == TaskKind::classification) data.class_names = options.known_classes;
    return data;
  }
  const std::string labels_source = labels_path->string();
  const std::vector<std::uint8_t> label_bytes = read_labels(*labels_path);
  if (label_bytes.empty())
    throw_bad_input(labels_source + ": byte offset 0: expected an IDX1 or NPY header, got an empty file");
  const data::FileFormat labels_format = data::format_of(*labels_path, label_bytes);
  if (labels_format == data::FileFormat::csv)
    throw_bad_input(labels_source + ": expected labels in IDX1 (-idx1-ubyte) or NPY (.npy), got another format");
  const data::LabelColumn column = labels_format == data::FileFormat::idx ? data::read_idx_labels(label_bytes, labels_source)
                                                                    : data::read_npy_labels(label_bytes, labels_source);
  attach_labels(data, column, labels_source, options);
  return data;
}

}  // namespace data

float Dataset::feature(std::size_t r, int f) const {
  const std::size_t at = r * static_cast<std::size_t>(features) + static_cast<std::size_t>(f);
  return features_u8.empty() ? features_f32[at] : math::byte_feature(features_u8[at]);
}

namespace {

// One row of features as floats, scaled when offset is not null: the loop of gather_rows, once for each CPU
// level (base/clones.hpp).
template <typename Feature>
void convert_row_loop(float* __restrict out, const Feature* __restrict row, std::size_t width, const double* offset,
                      const double* scale) {
  const auto value = [](Feature x) {
    if constexpr (std::is_same_v<Feature, std::uint8_t>)
      return math::byte_feature(x);
    else
      return x;
  };
  if (offset == nullptr) {
    for (std::size_t f = 0; f < width; ++f) out[f] = value(row[f]);
  } else {
    for (std::size_t f = 0; f < width; ++f) out[f] = math::scaled_feature(value(row[f]), offset[f], scale[f]);
  }
}

template <typename Feature>
void convert_row(float* out, const Feature* row, std::size_t width, const double* offset, const double* scale) {
  clones::run<&convert_row_loop<Feature>>(out, row, width, offset, scale);
}

// Wide rows go to the thread pool 32 rows a piece (each row is converted the same way on any thread). Narrow
// rows or few of them: one direct call, which the compiler inlines (the pool's indirect call costs a per-sample
// step more than its conversion).
constexpr std::size_t kRowsPerPiece = 32;

bool rows_on_the_pool(int features, std::size_t count) { return features >= 256 && count > kRowsPerPiece; }

}  // namespace

void Dataset::prefetch_row(std::size_t r) const {
  const auto width = static_cast<std::size_t>(features);
  const char* row = features_u8.empty() ? reinterpret_cast<const char*>(features_f32.data() + r * width)
                                        : reinterpret_cast<const char*>(features_u8.data() + r * width);
  const std::size_t bytes = width * (features_u8.empty() ? sizeof(float) : sizeof(std::uint8_t));
  for (std::size_t byte = 0; byte < bytes; byte += 64) __builtin_prefetch(row + byte);
  if (bytes > 0) __builtin_prefetch(row + bytes - 1);  // the last line, where the row does not start on one
  if (!labels.empty()) __builtin_prefetch(labels.data() + r);
  if (!targets.empty()) __builtin_prefetch(targets.data() + r * static_cast<std::size_t>(target_count));
}

void Dataset::gather_rows(float* out, const std::size_t* indices, std::size_t count, const Scaling& scaling) const {
  const auto width = static_cast<std::size_t>(features);
  if (!scaling.empty() && (scaling.offset.size() != width || scaling.scale.size() != width))
    throw_bad_input(source + ": expected a scaling of " + std::to_string(width) + " features, got one of " +
                    std::to_string(scaling.offset.size()));
  // The rows are scattered over the data set (a shuffled batch), so each one is a run of cache misses:
  // asking for the row two ahead while converting this one halved the time of a batch (docs/performance.md,
  // "Measurements behind the code"). Wide rows are converted on the thread pool (rows_on_the_pool).
  constexpr std::size_t kPrefetchAhead = 2;
  const double* offset = scaling.empty() ? nullptr : scaling.offset.data();
  const double* scale = scaling.empty() ? nullptr : scaling.scale.data();
  const auto convert = [&](std::size_t first, std::size_t rows) {
    for (std::size_t i = first; i < first + rows; ++i) {
      const std::size_t r = indices[i];
      if (i + kPrefetchAhead < first + rows) prefetch_row(indices[i + kPrefetchAhead]);
      if (!features_u8.empty())
        convert_row(out + i * width, features_u8.data() + r * width, width, offset, scale);
      else
        convert_row(out + i * width, features_f32.data() + r * width, width, offset, scale);
    }
  };
  if (!rows_on_the_pool(features, count)) return convert(0, count);
  kernels::parallel_ranges(count, kRowsPerPiece, convert);
}

void Dataset::prefetch_rows(const std::size_t* indices, std::size_t count) const {
  const auto ask = [&](std::size_t first, std::size_t rows) {
    for (std::size_t i = first; i < first + rows; ++i) prefetch_row(indices[i]);
  };
  if (!rows_on_the_pool(features, count)) return ask(0, count);
  kernels::parallel_ranges(count, kRowsPerPiece, ask);
}

void Dataset::gather_targets(float* out, const std::size_t* indices, std::size_t count, int outputs) const {
  const auto width = static_cast<std::size_t>(outputs);
  if (task == TaskKind::regression) {
    if (targets.empty()) throw_bad_input(source + ": expected target values, got none (no target column or labels)");
    if (outputs != target_count)
      throw_bad_input(source + ": expected " + std::to_string(outputs) + " targets per row (the network's outputs), got " +
                      std::to_string(target_count));
    for (std::size_t i = 0; i < count; ++i)
      std::copy_n(targets.data() + indices[i] * width, width, out + i * width);
    return;
  }
  if (labels.empty()) throw_bad_input(source + ": expected class labels, got none (no target column or labels)");
  const std::size_t classes = class_names.size();
  if (outputs == 1) {
    if (classes > 2)
      throw_bad_input(source + ": expected at most 2 classes for a network with one output, got " +
                      std::to_string(classes));
    for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<float>(labels[indices[i]]);
    return;
  }
  if (width != classes)
    throw_bad_input(source + ": expected " + std::to_string(outputs) + " classes (the network's outputs), got " +
                    std::to_string(classes));
  std::fill(out, out + count * width, 0.0f);
  for (std::size_t i = 0; i < count; ++i) out[i * width + static_cast<std::size_t>(labels[indices[i]])] = 1.0f;
}

std::string ignored_columns_note(const Dataset& data) {
  if (data.ignored_columns.empty()) return "";
  std::string names;
  for (std::size_t i = 0; i < data.ignored_columns.size(); ++i)
    names += (i > 0 ? ", '" : "'") + quoted_excerpt(data.ignored_columns[i]) + "'";
  const std::size_t count = data.ignored_columns.size();
  return data.source + ": ignored " + std::to_string(count) + (count == 1 ? " column" : " columns") +
         " that the model does not take: " + names;
}

void split_validation(Dataset& train, Dataset& validation, double fraction, std::uint64_t seed) {
  if (&train == &validation) throw_bad_input("split_validation: expected two different data sets, got one");
  if (!(fraction > 0.0 && fraction < 1.0))
    throw_bad_input(train.source + ": expected a validation fraction between 0 and 1 (exclusive), got " +
                    format_double(fraction));
  const std::size_t rows = train.rows;
  const auto held_out = static_cast<std::size_t>(std::llround(static_cast<double>(rows) * fraction));
  if (held_out == 0 || held_out >= rows)
    throw_bad_input(train.source + ": a validation fraction of " + format_double(fraction) + " of " +
                    std::to_string(rows) + " rows leaves " + std::to_string(rows - std::min(held_out, rows)) +
                    " for training and " + std::to_string(held_out) +
                    " for validation; expected at least one row on each side");

  // Fisher-Yates from the seed, then each side in the file's order; classification stratified (folds.hpp).
  std::vector<std::size_t> order(rows);
  std::iota(order.begin(), order.end(), std::size_t{0});
  Random random(seed);
  for (std::size_t i = rows - 1; i > 0; --i) std::swap(order[i], order[random.below(i + 1)]);
  const std::vector<std::uint8_t> held = held_out_rows(train, order, held_out);
  std::vector<std::size_t> kept, moved;
  for (std::size_t r = 0; r < rows; ++r) (held[r] ? moved : kept).push_back(r);
  validation = take_rows(train, moved);
  validation.source = train.source + " (validation split)";
  train = take_rows(train, kept);
}

void check_finite(std::span<const float> values, std::size_t width, const char* array) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      throw_bad_input(std::string(array) + ": row " + std::to_string(i / width) + ", column " +
                      std::to_string(i % width) + ": expected a finite number, got " + format_float(values[i]));
}

void check_byte_inputs(std::span<const float> values, std::size_t width, const std::string& source) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!(values[i] >= 0.0f && values[i] <= 1.0f))
      throw_bad_input(source + ": row " + std::to_string(i / width) + ", column " + std::to_string(i % width) +
                      ": expected a number in [0, 1] (the model was trained on uint8 data, read as value / 255), "
                      "got " + format_float(values[i]) +
                      ": give the data as uint8 (IDX, uint8 NPY, a uint8 array) or divided by 255");
}

void check_byte_inputs(const Dataset& data) {
  if (!data.features_u8.empty()) return;
  check_byte_inputs(data.features_f32, static_cast<std::size_t>(data.features), data.source);
}

}  // namespace backprop
