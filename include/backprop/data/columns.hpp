// Which column of a table is which: the one rule, for every reader of a table with a header (the CSV loader
// today; any later reader of tables as they come calls it too).
//
// - A header names each column once: a name written twice is refused, since matching by name could not
//   tell the two apart.
// - The targets: the columns `options.target` names (by name, else 0-based index); without it, the
//   model's target names where the header has them all (regression), else the last column that is not a
//   feature. With target_optional, no target is no error.
// - The features: with the model's feature names (options.feature_names, as many as its inputs), each is
//   the column of that name, in the model's order, wherever it stands; a name the header lacks is refused
//   naming it. Without names, every column that is not a target, in the file's order.
// - Every other column is ignored (ColumnPlan::ignored; the front-ends print one note naming them).
// The CSV loader and the Python module (a pandas DataFrame given to a network that knows its features'
// names) call it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "backprop/data/dataset.hpp"

namespace backprop::data {

struct ColumnPlan {
  std::vector<std::size_t> features;  // the header column of each feature, in the order of the network's inputs
  std::vector<std::size_t> targets;   // the header column of each target (empty: none in the data)
  std::vector<std::size_t> ignored;   // the columns that are neither
};

// The names joined by ',' for messages (shortened to 60 characters).
std::string header_text(const std::vector<std::string>& names);

// header: the names as read; header_line and source name the place in messages (Error(bad_input)):
// "FILE:LINE:COLUMN: ...", or for header_line 0 (a table without lines, a DataFrame) "SOURCE: column C: ...".
ColumnPlan plan_columns(const std::vector<std::string>& header, std::size_t header_line, const std::string& source,
                        const LoadOptions& options);

}  // namespace backprop::data
