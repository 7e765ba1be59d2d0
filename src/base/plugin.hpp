// Opening a part of the library that is built as a plugin (a shared object opened at run time): the CUDA
// backend, the MPI communicator; and the heavy libraries opened on first use (OpenBLAS, oneDNN:
// kernels/cpu/blas_libraries.hpp). Linking them into every program would map them, and run their
// initializers, at every start, for runs that never use them (docs/performance.md, "Process start").
#pragma once

#include <string>
#include <vector>

namespace backprop {

struct PluginSearch {
  std::string what;                     // for the message: "the CUDA backend (libbackprop_cuda.so)"
  std::string environment;              // a variable naming the plugin's path, tried first ("BACKPROP_CUDA_PLUGIN")
  std::vector<std::string> paths;       // then these: the build tree's, the install tree's, the bare name
  std::string abi_symbol;               // a function `int ()` the plugin exports, returning `abi`
  int abi = 0;
  bool global = false;                  // RTLD_GLOBAL: its libraries' own plugins need their symbols (Open MPI)
};

// The first candidate that opens and answers the ABI, never closed (what it makes lives in it); throws
// Error(runtime) naming every path tried and why it failed.
void* open_plugin(const PluginSearch& search);
// A shared library by its name (a soname, found by the loader's search path), local to its users and never
// closed; throws Error(runtime) with `what` and the loader's reason when it cannot be opened.
void* open_library(const char* name, const std::string& what);
// The function `name` of an opened plugin or library; throws Error(runtime) when it lacks it.
void* plugin_function(void* plugin, const char* name, const std::string& what);

}  // namespace backprop
