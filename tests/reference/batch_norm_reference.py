#!/usr/bin/env python3
"""Independent reference for the batch_norm entry: torch.nn.BatchNorm1d in float64. Writes
tests/data/batch_norm_reference.json, which tests/test_batch_norm.cpp compares with Network<double> at 1e-12.
Run with Debian's python3 (python3-torch; the test does not need torch):

    /usr/bin/python3 tests/reference/batch_norm_reference.py > tests/data/batch_norm_reference.json

Each case is a network file (fixed weights; batch_norm entries as the file writes them) and a batch. For the
first step in training mode it records every entry's output, the loss and the gradient of every parameter;
then, after each of STEPS optimizer steps (torch.optim with the case's optimizer over every parameter, as the
trainer does), the parameters and the running statistics; and the outputs in evaluation mode (running
statistics) after the steps, on the batch and on other rows. Under "traces": what `backprop trace` shows of a
network with batch_norm (plain SGD on one batch), every figure of each step (trace_case).

Layouts are the parameter arena's without its padding: a dense layer's W as IN x OUT row-major (torch's
Linear weight is OUT x IN, so it is transposed), then b; a batch_norm's scale (torch's weight) then shift
(torch's bias). Running statistics: per batch_norm, the running mean then the running variance.
"""
import json
import torch

from torch_common import dense, linear_values, loss_of, optimizer_for

STEPS = 4


CASES = [
    {   # batch_norm after hidden activations, two of them (one with its own momentum and eps), Adam with decay
        "name": "hidden_softmax_adam",
        "network": {"input": 3, "layers": [
            dense(3, 4, "tanh", 1), {"type": "batch_norm"},
            dense(4, 5, "relu", 2), {"type": "batch_norm", "momentum": 0.25, "eps": 1e-3},
            dense(5, 3, "softmax", 3)],
            "loss": "softmax_ce", "optimizer": {"type": "adam", "learning_rate": 0.05, "weight_decay": 0.01}},
        "rows": 6,
    },
    {   # batch_norm of the input itself, sigmoid output with bce, SGD with momentum
        "name": "input_bce_momentum",
        "network": {"input": 4, "layers": [
            {"type": "batch_norm"}, dense(4, 3, "leaky_relu", 4), dense(3, 1, "sigmoid", 5)],
            "loss": "bce", "optimizer": {"type": "momentum", "learning_rate": 0.1}},
        "rows": 5,
    },
]


def torch_model(network):
    modules, inputs = [], network["input"]
    for entry in network["layers"]:
        if entry.get("type") == "batch_norm":
            bn = torch.nn.BatchNorm1d(inputs, momentum=entry.get("momentum", 0.1), eps=entry.get("eps", 1e-5))
            modules.append(bn)
            continue
        linear = torch.nn.Linear(inputs, entry["units"])
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(entry["weights"]).T)
            linear.bias.copy_(torch.tensor(entry["bias"]))
        modules.append(linear)
        activation = {"tanh": torch.nn.Tanh(), "relu": torch.nn.ReLU(), "sigmoid": torch.nn.Sigmoid(),
                      "leaky_relu": torch.nn.LeakyReLU(0.01), "softmax": torch.nn.Identity()}[entry["activation"]]
        modules.append(activation)
        inputs = entry["units"]
    return modules


def run(modules, x, keep=False):
    """The output of every network entry (a dense layer's after its activation; softmax applied last)."""
    outputs, current, i = [], x, 0
    while i < len(modules):
        current = modules[i](current)
        if isinstance(modules[i], torch.nn.Linear):
            i += 1
            current = modules[i](current)
        if keep:
            current.retain_grad()
        outputs.append(current)
        i += 1
    return outputs



def flat(modules, grad=False):
    values = []
    for m in modules:
        if isinstance(m, torch.nn.Linear):
            values += linear_values(m, grad)
        elif isinstance(m, torch.nn.BatchNorm1d):
            w, b = (m.weight.grad, m.bias.grad) if grad else (m.weight, m.bias)
            values += w.tolist() + b.tolist()
    return values


def statistics(modules):
    values = []
    for m in modules:
        if isinstance(m, torch.nn.BatchNorm1d):
            values += m.running_mean.tolist() + m.running_var.tolist()
    return values



def draw_batch(c, g):
    """The case's rows in [-2, 2) from the generator, and targets cycling through the classes (bce: 0, 1, 0, ...)."""
    network = c["network"]
    x = torch.rand(c["rows"], network["input"], generator=g) * 4 - 2
    outputs = network["layers"][-1]["units"]
    if network["loss"] == "softmax_ce":
        return x, torch.nn.functional.one_hot(torch.arange(c["rows"]) % outputs, outputs).double()
    return x, (torch.arange(c["rows"]) % 2).double().reshape(-1, 1)


