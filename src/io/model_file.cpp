// Model files: binary (magic, version, JSON header, float32 parameters, FNV-1a checksum) and JSON export.
// The layout is specified in include/backprop/io/model_file.hpp.
//
// A model holds its parameters as float32 (training and inference run in float): Model::network's
// weights and bias are doubles that hold float values. Loading rounds every parameter to float, so a
// model compares equal however it was stored; saving writes each as the float it holds.
#include "backprop/io/model_file.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "backprop/nn/embedding.hpp"
#include "backprop/nn/spec.hpp"
#include "io/binary.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/base/text.hpp"
#include "backprop/base/read_file.hpp"
#include "backprop/io/write_file.hpp"
#include "backprop/nn/network.hpp"
#include "network_json.hpp"

namespace backprop::io {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr std::string_view kMagic{"BKPROP\r\n", 8};
constexpr std::size_t kFixedHeaderBytes = 16;  // magic, version, header length
constexpr std::size_t kChecksumBytes = 8;
constexpr std::string_view kModelFormatName = "backprop-model";
// Keys the binary header adds to a network file (it has no "format" or "version": the prefix holds them).
constexpr std::string_view kBinaryHeaderKeys[] = {"scaling", "classes", "targets", "features", "parameter_count",
                                                  "inputs", "threshold", "table"};
constexpr std::string_view kByteInputs = "uint8";

// The version a model is written as: the oldest that holds what it has, so that every other file is byte for
// byte what an older program wrote.
unsigned version_for(const ModelFile& model) {
  unsigned version = model.byte_inputs ? kByteInputsModelFormatVersion : kFirstModelFormatVersion;
  if (model.threshold) version = std::max(version, kThresholdModelFormatVersion);
  if (model.table) version = std::max(version, kTableModelFormatVersion);
  for (const LayerSpec& layer : model.network.layers)
    version = std::max(version, layer_kind_entry(layer.kind).model_format_version);
  return version;
}

// ---- checksum and little-endian bytes ----


std::string hex64(std::uint64_t value) {
  char buffer[19] = "0x";
  const auto [end, error] = std::to_chars(buffer + 2, buffer + sizeof buffer, value, 16);
  return std::string(buffer, end);
}

// Printable form of a few bytes for an error message ("BKPROP\n\0\0" -> "BKPROP\x0a\x00\x00").
std::string show_bytes(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static const char digits[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

// ---- parameters ----

// Saturating: a header may claim any architecture; the count is compared with the file's size.
std::uint64_t parameter_count(const NetworkSpec& spec) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max() / 4;
  std::uint64_t count = 0;
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    std::uint64_t layer = 0;  // in < 2^31, out < 2^31: no overflow
    for (const LayerArray& array : spec.arrays(l)) layer += array.size;
    count = layer > kMax - count ? kMax : count + layer;
  }
  return count;
}

std::string architecture(const NetworkSpec& spec) {
  std::string text = std::to_string(spec.input);
  for (const auto& layer : spec.layers) {
    text += '-';  // (appended in two steps: "-" + std::to_string trips a false -Wrestrict in GCC 12)
    text += std::to_string(layer.units);
  }
  return text;
}

// "layers[1].weights[2][0]" for the index-th parameter in file order (each entry's arrays in turn: NetworkSpec::
// arrays, a dense layer's W row-major then b).
std::string parameter_name(const NetworkSpec& spec, std::uint64_t index) {
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    for (const LayerArray& array : spec.arrays(l)) {
      if (index >= array.size) {
        index -= array.size;
        continue;
      }
      const std::string name = "layers[" + std::to_string(l) + "]." + std::string(array.key);
      const std::uint64_t out = array.columns;  // a single row is named as a 1-D array
      return name + (out != 0 && array.size > out
                         ? "[" + std::to_string(index / out) + "][" + std::to_string(index % out) + "]"
                         : "[" + std::to_string(index) + "]");
    }
  }
  return "parameter " + std::to_string(index);
}

