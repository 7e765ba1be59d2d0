// An embedding of a categorical input: torch.nn.Embedding(N, D) applied to one input column.
//
// The entry {"type": "embedding", "input": K, "categories": N, "dim": D} reads position K of each row of its
// input x (B, IN) as an integer code c in [0, N) and puts the D learned values W[c] (W: (N, D)) in its place,
// passing every other input through in order:
//   y_r = (x_r0 .. x_r(K-1), W[c_r][0] .. W[c_r][D-1], x_r(K+1) .. x_r(IN-1)),   OUT = IN - 1 + D.
// Backward, given dy = dL/dy (B, OUT): each row's slice of dy at the code's place is added into the code's row,
//   dL/dW[c][d] = sum over the rows r with c_r = c of dy_r(K+d)
// (a scatter-add, row by row in order; the optimizer sees the whole (N, D) array, as torch's sparse=False
// does: rows of codes absent from the batch have a zero gradient), and the other inputs' gradients pass
// through; the code gets none (it is an index, not a number the loss varies with).
// W starts N(0, 1), as torch's does. A code that is not a whole number in [0, N) is bad input (torch raises
// too): a table's recipe maps a value never seen to an "unknown" code, so such a code is a wrong column.
// Embedding entries come first in "layers" (before any dense or batch_norm entry), one per categorical column.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "backprop/nn/dense.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop {

// y (B, OUT) from x (B, IN) and W (N, D). Throws Error(bad_input) naming the entry, the row and the value where a
// code is not a whole number in [0, N).
template <typename T>
void embedding_forward(T* y, const T* x, const T* weights, const DenseLayer& layer, int batch, std::size_t entry);

// grad_weights (N, D) OVERWRITTEN with dL/dW; grad_input (B, IN) = dL/dx with 0 at the code's place, passed
// through the chain of the entry below, unless null (first entry). Returns whether grad_weights is finite.
template <typename T>
bool embedding_backward(T* grad_weights, T* grad_input, const T* x, const T* dy, const DenseLayer& layer, int batch,
                        const InputChain<T>* chain);

// The network's input columns that embedding entries read as codes, in entry order (an entry's "input" is a
// position of the entry before it: mapped back through the embeddings before). Scaling leaves them as they are.
std::vector<int> embedding_code_columns(const NetworkSpec& spec);

}  // namespace backprop
