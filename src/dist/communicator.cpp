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

std::uint64_t hash_bytes(const void* data, std::size_t size, std::uint64_t seed) {
  // FNV-1a over 8-byte words (then the tail), mixed: fast enough for a data set of some hundred MB.
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::uint64_t h = 0xcbf29ce484222325ull ^ (seed * 0x9E3779B97F4A7C15ull) ^ size;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    h = (h ^ word) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; i < size; ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  return h;
}

std::uint64_t build_id() {
  // Ranks must compute alike to keep identical parameters: the same version, compiler and instruction set
  // (FMA and vector width change the rounding of the matrix products).
  std::string id = std::string("backprop ") + BACKPROP_VERSION + "; " + __VERSION__ + "; MPI " +
                   (mpi_available() ? "on" : "off");
#ifdef __AVX512F__
  id += "; avx512f";
#endif
#ifdef __AVX2__
  id += "; avx2";
#endif
#ifdef __FMA__
  id += "; fma";
#endif
#ifdef __aarch64__
  id += "; aarch64";
#endif
  return hash_bytes(id.data(), id.size());
}

std::string check_same_setup(Communicator& communicator, const Fingerprint& mine) {
  if (communicator.size() == 1) return "";
  const struct {
    std::uint64_t Fingerprint::*field;
    const char* what;
  } parts[] = {
      {&Fingerprint::build, "its build (version, compiler or instruction set; build the same sources alike on every host)"},
      {&Fingerprint::network, "its network or training recipe (network file, options)"},
      {&Fingerprint::options, "its command options"},
      {&Fingerprint::data, "its training or validation data (give every host the same files)"},
  };
  std::vector<std::uint64_t> all(static_cast<std::size_t>(communicator.size()));
  for (const auto& part : parts) {
    communicator.all_gather(mine.*part.field, all);
    for (std::size_t r = 1; r < all.size(); ++r)
      if (all[r] != all[0])
        return "the ranks differ: rank " + std::to_string(r) + " of " + std::to_string(all.size()) +
               " differs from rank 0 in " + part.what;
  }
  return "";
}

}  // namespace backprop::dist