// The spec with every layer's weights and bias present: where any is missing, the initializer's draws
// from the seed (Network<double> fills them exactly as training would start).
NetworkSpec with_parameters(const NetworkSpec& spec) {
  for (std::size_t l = 0; l < spec.layers.size(); ++l)
    for (const LayerArray& array : spec.arrays(l))
      if (array.values(spec.layers[l]).empty()) return Network<double>(spec).spec_with_parameters();
  return spec;
}

// Rounds every parameter to float32; names the first that does not fit. `where` prefixes the message.
void round_parameters_to_float(NetworkSpec& spec, const std::string& where) {
  std::uint64_t index = 0;
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    for (const LayerArray& array : spec.arrays(l)) {
      for (double& value : array.values(spec.layers[l])) {
        const float rounded = static_cast<float>(value);
        if (!std::isfinite(rounded))
          throw_bad_input(where + parameter_name(spec, index) + ": " + format_double(value) +
                          " does not fit in float32");
        value = rounded;
        ++index;
      }
    }
  }
}

// ---- the non-network part of a model ----

Json scaling_json(const Scaling& scaling) {
  return {{"kind", std::string(to_string(scaling.kind))}, {"offset", scaling.offset}, {"scale", scaling.scale}};
}

// Refuses a model whose scaling cannot apply to the network's input. `where` prefixes the message.
void check_scaling(const Scaling& scaling, int input, const std::string& where) {
  const std::size_t expected = scaling.kind == ScalingKind::none ? 0 : static_cast<std::size_t>(input);
  const std::string count = std::to_string(expected) + " numbers (" +
                            (expected == 0 ? std::string("none for kind none") : "one per input") + ")";
  if (scaling.offset.size() != expected)
    throw_bad_input(where + "scaling.offset: expected " + count + ", got " + std::to_string(scaling.offset.size()));
  if (scaling.scale.size() != expected)
    throw_bad_input(where + "scaling.scale: expected " + count + ", got " + std::to_string(scaling.scale.size()));
  for (std::size_t i = 0; i < expected; ++i) {
    if (!std::isfinite(scaling.offset[i]))
      throw_bad_input(where + "scaling.offset[" + std::to_string(i) + "]: expected a finite number");
    if (!std::isfinite(scaling.scale[i]) || scaling.scale[i] == 0.0)
      throw_bad_input(where + "scaling.scale[" + std::to_string(i) + "]: expected a finite non-zero number");
  }
}

