// The MPI communicator (built only with BACKPROP_WITH_MPI, as the plugin libbackprop_mpi.so that start()
// opens when a launcher started the process: mpi_loader.cpp): MPI_COMM_WORLD, one MPI_Allreduce per
// collective. MPI_Init happens when it is made and MPI_Finalize when it is destroyed.
// MPI's C interface only: no C++ bindings (Open MPI and MPICH would otherwise need their C++ library).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "backprop/dist/communicator.hpp"
#include "backprop/base/error.hpp"
#include "dist/mpi_plugin.hpp"

namespace backprop::dist {
namespace {

void check(int status, const char* what) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw_runtime_error(std::string("MPI: ") + what + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) check(MPI_Init(nullptr, nullptr), "MPI_Init");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void sum_gradients(std::span<float> values) override { timed_sum(values.data(), values.size(), MPI_FLOAT); }
  void sum_gradients(std::span<std::int64_t> values) override {
    timed_sum(values.data(), values.size(), MPI_INT64_T);
  }
  void sum(std::span<double> values) override {
    if (size_ > 1) check(all_reduce(values.data(), values.size(), MPI_DOUBLE, MPI_SUM), "MPI_Allreduce");
  }
  void max(std::span<double> values) override {
    if (size_ > 1) check(all_reduce(values.data(), values.size(), MPI_DOUBLE, MPI_MAX), "MPI_Allreduce");
  }
  void broadcast(std::span<float> values, int root) override {
    if (size_ > 1)
      check(MPI_Bcast(values.data(), static_cast<int>(values.size()), MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  void broadcast(std::string& text, int root) override {
    if (size_ == 1) return;
    int length = static_cast<int>(text.size());
    check(MPI_Bcast(&length, 1, MPI_INT, root, MPI_COMM_WORLD), "MPI_Bcast");
    text.resize(static_cast<std::size_t>(length));
    check(MPI_Bcast(text.data(), length, MPI_CHAR, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  void all_gather(std::uint64_t value, std::span<std::uint64_t> values) override {
    check(MPI_Allgather(&value, 1, MPI_UINT64_T, values.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD), "MPI_Allgather");
  }

 private:
  static int all_reduce(void* values, std::size_t count, MPI_Datatype type, MPI_Op op) {
    // MPI counts are int: a very large arena goes in pieces.
    constexpr std::size_t piece = std::size_t{1} << 30;
    int type_size = 0;
    MPI_Type_size(type, &type_size);
    auto* bytes = static_cast<char*>(values);
    for (std::size_t done = 0; done < count; done += piece) {
      const int n = static_cast<int>(std::min(piece, count - done));
      const int status = MPI_Allreduce(MPI_IN_PLACE, bytes + done * static_cast<std::size_t>(type_size), n, type, op,
                                       MPI_COMM_WORLD);
      if (status != MPI_SUCCESS) return status;
    }
    return MPI_SUCCESS;
  }
  void timed_sum(void* values, std::size_t count, MPI_Datatype type) {
    if (size_ == 1) return;
    // The barrier separates waiting for a slower rank (load imbalance, a busy core) from the transfer.
    const auto arrived = std::chrono::steady_clock::now();
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
    const auto started = std::chrono::steady_clock::now();
    check(all_reduce(values, count, type, MPI_SUM), "MPI_Allreduce of the gradients");
    const auto done = std::chrono::steady_clock::now();
    wait_seconds_ += std::chrono::duration<double>(started - arrived).count();
    communication_seconds_ += std::chrono::duration<double>(done - started).count();
    ++gradient_reductions_;
  }

  int rank_ = 0, size_ = 1;
};

}  // namespace

}  // namespace backprop::dist

// The plugin's entry points (mpi_loader.cpp): the layout it was built with, and the world's communicator (null
// with the reason in `message` when MPI fails to start).
extern "C" __attribute__((visibility("default"))) int backprop_mpi_plugin_abi() {
  return backprop::dist::kMpiPluginAbi;
}

extern "C" __attribute__((visibility("default"))) backprop::dist::Communicator* backprop_mpi_create(
    char* message, std::size_t size) {
  try {
    return new backprop::dist::MpiCommunicator();
  } catch (const std::exception& e) {
    std::snprintf(message, size, "%s", e.what());
  }
  return nullptr;
}
