// Opening a part of the library that is built as a plugin (a shared object opened at run time): the CUDA
// backend, the MPI communicator. Linking their libraries into every program would map them, and run their
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
// The function `name` of an opened plugin; throws Error(runtime) when it lacks it.
void* plugin_function(void* plugin, const char* name, const std::string& what);

}  // namespace backprop
