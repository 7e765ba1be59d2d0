// The parts of dist/ that do not need MPI: row slices, the agreement on a failure, the setup fingerprint,
// and start() where MPI is not built in.
#include "backprop/dist/communicator.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backprop/base/error.hpp"

namespace backprop::dist {
namespace {

int environment_int(const char* name, int otherwise) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : otherwise;
}

// The launcher's world size: Open MPI, MPICH/Hydra (PMI), PMIx, Slurm.
[[maybe_unused]] int launcher_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}) {
    const int size = environment_int(name, 0);
    if (size > 0) return size;
  }
  return 0;
}

}  // namespace

bool launched_by_mpi() {
  return std::getenv("OMPI_COMM_WORLD_RANK") != nullptr || std::getenv("PMI_RANK") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr;
}

int local_process_count() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"}) {
    const int size = environment_int(name, 0);
    if (size > 0) return size;
  }
  return 1;
}

#ifndef BACKPROP_WITH_MPI
bool mpi_available() { return false; }
std::unique_ptr<Communicator> start() {
  if (launched_by_mpi() && launcher_size() > 1)
    throw_bad_input("this backprop was built without MPI (BACKPROP_WITH_MPI=OFF), but it was started as one of " +
                    std::to_string(launcher_size()) +
                    " ranks by an MPI launcher; rebuild with MPI (Debian: libopenmpi-dev openmpi-bin)");
  return std::make_unique<LocalCommunicator>();
}
#endif

RowRange rank_rows(std::size_t count, int rank, int size) {
  const std::size_t n = static_cast<std::size_t>(size), r = static_cast<std::size_t>(rank);
  const std::size_t base = count / n, extra = count % n;
  RowRange range;
  range.begin = r * base + std::min(r, extra);
  range.end = range.begin + base + (r < extra ? 1 : 0);
  return range;
}

Failure agree_on_failure(Communicator& communicator, const Failure& mine) {
  // The lowest failing rank reports: a max over -rank picks it without a MIN operation.
  std::vector<double> first{mine.exit_code != 0 ? -static_cast<double>(communicator.rank()) : -1e9};
  communicator.max(first);
  Failure agreed;
  if (first[0] == -1e9) return agreed;
  agreed.rank = static_cast<int>(-first[0]);
  const bool reporter = communicator.rank() == agreed.rank;
  std::vector<float> code{reporter ? static_cast<float>(mine.exit_code) : 0.0f};
  communicator.broadcast(code, agreed.rank);
  agreed.exit_code = static_cast<int>(code[0]);
  agreed.message = reporter ? mine.message : std::string();
  communicator.broadcast(agreed.message, agreed.rank);
  return agreed;
}

std::string check_same_setup(Communicator& communicator, const std::vector<SetupPart>& mine) {
  if (communicator.size() == 1) return "";
  std::vector<std::uint64_t> all(static_cast<std::size_t>(communicator.size()));
  for (const SetupPart& part : mine) {
    communicator.all_gather(part.hash, all);
    for (std::size_t r = 1; r < all.size(); ++r)
      if (all[r] != all[0])
        return "the ranks differ: rank " + std::to_string(r) + " of " + std::to_string(all.size()) +
               " differs from rank 0 in " + part.what;
  }
  return "";
}

}  // namespace backprop::dist