// Reads "scaling", "classes", "targets", "features" (each optional) of a header or export into model.
// Errors read "SOURCE: classes[2]: expected a string, got 3".
class ExtrasReader {
 public:
  explicit ExtrasReader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& path, const std::string& expected) const {
    throw_bad_input(source_ + ": " + path + ": " + expected);
  }

  void read(const Json& root, ModelFile& model) const {
    if (root.contains("scaling")) model.scaling = scaling(root["scaling"]);
    if (root.contains("classes")) model.classes = names(root["classes"], "classes");
    if (root.contains("targets")) model.targets = names(root["targets"], "targets");
    if (root.contains("features")) model.features = names(root["features"], "features");
    if (root.contains("inputs")) {
      const Json& inputs = root["inputs"];
      if (!inputs.is_string() || inputs.get<std::string>() != kByteInputs)
        fail("inputs", "expected \"uint8\" (a model trained on uint8 data), got " + inputs.dump());
      model.byte_inputs = true;
    }
    if (root.contains("threshold")) {
      const Json& threshold = root["threshold"];
      if (!threshold.is_number()) fail("threshold", "expected a number in [0, 1], got " + threshold.dump());
      model.threshold = threshold.get<double>();
    }
    if (root.contains("table")) model.table = std::make_shared<const TableRecipe>(table(root["table"], model));
    check_scaling(model.scaling, model.network.input, source_ + ": ");
    check_classes(model);
    check_threshold(model.threshold, model.network, source_ + ": ");
  }

  // Class names, when there are any, name each class the outputs make exactly once: predict writes one
  // column per name and indexes them by the predicted class.
  void check_classes(const ModelFile& model) const {
    if (model.classes.empty()) return;
    const auto expected = static_cast<std::size_t>(class_count(model.network));
    if (model.classes.size() != expected || task_of(model.network) != TaskKind::classification)
      fail("classes", "expected " + std::to_string(expected) + " names, one for each class the " +
                          std::to_string(model.network.output()) + " output(s) of a classifier make, got " +
                          std::to_string(model.classes.size()));
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < model.classes.size(); ++i)
      if (!seen.insert(model.classes[i]).second)
        fail("classes[" + std::to_string(i) + "]", "expected each class name once, got '" + model.classes[i] +
                                                        "' again");
  }

 private:
  TableRecipe table(const Json& value, const ModelFile& model) const {
    if (!value.is_object() || !value.contains("columns") || !value["columns"].is_array())
      fail("table", "expected an object {\"missing_values\", \"columns\"}");
    TableRecipe recipe;
    if (value.contains("missing_values")) recipe.missing_values = names(value["missing_values"], "table.missing_values");
    const Json& columns = value["columns"];
    for (std::size_t i = 0; i < columns.size(); ++i) recipe.columns.push_back(table_column(columns[i], i));
    if (recipe.width() != model.network.input)
      fail("table", "expected columns that make the network's " + std::to_string(model.network.input) +
                        " inputs, got " + std::to_string(recipe.width()));
    if (!model.features.empty() && model.features != recipe.input_names())
      fail("features", "expected the inputs' names of the table's columns");
    check_embedded(recipe, model.network);
    return recipe;
  }

  // Each embedded column's code input is read by an embedding entry of its codes: a code past an entry's
  // categories would be refused only when the first row of it is predicted.
  void check_embedded(const TableRecipe& recipe, const NetworkSpec& spec) const {
    const std::vector<int> code_columns = embedding_code_columns(spec);
    int input = 0;
    for (std::size_t i = 0; i < recipe.columns.size(); ++i) {
      const TableColumn& c = recipe.columns[i];
      const auto found = std::find(code_columns.begin(), code_columns.end(), input);
      if (c.embedding > 0 &&
          (found == code_columns.end() ||
           spec.layers[static_cast<std::size_t>(found - code_columns.begin())].embedding.categories != c.codes()))
        fail("table.columns[" + std::to_string(i) + "]",
             "expected an embedding entry of " + std::to_string(c.codes()) + " categories reading input " +
                 std::to_string(input) + " (the column's codes)");
      input += c.width();
    }
  }

  TableColumn table_column(const Json& value, std::size_t i) const {
    const std::string path = "table.columns[" + std::to_string(i) + "]";
    if (!value.is_object() || !value.contains("name") || !value["name"].is_string() || !value.contains("kind") ||
        !value["kind"].is_string())
      fail(path, "expected an object with \"name\" and \"kind\"");
    TableColumn c;
    c.name = names(Json::array({value["name"]}), path + ".name")[0];
    const auto kind = parse_column_kind(value["kind"].get<std::string>());
    if (!kind) fail(path + ".kind", "expected numeric, binary, categorical, constant or identifier");
    c.kind = *kind;
    auto flag = [&](const char* key) {
      if (!value.contains(key)) return false;
      if (!value[key].is_boolean()) fail(path + "." + key, "expected true or false");
      return value[key].get<bool>();
    };
    if (value.contains("median")) {
      const std::vector<double> median = numbers(Json::array({value["median"]}), path + ".median");
      if (!std::isfinite(median[0])) fail(path + ".median", "expected a finite number");
      c.median = median[0];
    }
    c.indicator = flag("indicator");
    c.other = flag("other");
    c.missing_slot = flag("missing");
    if (value.contains("categories")) c.categories = names(value["categories"], path + ".categories");
    if (value.contains("reason") && value["reason"].is_string()) c.reason = value["reason"].get<std::string>();
    if (value.contains("embedding")) {
      const std::vector<double> dim = numbers(Json::array({value["embedding"]}), path + ".embedding");
      if (c.kind != ColumnKind::categorical || !c.other || !(dim[0] >= 1 && dim[0] <= 1 << 24) ||
          dim[0] != std::floor(dim[0]))
        fail(path + ".embedding", "expected the values of a categorical column's embedding (a whole number >= 1, "
                                  "with \"other\" true: its unknown code)");
      c.embedding = static_cast<int>(dim[0]);
    }
    const bool binary_ok = c.kind != ColumnKind::binary || c.categories.size() == 2;
    if (!binary_ok || (c.kind == ColumnKind::categorical && c.categories.empty()))
      fail(path + ".categories", "expected two values for a binary column, at least one for a categorical one");
    return c;
  }

  Scaling scaling(const Json& value) const {
    if (!value.is_object()) fail("scaling", "expected an object {\"kind\", \"offset\", \"scale\"}");
    for (const auto& item : value.items())
      if (item.key() != "kind" && item.key() != "offset" && item.key() != "scale")
        fail("scaling." + item.key(), "unknown key (expected one of: kind, offset, scale)");
    Scaling out;
    if (!value.contains("kind") || !value["kind"].is_string())
      fail("scaling.kind", "expected one of none, standard, minmax");
    const auto kind = parse_scaling(value["kind"].get<std::string>());
    if (!kind) fail("scaling.kind", "unknown scaling " + value["kind"].dump() + " (expected none, standard, minmax)");
    out.kind = *kind;
    if (value.contains("offset")) out.offset = numbers(value["offset"], "scaling.offset");
    if (value.contains("scale")) out.scale = numbers(value["scale"], "scaling.scale");
    return out;
  }

  std::vector<double> numbers(const Json& value, const std::string& path) const {
    if (!value.is_array()) fail(path, "expected an array of numbers");
    std::vector<double> out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_number()) fail(path + "[" + std::to_string(i) + "]", "expected a number, got " + value[i].dump());
      out.push_back(value[i].get<double>());
    }
    return out;
  }

  std::vector<std::string> names(const Json& value, const std::string& path) const {
    if (!value.is_array()) fail(path, "expected an array of strings");
    std::vector<std::string> out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_string()) fail(path + "[" + std::to_string(i) + "]", "expected a string, got " + value[i].dump());
      out.push_back(value[i].get<std::string>());
      // A name is printed (info), written into predict's CSV and into messages: a NUL would cut it there,
      // a line break forge a line.
      if (first_control_character(out.back()))
        fail(path + "[" + std::to_string(i) + "]",
             "expected a name without control characters (NUL, line breaks, ...), got " + value[i].dump());
    }
    return out;
  }

  const std::string& source_;
};

