// Stratified folds and validation rows (folds.hpp).
#include "backprop/data/folds.hpp"

#include <algorithm>
#include <numeric>

#include "backprop/base/error.hpp"
#include "backprop/base/random.hpp"

namespace backprop {

Dataset take_rows(const Dataset& from, std::span<const std::size_t> rows) {
  Dataset part;
  part.source = from.source;
  part.rows = rows.size();
  part.features = from.features;
  part.feature_names = from.feature_names;
  part.task = from.task;
  part.class_names = from.class_names;
  part.target_count = from.target_count;
  part.target_names = from.target_names;
  part.table = from.table;
  auto copy_rows = [&](const auto& in, auto& out, std::size_t row_width) {
    if (in.empty()) return;
    out.resize(rows.size() * row_width);
    for (std::size_t i = 0; i < rows.size(); ++i)
      std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(rows[i] * row_width), row_width,
                  out.begin() + static_cast<std::ptrdiff_t>(i * row_width));
  };
  const auto width = static_cast<std::size_t>(from.features);
  copy_rows(from.features_f32, part.features_f32, width);
  copy_rows(from.features_u8, part.features_u8, width);
  copy_rows(from.labels, part.labels, 1);
  copy_rows(from.targets, part.targets, static_cast<std::size_t>(from.target_count));
  copy_rows(from.weights, part.weights, 1);
  return part;
}

namespace {

bool stratified(const Dataset& data) { return data.task == TaskKind::classification && !data.labels.empty(); }

std::vector<std::size_t> class_counts(const Dataset& data) {
  std::vector<std::size_t> counts(data.class_names.size(), 0);
  for (const std::int32_t label : data.labels) ++counts[static_cast<std::size_t>(label)];
  return counts;
}

// Each class's share of held_out rows: proportional (largest remainders, ties to the first class), then at
// least one for each class of two rows or more and at most its rows less one, the total kept where it can be.
std::vector<std::size_t> class_quotas(const std::vector<std::size_t>& counts, std::size_t rows, std::size_t held_out) {
  const std::size_t k = counts.size();
  std::vector<std::size_t> quota(k), low(k), high(k);
  std::size_t total = 0;
  for (std::size_t c = 0; c < k; ++c) {
    quota[c] = counts[c] * held_out / rows;
    total += quota[c];
    low[c] = counts[c] >= 2 ? 1 : 0;
    high[c] = counts[c] >= 1 ? counts[c] - 1 : 0;
  }
  std::vector<std::size_t> by_remainder(k);
  std::iota(by_remainder.begin(), by_remainder.end(), std::size_t{0});
  std::stable_sort(by_remainder.begin(), by_remainder.end(), [&](std::size_t a, std::size_t b) {
    return counts[a] * held_out % rows > counts[b] * held_out % rows;
  });
  for (std::size_t i = 0; total < held_out && i < k; ++i) ++quota[by_remainder[i]], ++total;
  for (std::size_t c = 0; c < k; ++c) {
    if (quota[c] < low[c]) total += low[c] - quota[c], quota[c] = low[c];
    if (quota[c] > high[c]) total -= quota[c] - high[c], quota[c] = high[c];
  }
  // Back to held_out: from the class with the most to spare (above its floor, or below its ceiling).
  while (total != held_out) {
    std::size_t best = k;
    for (std::size_t c = 0; c < k; ++c) {
      const std::size_t spare = total > held_out ? quota[c] - low[c] : high[c] - quota[c];
      if (spare > 0 && (best == k || spare > (total > held_out ? quota[best] - low[best] : high[best] - quota[best])))
        best = c;
    }
    if (best == k) break;
    if (total > held_out) --quota[best], --total;
    else ++quota[best], ++total;
  }
  return quota;
}

}  // namespace

std::vector<std::uint8_t> held_out_rows(const Dataset& data, std::span<const std::size_t> shuffled,
                                        std::size_t held_out) {
  std::vector<std::uint8_t> flags(data.rows, 0);
  if (!stratified(data)) {
    for (std::size_t i = shuffled.size() - std::min(held_out, shuffled.size()); i < shuffled.size(); ++i)
      flags[shuffled[i]] = 1;
    return flags;
  }
  std::vector<std::size_t> quota = class_quotas(class_counts(data), data.rows, held_out);
  for (std::size_t i = shuffled.size(); i-- > 0;) {
    const auto c = static_cast<std::size_t>(data.labels[shuffled[i]]);
    if (quota[c] > 0) --quota[c], flags[shuffled[i]] = 1;
  }
  return flags;
}

std::vector<std::vector<std::size_t>> cross_validation_folds(const Dataset& data, int folds, std::uint64_t seed) {
  if (folds < 2 || static_cast<std::size_t>(folds) > data.rows)
    throw_bad_input(data.source + ": expected between 2 and " + std::to_string(data.rows) +
                    " folds (one row at least in each), got " + std::to_string(folds));
  std::vector<std::size_t> order(data.rows);
  std::iota(order.begin(), order.end(), std::size_t{0});
  Random random(seed);
  for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[random.below(i + 1)]);
  if (stratified(data))  // the shuffled rows grouped by class, so that dealing them spreads each class evenly
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return data.labels[a] < data.labels[b]; });
  std::vector<std::vector<std::size_t>> result(static_cast<std::size_t>(folds));
  for (std::size_t i = 0; i < order.size(); ++i) result[i % result.size()].push_back(order[i]);
  for (auto& fold : result) std::sort(fold.begin(), fold.end());
  return result;
}

}  // namespace backprop
