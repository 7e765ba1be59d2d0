"""PyTorch's OneCycleLR learning rates, step by step, for tests/test_optimizer.cpp (Schedule.OneCycleIsTorchs).

    /usr/bin/python3 tests/reference/schedule_reference.py > tests/data/one_cycle_reference.json

Each case: total_steps, max_lr, pct_start, div_factor, final_div_factor, and the rate torch's scheduler gives
for each step (the rate the optimizer uses at step s, 0-based: before the s-th scheduler.step()). Momentum is
not cycled (cycle_momentum=False), as backprop's one_cycle does not cycle it.
"""
import json

import torch

CASES = [
    (100, 0.1, 0.3, 25.0, 1e4),
    (469 * 3, 2e-3, 0.3, 25.0, 1e4),
    (10, 1.0, 0.25, 10.0, 100.0),
    (7, 0.5, 0.5, 4.0, 2.0),
    (3, 0.2, 0.3, 25.0, 1e4),
]


def rates(total_steps, max_lr, pct_start, div_factor, final_div_factor):
    parameter = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.SGD([parameter], lr=max_lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start, anneal_strategy="cos",
        cycle_momentum=False, div_factor=div_factor, final_div_factor=final_div_factor)
    out = []
    for _ in range(total_steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


print(json.dumps({"torch": torch.__version__, "cases": [
    {"total_steps": t, "max_lr": m, "pct_start": p, "div_factor": d, "final_div_factor": f,
     "rates": rates(t, m, p, d, f)} for (t, m, p, d, f) in CASES]}, indent=1))