Json table_json(const TableRecipe& recipe) {
  Json columns = Json::array();
  for (const TableColumn& c : recipe.columns) {
    Json column = {{"name", c.name}, {"kind", std::string(to_string(c.kind))}};
    switch (c.kind) {
      case ColumnKind::numeric:
        column["median"] = c.median;
        column["indicator"] = c.indicator;
        break;
      case ColumnKind::binary: column["categories"] = c.categories; break;
      case ColumnKind::categorical:
        column["categories"] = c.categories;
        column["other"] = c.other;
        column["missing"] = c.missing_slot;
        if (c.embedding > 0) column["embedding"] = c.embedding;
        break;
      case ColumnKind::constant:
      case ColumnKind::identifier: column["reason"] = c.reason; break;
    }
    columns.push_back(std::move(column));
  }
  return {{"missing_values", recipe.missing_values}, {"columns", std::move(columns)}};
}

void add_extras(Json& root, const ModelFile& model) {
  root["scaling"] = scaling_json(model.scaling);
  root["classes"] = model.classes;
  root["targets"] = model.targets;
  root["features"] = model.features;
  if (model.byte_inputs) root["inputs"] = std::string(kByteInputs);
  if (model.threshold) root["threshold"] = *model.threshold;
  if (model.table) root["table"] = table_json(*model.table);
}

