// One step's gradient computed by the ranks together (gradient_reducer.hpp; docs/distributed.md).
#include "dist/gradient_reducer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "backprop/base/aligned.hpp"
#include "backprop/nn/batch_rows.hpp"

namespace backprop::dist {
namespace {

// A seed for the dropout masks of chunk `chunk` of step `step` (splitmix64's finalizer over the three).
std::uint64_t chunk_seed(std::uint64_t seed, long step, std::size_t chunk) {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(step) * 0xBF58476D1CE4E5B9ull +
                    static_cast<std::uint64_t>(chunk) * 0x94D049BB133111EBull + 3;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

constexpr std::size_t kMaxLocalChunks = 64;  // chunks converted together, element by element

int ceil_log2(std::size_t n) {
  int bits = 0;
  while ((std::size_t{1} << bits) < n) ++bits;
  return bits;
}

// What both ways share: the communicator (null: one process), the network, each layer's range in the arena.
class ReducerBase : public GradientReducer {
 public:
  ReducerBase(Network<float>& network, Communicator* communicator)
      : network_(network),
        communicator_(communicator),
        rank_(communicator ? communicator->rank() : 0),
        size_(communicator ? communicator->size() : 1) {
    for (std::size_t l = 0; l < network.layer_count(); ++l) {
      const DenseLayer& layer = network.layer(l);
      layer_ranges_.emplace_back(layer.weights_offset, layer.bias_offset + layer.out);
    }
  }
  void sum_over_ranks(MetricSums& sums) override {
    if (communicator_ == nullptr) return;
    double totals[MetricSums::kFields];
    sums.to_array(totals);
    communicator_->sum(totals);
    sums.from_array(totals);
  }
  int rank() const override { return rank_; }
  bool distributed() const override { return size_ > 1; }

 protected:
  Network<float>& network_;
  Communicator* communicator_;
  int rank_, size_;
  std::vector<std::pair<std::size_t, std::size_t>> layer_ranges_;  // [first, last) of each layer in the arena
};

// The whole batch's sums under the plain way (nn/network.hpp's BatchSync; a batch_norm's statistics, with
// SyncBatchNorm's semantics): a double allreduce of the column sums, twice per batch_norm forward and once
// backward; the weight is the rank's part of the batch's loss.
class RankSync final : public BatchSync {
 public:
  RankSync(Communicator& communicator, const Network<float>& network) : communicator_(communicator) {
    std::size_t widest = 0;
    for (std::size_t l = 0; l < network.layer_count(); ++l)
      widest = std::max(widest, static_cast<std::size_t>(network.layer(l).out));
    scratch_.resize(2 * widest + 1);
  }
  void sum(std::span<double> values) override { communicator_.sum(values); }
  double weight() const override { return weight_; }
  std::span<double> scratch(std::size_t n) override { return std::span<double>(scratch_).first(n); }
  double weight_ = 1;

 private:
  Communicator& communicator_;
  std::vector<double> scratch_;
};

// Plain: the gradient of the slice, weighted by its share of the batch, summed by one float allreduce.
// Each rank's gradient averages over its own rows: g = sum_r (rows_r / B) g_r is the batch's average.
class PlainReducer final : public ReducerBase {
 public:
  PlainReducer(Network<float>& network, Communicator& communicator)
      : ReducerBase(network, &communicator),
        // Rank r > 0 draws its own masks; rank 0 uses the trainer's stream, so that one process trains
        // exactly as without dist/.
        rank_random_(network.spec().seed * 0x9E3779B97F4A7C15ull + 2 + 0x632BE59BD9B4E019ull * rank_) {
    if (fewest_batch_rows(network.spec()).spans_batch()) sync_.emplace(communicator, network);
  }

  double reduce(GradientSource& source, const std::size_t* indices, std::size_t count, long /*step*/,
                Random& dropout_random) override {
    const RowRange mine = rank_rows(count, rank_, size_);
    const std::span<float> gradients = network_.gradients();
    double loss = 0;
    if (mine.size() == 0) {
      std::fill(gradients.begin(), gradients.end(), 0.0f);  // a batch smaller than the ranks (no batch_norm)
    } else {
      const double total = source.share(indices, count);  // the row count, or the weights' sum
      const double part = total > 0 ? source.share(indices + mine.begin, mine.size()) / total : 0.0;
      if (sync_) {
        sync_->weight_ = part;
        network_.set_batch_sync(&*sync_);
      }
      try {
        loss = source.rows_gradient(indices + mine.begin, mine.size(), rank_ == 0 ? dropout_random : rank_random_);
      } catch (...) {
        network_.set_batch_sync(nullptr);
        throw;
      }
      network_.set_batch_sync(nullptr);
      const auto weight = static_cast<float>(part);
      for (float& g : gradients) g *= weight;
      // A loss that is not finite here must stop every rank: a NaN in the sum reaches them all.
      if (!std::isfinite(loss)) gradients[0] = std::numeric_limits<float>::quiet_NaN();
    }
    communicator_->sum_gradients(gradients);
    return loss;
  }

 private:
  Random rank_random_;  // dropout of ranks > 0
  std::optional<RankSync> sync_;  // with entries whose training statistics span the batch (batch_norm's)
};

// Deterministic: fixed chunks, exact fixed-point sums (gradient_reducer.hpp). Per layer l, with m_l the
// largest |weight_k g_k,i| over every chunk k of the batch (agreed by a max allreduce) and m_l < 2^e_l, each
// value becomes the integer round(weight_k g_k,i 2^s_l), s_l = 62 - e_l - ceil(log2 K) for K chunks, so that
// the sum of the K integers stays below 2^62: no overflow. The absolute error of a summed value is at most
// K/2 units of 2^-s_l (about m_l 2^-55 for K = 16), far below float's rounding of the largest values.
class ExactReducer final : public ReducerBase {
 public:
  ExactReducer(Network<float>& network, int max_batch, Communicator* communicator)
      : ReducerBase(network, communicator),
        largest_(layer_ranges_.size()),
        to_fixed_(layer_ranges_.size()),
        from_fixed_(layer_ranges_.size()),
        fixed_sum_(network.parameters().size()) {
    const std::size_t chunks = (static_cast<std::size_t>(max_batch) + kChunkRows - 1) / kChunkRows;
    const std::size_t mine = rank_rows(chunks, 0, size_).size();  // rank 0 has the most
    chunk_gradients_.resize(mine * network.parameters().size());
    chunk_weights_.resize(mine);
  }

  double reduce(GradientSource& source, const std::size_t* indices, std::size_t count, long step,
                Random& /*dropout_random*/) override {
    const std::size_t chunks = (count + kChunkRows - 1) / kChunkRows;
    const RowRange mine = rank_rows(chunks, rank_, size_);
    const double loss = compute_chunks(source, indices, count, step, mine);
    if (communicator_) communicator_->max(std::span<double>(largest_));
    choose_scales(chunks);
    sum_chunks(mine);
    if (communicator_) communicator_->sum_gradients(std::span<std::int64_t>(fixed_sum_));
    const std::span<float> gradients = network_.gradients();
    for (std::size_t l = 0; l < layer_ranges_.size(); ++l) {
      const double factor = from_fixed_[l];
      for (std::size_t i = layer_ranges_[l].first; i < layer_ranges_[l].second; ++i)
        gradients[i] = static_cast<float>(static_cast<double>(fixed_sum_[i]) * factor);
    }
    return loss;
  }

 private:
  // Each of this rank's chunks: its gradient (with its dropout masks) into its slot, and each layer's largest
  // weighted magnitude into largest_ (infinity when a value or the loss is not finite). Returns the loss
  // averaged over this rank's rows.
  double compute_chunks(GradientSource& source, const std::size_t* indices, std::size_t count, long step,
                        const RowRange& mine) {
    const std::span<float> gradients = network_.gradients();
    const std::size_t parameters = gradients.size();
    const std::size_t layers = layer_ranges_.size();
    const double infinity = std::numeric_limits<double>::infinity();
    std::fill(largest_.begin(), largest_.end(), 0.0);
    double loss_sum = 0;
    std::size_t rows_done = 0;
    for (std::size_t k = mine.begin; k < mine.end; ++k) {
      const std::size_t first = k * kChunkRows;
      const std::size_t rows = std::min(kChunkRows, count - first);
      Random chunk_random(chunk_seed(network_.spec().seed, step, k));
      const double loss = source.rows_gradient(indices + first, rows, chunk_random);
      loss_sum += loss * static_cast<double>(rows);
      rows_done += rows;
      // The chunk's part of the batch (rows / count without row weights), the same on every rank.
      const double total = source.share(indices, count);
      const double weight = total > 0 ? source.share(indices + first, rows) / total : 0.0;
      chunk_weights_[k - mine.begin] = weight;
      float* slot = chunk_gradients_.data() + (k - mine.begin) * parameters;
      for (std::size_t l = 0; l < layers; ++l) {  // copy and largest magnitude in one pass
        float m = 0, poison = 0;  // poison: 0, or NaN once a value is NaN or infinite (x * 0)
        for (std::size_t i = layer_ranges_[l].first; i < layer_ranges_[l].second; ++i) {
          slot[i] = gradients[i];
          m = std::max(m, std::abs(gradients[i]));
          poison += gradients[i] * 0.0f;
        }
        const bool finite = poison == 0.0f;
        largest_[l] = finite ? std::max(largest_[l], static_cast<double>(m) * weight) : infinity;
      }
      if (!std::isfinite(loss)) largest_[layers - 1] = infinity;
    }
    return rows_done > 0 ? loss_sum / static_cast<double>(rows_done) : 0.0;
  }

  // The scale of each layer; a layer whose largest value is not finite (on any rank) ends as NaN.
  void choose_scales(std::size_t chunks) {
    for (std::size_t l = 0; l < layer_ranges_.size(); ++l) {
      if (!(largest_[l] < std::numeric_limits<double>::infinity())) {
        to_fixed_[l] = 0;
        from_fixed_[l] = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      int exponent = 0;
      if (largest_[l] > 0) std::frexp(largest_[l], &exponent);  // largest < 2^exponent
      const int shift = std::min(1000, 62 - exponent - ceil_log2(std::max<std::size_t>(chunks, 1)));
      to_fixed_[l] = std::ldexp(1.0, shift);
      from_fixed_[l] = std::ldexp(1.0, -shift);
    }
  }

  // This rank's chunks summed in fixed point, element by element: each chunk is read once and each sum
  // written once.
  void sum_chunks(const RowRange& mine) {
    const std::size_t parameters = fixed_sum_.size();
    const std::size_t local_chunks = mine.size();
    double factors[kMaxLocalChunks];
    const std::size_t batched = std::min(local_chunks, kMaxLocalChunks);
    for (std::size_t l = 0; l < layer_ranges_.size(); ++l) {
      const std::size_t first = layer_ranges_[l].first, last = layer_ranges_[l].second;
      std::fill(fixed_sum_.begin() + static_cast<std::ptrdiff_t>(first),
                fixed_sum_.begin() + static_cast<std::ptrdiff_t>(last), std::int64_t{0});
      if (to_fixed_[l] == 0) continue;
      for (std::size_t c0 = 0; c0 < local_chunks; c0 += batched) {
        const std::size_t c1 = std::min(local_chunks, c0 + batched);
        for (std::size_t c = c0; c < c1; ++c)
          factors[c - c0] = chunk_weights_[c] * to_fixed_[l];  // exact: to_fixed is a power of two
        for (std::size_t i = first; i < last; ++i) {
          std::int64_t sum = fixed_sum_[i];
          for (std::size_t c = c0; c < c1; ++c)
            sum += std::llrint(static_cast<double>(chunk_gradients_[c * parameters + i]) * factors[c - c0]);
          fixed_sum_[i] = sum;
        }
      }
    }
  }

  std::vector<double> largest_, to_fixed_, from_fixed_;  // (layers)
  AlignedVector<float> chunk_gradients_;  // (chunks of this rank, parameters)
  std::vector<double> chunk_weights_;     // (chunks of this rank): each one's part of the batch's gradient
  std::vector<std::int64_t> fixed_sum_;   // (parameters): the fixed-point sum
};

}  // namespace

std::unique_ptr<GradientReducer> make_gradient_reducer(Network<float>& network, int max_batch,
                                                       Communicator* communicator, bool deterministic) {
  // With statistics that span the batch (batch_norm's), the fixed chunks would each have their own: every process
  // computes the whole batch instead (no reducer), the single process's computation, so the same bits for any
  // number of ranks.
  if (deterministic && fewest_batch_rows(network.spec()).spans_batch()) return nullptr;
  if (deterministic) return std::make_unique<ExactReducer>(network, max_batch, communicator);
  if (communicator != nullptr && communicator->size() > 1) return std::make_unique<PlainReducer>(network, *communicator);
  return nullptr;
}

}  // namespace backprop::dist
