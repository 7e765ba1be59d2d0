#!/usr/bin/env python3
"""Independent reference for the tutorial's worked example (../shared/seed/), computed by PyTorch
autograd in float64. Writes tests/data/seed_reference.json, which tests/test_seed_trace.cpp compares
with `backprop trace` at 1e-9. Run with Debian's python3 (python3-torch):

    /usr/bin/python3 tests/reference/seed_reference.py > tests/data/seed_reference.json

For each loss (mse: L = 1/(2B) sum (a-y)^2; bce: binary cross-entropy on the sigmoid output) and each
of 2 SGD steps (learning rate 0.1) it records, per layer: z, a, delta = dL/dz, dL/dW (IN x OUT),
dL/db and the parameters after the update, plus the loss before the update.
"""
import json
import torch

torch.set_default_dtype(torch.float64)

W = [
    [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]],
    [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]],
    [[0.1], [0.2], [0.3]],
]
B = [[0.1, 0.1], [0.1, 0.1, 0.1], [0.1]]
x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
y = torch.tensor([[1.0]])
learning_rate = 0.1


def run(loss_name, steps):
    weights = [torch.tensor(w, requires_grad=True) for w in W]  # IN x OUT, as the seed writes them
    biases = [torch.tensor(b, requires_grad=True) for b in B]
    out = []
    for step in range(1, steps + 1):
        zs, as_ = [], []
        a = x
        for w, b in zip(weights, biases):
            z = a @ w + b
            z.retain_grad()
            a = torch.sigmoid(z)
            zs.append(z)
            as_.append(a)
        if loss_name == "mse":
            loss = ((a - y) ** 2).sum() / (2 * x.shape[0])
        else:
            loss = torch.nn.functional.binary_cross_entropy(a, y, reduction="sum") / x.shape[0]
        for p in weights + biases:
            p.grad = None
        loss.backward()
        layers = []
        with torch.no_grad():
            for l, (w, b) in enumerate(zip(weights, biases)):
                layers.append({
                    "z": zs[l][0].tolist(), "a": as_[l][0].tolist(), "delta": zs[l].grad[0].tolist(),
                    "grad_weights": w.grad.tolist(), "grad_bias": b.grad.tolist(),
                })
            for w, b in zip(weights, biases):
                w -= learning_rate * w.grad
                b -= learning_rate * b.grad
            for l, (w, b) in enumerate(zip(weights, biases)):
                layers[l]["weights"] = w.tolist()
                layers[l]["bias"] = b.tolist()
        out.append({"step": step, "loss": loss.item(), "layers": layers})
    return {"steps": out}


print(json.dumps({"generator": "tests/reference/seed_reference.py, PyTorch %s, float64" % torch.__version__,
                  "mse": run("mse", 2), "bce": run("bce", 2)}, indent=1))