// The model ready to write: parameters filled and float-rounded, everything checked, so that what is
// written always loads back. Throws Error(bad_input) "WHERE...", e.g. where = "PATH: cannot save: ".
ModelFile checked_for_saving(const ModelFile& model, const std::string& where) {
  ModelFile out;
  try {
    validate(model.network);
    out.network = with_parameters(model.network);
  } catch (const Error& e) {
    throw_bad_input(where + e.what());
  }
  round_parameters_to_float(out.network, where);
  check_scaling(model.scaling, out.network.input, where);
  for (const auto& [key, names] : {std::pair{"classes", &model.classes}, std::pair{"targets", &model.targets},
                                   std::pair{"features", &model.features}})
    for (std::size_t i = 0; i < names->size(); ++i)
      if (first_control_character((*names)[i]))
        throw_bad_input(where + key + "[" + std::to_string(i) + "]: expected a name without control characters");
  out.scaling = model.scaling;
  out.classes = model.classes;
  out.targets = model.targets;
  out.features = model.features;
  out.trained = model.trained;
  out.byte_inputs = model.byte_inputs;
  check_threshold(model.threshold, out.network, where);
  out.threshold = model.threshold;
  out.table = model.table;
  return out;
}

// The double a JSON text should hold for the float `value`: the float's shortest decimal when reading that
// as a double and rounding to float gives `value` back (almost always), else the float's exact double.
// nlohmann prints a double so that it reads back to the same double, so either way the text reads back
// to `value` bit for bit, through a double, as every JSON reader reads numbers.
double json_number_for_float(float value) {
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  double shortest = 0.0;
  if (error == std::errc() && std::from_chars(buffer, end, shortest).ec == std::errc() &&
      static_cast<float>(shortest) == value && std::signbit(shortest) == std::signbit(value))
    return shortest;
  return static_cast<double>(value);
}

// ---- binary ----

std::string binary_bytes(const ModelFile& model) {
  NetworkSpec architecture_only = model.network;
  std::uint64_t count = 0;
  for (std::size_t l = 0; l < architecture_only.layers.size(); ++l)
    for (const LayerArray& array : architecture_only.arrays(l)) {
      count += array.values(architecture_only.layers[l]).size();
      array.values(architecture_only.layers[l]).clear();
    }
  Json header = Json::parse(network_to_json(architecture_only));
  add_extras(header, model);
  header["parameter_count"] = count;
  const std::string header_text = header.dump();

  std::string bytes;
  bytes.reserve(kFixedHeaderBytes + header_text.size() + 4 * count + kChecksumBytes);
  bytes.append(kMagic);
  append_u32(bytes, version_for(model));
  append_u32(bytes, static_cast<std::uint32_t>(header_text.size()));
  bytes.append(header_text);
  for (std::size_t l = 0; l < model.network.layers.size(); ++l)
    for (const LayerArray& array : model.network.arrays(l))
      for (double value : array.values(model.network.layers[l]))
        append_u32(bytes, std::bit_cast<std::uint32_t>(static_cast<float>(value)));
  append_u64(bytes, fnv1a_64(bytes));
  return bytes;
}

