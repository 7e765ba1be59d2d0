// Private to src/io/: the network-file reader over an already-parsed JSON document. A model file's header
// and its JSON export are a network file plus a few keys, so they reuse the network reader's checks and
// messages rather than repeating them; each layer kind's entry is read and written by its own file
// (LayerFileForm, below). Keeps nlohmann/json.hpp out of the public headers.
#pragma once

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "backprop/base/layer_kind_parts.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop::io::detail {

// The keys a JSON model export adds to a network file (io/model_file.hpp). parse_network allows them
// when the document has a "format" key, so that an exported model loads back as a network file.
inline constexpr std::string_view kModelJsonKeys[] = {"format",  "version",  "scaling", "classes",
                                                      "targets", "features", "inputs", "threshold",
                                                      "table"};

// One JSON document; throws Error(bad_input) "SOURCE:LINE:COLUMN: syntax error ..." when malformed, and
// "SOURCE:LINE:COLUMN: duplicate key 'input' ..." for a key written twice in one object (nlohmann would keep
// the last, silently).
nlohmann::json parse_json_document(std::string_view text, const std::string& source);

// A key written twice in one object of text, which is well-formed JSON: the key and its second offset.
struct DuplicateKey {
  std::string key;
  std::size_t offset = 0;
};
std::optional<DuplicateKey> first_duplicate_key(std::string_view text);

// The network that `root` describes, validated; errors read "SOURCE: layers[1].weights: expected ...".
// Top-level keys named in `extra_keys` are allowed and left to the caller; any other unknown key is an error.
NetworkSpec network_from_json(const nlohmann::json& root, const std::string& source,
                              std::span<const std::string_view> extra_keys = {});

using Json = nlohmann::json;

