// Model files: a trained network with everything needed to use it on raw data.
//
// Binary (default; written atomically: temporary file in the same folder, fsync, rename):
//   offset 0   8 bytes  magic "BKPROP\r\n" (the \r\n catches text-mode mangling)
//           8  u32 LE   format version (1; 2 when the header holds "inputs"; 3 with a batch_norm; 4 with a
//                       "threshold"; 5 with a "table"; 6 with an embedding)
//          12  u32 LE   header length H in bytes
//          16  H bytes  header: UTF-8 JSON, the network file of the model WITHOUT weights and bias,
//                       plus "scaling" {"kind", "offset", "scale"}, "classes" [names], "targets" [names],
//                       "features" [names], "parameter_count" N, and "inputs": "uint8" for a model
//                       trained on uint8 data (version 2), "threshold" T for a two-class model that keeps a
//                       decision threshold (version 4), "table" {"missing_values", "columns"} for a model
//                       of a table as it came (version 5)
//      16 + H  N x f32 LE  the parameters, layer by layer W (IN x OUT row-major) then b (a batch_norm: scale,
//                          shift, running mean, running variance; an embedding: its weights (categories x D))
//      end - 8 u64 LE   FNV-1a 64 checksum of every byte before it
// JSON (`backprop export --format json`): the same network file WITH "weights" and "bias" (floats printed
// so that they read back bit-exact as float32), plus "scaling", "classes", "targets", "features" and
// "format": "backprop-model", "version": as the binary's. It loads back wherever a model or a network file is taken.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backprop/data/scaling.hpp"
#include "backprop/data/table.hpp"
#include "backprop/base/read_file.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop::io {

// Version 2 added "inputs": "uint8" (a model trained on uint8 data, read as value / 255), version 3 the
// batch_norm entry (its scale, shift, running mean and running variance among the parameters, in that order),
// version 4 "threshold" (a two-class model's kept decision threshold), version 5 "table" (the recipe of a
// table as it came, data/table.hpp), version 6 the embedding entry (nn/embedding.hpp: its weights (categories,
// D) among the parameters, no bias). A model is written as the oldest version that holds what it has, so that
// every other file is byte for byte what it was; all read. A layer kind's version is its entry in kLayerKinds
// (base/kinds.hpp), so that a new kind needs no edit here.
inline constexpr unsigned kFirstModelFormatVersion = 1;
inline constexpr unsigned kByteInputsModelFormatVersion = 2;
inline constexpr unsigned kBatchNormModelFormatVersion =
    layer_kind_entry(LayerKind::batch_norm).model_format_version;
inline constexpr unsigned kThresholdModelFormatVersion = 4;
inline constexpr unsigned kTableModelFormatVersion = 5;
inline constexpr unsigned kEmbeddingModelFormatVersion =
    layer_kind_entry(LayerKind::embedding).model_format_version;
constexpr unsigned newest_model_format_version() {
  unsigned newest = kTableModelFormatVersion;
  for (const LayerKindEntry& entry : kLayerKinds)
    if (entry.model_format_version > newest) newest = entry.model_format_version;
  return newest;
}
inline constexpr unsigned kModelFormatVersion = newest_model_format_version();  // the newest this program reads

// What a model file holds (its name is the file's; the high-level API's class is backprop::Model, model.hpp).
struct ModelFile {
  NetworkSpec network;                    // with weights and bias of every layer filled
  Scaling scaling;                        // applied to raw features before the network
  std::vector<std::string> classes;       // classification: class index -> label; empty for regression
  std::vector<std::string> targets;       // regression: output names (CSV header); may be empty
  std::vector<std::string> features;      // CSV feature names; may be empty
  // A trained model (a model file, or a network saved after training): its scaling was fitted and stays
  // when it is trained further. False for a network file (not written; a model file reads back true).
  bool trained = false;
  // Trained on uint8 features read as value / 255 (IDX, uint8 NPY, uint8 arrays): such a model is given
  // numbers in [0, 1] (check_byte_inputs refuses others: raw 0-255 values would be read 255 times too
  // large). Written as "inputs": "uint8" (format version 2); false: float features (or not recorded).
  bool byte_inputs = false;
  // Two classes: the kept decision threshold on P(second class) (a row is predicted to be of the second class
  // when its probability is at least this; `train --threshold`), which predict uses by default. Written as
  // "threshold" (format version 4); none: the more probable class.
  std::optional<double> threshold;
  // Trained on a table as it came: the recipe that turns its raw columns into the network's inputs (then
  // `features` are the inputs' names, TableRecipe::input_names). Written as "table" (format version 5).
  std::shared_ptr<const TableRecipe> table;
};

// Refuses (Error(bad_input) "WHERE threshold: ...") a threshold that is not a number in [0, 1] or a network
// that does not make two classes (the threshold is on the second's probability).
void check_threshold(std::optional<double> threshold, const NetworkSpec& network, const std::string& where);

// Atomic write; on any failure the file at `path` is left as it was. Throws Error(bad_input) for an
// unwritable destination.
void save_model(const std::filesystem::path& path, const ModelFile& model);
// The bytes save_model writes (binary, checksum included): what Python's pickle carries.
std::string model_bytes(const ModelFile& model);
// Binary or JSON (by content: the magic), or a plain network file (then without scaling or classes).
// Throws Error(bad_input) naming the file and byte offset: wrong magic or version, truncated, bad
// checksum, sizes that do not fit the file, a header that is not a valid network.
ModelFile load_model(const std::filesystem::path& path);
// The same from bytes in memory; `source` names them in messages (the fuzzers, tests/fuzz/, use it).
ModelFile load_model_bytes(std::string_view bytes, const std::string& source);
std::string model_to_json(const ModelFile& model);
// What read_file may read of a model or network file (load_model, read_model, read_network_file): the first
// bytes must be the binary magic or, after white space, '{' (else Error(bad_input), as load_model_bytes
// says it); a binary model at most what its header length declares plus 4 bytes for each of the most
// parameters a network may have (kMaxNetworkParameters); a JSON file at most kMaxJsonModelBytes.
inline constexpr std::size_t kMaxJsonModelBytes = std::size_t{1} << 30;
inline constexpr std::size_t kMaxModelHeaderBytes = std::size_t{1} << 26;
SizeLimit model_size_limit(const std::string& source);
void export_model_json(const std::filesystem::path& path, const ModelFile& model);  // atomic, like save_model
// The ONNX and C exports compute the network on numbers as the data gives them: a model of a table whose
// recipe does more than pass numeric columns through (categories, missing indicators) is refused,
// Error(bad_input) "FORMAT export: ...", as its graph would take the encoded inputs, not the table's columns.
void check_exportable(const ModelFile& model, std::string_view format);

}  // namespace backprop::io