ModelFile load_binary(std::string_view bytes, const std::string& file) {
  const std::size_t size = bytes.size();
  // Computed first so that every structural error can also say whether the bytes are damaged.
  const bool checksum_matches =
      size >= kFixedHeaderBytes + kChecksumBytes &&
      read_u64(bytes, size - kChecksumBytes) == fnv1a_64(bytes.substr(0, size - kChecksumBytes));
  const std::string damage_note =
      checksum_matches ? "" : " (and the checksum does not match: the file is damaged or truncated)";
  auto fail = [&](std::size_t offset, const std::string& what) -> void {
    throw_bad_input(file + ": offset " + std::to_string(offset) + ": " + what + damage_note);
  };

  if (size < kFixedHeaderBytes + kChecksumBytes)
    fail(size, "truncated: the file has " + std::to_string(size) + " bytes, a model file has at least " +
                   std::to_string(kFixedHeaderBytes + kChecksumBytes) +
                   " (magic, version, header length, checksum)");
  if (bytes.substr(0, kMagic.size()) != kMagic)
    fail(0, "wrong magic: expected \"BKPROP\\r\\n\", got \"" + show_bytes(bytes.substr(0, kMagic.size())) +
                "\" (was the file copied in text mode?)");
  const std::uint32_t version = read_u32(bytes, 8);
  // No damage note here: a newer format may checksum differently.
  if (version > kModelFormatVersion)
    throw_bad_input(file + ": offset 8: format version " + std::to_string(version) +
                    " is newer than this program reads (" + std::to_string(kModelFormatVersion) + ")");
  if (version < kFirstModelFormatVersion)
    fail(8, "format version " + std::to_string(version) + " is not a valid version (expected " +
                std::to_string(kFirstModelFormatVersion) + " to " + std::to_string(kModelFormatVersion) + ")");
  const std::uint64_t header_length = read_u32(bytes, 12);
  const std::uint64_t room = size - kFixedHeaderBytes - kChecksumBytes;
  if (header_length > room)
    fail(12, "header length " + std::to_string(header_length) + " does not fit in the file (" +
                 std::to_string(size) + " bytes leave at most " + std::to_string(room) + ")");

  const std::string_view header_text = bytes.substr(kFixedHeaderBytes, header_length);
  Json header;
  try {
    header = Json::parse(header_text.begin(), header_text.end());
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    if (const auto p = what.find("syntax error"); p != std::string::npos) what = what.substr(p);
    fail(kFixedHeaderBytes + (e.byte > 0 ? e.byte - 1 : 0), "header: " + what);
  } catch (const Json::exception& e) {
    // A number too large for a double ("1e999") is a well-formed token that nlohmann refuses as out_of_range
    // (found by tests/fuzz/fuzz_model; it escaped as a nlohmann exception before).
    std::string what = e.what();
    if (const auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    fail(kFixedHeaderBytes, "header: " + what + " (expected finite numbers)");
  }
  if (const auto duplicate = detail::first_duplicate_key(header_text))
    fail(kFixedHeaderBytes + duplicate->offset, "header: duplicate key '" + duplicate->key +
                                                    "' (expected each key once in an object)");

  ModelFile model;
  const std::string header_source = file + ": header";
  try {
    model.network = detail::network_from_json(header, header_source, kBinaryHeaderKeys);
    ExtrasReader(header_source).read(header, model);
  } catch (const Error& e) {
    throw_bad_input(e.what() + damage_note);
  }
  for (std::size_t l = 0; l < model.network.layers.size(); ++l)
    for (const LayerArray& array : model.network.arrays(l))
      if (!array.values(model.network.layers[l]).empty())
        throw_bad_input(header_source + ": layers[" + std::to_string(l) + "]." + std::string(array.key) +
                        ": unexpected (a binary model holds its parameters after the header)" + damage_note);

  const std::uint64_t expected_count = parameter_count(model.network);
  if (!header.contains("parameter_count") || !header["parameter_count"].is_number_unsigned())
    throw_bad_input(header_source + ": parameter_count: expected a whole number >= 0" + damage_note);
  model.trained = true;
  const auto stored_count = header["parameter_count"].get<std::uint64_t>();
  if (stored_count != expected_count)
    throw_bad_input(header_source + ": parameter_count: " + std::to_string(stored_count) +
                    " does not match the architecture (" + architecture(model.network) + " has " +
                    std::to_string(expected_count) + ")" + damage_note);

  const std::uint64_t parameters_offset = kFixedHeaderBytes + header_length;
  const std::uint64_t parameter_bytes = room - header_length;  // what the file holds between header and checksum
  if (expected_count > parameter_bytes / 4 || 4 * expected_count != parameter_bytes) {
    const bool truncated = expected_count > parameter_bytes / 4;
    // 4 x count + 8 cannot overflow below 2^60 parameters; past that the sum is written out.
    const std::string needed = expected_count < (std::uint64_t{1} << 60)
                                   ? std::to_string(4 * expected_count + kChecksumBytes)
                                   : "4 x " + std::to_string(expected_count) + " + 8";
    fail(truncated ? size : parameters_offset + 4 * expected_count,
         std::string(truncated ? "truncated" : "trailing bytes") + ": " + std::to_string(expected_count) +
             " float32 parameters and an 8-byte checksum after the header need " + needed +
             " bytes, the file has " + std::to_string(parameter_bytes + kChecksumBytes));
  }
  if (!checksum_matches)
    throw_bad_input(file + ": offset " + std::to_string(size - kChecksumBytes) + ": checksum mismatch: stored " +
                    hex64(read_u64(bytes, size - kChecksumBytes)) + ", computed " +
                    hex64(fnv1a_64(bytes.substr(0, size - kChecksumBytes))) + ": the file is damaged");

  std::size_t offset = parameters_offset;
  std::uint64_t index = 0;
  for (std::size_t l = 0; l < model.network.layers.size(); ++l) {
    for (const LayerArray& array : model.network.arrays(l)) {
      std::vector<double>& values = array.values(model.network.layers[l]);
      values.resize(array.size);
      for (double& value : values) {
        const float parameter = std::bit_cast<float>(read_u32(bytes, offset));
        if (!std::isfinite(parameter))
          fail(offset, parameter_name(model.network, index) + ": expected a finite number, got " +
                           format_double(parameter));
        value = parameter;
        offset += 4;
        ++index;
      }
    }
  }
  return model;
}

// ---- JSON ----

ModelFile load_json(std::string_view text, const std::string& file) {
  const Json root = detail::parse_json_document(text, file);
  ModelFile model;
  if (!root.is_object() || !root.contains("format")) {
    // A plain network file: the parameters it gives, the initializer's draws for those it does not.
    model.network = with_parameters(detail::network_from_json(root, file));
    round_parameters_to_float(model.network, file + ": ");
    return model;
  }

  const Json& format = root["format"];
  if (!format.is_string() || format.get<std::string>() != kModelFormatName)
    throw_bad_input(file + ": format: expected \"" + std::string(kModelFormatName) + "\", got " + format.dump());
  if (!root.contains("version") || !root["version"].is_number_unsigned())
    throw_bad_input(file + ": version: expected the model format version (" + std::to_string(kModelFormatVersion) +
                    ")" + (root.contains("version") ? ", got " + root["version"].dump() : ""));
  const auto version = root["version"].get<std::uint64_t>();
  if (version > kModelFormatVersion || version < kFirstModelFormatVersion)
    throw_bad_input(file + ": version: " + std::to_string(version) +
                    (version > kModelFormatVersion ? " is newer than this program reads (" : " is not a valid version (expected ") +
                    std::to_string(kModelFormatVersion) + ")");

  model.network = detail::network_from_json(root, file, detail::kModelJsonKeys);
  for (std::size_t l = 0; l < model.network.layers.size(); ++l) {
    const std::string layer = "layers[" + std::to_string(l) + "]";
    for (const LayerArray& array : model.network.arrays(l))
      if (array.trained && array.values(model.network.layers[l]).empty())
        throw_bad_input(file + ": " + layer + "." + std::string(array.key) + ": missing (a model holds the " +
                        std::string(array.key) + " of every layer)");
  }
  round_parameters_to_float(model.network, file + ": ");
  ExtrasReader(file).read(root, model);
  model.trained = true;
  return model;
}

}  // namespace

