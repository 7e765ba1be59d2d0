// One step's gradient computed by the ranks together (data_parallel.hpp; docs/distributed.md).
#include "backprop/dist/data_parallel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

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

}  // namespace

DataParallelStep::DataParallelStep(Network<float>& network, const Dataset& data, const Scaling& scaling,
                                   int max_batch, Communicator* communicator, bool deterministic)
    : network_(network),
      data_(data),
      scaling_(scaling),
      communicator_(communicator),
      deterministic_(deterministic),
      rank_(communicator ? communicator->rank() : 0),
      size_(communicator ? communicator->size() : 1),
      classification_(data.task == TaskKind::classification),
      outputs_(network.output_size()),
      workspace_(network, max_batch),
      x_(static_cast<std::size_t>(max_batch) * data.features),
      y_(static_cast<std::size_t>(max_batch) * network.output_size()),
      labels_(static_cast<std::size_t>(max_batch)),
      // Rank r > 0 draws its own masks in the plain way; rank 0 uses the trainer's stream, so that one
      // process trains exactly as without dist/.
      rank_random_(network.spec().seed * 0x9E3779B97F4A7C15ull + 2 + 0x632BE59BD9B4E019ull * rank_) {
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    const DenseLayer& layer = network.layer(l);
    layer_ranges_.emplace_back(layer.weights_offset, layer.bias_offset + layer.out);
  }
  if (deterministic_) {
    const std::size_t chunks = (static_cast<std::size_t>(max_batch) + kChunkRows - 1) / kChunkRows;
    const std::size_t mine = rank_rows(chunks, 0, size_).size();  // rank 0 has the most
    chunk_gradients_.resize(mine * network.parameters().size());
    fixed_sum_.resize(network.parameters().size());
  }
}

void DataParallelStep::compute_rows(const std::size_t* indices, std::size_t count, Random& random,
                                    const RowsObserver& observer) {
  data_.gather_rows(x_.data(), indices, count, scaling_);
  data_.gather_targets(y_.data(), indices, count, outputs_);
  if (classification_)
    for (std::size_t r = 0; r < count; ++r) labels_[r] = data_.labels[indices[r]];
  const int rows = static_cast<int>(count);
  network_.forward_train(workspace_, x_.data(), rows, random);
  last_loss_ = network_.loss_value(workspace_, y_.data(), rows);
  network_.backward(workspace_, x_.data(), y_.data(), rows);
  observer(network_.output(workspace_), y_.data(), classification_ ? labels_.data() : nullptr, count, last_loss_);
}

double DataParallelStep::compute(const std::size_t* indices, std::size_t count, long step, Random& dropout_random,
                                 const RowsObserver& observer) {
  if (deterministic_) return compute_deterministic(indices, count, step, observer);
  return compute_plain(indices, count, dropout_random, observer);
}

// Plain: the gradient of the slice, weighted by its share of the batch, summed by one float allreduce.
// Each rank's gradient averages over its own rows: g = sum_r (rows_r / B) g_r is the batch's average.
double DataParallelStep::compute_plain(const std::size_t* indices, std::size_t count, Random& dropout_random,
                                       const RowsObserver& observer) {
  if (size_ == 1) {
    compute_rows(indices, count, dropout_random, observer);
    return last_loss_;
  }
  const RowRange mine = rank_rows(count, rank_, size_);
  const std::span<float> gradients = network_.gradients();
  double loss = 0;
  if (mine.size() == 0) {
    std::fill(gradients.begin(), gradients.end(), 0.0f);  // a batch smaller than the ranks
  } else {
    compute_rows(indices + mine.begin, mine.size(), rank_ == 0 ? dropout_random : rank_random_, observer);
    loss = last_loss_;
    const float weight = static_cast<float>(static_cast<double>(mine.size()) / static_cast<double>(count));
    for (float& g : gradients) g *= weight;
    // A loss that is not finite here must stop every rank: a NaN in the sum reaches them all.
    if (!std::isfinite(loss)) gradients[0] = std::numeric_limits<float>::quiet_NaN();
  }
  communicator_->sum_gradients(gradients);
  return loss;
}

