"""PyTorch's weighted losses, loss and dL/dz in float64, for tests/test_evaluation.cpp
(WeightedLoss.IsTorchsWeightedLoss), which holds nn/loss.hpp's loss_value and loss_backward with row
weights to them.

    /usr/bin/python3 tests/reference/class_weight_reference.py > tests/data/class_weight_reference.json

One fixed batch of 5 rows. Cases:
- softmax_ce, class weights: torch.nn.CrossEntropyLoss(weight=w) (mean: sum_r w[y_r] l_r / sum_r w[y_r]);
- softmax_ce, class and sample weights s: CrossEntropyLoss(weight=w, reduction="none") times s, summed, over
  sum_r s_r w[y_r] (the weighted mean with each row's weight s_r w[y_r]);
- bce (one sigmoid output), class and sample weights: torch.nn.BCELoss(weight=s * w[y]) on sigmoid(z) (mean
  over the rows), its gradient taken through the sigmoid;
- mse, sample weights: sum_r s_r sum_o (z - y)^2 / (2B) with an identity output.
"rows" is each row's weight as backprop takes it (s_r w[y_r]).
"""
import json

import torch

Z3 = [[0.5, -1.25, 2.0], [-0.3, 0.1, -2.2], [3.0, 2.5, -1.0], [-1.5, 0.0, 0.6], [0.2, 0.9, -0.4]]
LABELS = [2, 0, 1, 1, 0]
CLASS_WEIGHTS = [0.5, 3.0, 1.25]
SAMPLE_WEIGHTS = [1.0, 0.25, 2.0, 0.0, 1.5]
Z1 = [[0.7], [-1.2], [2.5], [-0.1], [0.3]]
BINARY = [1, 0, 1, 0, 0]
BINARY_WEIGHTS = [1.0, 4.0]
TARGETS = [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0], [0.0, 0.0], [1.0, -0.5]]
Z2 = [[0.4, -0.6], [1.1, 0.9], [-1.0, 1.5], [0.2, -0.3], [0.8, 0.1]]


def result(name, loss, z, y, rows):
    loss.backward()
    return {"case": name, "z": z.tolist(), "y": y, "rows": rows, "loss": loss.item(), "grad": z.grad.tolist()}


def softmax_cases():
    cases = []
    one_hot = torch.nn.functional.one_hot(torch.tensor(LABELS), 3).to(torch.float64).tolist()
    w = torch.tensor(CLASS_WEIGHTS, dtype=torch.float64)
    z = torch.tensor(Z3, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.CrossEntropyLoss(weight=w)(z, torch.tensor(LABELS))
    cases.append(result("softmax_ce class weights", loss, z, one_hot, [CLASS_WEIGHTS[c] for c in LABELS]))
    z = torch.tensor(Z3, dtype=torch.float64, requires_grad=True)
    s = torch.tensor(SAMPLE_WEIGHTS, dtype=torch.float64)
    per_row = torch.nn.CrossEntropyLoss(weight=w, reduction="none")(z, torch.tensor(LABELS))
    loss = (s * per_row).sum() / (s * w[torch.tensor(LABELS)]).sum()
    rows = [s_r * CLASS_WEIGHTS[c] for s_r, c in zip(SAMPLE_WEIGHTS, LABELS)]
    cases.append(result("softmax_ce class and sample weights", loss, z, one_hot, rows))
    return cases


def bce_case():
    rows = [s_r * BINARY_WEIGHTS[c] for s_r, c in zip(SAMPLE_WEIGHTS, BINARY)]
    z = torch.tensor(Z1, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[float(c)] for c in BINARY], dtype=torch.float64)
    loss = torch.nn.BCELoss(weight=torch.tensor(rows, dtype=torch.float64)[:, None])(torch.sigmoid(z), y)
    return result("bce class and sample weights", loss, z, y.tolist(), rows)


def mse_case():
    z = torch.tensor(Z2, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(TARGETS, dtype=torch.float64)
    s = torch.tensor(SAMPLE_WEIGHTS, dtype=torch.float64)
    loss = (s[:, None] * (z - y) ** 2).sum() / (2 * len(TARGETS))
    return result("mse sample weights", loss, z, TARGETS, SAMPLE_WEIGHTS)


print(json.dumps({"torch": torch.__version__, "cases": softmax_cases() + [bce_case(), mse_case()]}, indent=1))
