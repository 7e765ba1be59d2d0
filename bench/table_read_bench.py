#!/usr/bin/env python3
"""Reading tables as they come against the strict numeric reader (issue 29's speed goal, docs/performance.md).

Writes two CSVs of 1M rows and 20 feature columns plus a two-class target: "mixed" has 15 number columns and 5
text columns of 6 values each; "numeric" has 20 number columns. Each is trained for one epoch at batch 4096 with
one hidden unit, whole process, the runs interleaved:
- strict: the numeric file with a network file (the strict reader);
- table numeric / table mixed: each file without a network file (the table reader: inference, encoding);
  validation split, early stopping and scaling off so that the three runs train alike.
Prints the median and range of wall and CPU seconds (user + system) and each ratio to strict.

Usage: /usr/bin/python3 bench/table_read_bench.py [build/backprop] [--runs N] [--rows N]
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def write_files(folder, rows):
    rng = np.random.default_rng(0)
    words = np.array(["red", "green", "blue", "amber", "violet", "grey"])
    target = rng.integers(0, 2, size=rows).astype(str)
    numbers = rng.normal(size=(rows, 20)).round(4).astype(str)
    text = words[rng.integers(0, 6, size=(rows, 5))]
    for name, columns, header in (
            ("mixed", np.hstack([numbers[:, :15], text]), [f"n{i}" for i in range(15)] + [f"t{i}" for i in range(5)]),
            ("numeric", numbers, [f"n{i}" for i in range(20)])):
        with open(os.path.join(folder, name + ".csv"), "w") as out:
            out.write(",".join(header + ["y"]) + "\n")
            out.write("\n".join(",".join(row) + "," + y for row, y in zip(columns, target)) + "\n")
    with open(os.path.join(folder, "net.json"), "w") as out:
        json.dump({"input": 20, "layers": [{"units": 1, "activation": "relu"}, {"units": 2, "activation": "softmax"}],
                   "loss": "softmax_ce", "training": {"epochs": 1, "batch_size": 4096}}, out)


def timed(command):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    args = sys.argv[1:]
    binary = args[0] if args and not args[0].startswith("--") else "build/backprop"
    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 5
    rows = int(args[args.index("--rows") + 1]) if "--rows" in args else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        write_files(folder, rows)
        path = lambda name: os.path.join(folder, name)
        plain = ["--hidden", "1", "--epochs", "1", "--batch-size", "4096", "--validation-split", "0",
                 "--early-stopping", "0", "--scale", "none", "--target", "y", "--quiet", "--out", path("m.model")]
        commands = {
            "strict": [binary, "train", path("net.json"), "--data", path("numeric.csv"), "--target", "y", "--quiet",
                       "--out", path("m.model")],
            "table numeric": [binary, "train", "--data", path("numeric.csv")] + plain,
            "table mixed": [binary, "train", "--data", path("mixed.csv")] + plain,
        }
        measured = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                measured[name].append(timed(command))
    print("| run | wall s, median (range) | CPU s, median (range) | wall / strict | CPU / strict |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base = [statistics.median(m[i] for m in measured["strict"]) for i in (0, 1)]
    for name, values in measured.items():
        cells = []
        for i in (0, 1):
            column = [v[i] for v in values]
            cells.append("%.3f (%.3f-%.3f)" % (statistics.median(column), min(column), max(column)))
        medians = [statistics.median(v[i] for v in values) for i in (0, 1)]
        print("| %s | %s | %s | %.2fx | %.2fx |" % (name, cells[0], cells[1], medians[0] / base[0], medians[1] / base[1]))


if __name__ == "__main__":
    main()
