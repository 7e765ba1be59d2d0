"""Shared by the reference scripts of layer kinds (batch_norm_reference.py, embedding_reference.py), run by
/usr/bin/python3 from any folder: float64 throughout, a dense layer's file entry drawn from a seed, the loss,
the optimizer of a network file's "optimizer" and a Linear module's values in the network file's order."""
import torch

torch.set_default_dtype(torch.float64)


def dense(inputs, units, activation, seed):
    g = torch.Generator().manual_seed(seed)
    w = (torch.rand(inputs, units, generator=g) - 0.5).tolist()
    b = (torch.rand(units, generator=g) * 0.2 - 0.1).tolist()
    return {"units": units, "activation": activation, "weights": w, "bias": b}


def loss_of(out, y, loss):
    """softmax_ce takes logits (and one-hot targets), bce probabilities."""
    if loss == "softmax_ce":
        return torch.nn.functional.cross_entropy(out, y.argmax(dim=1))
    return torch.nn.functional.binary_cross_entropy(out, y)


def optimizer_for(spec, parameters):
    if spec["type"] == "adam":
        return torch.optim.Adam(parameters, lr=spec["learning_rate"], weight_decay=spec.get("weight_decay", 0))
    return torch.optim.SGD(parameters, lr=spec["learning_rate"], momentum=0.9)


def linear_values(m, grad):
    """A Linear's weights (the file's IN x OUT, row by row) then its bias, or their gradients."""
    w, b = (m.weight.grad, m.bias.grad) if grad else (m.weight, m.bias)
    return w.T.reshape(-1).tolist() + b.tolist()
