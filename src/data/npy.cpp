// NPY files (numpy.save), format versions 1.0, 2.0 and 3.0: the magic "\x93NUMPY", two version bytes, the
// header length (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), then a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }, padded with spaces, then the values in
// C order. The dict is read by the small parser below rather than trusted. Records (rows) and byte offsets
// in messages are 0-based.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "loaders.hpp"

namespace backprop::data {

// The values are little-endian in every file this reader accepts and are copied as they are.
static_assert(std::endian::native == std::endian::little, "the NPY reader assumes a little-endian host");

namespace {

struct NpyDtype {
  char kind = 0;  // 'f' float, 'i' signed integer, 'u' unsigned integer, 'b' bool
  std::size_t size = 0;
  std::string text;  // as written, for messages
};

struct NpyArray {
  NpyDtype dtype;
  std::vector<std::uint64_t> shape;
  std::size_t data_offset = 0;
  std::size_t shape_offset = 0;  // byte offset of the shape value in the header, for messages
};

// A Python literal as it appears in an NPY header: a string, a bool, an integer or a tuple of integers.
struct HeaderValue {
  enum class Kind { string, boolean, integer, tuple } kind = Kind::string;
  std::string text;
  bool flag = false;
  std::vector<std::uint64_t> items;
  std::size_t offset = 0;  // byte offset in the file
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::size_t file_offset, const std::string& source)
      : text_(text), file_offset_(file_offset), source_(source) {}

  std::map<std::string, HeaderValue> parse_dict() {
    std::map<std::string, HeaderValue> dict;
    expect('{', "'{' opening the header dict");
    while (true) {
      skip_space();
      if (peek() == '}') {
        ++position_;
        break;
      }
      const HeaderValue key = parse_value();
      if (key.kind != HeaderValue::Kind::string) fail("a quoted key", key.offset - file_offset_);
      expect(':', "':' after the key '" + key.text + "'");
      dict[key.text] = parse_value();
      skip_space();
      if (peek() == ',') {
        ++position_;
        continue;
      }
      expect('}', "',' or '}' in the header dict");
      break;
    }
    return dict;
  }

 private:
  char peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }

  void skip_space() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t' ||
                                        text_[position_] == '\n' || text_[position_] == '\r'))
      ++position_;
  }

  [[noreturn]] void fail(const std::string& expected, std::size_t at) const {
    const std::string_view rest = text_.substr(std::min(at, text_.size()));
    throw_bad_input(source_ + ": header (byte offset " + std::to_string(file_offset_ + at) + "): expected " + expected +
                    ", got '" + quoted_excerpt(rest.substr(0, std::min<std::size_t>(rest.size(), 20))) + "'");
  }

  void expect(char c, const std::string& what) {
    skip_space();
    if (peek() != c) fail(what, position_);
    ++position_;
  }

  std::uint64_t parse_integer() {
    skip_space();
    const std::size_t start = position_;
    std::uint64_t value = 0;
    while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
      const auto digit = static_cast<std::uint64_t>(text_[position_] - '0');
      if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) fail("a size that fits 64 bits", start);
      value = value * 10 + digit;
      ++position_;
    }
    if (position_ == start) fail("a non-negative integer", start);
    if (peek() == 'L') ++position_;  // Python 2 long, written by old numpy
    return value;
  }

  HeaderValue parse_value() {
    skip_space();
    HeaderValue value;
    value.offset = file_offset_ + position_;
    const char c = peek();
    if (c == '\'' || c == '"') {
      const std::size_t end = text_.find(c, position_ + 1);
      if (end == std::string_view::npos) fail("a closing quote", position_);
      value.kind = HeaderValue::Kind::string;
      value.text = std::string(text_.substr(position_ + 1, end - position_ - 1));
      position_ = end + 1;
    } else if (text_.substr(position_, 4) == "True") {
      value.kind = HeaderValue::Kind::boolean;
      value.flag = true;
      position_ += 4;
    } else if (text_.substr(position_, 5) == "False") {
      value.kind = HeaderValue::Kind::boolean;
      value.flag = false;
      position_ += 5;
    } else if (c == '(') {
      value.kind = HeaderValue::Kind::tuple;
      ++position_;
      skip_space();
      while (peek() != ')') {
        value.items.push_back(parse_integer());
        skip_space();
        if (peek() == ',') {
          ++position_;
          skip_space();
        } else if (peek() != ')') {
          fail("',' or ')' in the shape tuple", position_);
        }
      }
      ++position_;
    } else if (c >= '0' && c <= '9') {
      value.kind = HeaderValue::Kind::integer;
      value.items.push_back(parse_integer());
    } else {
      fail("a string, True, False, an integer or a tuple", position_);
    }
    return value;
  }

  std::string_view text_;
  std::size_t file_offset_;
  const std::string& source_;
  std::size_t position_ = 0;
};

