#!/usr/bin/env python3
"""Independent reference for the embedding entry: torch.nn.Embedding in float64. Writes
tests/data/embedding_reference.json, which tests/test_embedding.cpp compares with Network<double> at 1e-12.
Run with Debian's python3 (python3-torch; the test does not need torch):

    /usr/bin/python3 tests/reference/embedding_reference.py > tests/data/embedding_reference.json

Each case is a network file (fixed weights) and a batch whose code columns hold whole numbers, some codes
repeated (their rows' gradients add) and some absent (a zero gradient row). An entry {"type": "embedding",
"input": K, "categories": N, "dim": D} is torch.nn.Embedding(N, D) of column K of its input, its D values in
place of that column: torch.cat([x[:, :K], embedding(x[:, K].long()), x[:, K+1:]], 1). For the first step it
records every entry's output, the loss and the gradient of every parameter; then, after each of STEPS optimizer
steps (torch.optim over every parameter, as the trainer does), the parameters; and the outputs after the steps
on the batch and on other rows.

Layouts are the parameter arena's without its padding: a dense layer's W as IN x OUT row-major (torch's
Linear weight is OUT x IN, so it is transposed), then b; an embedding's weight (N, D) row-major, as torch's.
"""
import json
import torch

from torch_common import dense, linear_values, loss_of, optimizer_for

STEPS = 4


def embedding(column, categories, dim, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(categories, dim, generator=g).tolist()
    return {"type": "embedding", "input": column, "categories": categories, "dim": dim, "weights": w}


CASES = [
    {   # two embeddings (a middle column, then the first), tanh hidden, softmax_ce, Adam with weight decay
        "name": "two_columns_softmax_adam",
        "network": {"input": 4, "layers": [
            embedding(2, 5, 3, 11), embedding(0, 3, 2, 12),
            dense(7, 5, "tanh", 1), dense(5, 3, "softmax", 2)],
            "loss": "softmax_ce", "optimizer": {"type": "adam", "learning_rate": 0.05, "weight_decay": 0.01}},
        "codes": {2: [0, 3, 3, 1, 0, 3, 4], 0: [2, 2, 0, 1, 2, 0, 0]},
    },
    {   # an embedding of the last column, one value per code, sigmoid output with bce, SGD with momentum
        "name": "last_column_bce_momentum",
        "network": {"input": 3, "layers": [
            embedding(2, 4, 1, 13), dense(3, 4, "relu", 3), dense(4, 1, "sigmoid", 4)],
            "loss": "bce", "optimizer": {"type": "momentum", "learning_rate": 0.1}},
        "codes": {2: [1, 1, 3, 0, 1]},
    },
]


class Embedded(torch.nn.Module):
    def __init__(self, entry):
        super().__init__()
        self.column = entry["input"]
        self.embedding = torch.nn.Embedding(entry["categories"], entry["dim"])
        with torch.no_grad():
            self.embedding.weight.copy_(torch.tensor(entry["weights"]))

    def forward(self, x):
        k = self.column
        return torch.cat([x[:, :k], self.embedding(x[:, k].long()), x[:, k + 1:]], 1)


def torch_model(network):
    modules, inputs = [], network["input"]
    for entry in network["layers"]:
        if entry.get("type") == "embedding":
            modules.append(Embedded(entry))
            inputs = inputs - 1 + entry["dim"]
            continue
        linear = torch.nn.Linear(inputs, entry["units"])
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(entry["weights"]).T)
            linear.bias.copy_(torch.tensor(entry["bias"]))
        modules.append(linear)
        activation = {"tanh": torch.nn.Tanh(), "relu": torch.nn.ReLU(), "sigmoid": torch.nn.Sigmoid(),
                      "softmax": torch.nn.Identity()}[entry["activation"]]
        modules.append(activation)
        inputs = entry["units"]
    return modules


def run(modules, x):
    """The output of every network entry (a dense layer's after its activation; softmax applied last)."""
    outputs, current, i = [], x, 0
    while i < len(modules):
        current = modules[i](current)
        if isinstance(modules[i], torch.nn.Linear):
            i += 1
            current = modules[i](current)
        outputs.append(current)
        i += 1
    return outputs



def flat(modules, grad=False):
    values = []
    for m in modules:
        if isinstance(m, torch.nn.Linear):
            values += linear_values(m, grad)
        elif isinstance(m, Embedded):
            w = m.embedding.weight.grad if grad else m.embedding.weight
            values += w.reshape(-1).tolist()
    return values



def batch(g, network, codes):
    rows = len(next(iter(codes.values())))
    x = torch.rand(rows, network["input"], generator=g) * 4 - 2
    # The codes as the network's input holds them: entry e reads its column after the entries before it
    # replaced theirs; the case names each code column by its entry's "input", mapped back here.
    columns = raw_columns(network)
    for entry, column in zip(network["layers"], columns):
        x[:, column] = torch.tensor(codes[entry["input"]], dtype=torch.float64)
    return x


def raw_columns(network):
    columns, placed = [], []  # placed: (K, D) of each entry before
    for entry in network["layers"]:
        if entry.get("type") != "embedding":
            break
        k = entry["input"]
        for before_k, before_d in reversed(placed):
            assert not (before_k <= k < before_k + before_d)
            if k >= before_k + before_d:
                k -= before_d - 1
        columns.append(k)
        placed.append((entry["input"], entry["dim"]))
    return columns


def case(c):
    g = torch.Generator().manual_seed(7)
    network = c["network"]
    x = batch(g, network, c["codes"])
    rows = x.shape[0]
    outputs = network["layers"][-1]["units"]
    if network["loss"] == "softmax_ce":
        y = torch.nn.functional.one_hot(torch.arange(rows) % outputs, outputs).double()
    else:
        y = (torch.arange(rows) % 2).double().reshape(-1, 1)
    modules = torch_model(network)
    model = torch.nn.Sequential(*modules)
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
        steps.append({"parameters": flat(modules)})
    other = batch(g, network, {k: list(reversed(v))[:3] for k, v in c["codes"].items()})
    with torch.no_grad():
        evaluation = []
        for rows_in in (x, other):
            out = run(modules, rows_in)[-1]
            evaluation.append((torch.softmax(out, dim=1) if network["loss"] == "softmax_ce" else out).tolist())
    return {"name": c["name"], "network": network, "x": x.tolist(), "y": y.tolist(), "other": other.tolist(),
            "code_columns": raw_columns(network), "first_step": first, "steps": steps, "evaluation": evaluation}


def main():
    document = {"format": "backprop embedding reference", "torch": torch.__version__,
                "cases": [case(c) for c in CASES]}
    print(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
