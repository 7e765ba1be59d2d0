#!/usr/bin/env python3
"""Issue 30's bench row: `backprop cv` 5-fold on scikit-learn's breast-cancer table against scikit-learn's
cross_validate of MLPClassifier with the same hidden size (64, ReLU), epochs, optimizer (Adam, 1e-3), batch
(200) and standardized inputs; whole process on both sides (start, reading the data, 5 trainings, scoring),
medians of --repeat runs. It prints; it never passes or fails.

    /usr/bin/python3 bench/cv_bench.py [--repeat 5] [--epochs 200]   # after building build/backprop
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = os.environ.get("BACKPROP_COMMAND", os.path.join(ROOT, "build", "backprop"))

SKLEARN = """
import warnings, json, sys
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_breast_cancer(return_X_y=True)
epochs = int(sys.argv[1])
# tol=0 and n_iter_no_change=epochs: every epoch runs, as backprop's do.
model = make_pipeline(StandardScaler(), MLPClassifier((64,), solver="adam", learning_rate_init=1e-3, batch_size=200,
                                                      max_iter=epochs, tol=0, n_iter_no_change=epochs, random_state=0))
scores = cross_validate(model, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0))
print(json.dumps({"accuracy": float(np.mean(scores["test_score"]))}))
"""


def write_inputs(folder, epochs):
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    data = os.path.join(folder, "breast_cancer.csv")
    with open(data, "w") as f:
        f.write(",".join(f"f{i}" for i in range(X.shape[1])) + ",label\n")
        for row, label in zip(X, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{label}\n")
    network = os.path.join(folder, "breast_cancer.json")
    with open(network, "w") as f:
        json.dump({"input": 30, "layers": [{"units": 64, "activation": "relu"}, {"units": 1, "activation": "sigmoid"}],
                   "loss": "bce", "optimizer": {"type": "adam", "learning_rate": 0.001},
                   "training": {"epochs": epochs, "batch_size": 200, "scale": "standard"}, "seed": 0}, f)
    return network, data


def timed(arguments):
    start = time.perf_counter()
    out = subprocess.run(arguments, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        network, data = write_inputs(folder, args.epochs)
        ours, one_thread, theirs = [], [], []
        for _ in range(args.repeat):  # interleaved, so that a slow stretch of the machine hits both
            ours.append(timed([COMMAND, "cv", network, "--data", data, "--folds", "5", "--json"]))
            one_thread.append(timed([COMMAND, "cv", network, "--data", data, "--folds", "5", "--json",
                                     "--threads", "1"]))
            theirs.append(timed([sys.executable, "-c", SKLEARN, str(args.epochs)]))
        ours_s = statistics.median(t for t, _ in ours)
        one_s = statistics.median(t for t, _ in one_thread)
        theirs_s = statistics.median(t for t, _ in theirs)
        print(f"cv-breast-cancer 5 folds x {args.epochs} epochs, 30-64-1/2 ReLU, Adam 1e-3, batch 200, standardized")
        print(f"  backprop cv             {ours_s:7.3f} s  mean accuracy {ours[0][1]['mean']['accuracy']:.4f}")
        print(f"  backprop cv --threads 1 {one_s:7.3f} s  mean accuracy {one_thread[0][1]['mean']['accuracy']:.4f}")
        print(f"  sklearn cross_validate  {theirs_s:7.3f} s  mean accuracy {theirs[0][1]['accuracy']:.4f}")
        print(f"  speed-up {theirs_s / ours_s:.1f}x, {theirs_s / one_s:.1f}x with one thread "
              f"(medians of {args.repeat}; whole processes)")


if __name__ == "__main__":
    main()