// Deterministic: fixed chunks, exact fixed-point sums (data_parallel.hpp). Per layer l, with m_l the largest
// |weight_k g_k,i| over every chunk k of the batch (agreed by a max allreduce) and m_l < 2^e_l, each value
// becomes the integer round(weight_k g_k,i 2^s_l), s_l = 62 - e_l - ceil(log2 K) for K chunks, so that the
// sum of the K integers stays below 2^62: no overflow. The absolute error of a summed value is at most
// K/2 units of 2^-s_l (about m_l 2^-55 for K = 16), far below float's rounding of the largest values.
double DataParallelStep::compute_deterministic(const std::size_t* indices, std::size_t count, long step,
                                               const RowsObserver& observer) {
  const std::size_t chunks = (count + kChunkRows - 1) / kChunkRows;
  const RowRange mine = rank_rows(chunks, rank_, size_);
  const std::span<float> gradients = network_.gradients();
  const std::size_t parameters = gradients.size();
  const std::size_t layers = layer_ranges_.size();
  const double infinity = std::numeric_limits<double>::infinity();
  double layer_max[64];
  std::vector<double> layer_max_heap;  // more than 64 layers: rare, allocates
  double* largest = layer_max;
  if (layers > 64) {
    layer_max_heap.assign(layers, 0.0);
    largest = layer_max_heap.data();
  }
  std::fill(largest, largest + layers, 0.0);

  double loss_sum = 0;
  std::size_t rows_done = 0;
  for (std::size_t k = mine.begin; k < mine.end; ++k) {
    const std::size_t first = k * kChunkRows;
    const std::size_t rows = std::min(kChunkRows, count - first);
    Random chunk_random(chunk_seed(network_.spec().seed, step, k));
    compute_rows(indices + first, rows, chunk_random, observer);
    loss_sum += last_loss_ * static_cast<double>(rows);
    rows_done += rows;
    const double weight = static_cast<double>(rows) / static_cast<double>(count);
    float* slot = chunk_gradients_.data() + (k - mine.begin) * parameters;
    for (std::size_t l = 0; l < layers; ++l) {  // copy and largest magnitude in one pass
      float m = 0, poison = 0;  // poison: 0, or NaN once a value is NaN or infinite (x * 0)
      for (std::size_t i = layer_ranges_[l].first; i < layer_ranges_[l].second; ++i) {
        slot[i] = gradients[i];
        m = std::max(m, std::abs(gradients[i]));
        poison += gradients[i] * 0.0f;
      }
      const bool finite = poison == 0.0f;
      largest[l] = finite ? std::max(largest[l], static_cast<double>(m) * weight) : infinity;
    }
    if (!std::isfinite(last_loss_)) largest[layers - 1] = infinity;
  }
  if (communicator_) communicator_->max(std::span<double>(largest, layers));

  // The scale of each layer; a layer whose largest value is not finite (on any rank) ends as NaN.
  double scale[64], unscale[64];
  std::vector<double> scale_heap, unscale_heap;
  double* to_fixed = scale;
  double* from_fixed = unscale;
  if (layers > 64) {
    scale_heap.assign(layers, 0.0);
    unscale_heap.assign(layers, 0.0);
    to_fixed = scale_heap.data();
    from_fixed = unscale_heap.data();
  }
  for (std::size_t l = 0; l < layers; ++l) {
    if (!(largest[l] < infinity)) {
      to_fixed[l] = 0;
      from_fixed[l] = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    int exponent = 0;
    if (largest[l] > 0) std::frexp(largest[l], &exponent);  // largest < 2^exponent
    const int shift = std::min(1000, 62 - exponent - ceil_log2(std::max<std::size_t>(chunks, 1)));
    to_fixed[l] = std::ldexp(1.0, shift);
    from_fixed[l] = std::ldexp(1.0, -shift);
  }

  // Element by element over this rank's chunks: each chunk is read once and each sum written once.
  const std::size_t local_chunks = mine.size();
  double factors[kMaxLocalChunks];
  const std::size_t batched = std::min(local_chunks, kMaxLocalChunks);
  for (std::size_t l = 0; l < layers; ++l) {
    const std::size_t first = layer_ranges_[l].first, last = layer_ranges_[l].second;
    std::fill(fixed_sum_.begin() + static_cast<std::ptrdiff_t>(first), fixed_sum_.begin() + static_cast<std::ptrdiff_t>(last),
              std::int64_t{0});
    if (to_fixed[l] == 0) continue;
    for (std::size_t c0 = 0; c0 < local_chunks; c0 += batched) {
      const std::size_t c1 = std::min(local_chunks, c0 + batched);
      for (std::size_t c = c0; c < c1; ++c) {
        const std::size_t rows = std::min(kChunkRows, count - (mine.begin + c) * kChunkRows);
        // exact: to_fixed is a power of two
        factors[c - c0] = static_cast<double>(rows) / static_cast<double>(count) * to_fixed[l];
      }
      for (std::size_t i = first; i < last; ++i) {
        std::int64_t sum = fixed_sum_[i];
        for (std::size_t c = c0; c < c1; ++c)
          sum += std::llrint(static_cast<double>(chunk_gradients_[c * parameters + i]) * factors[c - c0]);
        fixed_sum_[i] = sum;
      }
    }
  }
  if (communicator_) communicator_->sum_gradients(std::span<std::int64_t>(fixed_sum_));
  for (std::size_t l = 0; l < layers; ++l) {
    const double factor = from_fixed[l];
    for (std::size_t i = layer_ranges_[l].first; i < layer_ranges_[l].second; ++i)
      gradients[i] = static_cast<float>(static_cast<double>(fixed_sum_[i]) * factor);
  }
  return rows_done > 0 ? loss_sum / static_cast<double>(rows_done) : 0.0;
}

}  // namespace backprop::dist
