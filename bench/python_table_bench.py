#!/usr/bin/env python3
"""A DataFrame through Python against the command (issue 29's Python part).

200,000 rows of 20 columns (15 normal numbers, 5 text columns of 50 values; x0 the target, a regression),
written to a CSV for the command. Times, each the best of --repeat runs:
  - backprop train --data p.csv --target x0 --task regression --hidden 1 --epochs 1 --validation-split 0
    (the whole process);
  - backprop.table_inputs(X) (the DataFrame read, inferred and encoded);
  - Network.for_table(X, y) + fit(X, y, epochs=1, validation_split=0, early_stopping=0) + save;
and checks that the model file Python saved is the command's byte for byte.

Run with the module built: PYTHONPATH=build/python /usr/bin/python3 bench/python_table_bench.py [--rows N]
"""
import argparse
import os
import subprocess
import tempfile
import time

import numpy as np
import pandas as pd

import backprop


def best(runs, fn):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), max(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backprop", default=os.path.join("build", "backprop"))
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n = args.rows
    cols = {f"x{i}": rng.normal(size=n) for i in range(15)}
    words = np.array([f"w{i}" for i in range(50)], dtype=object)
    for i in range(5):
        cols[f"t{i}"] = words[rng.integers(0, 50, n)]
    frame = pd.DataFrame(cols)
    x, y = frame.drop(columns="x0"), frame["x0"]

    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "p.csv")
        frame.to_csv(csv, index=False)
        command_model = os.path.join(tmp, "c.model")
        python_model = os.path.join(tmp, "p.model")
        command = [args.backprop, "train", "--data", csv, "--target", "x0", "--task", "regression", "--hidden", "1",
                   "--epochs", "1", "--validation-split", "0", "--seed", "5", "--out", command_model]

        def run_command():
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def run_python():
            net = backprop.Network.for_table(x, y, task="regression", hidden=[1], seed=5)
            net.fit(x, y, epochs=1, validation_split=0, early_stopping=0, seed=5)
            net.save(python_model)

        rows = [
            ("pandas.read_csv of the CSV", best(args.repeat, lambda: pd.read_csv(csv))),
            ("command: train on the CSV, whole process", best(args.repeat, run_command)),
            ("backprop.table_inputs(X)", best(args.repeat, lambda: backprop.table_inputs(x))),
            ("Network.for_table + fit + save", best(args.repeat, run_python)),
        ]
        with open(command_model, "rb") as a, open(python_model, "rb") as b:
            same = a.read() == b.read()
    print(f"{n} rows, 20 columns (15 numbers, 5 text); best and worst of {args.repeat} runs, seconds")
    for name, (low, high) in rows:
        print(f"  {name:45s} {low:6.2f} {high:6.2f}")
    print("model files byte for byte the same:", same)
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
