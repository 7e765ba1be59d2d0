// Private declarations shared by the data loaders (csv.cpp, idx.cpp, npy.cpp) and their dispatch
// (dataset.cpp). Not installed; the public contract is include/backprop/data/dataset.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backprop/data/dataset.hpp"

namespace backprop::data {

// The bytes of a file; a name ending in ".gz" is decompressed (zlib), and a truncated or corrupt gzip
// stream is an error naming the file. Throws Error(bad_input) "FILE: cannot open: REASON".
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path);

// What load_dataset does once the data file is read, in memory (the fuzzers, tests/fuzz/, feed it): the
// format comes from `data_path`'s name, then from the bytes; `read_labels` is called for the labels file
// (after the features are read, so the errors come in the same order as from files).
Dataset dataset_from_bytes(std::vector<std::uint8_t> bytes, const std::filesystem::path& data_path,
                           const std::optional<std::filesystem::path>& labels_path,
                           const std::function<std::vector<std::uint8_t>(const std::filesystem::path&)>& read_labels,
                           const LoadOptions& options);

// Every loader fills features (and rows), and the targets when there are any.

// CSV text with a header row; `source` names it in messages (the file, or "<stdin>").
Dataset parse_csv(std::string_view text, const std::string& source, const LoadOptions& options);

// The features of an IDX file (type 0x08: 3 dims (N, rows, cols) or 2 dims (N, features)).
void read_idx_features(Dataset& data, std::vector<std::uint8_t> bytes, const std::string& source);
// The features of a .npy array ('<f4', '<f8', '|u1'; C order; (N), (N, F) or (N, d1, d2, ...) flattened).
void read_npy_features(Dataset& data, const std::vector<std::uint8_t>& bytes, const std::string& source);

// Labels or targets read from a file beside the features (IDX1 or .npy): `values` holds `rows` rows of
// `per_row` numbers; `integral` says whether they came as integers (always for IDX1).
struct LabelColumn {
  std::size_t rows = 0;
  int per_row = 1;
  std::vector<double> values;  // (rows, per_row)
  bool integral = true;
  std::size_t count_offset = 0;  // byte offset of the declared count, for messages
  std::size_t data_offset = 0;   // byte offset of the first value
  std::size_t value_size = 1;    // bytes per value in the file
};
// IDX1 (type 0x08, 1 dim): integers, one per row.
LabelColumn read_idx_labels(const std::vector<std::uint8_t>& bytes, const std::string& source);
// .npy: integers ('|u1', '|i1', '<i2', '<u2', '<i4', '<u4', '<i8', '<u8') or floats ('<f4', '<f8'); (N) or (N, T).
LabelColumn read_npy_labels(const std::vector<std::uint8_t>& bytes, const std::string& source);

// Little helpers for messages.
std::string quoted_excerpt(std::string_view text);  // the text, shortened to 60 characters if longer
std::string hex_byte(std::uint8_t value);           // "0x08"

}  // namespace backprop::data
