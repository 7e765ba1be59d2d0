// The fewest rows a training batch of a network may have: the most that any of its entries' kinds asks for
// (LayerSettings<K>::fewest_batch_rows, layer_kind_types.hpp). Training (train/step.cpp), the gradient check and
// the trace refuse fewer with its one message.
#pragma once

#include <string>

#include "backprop/nn/spec.hpp"

namespace backprop {

struct FewestBatchRows {
  int rows = 1;
  LayerKind kind = LayerKind::dense;  // the first entry's kind that asks for `rows` (dense where none asks for more)
  const char* why = "";
  // More than one row: the kind's training statistics span the batch's rows (summed over the ranks under mpirun).
  bool spans_batch() const { return rows > 1; }
  // "expected at least <rows> rows<where> for a network with <kind> (<why>)"
  std::string expected(const std::string& where = "") const;
};

FewestBatchRows fewest_batch_rows(const NetworkSpec& spec);

}  // namespace backprop
