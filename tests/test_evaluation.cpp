// Issue 30: the stratified rows of a validation split and of cross-validation's folds (data/folds.hpp). The
// figures of eval are checked against sklearn.metrics in tests/python/test_metrics.py.
#include <algorithm>
#include <numeric>
#include <set>

#include <gtest/gtest.h>

#include "backprop/base/error.hpp"
#include "backprop/data/dataset.hpp"
#include "backprop/data/folds.hpp"

namespace backprop {
namespace {

// rows labelled 0 but for `rare` rows of class 1 spread through them; feature 0 is the row's index.
Dataset imbalanced(std::size_t rows, std::size_t rare) {
  Dataset d;
  d.source = "imbalanced";
  d.rows = rows;
  d.features = 1;
  d.task = TaskKind::classification;
  d.class_names = {"common", "rare"};
  for (std::size_t r = 0; r < rows; ++r) {
    d.features_f32.push_back(static_cast<float>(r));
    d.labels.push_back(r % (rows / rare) == 0 && r / (rows / rare) < rare ? 1 : 0);
  }
  return d;
}

std::size_t count_of(const Dataset& d, int label) {
  return static_cast<std::size_t>(std::count(d.labels.begin(), d.labels.end(), label));
}

TEST(StratifiedSplit, ARareClassIsAlwaysInTheValidationRowsAndInTheTrainingRows) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Dataset train = imbalanced(100, 3), validation;
    split_validation(train, validation, 0.1, seed);
    EXPECT_EQ(validation.rows, 10u);
    EXPECT_EQ(count_of(validation, 1), 1u) << "seed " << seed;  // 0.3 of a row, raised to one
    EXPECT_EQ(count_of(train, 1), 2u);
    // Every row on exactly one side, each with its own label.
    std::set<float> seen;
    for (const Dataset* part : {&train, &validation})
      for (std::size_t r = 0; r < part->rows; ++r) {
        EXPECT_TRUE(seen.insert(part->features_f32[r]).second);
        EXPECT_EQ(part->labels[r], imbalanced(100, 3).labels[static_cast<std::size_t>(part->features_f32[r])]);
      }
    EXPECT_EQ(seen.size(), 100u);
  }
}

TEST(StratifiedSplit, ProportionalSharesWhenTheClassesAreLarge) {
  Dataset train = imbalanced(1000, 100), validation;
  split_validation(train, validation, 0.25, 5);
  EXPECT_EQ(validation.rows, 250u);
  EXPECT_EQ(count_of(validation, 1), 25u);
  EXPECT_EQ(count_of(validation, 0), 225u);
}

TEST(CrossValidationFolds, EachFoldHoldsEachClassToWithinOneRowAndTheFoldsPartitionTheRows) {
  const Dataset data = imbalanced(103, 7);
  const auto folds = cross_validation_folds(data, 5, 9);
  ASSERT_EQ(folds.size(), 5u);
  std::vector<int> seen(data.rows, 0);
  for (const auto& fold : folds) {
    EXPECT_TRUE(std::is_sorted(fold.begin(), fold.end()));
    EXPECT_GE(fold.size(), 20u);
    EXPECT_LE(fold.size(), 21u);
    std::size_t rare = 0;
    for (std::size_t r : fold) ++seen[r], rare += data.labels[r] == 1 ? 1 : 0;
    EXPECT_GE(rare, 1u);  // 7 rare rows over 5 folds: 1 or 2 in each
    EXPECT_LE(rare, 2u);
  }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
  EXPECT_EQ(cross_validation_folds(data, 5, 9), folds);  // the seed decides
  EXPECT_NE(cross_validation_folds(data, 5, 10), folds);
  EXPECT_THROW(cross_validation_folds(data, 1, 9), Error);
  EXPECT_THROW(cross_validation_folds(data, 104, 9), Error);
}

}  // namespace
}  // namespace backprop
