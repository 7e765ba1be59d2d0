// start() in a build with BACKPROP_WITH_MPI: the MPI communicator is the plugin libbackprop_mpi.so
// (mpi_communicator.cpp), opened only when a launcher started the process, so that a run of one process never
// maps libmpi and the libraries it brings (docs/performance.md, "Process start").
#include <cstddef>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/dist/communicator.hpp"
#include "base/plugin.hpp"
#include "dist/mpi_plugin.hpp"

namespace backprop::dist {

bool mpi_available() { return true; }

std::unique_ptr<Communicator> start() {
  if (!launched_by_mpi()) return std::make_unique<LocalCommunicator>();
  PluginSearch search;
  search.what = "the MPI communicator (libbackprop_mpi.so)";
  search.environment = "BACKPROP_MPI_PLUGIN";
  search.paths = {BACKPROP_MPI_PLUGIN_BUILD, BACKPROP_MPI_PLUGIN_INSTALL, "libbackprop_mpi.so"};
  search.abi_symbol = "backprop_mpi_plugin_abi";
  search.abi = kMpiPluginAbi;
  search.global = true;  // Open MPI opens its components, which look for libmpi's symbols in the global scope
  void* plugin = open_plugin(search);
  using CreateFunction = Communicator* (*)(char*, std::size_t);
  const auto create = reinterpret_cast<CreateFunction>(plugin_function(plugin, "backprop_mpi_create", search.what));
  char message[512] = "";
  Communicator* communicator = create(message, sizeof message);
  if (communicator == nullptr) throw_runtime_error(message);
  return std::unique_ptr<Communicator>(communicator);
}

}  // namespace backprop::dist
