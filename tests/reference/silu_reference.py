"""PyTorch's SiLU in a small network, forward and gradients in float64, for tests/test_gradients.cpp
(SiluReference.TraceIsTorchsSiLU), which holds the trace's figures (kernels/math.hpp's silu and
silu_backward in double, through the network's forward and backward) to them.

    /usr/bin/python3 tests/reference/silu_reference.py > tests/data/silu_reference.json

A 3-4-3-2 network: two torch.nn.SiLU hidden layers and an identity output, mse loss as backprop defines it
(1/(2B) times the sum of squares over the batch's B rows and the outputs). Weights are stored as backprop's
network file holds them, [IN][OUT] (torch's Linear weight transposed). The batch of 4 rows includes inputs
large enough to take some z far into both tails of the sigmoid (z from -23 to +23). Each layer: z, a,
delta = dL/dz (autograd, retain_grad), grad_weights [IN][OUT], grad_bias.
"""
import json

import torch

INPUT = 3
LAYERS = [  # (weights [IN][OUT], bias [OUT], activation)
    ([[0.5, -0.3, 0.8, 0.1], [-0.7, 0.2, 0.4, -0.9], [0.3, 0.6, -0.5, 0.25]], [0.1, -0.2, 0.05, 0.3], "silu"),
    ([[0.4, -0.6, 0.2], [0.9, 0.1, -0.3], [-0.5, 0.7, 0.6], [0.2, -0.4, 0.35]], [-0.1, 0.15, 0.2], "silu"),
    ([[0.6, -0.2], [-0.3, 0.5], [0.45, 0.35]], [0.05, -0.05], "identity"),
]
X = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [20.0, -15.0, 8.0], [-20.0, 15.0, -8.0]]
Y = [[1.0, 0.0], [0.0, 1.0], [0.5, -0.5], [-1.0, 2.0]]


def main():
    x = torch.tensor(X, dtype=torch.float64)
    y = torch.tensor(Y, dtype=torch.float64)
    a = x
    params, figures = [], []
    for weights, bias, activation in LAYERS:
        w = torch.tensor(weights, dtype=torch.float64, requires_grad=True)  # [IN][OUT]
        b = torch.tensor(bias, dtype=torch.float64, requires_grad=True)
        z = a @ w + b
        z.retain_grad()
        a = torch.nn.functional.silu(z) if activation == "silu" else z
        params.append((w, b))
        figures.append((z, a))
    loss = ((a - y) ** 2).sum() / (2 * len(X))
    loss.backward()
    layers = []
    for (weights, bias, activation), (w, b), (z, out) in zip(LAYERS, params, figures):
        layers.append({"activation": activation, "weights": weights, "bias": bias, "z": z.tolist(),
                       "a": out.tolist(), "delta": z.grad.tolist(), "grad_weights": w.grad.tolist(),
                       "grad_bias": b.grad.tolist()})
    print(json.dumps({"torch": torch.__version__, "input": INPUT, "x": X, "y": Y, "loss": loss.item(),
                      "layers": layers}, indent=1))


main()
