// Each activation written out, in one place: the working the readable trace shows for a = f(z) and for
// f'(z), its ONNX nodes and its C99 statement. With its formula (kernels/math.hpp) and its entry in
// base/kinds.hpp (enum and name), this file is all there is of an activation: the trace, the ONNX export and
// the C export take its forms from here, every other place from those two. Each function is one switch over
// every kind, without a default (-Werror=switch): a new kind does not build until it has its forms.
#pragma once

#include <string>
#include <vector>

#include "backprop/nn/spec.hpp"
#include "io/trace_derivation.hpp"

namespace backprop::io {

// One ONNX node of an activation: its op_type, its name (the layer's prefix + "_" + name, which is also
// the name of the tensor it writes unless it is the last node, which writes the layer's a), its inputs
// ("z": the layer's z; "#0", "#1", ...: the tensor of the activation's node 0, 1, ...) and at most one
// attribute of each type (an empty attribute name: none).
struct OnnxActivationNode {
  std::string op_type, name;
  std::vector<std::string> inputs{};
  std::string float_attribute{};
  double float_value = 0.0;
  std::string int_attribute{};
  long long int_value = 0;
};

// The nodes that compute a = f(z), in order; none for identity (the Gemm writes a).
std::vector<OnnxActivationNode> onnx_activation_nodes(const LayerSpec& layer);

// The C99 statement that sets `target` to f(z) from the float `z` (softmax: target = z, and the row is
// normalized after, c_export.cpp); float_literal writes a number (c_export.cpp's).
std::string c_activation_statement(const LayerSpec& layer, const std::string& target,
                                   std::string (*float_literal)(double));

namespace trace_detail {

// The working of a = f(z) from the printed z; row_z, cols: the row's z (softmax's sum).
std::vector<Formula> activation_working(Activation f, const NumberFormat& format, double z, double slope,
                                        const double* row_z, int cols);

// The working of f'(z) from the printed z and a (softmax's Jacobian is worked with the loss instead:
// trace_derivation.cpp's derive_output_delta).
Formula derivative_working(Activation f, const NumberFormat& format, double z, double a, double slope);

}  // namespace trace_detail
}  // namespace backprop::io
