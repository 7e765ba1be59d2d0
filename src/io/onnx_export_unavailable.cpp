// ONNX export in a build without it (CMake option BACKPROP_WITH_ONNX off: protobuf or onnx.proto missing).
#include "backprop/base/error.hpp"
#include "backprop/io/onnx_export.hpp"

namespace backprop::io {

namespace {
[[noreturn]] void not_built_in() {
  throw OptionError("format",
                    "ONNX export was not built into this backprop (it needs protobuf and ONNX's onnx.proto: install "
                    "libprotobuf-dev protobuf-compiler libonnx-dev and configure with -DBACKPROP_WITH_ONNX=ON)");
}
}  // namespace

bool onnx_export_available() { return false; }
std::string onnx_model_bytes(const ModelFile&) { not_built_in(); }
void export_onnx(const std::filesystem::path&, const ModelFile&) { not_built_in(); }

}  // namespace backprop::io