def case(c):
    g = torch.Generator().manual_seed(7)
    network = c["network"]
    x, y = draw_batch(c, g)
    modules = torch_model(network)
    model = torch.nn.Sequential(*modules)
    model.train()
    optimizer = optimizer_for(network["optimizer"], model.parameters())
    steps = []
    for step in range(STEPS):
        model.zero_grad()
        entries = run(modules, x)
        loss = loss_of(entries[-1], y, network["loss"])
        loss.backward()
        if step == 0:
            shown = [e.tolist() for e in entries]
            if network["loss"] == "softmax_ce":
                shown[-1] = torch.softmax(entries[-1], dim=1).tolist()
            first = {"outputs": shown, "loss": loss.item(), "gradients": flat(modules, grad=True)}
        optimizer.step()
        steps.append({"parameters": flat(modules), "statistics": statistics(modules)})
    model.eval()
    other = torch.rand(3, network["input"], generator=g) * 4 - 2
    with torch.no_grad():
        evaluation = []
        for rows in (x, other):
            out = run(modules, rows)[-1]
            evaluation.append((torch.softmax(out, dim=1) if network["loss"] == "softmax_ce" else out).tolist())
    return {"name": c["name"], "network": network, "x": x.tolist(), "y": y.tolist(), "other": other.tolist(),
            "first_step": first, "steps": steps, "evaluation": evaluation}


# `backprop trace` of a network with batch_norm: plain SGD steps on one batch, every figure of each step.
TRACE_STEPS = 2
TRACE_CASES = [
    {   # batch_norm of the input (no dL/dx) and after a hidden layer (dL/dx into tanh'), softmax_ce
        "name": "trace_input_and_hidden",
        "network": {"input": 3, "layers": [
            {"type": "batch_norm"}, dense(3, 4, "tanh", 11), {"type": "batch_norm"}, dense(4, 2, "softmax", 12)],
            "loss": "softmax_ce", "optimizer": {"type": "sgd", "learning_rate": 0.5}},
        "rows": 3,
    },
    {   # two batch_norms in a row (own momentum and eps), relu below them, bce
        "name": "trace_two_in_a_row",
        "network": {"input": 2, "layers": [
            dense(2, 3, "relu", 13), {"type": "batch_norm"}, {"type": "batch_norm", "momentum": 0.3, "eps": 1e-3},
            dense(3, 1, "sigmoid", 14)],
            "loss": "bce", "optimizer": {"type": "sgd", "learning_rate": 0.25}},
        "rows": 4,
    },
]


def trace_case(c):
    """Per step: the loss; per batch_norm entry its input's batch mean and biased variance, s = 1/sqrt(var + eps),
    xhat, output, running statistics after the forward, dL/dy, the gradients of scale and shift, dL/dx (where the
    entry is not the first) and scale and shift after the update; per dense layer z, a, dL/dz, the gradients of W and b and W, b after the update."""
    g = torch.Generator().manual_seed(17)
    network = c["network"]
    x, y = draw_batch(c, g)
    modules = torch_model(network)
    model = torch.nn.Sequential(*modules)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=network["optimizer"]["learning_rate"])
    steps = []
    for _ in range(TRACE_STEPS):
        model.zero_grad()
        layers, current, i, kept = [], x.clone().requires_grad_(True), 0, []
        while i < len(modules):
            m = modules[i]
            if isinstance(m, torch.nn.BatchNorm1d):
                inp = current
                inp.retain_grad()
                mean = inp.detach().mean(dim=0)
                var = inp.detach().var(dim=0, unbiased=False)
                s = 1 / torch.sqrt(var + m.eps)
                current = m(inp)
                current.retain_grad()
                kept.append(("batch_norm", m, inp, current, mean, var, s))
                i += 1
            else:
                z = m(current)
                z.retain_grad()
                current = modules[i + 1](z)
                current.retain_grad()
                kept.append(("dense", m, z, current, network["layers"][len(kept)]["activation"]))
                i += 2
        logits = current
        loss = loss_of(logits, y, network["loss"])
        loss.backward()
        for index, entry in enumerate(kept):
            if entry[0] == "batch_norm":
                _, m, inp, out, mean, var, s = entry
                figures = {"type": "batch_norm", "mean": mean.tolist(), "variance": var.tolist(), "inv_std": s.tolist(),
                           "xhat": ((inp.detach() - mean) * s).tolist(), "a": out.detach().tolist(),
                           "running_mean": m.running_mean.tolist(), "running_var": m.running_var.tolist(),
                           "delta": out.grad.tolist(), "grad_scale": m.weight.grad.tolist(),
                           "grad_shift": m.bias.grad.tolist()}
                if index > 0:
                    figures["grad_input"] = inp.grad.tolist()
            else:
                _, m, z, out, activation = entry
                shown = torch.softmax(z, dim=1) if activation == "softmax" else out
                figures = {"z": z.detach().tolist(), "a": shown.detach().tolist(), "delta": z.grad.tolist(),
                           "grad_weights": m.weight.grad.T.tolist(), "grad_bias": m.bias.grad.tolist()}
            layers.append(figures)
        optimizer.step()
        for entry, figures in zip(kept, layers):
            m = entry[1]
            if entry[0] == "batch_norm":
                figures["scale"], figures["shift"] = m.weight.tolist(), m.bias.tolist()
            else:
                figures["weights"], figures["bias"] = m.weight.T.tolist(), m.bias.tolist()
        steps.append({"loss": loss.item(), "layers": layers})
    return {"name": c["name"], "network": network, "x": x.tolist(), "y": y.tolist(), "steps": steps}


print(json.dumps({"format": "backprop batch_norm reference", "torch": torch.__version__,
                  "cases": [case(c) for c in CASES], "traces": [trace_case(c) for c in TRACE_CASES]}, indent=1))
