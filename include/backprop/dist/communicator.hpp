// Data-parallel training (dist/): the ranks of one job, and the few collective operations the trainer and
// the train command need. The trainer sees only this interface; the MPI implementation (mpi_communicator.cpp)
// is compiled only when CMake found MPI (BACKPROP_WITH_MPI), and a single process uses LocalCommunicator,
// whose operations are no-ops. See docs/distributed.md.
//
// Every operation is collective: every rank calls it, in the same order, with spans of the same size.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace backprop::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  // 0 .. size() - 1; rank 0 prints and writes files
  virtual int size() const = 0;

  // The gradient reduction of one step, in place: values = the sum over ranks. The time spent in it is
  // counted: first waiting for the slowest rank to arrive (a barrier: wait_seconds), then the allreduce
  // itself (communication_seconds).
  virtual void sum_gradients(std::span<float> values) = 0;
  // The same for the exact (fixed-point) gradients of --deterministic: integer sums, so the result does
  // not depend on the order in which ranks are added. Counted like sum_gradients.
  virtual void sum_gradients(std::span<std::int64_t> values) = 0;
  // Element-wise sum or maximum over ranks, in place (metrics, scales, flags); not counted.
  virtual void sum(std::span<double> values) = 0;
  virtual void max(std::span<double> values) = 0;
  // Every rank receives root's values.
  virtual void broadcast(std::span<float> values, int root) = 0;
  virtual void broadcast(std::string& text, int root) = 0;
  // Every rank's 64-bit value, in rank order, on every rank.
  virtual void all_gather(std::uint64_t value, std::span<std::uint64_t> values) = 0;

  double communication_seconds() const { return communication_seconds_; }
  double wait_seconds() const { return wait_seconds_; }
  long gradient_reductions() const { return gradient_reductions_; }

 protected:
  double communication_seconds_ = 0;
  double wait_seconds_ = 0;
  long gradient_reductions_ = 0;
};

// One process: rank 0 of 1; every operation leaves its values as they are.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void sum_gradients(std::span<float>) override {}
  void sum_gradients(std::span<std::int64_t>) override {}
  void sum(std::span<double>) override {}
  void max(std::span<double>) override {}
  void broadcast(std::span<float>, int) override {}
  void broadcast(std::string&, int) override {}
  void all_gather(std::uint64_t value, std::span<std::uint64_t> values) override { values[0] = value; }
};

// True when this build has the MPI communicator.
bool mpi_available();
// True when this process was started by an MPI launcher (mpirun, mpiexec, srun): its environment names
// a rank.
bool launched_by_mpi();
// The communicator of this process: MPI's world (MPI_Init now, MPI_Finalize when it is destroyed) when the
// build has MPI and the process was launched by mpirun, else a LocalCommunicator. Throws Error(bad_input)
// when launched by mpirun without MPI built in and the launcher says there are several ranks.
std::unique_ptr<Communicator> start();

// Processes of this job on this host (the launcher's local size), 1 when unknown.
int local_process_count();

// Rank r's share of `count` rows split in contiguous slices whose sizes differ by at most 1: [begin, end).
struct RowRange {
  std::size_t begin = 0, end = 0;
  std::size_t size() const { return end - begin; }
};
RowRange rank_rows(std::size_t count, int rank, int size);

// A rank's failure before training (its data could not be read, ...), agreed by all ranks: every rank
// passes its own (exit_code 0 for none) and every rank gets the first failing rank's, or exit_code 0.
struct Failure {
  int exit_code = 0;
  std::string message;
  int rank = -1;  // the failing rank, in the result
};
Failure agree_on_failure(Communicator& communicator, const Failure& mine);

// What must be equal on every rank for them to train one model, as parts of one hash each with the words
// that name the part ("its training or validation data ..."): the run's fingerprint (train/fingerprint.hpp,
// fingerprint_parts). check_same_setup gathers every rank's hashes and returns a message naming the first
// rank and part that differ from rank 0's, or "" (on every rank).
struct SetupPart {
  std::uint64_t hash = 0;
  std::string what;
};
std::string check_same_setup(Communicator& communicator, const std::vector<SetupPart>& mine);

}  // namespace backprop::dist
