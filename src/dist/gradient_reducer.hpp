// The gradient of one step of data-parallel training (docs/distributed.md): every rank computes its share of
// a global batch and the shares are combined into the gradient of the whole batch, identical on every rank.
// The CPU step (train/cpu_step.cpp) calls reduce() once per step in place of its own forward and backward.
//
// Two ways, chosen by `deterministic`:
// - plain: rank r takes the contiguous slice rank_rows(B, r, N) of the batch's B rows, computes the gradient
//   of its loss (averaged over its rows), scales it by rows_r / B and one float allreduce sums the slices.
//   One process needs no reducer: its step is the single-process step. The float sum depends on N, so models
//   trained by different N agree to rounding, not bit for bit.
// - deterministic: the batch is cut into fixed chunks of kChunkRows rows (boundaries independent of N);
//   rank r computes whole chunks, each chunk's gradient (times rows_chunk / B) is turned into 64-bit fixed
//   point with a per-layer scale agreed by every rank (a max allreduce of the chunks' largest magnitudes),
//   and the integers are summed (locally, then one int64 allreduce). Integer addition is associative, so
//   the sum, and hence the model, is bit-identical for every N, including a single process with
//   --deterministic. Dropout masks are drawn per chunk from (seed, step, chunk).
// A network with batch_norm normalizes with the whole batch's statistics: the plain way sums the ranks' column
// sums inside the pass (nn/network.hpp's BatchSync); deterministic, every rank computes the whole batch
// (make_gradient_reducer gives no reducer), since chunks would have statistics of their own.
// Internal to the library.
#pragma once

#include <cstddef>
#include <memory>

#include "backprop/base/metric_sums.hpp"
#include "backprop/base/random.hpp"
#include "backprop/dist/communicator.hpp"
#include "backprop/nn/network.hpp"

namespace backprop {

// The gradient of a whole batch from the shares the processes compute. The CPU step (train/cpu_step.cpp)
// hands it a GradientSource, which computes the gradient of given rows into the network's gradient arena.
class GradientSource {
 public:
  // Forward, loss and backward of rows indices[0, count) with dropout masks from random: leaves in the
  // network's gradient arena the gradient of their loss averaged over them, adds the rows to the epoch's
  // sums and returns that loss.
  virtual double rows_gradient(const std::size_t* indices, std::size_t count, Random& random) = 0;
  // The rows' part of the denominator of the batch's loss (nn/loss.hpp): their count, or the sum of their
  // weights where the loss is a weighted mean (softmax_ce with row weights). A reducer weighs each share's
  // gradient by its part of the batch's.
  virtual double share(const std::size_t* /*indices*/, std::size_t count) const { return static_cast<double>(count); }

 protected:
  ~GradientSource() = default;
};

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  // Leaves in the network's gradient arena the gradient of the loss averaged over the batch's count rows
  // (data rows indices[0, count)), the same on every rank, computing this rank's share through source; a
  // loss or gradient that is not finite on any rank leaves a gradient that is not finite on every rank.
  // Returns the loss averaged over this rank's rows (0 when it had none).
  virtual double reduce(GradientSource& source, const std::size_t* indices, std::size_t count, long step,
                        Random& dropout_random) = 0;
  // Adds every rank's sums into sums.
  virtual void sum_over_ranks(MetricSums& sums) = 0;
  virtual int rank() const = 0;
  virtual bool distributed() const = 0;  // more than one process
};

}  // namespace backprop

namespace backprop::dist {

inline constexpr std::size_t kChunkRows = 8;  // rows per fixed chunk of --deterministic

// The reducer for this communicator (null: one process) and way; null when the step needs none (one process,
// not deterministic). max_batch: the largest global batch.
std::unique_ptr<GradientReducer> make_gradient_reducer(Network<float>& network, int max_batch,
                                                       Communicator* communicator, bool deterministic);

}  // namespace backprop::dist
