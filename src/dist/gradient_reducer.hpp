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
// Internal to the library.
#pragma once

#include <memory>

#include "backprop/dist/communicator.hpp"
#include "train/step.hpp"

namespace backprop::dist {

inline constexpr std::size_t kChunkRows = 8;  // rows per fixed chunk of --deterministic

// The reducer for this communicator (null: one process) and way; null when the step needs none (one process,
// not deterministic). max_batch: the largest global batch.
std::unique_ptr<GradientReducer> make_gradient_reducer(Network<float>& network, int max_batch,
                                                       Communicator* communicator, bool deterministic);

}  // namespace backprop::dist