void check_threshold(std::optional<double> threshold, const NetworkSpec& network, const std::string& where) {
  if (!threshold) return;
  if (!(*threshold >= 0 && *threshold <= 1))
    throw_bad_input(where + "threshold: expected a probability in [0, 1], got " + format_double(*threshold));
  const bool classification = task_of(network) == TaskKind::classification;
  if (!classification || class_count(network) != 2)
    throw_bad_input(where + "threshold: expected a model of two classes (the threshold is on the second's "
                    "probability), the network has " +
                    (classification ? std::to_string(class_count(network)) + " classes" : "numeric targets"));
}

void save_model(const fs::path& path, const ModelFile& model) {
  write_file_atomically(path, binary_bytes(checked_for_saving(model, path.string() + ": cannot save: ")));
}

std::string model_bytes(const ModelFile& model) { return binary_bytes(checked_for_saving(model, "model_bytes: ")); }

ModelFile load_model(const fs::path& path) {
  return load_model_bytes(read_file(path, model_size_limit(path.string())), path.string());
}

namespace {

enum class ModelStart { json, binary, unknown };

// What the first bytes say: JSON ('{' after white space), binary (the magic, or its start, or a mangled
// magic "BKPROP..." that load_binary describes), or neither (throws, naming what was found). complete:
// bytes is the whole file; otherwise an undecided start (white space so far) is `unknown`.
ModelStart model_start(std::string_view bytes, const std::string& file, bool complete) {
  const std::size_t first = bytes.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && bytes[first] == '{') return ModelStart::json;
  const std::string_view start = bytes.substr(0, kMagic.size());
  if (!start.empty() && kMagic.substr(0, start.size()) == start) return ModelStart::binary;
  if (start.starts_with("BKPROP")) return ModelStart::binary;  // a mangled magic: load_binary says so
  if (!complete && first == std::string::npos) return ModelStart::unknown;
  if (bytes.empty()) throw_bad_input(file + ": offset 0: empty file: expected a model (binary or JSON) or a network file");
  throw_bad_input(file + ": offset " + std::to_string(first == std::string::npos ? 0 : first) +
                  ": expected a binary model (starting \"BKPROP\\r\\n\") or a JSON model or network file "
                  "(starting '{'), got \"" + show_bytes(bytes.substr(first == std::string::npos ? 0 : first, 8)) +
                  "\"");
}

}  // namespace

