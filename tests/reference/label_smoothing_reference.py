"""PyTorch's cross-entropy with label smoothing, loss and dL/dz in float64, for tests/test_gradients.cpp
(LossValue.LabelSmoothingIsTorchsCrossEntropy), which holds kernels/math.hpp's add_loss_row, loss_total and
loss_gradient_row (softmax_ce) to it.

    /usr/bin/python3 tests/reference/label_smoothing_reference.py > tests/data/label_smoothing_reference.json

One fixed batch of 4 rows of 5 logits z. Each case: label_smoothing eps, the targets as backprop takes them
(rows of K = 5 numbers: one-hot rows for class labels, or probability rows), the batch's loss
torch.nn.functional.cross_entropy(z, target, label_smoothing=eps) (mean over the rows) and its gradient dL/dz
by autograd. Class labels go to torch as class indices (its label-smoothing path for indices), probability
rows as probabilities (its path for soft targets: target * (1 - eps) + eps / K), so both of torch's code
paths are the reference. eps = 0 is included: the unsmoothed loss.
"""
import json

import torch

Z = [[0.5, -1.25, 2.0, 0.0, 0.75],
     [-0.3, 0.1, -2.2, 1.7, 0.4],
     [3.0, 2.5, -1.0, -0.5, 0.25],
     [-1.5, 0.0, 0.6, -0.8, 1.1]]
LABELS = [2, 0, 4, 1]
PROBABILITIES = [[0.1, 0.2, 0.3, 0.4, 0.0],
                 [0.0, 0.0, 1.0, 0.0, 0.0],
                 [0.25, 0.25, 0.25, 0.25, 0.0],
                 [0.05, 0.05, 0.1, 0.2, 0.6]]
EPSILONS = [0.0, 0.1, 0.25, 0.9]


def case(eps, labels):
    z = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    if labels:
        target = torch.tensor(LABELS, dtype=torch.int64)
        rows = torch.nn.functional.one_hot(target, num_classes=len(Z[0])).to(torch.float64).tolist()
    else:
        target = torch.tensor(PROBABILITIES, dtype=torch.float64)
        rows = PROBABILITIES
    loss = torch.nn.functional.cross_entropy(z, target, label_smoothing=eps)
    loss.backward()
    return {"label_smoothing": eps, "targets": "labels" if labels else "probabilities", "y": rows,
            "loss": loss.item(), "grad": z.grad.tolist()}


print(json.dumps({"torch": torch.__version__, "z": Z,
                  "cases": [case(eps, labels) for labels in (True, False) for eps in EPSILONS]}, indent=1))
