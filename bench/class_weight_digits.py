#!/usr/bin/env python3
"""Issue 30's class-weight figures: scikit-learn's digits made binary (the digit 0, 10% of the rows, against
the rest), a stratified 50/50 split, `backprop train` with and without `--class-weight balanced` (the same
network, recipe and seeds), and `backprop eval --json` on the test half: the rare class's recall and the
balanced accuracy for each seed, and their medians. It prints; it never passes or fails.

    /usr/bin/python3 bench/class_weight_digits.py [--seeds 5]   # after building build/backprop
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = os.environ.get("BACKPROP_COMMAND", os.path.join(ROOT, "build", "backprop"))


def write_csv(path, X, y):
    with open(path, "w") as f:
        f.write(",".join(f"p{i}" for i in range(X.shape[1])) + ",digit\n")
        for row, label in zip(X, y):
            f.write(",".join(f"{v:g}" for v in row) + ("," + ("zero" if label else "other")) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    X, digit = load_digits(return_X_y=True)
    y = (digit == 0).astype(int)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)
    # A small network trained briefly, so that the unweighted loss can afford to neglect the rare class.
    network = {"input": 64, "layers": [{"units": 8, "activation": "relu"}, {"units": 2, "activation": "softmax"}],
               "loss": "softmax_ce", "optimizer": {"type": "sgd", "learning_rate": 0.01},
               "training": {"epochs": 10, "batch_size": 64, "scale": "standard"}}
    figures = {"none": [], "balanced": []}
    with tempfile.TemporaryDirectory() as folder:
        train, test = os.path.join(folder, "train.csv"), os.path.join(folder, "test.csv")
        write_csv(train, X_train, y_train)
        write_csv(test, X_test, y_test)
        net = os.path.join(folder, "net.json")
        with open(net, "w") as f:
            json.dump(network, f)
        model = os.path.join(folder, "model.bin")
        for seed in range(1, args.seeds + 1):
            for weights in figures:
                subprocess.run([COMMAND, "train", net, "--data", train, "--class-weight", weights, "--seed", str(seed),
                                "--out", model, "--quiet"], check=True)
                report = json.loads(subprocess.run([COMMAND, "eval", model, "--data", test, "--json"], check=True,
                                                   capture_output=True, text=True).stdout)
                figures[weights].append((report["classes"]["zero"]["recall"], report["balanced_accuracy"]))
    print(f"digits, 0 against the rest ({int(y.sum())} of {len(y)} rows are 0), test half; "
          f"64-8-2 ReLU, SGD 0.01, 10 epochs, batch 64")
    for weights, rows in figures.items():
        recalls = " ".join(f"{r:.3f}" for r, _ in rows)
        balanced = " ".join(f"{b:.3f}" for _, b in rows)
        print(f"  class_weight {weights:8s} recall of 0: {recalls} (median {statistics.median(r for r, _ in rows):.3f});"
              f" balanced accuracy: {balanced} (median {statistics.median(b for _, b in rows):.3f})")


if __name__ == "__main__":
    main()
