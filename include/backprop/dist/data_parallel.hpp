// The gradient of one step of data-parallel training: every rank computes its share of a global batch and
// the shares are combined into the gradient of the whole batch, identical on every rank. The trainer calls
// compute() once per step in place of forward / loss / backward. See docs/distributed.md.
//
// Two ways, chosen by `deterministic`:
// - plain: rank r takes the contiguous slice rank_rows(B, r, N) of the batch's B rows, computes the gradient
//   of its loss (averaged over its rows), scales it by rows_r / B and one float allreduce sums the slices.
//   With one process this is exactly the single-process step (no scaling, no reduction). The float sum
//   depends on N, so models trained by different N agree to rounding, not bit for bit.
// - deterministic: the batch is cut into fixed chunks of kChunkRows rows (boundaries independent of N);
//   rank r computes whole chunks, each chunk's gradient (times rows_chunk / B) is turned into 64-bit fixed
//   point with a per-layer scale agreed by every rank (a max allreduce of the chunks' largest magnitudes),
//   and the integers are summed (locally, then one int64 allreduce). Integer addition is associative, so
//   the sum, and hence the model, is bit-identical for every N, including a single process with
//   --deterministic. Dropout masks are drawn per chunk from (seed, step, chunk).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/dist/communicator.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/aligned.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/network.hpp"

namespace backprop::dist {

inline constexpr std::size_t kChunkRows = 8;  // rows per fixed chunk of --deterministic

// Rows this rank computed, for the trainer's metrics: their outputs (rows, OUT), targets (rows, OUT),
// labels (rows; classification only, else null) and the loss averaged over them. A non-owning reference
// (kernels::TaskRef: no allocation, no std::function call per step); the callable must outlive the call.
using RowsObserver = kernels::TaskRef<const float* /*outputs*/, const float* /*targets*/,
                                      const std::int32_t* /*labels*/, std::size_t /*rows*/, double /*loss*/>;

class DataParallelStep {
 public:
  // communicator may be null (one process). max_batch: the largest global batch.
  DataParallelStep(Network<float>& network, const Dataset& data, const Scaling& scaling, int max_batch,
                   Communicator* communicator, bool deterministic);

  // Leaves in network.gradients() the gradient of the loss averaged over the batch's `count` rows
  // (data rows indices[0 .. count)), the same on every rank; a loss or gradient that is not finite on any
  // rank leaves a gradient that is not finite on every rank. dropout_random draws the masks of the plain
  // way (each rank > 0 has its own stream from the seed); step numbers the deterministic way's masks.
  // Returns the loss averaged over this rank's rows (0 when it had none).
  double compute(const std::size_t* indices, std::size_t count, long step, Random& dropout_random,
               const RowsObserver& observer);

  bool distributed() const { return size_ > 1; }

 private:
  void compute_rows(const std::size_t* indices, std::size_t count, Random& random, const RowsObserver& observer);
  double compute_plain(const std::size_t* indices, std::size_t count, Random& dropout_random,
                     const RowsObserver& observer);
  double compute_deterministic(const std::size_t* indices, std::size_t count, long step, const RowsObserver& observer);

  Network<float>& network_;
  const Dataset& data_;
  const Scaling& scaling_;
  Communicator* communicator_;
  bool deterministic_;
  int rank_ = 0, size_ = 1;
  bool classification_;
  int outputs_;
  Workspace<float> workspace_;
  std::vector<float> x_;                  // (rows, IN) of the rows being computed
  std::vector<float> y_;                  // (rows, OUT)
  std::vector<std::int32_t> labels_;      // (rows)
  Random rank_random_;                    // dropout of ranks > 0 (plain way)
  double last_loss_ = 0;
  AlignedVector<float> chunk_gradients_;  // (chunks of this rank, parameters): deterministic way
  std::vector<std::int64_t> fixed_sum_;   // (parameters): the fixed-point sum
  std::vector<std::pair<std::size_t, std::size_t>> layer_ranges_;  // [first, last) of each layer in the arena
};

}  // namespace backprop::dist
