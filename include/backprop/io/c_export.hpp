// A model as C source (`backprop export MODEL --format c --out NAME.h`): inference wherever a C compiler runs.
//
// Two files side by side, X.h and X.c: the caller includes X.h and compiles X.c with its program (C99 or C++;
// no warning under -Wall -Wextra -pedantic). They need <math.h> and <stdint.h> alone, allocate nothing and
// write no global state. X.h declares, for --name NAME:
//   #define NAME_INPUTS   the raw features predict reads (uint8 images as value/255; the scaling is inside)
//   #define NAME_OUTPUTS  what predict prints: the class probabilities (one sigmoid output: 1 - p, p) or values
//   #define NAME_SCRATCH  the floats of scratch memory NAME_predict needs (at least 1)
//   int NAME_predict(const float *features, float *outputs, float *scratch);  0, or for a model with embedding
//     entries k + 1 where features[k] is a code that is not a whole number in [0, N) (every output NaN, no
//     table read out of bounds)
//   NAME_features[NAME_INPUTS], and NAME_classes[NAME_CLASSES] or NAME_targets[NAME_OUTPUTS]: names as strings
// X.c holds the weights (an embedding's table NAME_eK[N][D]) as static const arrays and one loop per layer, the
// activation named, so that a learner can read the forward pass. A comment block at the top of both says what
// was exported, from which file (with its FNV-1a 64 checksum) and, for int8, the quantization scheme:
//   --quantize int8: each dense layer's weights as int8 with one scale per output unit (symmetric: the
//   largest |w| of the unit maps to 127); the layer's input quantized to int8 with one scale per layer
//   (symmetric: the 99.99th percentile of |input| on the calibration rows maps to 127, values beyond it
//   clamped); the
//   products summed in int32; bias, scales and activations in float.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/io/model_file.hpp"

namespace backprop::io {

struct CExportOptions {
  std::string name = "model";        // a C identifier: NAME_predict, NAME_INPUTS, ...
  bool int8 = false;                 // --quantize int8
  std::vector<double> input_ranges;  // int8: per layer, the calibrated |input| range (layer_input_ranges)
  std::string source;                // the model file, named in the comment block with its checksum
};

// Throws Error(bad_input) "--name: expected a C identifier ..." unless name can prefix the file's identifiers:
// [A-Za-z_][A-Za-z0-9_]*, at most 64 characters, not a C or C++ keyword.
void check_c_name(std::string_view name);

struct CSource {
  std::string header;  // X.h
  std::string source;  // X.c, which includes `header_name`
};
// Throws Error(bad_input) for a name check_c_name refuses, int8 without one range per layer, or parameters
// that do not fit the network.
// `task` is the model's (io::LoadedModel::task): a classifier's outputs are probabilities.
// source_checksum: the model file's FNV-1a 64, for the comment block.
CSource c_source(const ModelFile& model, TaskKind task, const CExportOptions& options, const std::string& header_name,
                 std::uint64_t source_checksum = 0);

// X.c's path for X.h; throws Error(bad_input) "--out: expected a header file name ending in .h ..." otherwise.
std::filesystem::path c_source_path(const std::filesystem::path& header_path);

// Writes X.h (header_path, which must end in ".h") and X.c beside it, each atomically; the comment block names
// options.source with the FNV-1a 64 checksum of its bytes.
void export_c(const std::filesystem::path& header_path, const ModelFile& model, TaskKind task,
              const CExportOptions& options);

}  // namespace backprop::io