std::uint32_t read_little_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}

NpyDtype parse_dtype(const HeaderValue& descr, const std::string& source) {
  auto refuse = [&](const std::string& why) -> NpyDtype {
    throw_bad_input(source + ": header (byte offset " + std::to_string(descr.offset) +
                    "): expected a dtype '<f4', '<f8', '|u1' or a little-endian integer, got '" +
                    quoted_excerpt(descr.text) + "'" + why);
  };
  if (descr.kind != HeaderValue::Kind::string) return refuse(" (a structured dtype)");
  const std::string& text = descr.text;
  if (text.size() < 3) return refuse("");
  const char order = text[0];
  NpyDtype dtype;
  dtype.text = text;
  dtype.kind = text[1];
  std::size_t size = 0;
  for (std::size_t i = 2; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9' || i > 4) return refuse("");
    size = size * 10 + static_cast<std::size_t>(text[i] - '0');
  }
  dtype.size = size;
  if (order == '>' && size > 1) return refuse(" (big-endian; convert with astype('<" + text.substr(1) + "'))");
  if (order != '<' && order != '|' && order != '=' && order != '>') return refuse("");
  const bool known = (dtype.kind == 'f' && (size == 4 || size == 8)) ||
                     ((dtype.kind == 'i' || dtype.kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
                     (dtype.kind == 'b' && size == 1);
  if (!known) return refuse("");
  return dtype;
}

NpyArray read_npy_header(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  static constexpr char magic[] = "\x93NUMPY";
  if (bytes.size() < 10 || std::memcmp(bytes.data(), magic, 6) != 0) {
    std::string got;
    if (bytes.size() < 10) {
      got = "a file of " + std::to_string(bytes.size()) + " bytes";
    } else {
      got = quoted_excerpt(std::string_view(reinterpret_cast<const char*>(bytes.data()), 6));
      got.insert(got.begin(), '\'');
      got.push_back('\'');
    }
    throw_bad_input(source + ": header (byte offset 0): expected the NPY magic \\x93NUMPY, got " + got);
  }
  const int major = bytes[6];
  std::size_t header_start = 10;
  std::size_t header_length = 0;
  if (major == 1) {
    header_length = std::size_t{bytes[8]} | (std::size_t{bytes[9]} << 8);
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      throw_bad_input(source + ": header (byte offset 8): expected a 4-byte header length, got the end of the file");
    header_length = read_little_u32(bytes.data() + 8);
    header_start = 12;
  } else {
    throw_bad_input(source + ": header (byte offset 6): expected NPY format version 1, 2 or 3, got " +
                    std::to_string(major) + "." + std::to_string(bytes[7]));
  }
  if (header_length > bytes.size() - header_start)
    throw_bad_input(source + ": header (byte offset " + std::to_string(header_start) + "): expected a header of " +
                    std::to_string(header_length) + " bytes, got a file of " + std::to_string(bytes.size()) + " bytes");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + header_start, header_length);
  std::map<std::string, HeaderValue> dict = HeaderParser(text, header_start, source).parse_dict();

  auto require = [&](const char* key) -> const HeaderValue& {
    const auto found = dict.find(key);
    if (found == dict.end())
      throw_bad_input(source + ": header (byte offset " + std::to_string(header_start) + "): expected the key '" +
                      key + "' in the header dict, got '" + quoted_excerpt(text) + "'");
    return found->second;
  };
  NpyArray array;
  array.dtype = parse_dtype(require("descr"), source);
  const HeaderValue& fortran_order = require("fortran_order");
  if (fortran_order.kind != HeaderValue::Kind::boolean || fortran_order.flag)
    throw_bad_input(source + ": header (byte offset " + std::to_string(fortran_order.offset) +
                    "): expected 'fortran_order': False (C order; save np.ascontiguousarray(x)), got " +
                    (fortran_order.kind == HeaderValue::Kind::boolean ? std::string("True") : std::string("not a bool")));
  const HeaderValue& shape = require("shape");
  if (shape.kind != HeaderValue::Kind::tuple || shape.items.empty())
    throw_bad_input(source + ": header (byte offset " + std::to_string(shape.offset) +
                    "): expected a shape tuple with at least one dimension, got " +
                    (shape.kind == HeaderValue::Kind::tuple ? std::string("()") : std::string("not a tuple")));
  array.shape = shape.items;
  array.shape_offset = shape.offset;
  array.data_offset = header_start + header_length;
  return array;
}

// Rows (the first dimension) and values per row (the product of the others), checked against the file.
struct NpyExtent {
  std::uint64_t rows = 0;
  std::uint64_t per_row = 1;
};

NpyExtent check_npy_length(const std::vector<std::uint8_t>& bytes, const std::string& source, const NpyArray& array) {
  NpyExtent extent;
  extent.rows = array.shape[0];
  const auto limit = static_cast<std::uint64_t>(std::numeric_limits<int>::max());
  for (std::size_t d = 1; d < array.shape.size(); ++d) {
    if (array.shape[d] > limit || extent.per_row * array.shape[d] > limit)
      throw_bad_input(source + ": header (byte offset " + std::to_string(array.shape_offset) +
                      "): expected at most " + std::to_string(limit) + " values per row, got a larger shape");
    extent.per_row *= array.shape[d];
  }
  if (extent.rows == 0 || extent.per_row == 0)
    throw_bad_input(source + ": header (byte offset " + std::to_string(array.shape_offset) +
                    "): expected a shape with no zero dimension, got an empty array");
  const std::uint64_t row_bytes = extent.per_row * array.dtype.size;
  const std::uint64_t available = bytes.size() - array.data_offset;
  if (extent.rows > available / row_bytes) {
    const std::uint64_t first_incomplete = available / row_bytes;
    throw_bad_input(source + ": record " + std::to_string(first_incomplete) + " (byte offset " +
                    std::to_string(array.data_offset + first_incomplete * row_bytes) + "): expected " +
                    std::to_string(extent.rows) + " rows of " + std::to_string(row_bytes) +
                    " bytes as the shape declares, got a file that ends at byte offset " + std::to_string(bytes.size()));
  }
  const std::uint64_t expected_end = array.data_offset + extent.rows * row_bytes;
  if (bytes.size() > expected_end)
    throw_bad_input(source + ": byte offset " + std::to_string(expected_end) + ": expected the end of the file after " +
                    std::to_string(extent.rows) + " rows as the shape declares, got " +
                    std::to_string(bytes.size() - expected_end) + " more bytes");
  return extent;
}

template <typename T>
T load(const std::uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

// Calls f(index, value as double) for every value of an integer or float array.
template <typename F>
void for_each_value(const NpyDtype& dtype, const std::uint8_t* data, std::size_t count, F&& f) {
  auto loop = [&](auto tag) {
    using T = decltype(tag);
    for (std::size_t i = 0; i < count; ++i) f(i, static_cast<double>(load<T>(data + i * sizeof(T))));
  };
  switch (dtype.kind) {
    case 'f': dtype.size == 4 ? loop(float{}) : loop(double{}); break;
    case 'i':
      switch (dtype.size) {
        case 1: loop(std::int8_t{}); break;
        case 2: loop(std::int16_t{}); break;
        case 4: loop(std::int32_t{}); break;
        default: loop(std::int64_t{}); break;
      }
      break;
    default:  // 'u', 'b'
      switch (dtype.size) {
        case 1: loop(std::uint8_t{}); break;
        case 2: loop(std::uint16_t{}); break;
        case 4: loop(std::uint32_t{}); break;
        default: loop(std::uint64_t{}); break;
      }
      break;
  }
}

}  // namespace

std::optional<DeclaredEnd> npy_declared_end(const std::vector<std::uint8_t>& prefix, const std::string& source) {
  // The header is complete once its length field and the length it gives are in the prefix; a wrong magic
  // or version is refused as soon as it is seen, as read_npy_header says.
  if (prefix.size() < 12) return std::nullopt;
  if (std::memcmp(prefix.data(), "\x93NUMPY", 6) != 0 || prefix[6] < 1 || prefix[6] > 3)
    read_npy_header(prefix, source);
  const bool version_1 = prefix[6] == 1;
  const std::size_t header_length = version_1 ? (std::size_t{prefix[8]} | (std::size_t{prefix[9]} << 8))
                                              : std::size_t{read_little_u32(prefix.data() + 8)};
  // numpy writes a few hundred bytes (and reads at most 10,000 by default); a longer one would make the
  // reader take all of a stream before it could tell the data's size.
  constexpr std::size_t kMostHeaderBytes = std::size_t{1} << 20;
  if (header_length > kMostHeaderBytes)
    throw_bad_input(source + ": header (byte offset 8): expected a header of at most " +
                    std::to_string(kMostHeaderBytes) + " bytes, got one of " + std::to_string(header_length));
  if (prefix.size() < (version_1 ? 10 : 12) + header_length) return std::nullopt;
  const NpyArray array = read_npy_header(prefix, source);
  constexpr std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t end = array.dtype.size;
  for (const std::uint64_t size : array.shape) end = size != 0 && end > most / size ? most : end * size;
  end = end > most - array.data_offset ? most : end + array.data_offset;
  return DeclaredEnd{end, std::to_string(array.shape[0]) + " rows as the shape declares"};
}

void read_npy_features(Dataset& data, const std::vector<std::uint8_t>& bytes, const std::string& source) {
  const NpyArray array = read_npy_header(bytes, source);
  const NpyExtent extent = check_npy_length(bytes, source, array);
  const std::uint8_t* values = bytes.data() + array.data_offset;
  const std::size_t count = static_cast<std::size_t>(extent.rows * extent.per_row);
  data.rows = static_cast<std::size_t>(extent.rows);
  data.features = static_cast<int>(extent.per_row);
  data.features_f32.clear();
  data.features_u8.clear();
  if (array.dtype.kind == 'u' && array.dtype.size == 1) {
    data.features_u8.assign(values, values + count);
    return;
  }
  data.features_f32.resize(count);
  float* out = data.features_f32.data();
  auto refuse = [&](std::size_t i, double value, const char* expected) {
    throw_bad_input(source + ": record " + std::to_string(i / extent.per_row) + " (byte offset " +
                    std::to_string(array.data_offset + i * array.dtype.size) + "): expected " + expected + ", got " +
                    (std::isnan(value) ? std::string("nan") : std::isinf(value) ? std::string("inf")
                                                                                : format_double(value)));
  };
  if (array.dtype.kind == 'f' && array.dtype.size == 4) {
    std::memcpy(out, values, count * sizeof(float));
    for (std::size_t i = 0; i < count; ++i)
      if (!std::isfinite(out[i])) refuse(i, out[i], "a finite number");
    return;
  }
  for_each_value(array.dtype, values, count, [&](std::size_t i, double value) {
    if (!std::isfinite(value)) refuse(i, value, "a finite number");
    if (std::fabs(value) > std::numeric_limits<float>::max()) refuse(i, value, "a number within float range");
    out[i] = static_cast<float>(value);
  });
}

LabelColumn read_npy_labels(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  const NpyArray array = read_npy_header(bytes, source);
  if (array.shape.size() > 2)
    throw_bad_input(source + ": header (byte offset " + std::to_string(array.shape_offset) +
                    "): expected labels of shape (N) or (N, T), got " + std::to_string(array.shape.size()) +
                    " dimensions");
  const NpyExtent extent = check_npy_length(bytes, source, array);
  LabelColumn column;
  column.rows = static_cast<std::size_t>(extent.rows);
  column.per_row = static_cast<int>(extent.per_row);
  column.integral = array.dtype.kind != 'f';
  column.count_offset = array.shape_offset;
  column.data_offset = array.data_offset;
  column.value_size = array.dtype.size;
  const std::size_t count = static_cast<std::size_t>(extent.rows * extent.per_row);
  column.values.resize(count);
  for_each_value(array.dtype, bytes.data() + array.data_offset, count, [&](std::size_t i, double value) {
    if (!std::isfinite(value))
      throw_bad_input(source + ": record " + std::to_string(i / extent.per_row) + " (byte offset " +
                      std::to_string(array.data_offset + i * array.dtype.size) + "): expected a finite number, got " +
                      (std::isnan(value) ? "nan" : "inf"));
    column.values[i] = value;
  });
  return column;
}

}  // namespace backprop::data
