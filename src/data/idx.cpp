// IDX files of the MNIST family: a big-endian header (0x00 0x00 TYPE DIMS, then DIMS sizes of 4 bytes)
// followed by the values. Only TYPE 0x08 (unsigned byte) is read: images (N, rows, cols) or (N, features)
// and labels (N). Sizes are checked against the file before anything is allocated; records and byte
// offsets in messages are 0-based.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "backprop/base/error.hpp"
#include "loaders.hpp"

namespace backprop::data {

namespace {

const char* idx_type_name(std::uint8_t type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return "not an IDX type";
  }
}

struct IdxHeader {
  std::vector<std::uint64_t> dimensions;
  std::size_t data_offset = 0;
};

IdxHeader read_idx_header(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  if (bytes.size() < 4)
    throw_bad_input(source + ": header (byte offset 0): expected an IDX header (0x00 0x00 0x08 DIMS), got a file of " +
                    std::to_string(bytes.size()) + " bytes");
  if (bytes[0] != 0 || bytes[1] != 0)
    throw_bad_input(source + ": header (byte offset 0): expected the IDX magic 0x00 0x00, got " + hex_byte(bytes[0]) +
                    " " + hex_byte(bytes[1]));
  if (bytes[2] != 0x08)
    throw_bad_input(source + ": header (byte offset 2): expected the IDX type byte 0x08 (unsigned byte), got " +
                    hex_byte(bytes[2]) + " (" + idx_type_name(bytes[2]) + ")");
  const std::size_t dimension_count = bytes[3];
  if (dimension_count == 0)
    throw_bad_input(source + ": header (byte offset 3): expected at least one dimension, got 0");
  IdxHeader header;
  header.data_offset = 4 + 4 * dimension_count;
  if (bytes.size() < header.data_offset)
    throw_bad_input(source + ": header (byte offset 4): expected " + std::to_string(dimension_count) +
                    " dimension sizes of 4 bytes, got a file of " + std::to_string(bytes.size()) + " bytes");
  for (std::size_t d = 0; d < dimension_count; ++d) {
    const std::uint8_t* p = bytes.data() + 4 + 4 * d;
    header.dimensions.push_back((std::uint64_t{p[0]} << 24) | (std::uint64_t{p[1]} << 16) |
                                (std::uint64_t{p[2]} << 8) | std::uint64_t{p[3]});
  }
  return header;
}

// Checks that the file holds exactly `records` records of `record_size` bytes after the header.
void check_idx_length(const std::vector<std::uint8_t>& bytes, const std::string& source, const IdxHeader& header,
                      std::uint64_t records, std::uint64_t record_size) {
  const std::uint64_t available = bytes.size() - header.data_offset;
  if (records > available / record_size) {
    const std::uint64_t first_incomplete = available / record_size;
    throw_bad_input(source + ": record " + std::to_string(first_incomplete) + " (byte offset " +
                    std::to_string(header.data_offset + first_incomplete * record_size) + "): expected " +
                    std::to_string(records) + " records of " + std::to_string(record_size) +
                    " bytes as the header declares, got a file that ends at byte offset " +
                    std::to_string(bytes.size()));
  }
  const std::uint64_t expected_end = header.data_offset + records * record_size;
  if (bytes.size() > expected_end)
    throw_bad_input(source + ": byte offset " + std::to_string(expected_end) + ": expected the end of the file after " +
                    std::to_string(records) + " records as the header declares, got " +
                    std::to_string(bytes.size() - expected_end) + " more bytes");
}

}  // namespace

std::optional<DeclaredEnd> idx_declared_end(const std::vector<std::uint8_t>& prefix, const std::string& source) {
  if (prefix.size() < 4 || prefix.size() < 4 + 4 * std::size_t{prefix[3]}) return std::nullopt;
  const IdxHeader header = read_idx_header(prefix, source);
  constexpr std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t end = header.dimensions[0];  // records, then records times each other dimension: the values
  for (std::size_t d = 1; d < header.dimensions.size(); ++d)
    end = header.dimensions[d] != 0 && end > most / header.dimensions[d] ? most : end * header.dimensions[d];
  end = end > most - header.data_offset ? most : end + header.data_offset;
  return DeclaredEnd{end, std::to_string(header.dimensions[0]) + " records as the header declares"};
}

void read_idx_features(Dataset& data, std::vector<std::uint8_t> bytes, const std::string& source) {
  const IdxHeader header = read_idx_header(bytes, source);
  if (header.dimensions.size() < 2)
    throw_bad_input(source + ": header (byte offset 3): expected 2 or 3 dimensions (N, features) or (N, rows, cols), got " +
                    std::to_string(header.dimensions.size()) + " (a labels file?)");
  const std::uint64_t records = header.dimensions[0];
  if (records == 0) throw_bad_input(source + ": header (byte offset 4): expected at least one record, got 0");
  std::uint64_t record_size = 1;
  for (std::size_t d = 1; d < header.dimensions.size(); ++d) {
    record_size *= header.dimensions[d];  // each factor < 2^32 and the product is checked below every step
    if (record_size == 0 || record_size > static_cast<std::uint64_t>(std::numeric_limits<int>::max()))
      throw_bad_input(source + ": header (byte offset " + std::to_string(4 + 4 * d) +
                      "): expected a record size between 1 and " + std::to_string(std::numeric_limits<int>::max()) +
                      " values, got " + std::to_string(record_size));
  }
  check_idx_length(bytes, source, header, records, record_size);

  data.rows = static_cast<std::size_t>(records);
  data.features = static_cast<int>(record_size);
  // The values follow the header: keep the buffer and drop the header rather than copy 47 MB.
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header.data_offset));
  data.features_u8 = std::move(bytes);
  data.features_f32.clear();
}

LabelColumn read_idx_labels(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  const IdxHeader header = read_idx_header(bytes, source);
  if (header.dimensions.size() != 1)
    throw_bad_input(source + ": header (byte offset 3): expected 1 dimension (N labels), got " +
                    std::to_string(header.dimensions.size()) + " (an images file?)");
  const std::uint64_t records = header.dimensions[0];
  check_idx_length(bytes, source, header, records, 1);
  LabelColumn column;
  column.rows = static_cast<std::size_t>(records);
  column.per_row = 1;
  column.integral = true;
  column.count_offset = 4;
  column.data_offset = header.data_offset;
  column.value_size = 1;
  column.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header.data_offset), bytes.end());
  return column;
}

}  // namespace backprop::data
