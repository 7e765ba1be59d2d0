// ONNX export of a model (`backprop export MODEL --format onnx --out FILE`).
//
// The graph (opset 11, IR version 6, producer "backprop") computes what `backprop predict` computes from
// raw features:
//   input  "input"  float32 [batch, IN]   the features as backprop reads them (CSV and float NPY values
//                                          as they are; uint8 images, IDX or NPY, as value / 255)
//   Sub, Div                              the model's feature scaling, x' = (x - offset) / scale
//                                          (initializers "scaling_offset", "scaling_scale"; omitted for none)
//   per layer l (from 1): Gemm            z = a W^T + b, W an [OUT, IN] initializer "layer<l>_weights"
//                                          (transA = 0, transB = 1: the form PyTorch writes for Linear),
//                                          b an [OUT] initializer "layer<l>_bias"
//                         the activation  its nodes (src/io/activation_forms.cpp): Relu, LeakyRelu (alpha =
//                                          slope), Sigmoid, Tanh, Softmax (axis 1), silu as Sigmoid then Mul;
//                                          identity adds no node
//   output "output" float32 [batch, OUT]  the last layer's activations (one sigmoid output: p(class 1))
// Opset 11 and this node form are chosen for the consumers (OpenCV's dnn, onnxruntime, TensorRT); the
// README's ONNX paragraph gives the reasons, tests/python/test_onnx_export.py loads every form in OpenCV.
// The model's doc string names the classes (or the regression targets); the metadata properties
// "classes", "targets" and "features" hold them as JSON arrays of strings.
//
// It is built only when protobuf and ONNX's schema (onnx.proto) were found (CMake option
// BACKPROP_WITH_ONNX); otherwise export_onnx throws Error(bad_input) saying so.
#pragma once

#include <filesystem>
#include <string>

#include "backprop/io/model_file.hpp"

namespace backprop::io {

inline constexpr int kOnnxOpset = 11;
inline constexpr int kOnnxIrVersion = 6;  // the IR version of opset 11 (ONNX 1.6); onnxruntime refuses a
                                          // model of a newer IR version than it knows

// Whether this build of the library can export ONNX.
bool onnx_export_available();

// The serialized ModelProto. Throws Error(bad_input) when ONNX was not built in, or when the model's
// parameters or scaling do not fit its network.
std::string onnx_model_bytes(const ModelFile& model);

// Writes onnx_model_bytes(model) atomically (write_file_atomically): on failure path is left as it was.
void export_onnx(const std::filesystem::path& path, const ModelFile& model);

}  // namespace backprop::io