// Reads one parsed document; every error names the JSON path of the offending value.
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& path, const std::string& expected) const {
    throw_bad_input(source_ + ": " + path + ": " + expected);
  }

  // `also`: more allowed keys (a model's, where a network file is read from a model).
  void only_keys(const Json& object, const std::string& path, std::initializer_list<std::string_view> keys,
                 std::span<const std::string_view> also = {}) const {
    std::set<std::string_view> known(keys);
    known.insert(also.begin(), also.end());
    for (const auto& item : object.items()) {
      if (!known.contains(item.key())) {
        std::string list;
        for (auto k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
        for (auto k : also) list += (list.empty() ? "" : ", ") + std::string(k);
        fail(path.empty() ? item.key() : path + "." + item.key(), "unknown key (expected one of: " + list + ")");
      }
    }
  }

  double number(const Json& value, const std::string& path) const {
    if (!value.is_number()) fail(path, "expected a number, got " + describe(value));
    const double v = value.get<double>();
    if (!std::isfinite(v)) fail(path, "expected a finite number");
    return v;
  }

  long long whole_number(const Json& value, const std::string& path, long long minimum) const {
    if (value.is_number_integer()) {
      const long long v = value.is_number_unsigned() && value.get<unsigned long long>() >
                                                            static_cast<unsigned long long>(LLONG_MAX)
                              ? LLONG_MAX
                              : value.get<long long>();
      if (v < minimum) fail(path, "expected a whole number >= " + std::to_string(minimum) + ", got " + value.dump());
      return v;
    }
    if (value.is_number_float()) {
      const double v = value.get<double>();
      if (std::isfinite(v) && v == std::floor(v) && v >= static_cast<double>(minimum) && v < 9.0e15)
        return static_cast<long long>(v);
    }
    fail(path, "expected a whole number >= " + std::to_string(minimum) + ", got " + describe(value));
  }

  // A size (units, categories, dim): a whole number >= minimum, held at 2^24, beyond any network that fits in
  // memory, so that it fits an int.
  int size(const Json& value, const std::string& path, long long minimum) const {
    return static_cast<int>(std::min(whole_number(value, path, minimum), 1LL << 24));
  }

  // A seed: any unsigned 64-bit whole number, kept exactly (nlohmann reads up to 2^64 - 1 as an unsigned
  // integer and anything larger as a double, which is refused).
  std::uint64_t seed(const Json& value, const std::string& path) const {
    if (value.is_number_unsigned()) return value.get<std::uint64_t>();
    if (value.is_number_float()) {
      const double v = value.get<double>();
      if (std::isfinite(v) && v == std::floor(v) && v >= 0 && v < 9.0e15) return static_cast<std::uint64_t>(v);
    }
    fail(path, "expected a whole number >= 0 and at most 18446744073709551615, got " + describe(value));
  }

  std::string string(const Json& value, const std::string& path) const {
    if (!value.is_string()) fail(path, "expected a string, got " + describe(value));
    return value.get<std::string>();
  }

  std::vector<double> vector(const Json& value, const std::string& path, std::size_t size) const {
    if (!value.is_array() || value.size() != size)
      fail(path, "expected an array of " + std::to_string(size) + " numbers, got " + describe(value));
    std::vector<double> out;
    out.reserve(size);
    for (std::size_t i = 0; i < size; ++i) out.push_back(number(value[i], path + "[" + std::to_string(i) + "]"));
    return out;
  }

  // (rows, cols) row-major from an array of rows.
  std::vector<double> matrix(const Json& value, const std::string& path, std::size_t rows, std::size_t cols) const {
    const std::string shape = std::to_string(rows) + " rows of " + std::to_string(cols) + " numbers (IN x OUT)";
    if (!value.is_array() || value.size() != rows) fail(path, "expected " + shape + ", got " + describe(value));
    std::vector<double> out;
    out.reserve(rows * cols);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::string row_path = path + "[" + std::to_string(r) + "]";
      if (!value[r].is_array() || value[r].size() != cols)
        fail(row_path, "expected " + shape + ", got a row " + describe(value[r]));
      for (std::size_t c = 0; c < cols; ++c)
        out.push_back(number(value[r][c], row_path + "[" + std::to_string(c) + "]"));
    }
    return out;
  }

  InitializerSpec initializer(const Json& value, const std::string& path) const {
    InitializerSpec spec;
    const Json* type = &value;
    if (value.is_object()) {
      only_keys(value, path, {"type", "scale"});
      if (!value.contains("type")) fail(path + ".type", "missing");
      type = &value["type"];
      if (value.contains("scale")) spec.scale = number(value["scale"], path + ".scale");
    }
    const std::string name = string(*type, value.is_object() ? path + ".type" : path);
    const auto kind = parse_initializer(name);
    if (!kind)
      fail(path, "unknown initializer '" + name + "' (expected auto, uniform, xavier_uniform, xavier_normal, he_normal)");
    spec.kind = *kind;
    return spec;
  }

  static std::string describe(const Json& value) {
    if (value.is_array()) return "an array of " + std::to_string(value.size());
    if (value.is_object()) return "an object";
    if (value.is_string()) return "the string " + value.dump();
    if (value.is_null()) return "null";
    if (value.is_boolean()) return value.dump();
    return value.dump();
  }

 private:
  const std::string& source_;
};

// An (R, C) row-major array as R rows of C numbers, as a network file writes a matrix.
Json matrix_json(const std::vector<double>& values, std::size_t columns);
Json initializer_json(const InitializerSpec& initializer);

// Each layer kind's entry of "layers": read (its "type" already read; in: its number of inputs) and written.
// LayerFileForm<K> is declared here for every kind of kinds.hpp's list (BACKPROP_LAYER_KINDS) and its members are
// defined in the kind's own file (src/io/batch_norm_file.cpp for batch_norm), which network_from_json and
// network_to_json reach through with_layer_kind (base/layer_kind_parts.hpp): a kind without it is a link error.
template <LayerKind K>
struct LayerFileForm;
#define BACKPROP_LAYER_FILE_FORM(kind, model_format_version)                                          \
  template <>                                                                                         \
  struct LayerFileForm<LayerKind::kind> {                                                             \
    static LayerSpec read(const Reader& reader, const Json& entry, const std::string& path, int in); \
    static Json write(const NetworkSpec& spec, std::size_t layer);                                    \
  };
BACKPROP_LAYER_KINDS(BACKPROP_LAYER_FILE_FORM)
#undef BACKPROP_LAYER_FILE_FORM

}  // namespace backprop::io::detail
