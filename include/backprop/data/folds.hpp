// Rows drawn from a data set for validation: the folds of cross-validation (`backprop cv`) and the rows a
// validation split holds out (split_validation), both stratified for classification, so that each class
// keeps its share of the rows on each side (a rare class too), as scikit-learn's StratifiedKFold does.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backprop/data/dataset.hpp"

namespace backprop {

// The rows of `from` at these indices, in this order, with its names and task.
Dataset take_rows(const Dataset& from, std::span<const std::size_t> rows);

// `folds` disjoint sets of row indices (each sorted) that together hold every row: the rows shuffled from the
// seed and dealt to the folds in turn, class by class for classification (each fold then holds each class's
// rows to within one). Needs 2 <= folds <= rows; Error(bad_input) naming the data otherwise, and, for
// classification, when a class has fewer rows than folds (it could not be in every fold).
std::vector<std::vector<std::size_t>> cross_validation_folds(const Dataset& data, int folds, std::uint64_t seed);

// Which rows a split holds out, in the order `shuffled` (a permutation of the rows): for regression its
// last `held_out`; for classification each class's share of held_out (largest remainders), taken from the
// end of the order, every class with two rows or more given at least one validation row and one training
// row where the total allows. Returns one flag per row.
std::vector<std::uint8_t> held_out_rows(const Dataset& data, std::span<const std::size_t> shuffled,
                                        std::size_t held_out);

}  // namespace backprop
