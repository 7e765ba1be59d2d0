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

#include "backprop/base/text.hpp"
#include "backprop/data/dataset.hpp"

namespace backprop::data {

// The most bytes of CSV text read into memory (after decompression): 1 GiB. CSV declares no size, so this
// bounds what a file (or a small .csv.gz) can make the reader take; the parsed values take up to twice as
// much again. Larger data goes in NPY or IDX files, whose headers declare their size.
inline constexpr std::size_t kMaxCsvBytes = std::size_t{1} << 30;

// The bytes of a file, read in chunks; a name ending in ".gz" is decompressed as it is read (zlib), and a
// truncated or corrupt gzip stream is an error naming the file. The reading stops with Error(bad_input) as
// soon as the data passes what an IDX or NPY header declares, or csv_limit bytes of CSV: a small .gz that
// unpacks to gigabytes is refused without being unpacked. A plain file is opened and read by base/read_file.hpp's
// FileReader (its errors: "FILE: cannot open: REASON", "FILE: is a directory: expected a file").
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path, std::size_t csv_limit = kMaxCsvBytes);

// Standard input as CSV text ("--data -"), read the same way (at most csv_limit bytes).
std::string read_standard_input(std::size_t csv_limit = kMaxCsvBytes);

enum class FileFormat { csv, idx, npy };
// By the name (.csv, .npy, *-idx3-ubyte, *.idx3-ubyte, *.idx, each optionally .gz), or nothing.
std::optional<FileFormat> format_by_name(const std::filesystem::path& path);
// By the name; otherwise by the first bytes (6 are enough): the NPY magic, the IDX magic's two zero bytes,
// else text taken as CSV.
FileFormat format_of(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes);

// Where a file must end, as its header declares: `bytes` from its start; `what` says so for messages ("2
// records as the header declares"); empty for the CSV cap.
struct DeclaredEnd {
  std::uint64_t bytes = 0;
  std::string what;
};
// The end an IDX or NPY header declares (saturating at 2^64 - 1), from the file's first bytes; nothing
// while they do not hold the whole header yet. A header the readers below refuse throws their message.
std::optional<DeclaredEnd> idx_declared_end(const std::vector<std::uint8_t>& prefix, const std::string& source);
std::optional<DeclaredEnd> npy_declared_end(const std::vector<std::uint8_t>& prefix, const std::string& source);

// What load_dataset does once the data file is read, in memory (the fuzzers, tests/fuzz/, feed it): the
// format comes from `data_path`'s name, then from the bytes; `read_labels` is called for the labels file
// (after the features are read, so the errors come in the same order as from files).
Dataset dataset_from_bytes(std::vector<std::uint8_t> bytes, const std::filesystem::path& data_path,
                           const std::optional<std::filesystem::path>& labels_path,
                           const std::function<std::vector<std::uint8_t>(const std::filesystem::path&)>& read_labels,
                           const LoadOptions& options);

// Every loader fills features (and rows), and the targets when there are any.

// Refuses bytes that cannot be CSV text, from the start of the data on (the reader calls it on the first
// chunk, so that a binary file is refused before 1 GiB of it is read; parse_csv on the whole text):
// gzip-compressed bytes, bytes that are not UTF-8, a NUL byte. complete: text is the whole data (else a
// UTF-8 sequence cut at its end is no error).
void check_csv_text(std::string_view text, const std::string& source, bool complete);

// What a CSV header row must be beyond its shape: comma-separated (a file of one column whose name holds ';'
// or a tab is another separator's), and names free of control characters (they go into the model, messages
// and predict's CSV).
void check_header(const std::vector<std::string>& header, std::size_t line, const std::string& source);

// CSV text with a header row; `source` names it in messages (the file, or "<stdin>").
Dataset parse_csv(std::string_view text, const std::string& source, const LoadOptions& options);
// The same for a table as it comes (options.table or options.infer_table: data/table.hpp), called by parse_csv.
Dataset parse_table(std::string_view text, const std::string& source, const LoadOptions& options);

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

// For messages (quoted_excerpt: base/text.hpp).
std::string hex_byte(std::uint8_t value);           // "0x08"

}  // namespace backprop::data