SizeLimit model_size_limit(const std::string& source) {
  return [source](std::string_view start, bool complete) -> ReadLimit {
    switch (model_start(start, source, complete)) {
      case ModelStart::json:
      case ModelStart::unknown:
        return {kMaxJsonModelBytes, "the most a JSON model or network file may have"};
      case ModelStart::binary:
        break;
    }
    if (start.size() < kFixedHeaderBytes) return {kMaxJsonModelBytes, "a binary model's start"};
    // A header length past the cap still reads a file that ends before it, so that load_binary says what
    // does not fit; the reading stops past the cap.
    const std::size_t header_length = std::min<std::size_t>(read_u32(start, 12), kMaxModelHeaderBytes);
    return {kFixedHeaderBytes + header_length + 4 * static_cast<std::size_t>(kMaxNetworkParameters) + kChecksumBytes,
            "a binary model: a header of at most " + std::to_string(kMaxModelHeaderBytes) + " bytes, at most " +
                std::to_string(kMaxNetworkParameters) + " float32 parameters and a checksum"};
  };
}

ModelFile load_model_bytes(std::string_view bytes, const std::string& file) {
  switch (model_start(bytes, file, true)) {
    case ModelStart::json: return load_json(bytes, file);
    case ModelStart::binary: return load_binary(bytes, file);
    case ModelStart::unknown: break;  // not with complete bytes
  }
  throw_bad_input(file + ": offset 0: expected a model (binary or JSON) or a network file");
}

std::string model_to_json(const ModelFile& model) {
  ModelFile printable = checked_for_saving(model, "model_to_json: ");
  for (auto& layer : printable.network.layers)
    for (auto* values : {&layer.weights, &layer.bias})
      for (double& value : *values) value = json_number_for_float(static_cast<float>(value));
  Json root = Json::parse(network_to_json(printable.network));
  root["format"] = std::string(kModelFormatName);
  root["version"] = version_for(printable);
  add_extras(root, printable);
  return root.dump(1) + "\n";
}

void export_model_json(const fs::path& path, const ModelFile& model) {
  // Checked here too, so that an error names the file rather than model_to_json.
  write_file_atomically(path, model_to_json(checked_for_saving(model, path.string() + ": cannot save: ")));
}

void check_exportable(const ModelFile& model, std::string_view format) {
  if (!model.table) return;
  for (const TableColumn& c : model.table->columns) {
    if (!c.kept() || (c.kind == ColumnKind::numeric && !c.indicator)) continue;
    throw_bad_input(std::string(format) + " export: expected a model whose inputs are the table's numeric columns, got "
                    "the " + std::string(to_string(c.kind)) + " column '" + c.name + "'" +
                    (c.indicator ? " with a missing-value indicator" : "") +
                    ": the exported graph would take the encoded inputs (" + std::to_string(model.network.input) +
                    "), not the table's columns; use backprop predict, or the JSON export, which keeps the recipe");
  }
}

}  // namespace backprop::io
