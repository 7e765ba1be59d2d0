#!/usr/bin/env python3
"""Independent reference for the optimizers: torch.optim in float64. Writes
tests/data/optimizer_reference.json, which tests/test_optimizer.cpp compares with Optimizer<double> at
1e-12. Run with Debian's python3 (python3-torch; the test does not need torch):

    /usr/bin/python3 tests/reference/optimizer_reference.py > tests/data/optimizer_reference.json

A 3-4-2 network (tanh hidden layer, identity output) with fixed weights, the mse loss of DESIGN.md
(L = 1/(2B) * sum (a - y)^2) on a fixed batch of 5 rows, trained 5 steps by each optimizer case.
Each case gives the optimizer object of a network file; only the keys it names are passed to torch, so
torch supplies its own defaults (Adam betas, eps, AdamW weight decay 0.01, RMSprop alpha and momentum 0).
The exception is momentum for the types "momentum" and "nesterov", which are torch's SGD with the
momentum this project defaults to, 0.9. A case may clip gradients by global norm (clip_grad_norm_)
before each step, and may change the learning rate at every step (as a schedule does).

Recorded after each step: the parameters in the layout of the parameter arena without its padding
(layer by layer: W as IN x OUT row-major, then b; torch's Linear weight is OUT x IN, so it is transposed),
and for clipping cases the gradient norm before clipping.
"""
import json
import torch

torch.set_default_dtype(torch.float64)

INPUT = 3
W1 = [[0.2, -0.4, 0.1, 0.5], [-0.3, 0.6, 0.25, -0.1], [0.7, 0.05, -0.55, 0.3]]  # IN x OUT
B1 = [0.1, -0.2, 0.05, 0.0]
W2 = [[0.3, -0.6], [0.45, 0.2], [-0.35, 0.5], [0.15, -0.25]]
B2 = [0.05, -0.1]
X = [[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, 0.8, 0.4], [1.0, 1.0, 1.0], [-1.2, -0.5, 0.9]]
Y = [[1.0, -0.5], [0.2, 0.8], [-0.7, 0.1], [0.5, 0.5], [0.0, -1.0]]
STEPS = 5

CASES = [
    ("sgd", {"type": "sgd", "learning_rate": 0.1}, None, None),
    ("sgd_weight_decay", {"type": "sgd", "learning_rate": 0.1, "weight_decay": 0.05}, None, None),
    ("momentum", {"type": "momentum", "learning_rate": 0.1}, None, None),
    ("momentum_weight_decay",
     {"type": "momentum", "learning_rate": 0.05, "momentum": 0.8, "weight_decay": 0.01}, None, None),
    ("nesterov", {"type": "nesterov", "learning_rate": 0.1}, None, None),
    ("nesterov_weight_decay",
     {"type": "nesterov", "learning_rate": 0.05, "momentum": 0.7, "weight_decay": 0.02}, None, None),
    ("adam", {"type": "adam", "learning_rate": 0.01}, None, None),
    ("adam_settings",
     {"type": "adam", "learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6, "weight_decay": 0.05},
     None, None),
    ("adamw", {"type": "adamw", "learning_rate": 0.01, "weight_decay": 0.1}, None, None),
    ("adamw_default_weight_decay", {"type": "adamw", "learning_rate": 0.05}, None, None),
    ("rmsprop", {"type": "rmsprop", "learning_rate": 0.01}, None, None),
    ("rmsprop_momentum",
     {"type": "rmsprop", "learning_rate": 0.01, "momentum": 0.9, "alpha": 0.9, "weight_decay": 0.01}, None, None),
    ("rmsprop_centered",
     {"type": "rmsprop", "learning_rate": 0.01, "momentum": 0.5, "centered": True, "epsilon": 1e-6}, None, None),
    ("momentum_clip", {"type": "momentum", "learning_rate": 0.1}, 0.1, None),
    ("adam_clip", {"type": "adam", "learning_rate": 0.05, "weight_decay": 0.01}, 0.3, None),
    ("adamw_varying_learning_rate", {"type": "adamw", "learning_rate": 0.01, "weight_decay": 0.1}, None,
     [0.002, 0.004, 0.006, 0.008, 0.01]),
]


def make_optimizer(params, spec):
    kind = spec["type"]
    given = lambda *keys: {k: spec[k] for k in keys if k in spec}
    lr = spec["learning_rate"]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, **given("weight_decay"))
    if kind in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=spec.get("momentum", 0.9), nesterov=kind == "nesterov",
                               **given("weight_decay"))
    if kind in ("adam", "adamw"):
        betas = (spec.get("beta1", 0.9), spec.get("beta2", 0.999)) if ("beta1" in spec or "beta2" in spec) else None
        extra = {"betas": betas} if betas else {}
        if "epsilon" in spec:
            extra["eps"] = spec["epsilon"]
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, **extra, **given("weight_decay"))
    if kind == "rmsprop":
        extra = given("alpha", "weight_decay", "momentum", "centered")
        if "epsilon" in spec:
            extra["eps"] = spec["epsilon"]
        return torch.optim.RMSprop(params, lr=lr, **extra)
    raise ValueError(kind)


def arena(model):
    flat = []
    for layer in (model[0], model[2]):
        flat += layer.weight.detach().t().reshape(-1).tolist()  # OUT x IN -> IN x OUT row-major
        flat += layer.bias.detach().tolist()
    return flat


def run(spec, clip, learning_rates):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor(W1).t())
        model[0].bias.copy_(torch.tensor(B1))
        model[2].weight.copy_(torch.tensor(W2).t())
        model[2].bias.copy_(torch.tensor(B2))
    optimizer = make_optimizer(model.parameters(), spec)
    x, y = torch.tensor(X), torch.tensor(Y)
    steps = []
    for step in range(STEPS):
        optimizer.zero_grad()
        a = model(x)
        loss = ((a - y) ** 2).sum() / (2 * x.shape[0])
        loss.backward()
        record = {"loss": loss.item()}
        if clip is not None:
            record["gradient_norm"] = torch.nn.utils.clip_grad_norm_(model.parameters(), clip).item()
        for group in optimizer.param_groups:
            group["lr"] = learning_rates[step]
        optimizer.step()
        record["parameters"] = arena(model)
        steps.append(record)
    return steps


def main():
    layers = [
        {"units": 4, "activation": "tanh", "weights": W1, "bias": B1},
        {"units": 2, "activation": "identity", "weights": W2, "bias": B2},
    ]
    cases = []
    for name, spec, clip, learning_rates in CASES:
        learning_rates = learning_rates or [spec["learning_rate"]] * STEPS
        case = {"name": name, "optimizer": spec, "learning_rates": learning_rates}
        if clip is not None:
            case["clip_grad_norm"] = clip
        case["steps"] = run(spec, clip, learning_rates)
        cases.append(case)
    out = {
        "format": "backprop optimizer reference",
        "version": 1,
        "generator": "tests/reference/optimizer_reference.py, torch " + torch.__version__ + ", float64",
        "network": {"input": INPUT, "layers": layers, "loss": "mse"},
        "x": X,
        "y": Y,
        "cases": cases,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
