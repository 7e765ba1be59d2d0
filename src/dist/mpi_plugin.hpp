// What the MPI plugin (mpi_communicator.cpp, built as libbackprop_mpi.so) and its loader (mpi_loader.cpp)
// agree on: the layout of Communicator. A change to the class is a new number, so that a plugin built before
// it is refused rather than called through a wrong slot.
#pragma once

namespace backprop::dist {

inline constexpr int kMpiPluginAbi = 1;

}  // namespace backprop::dist
