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
    """Wall seconds, the process's CPU seconds (user + system, its threads included) and its last line's JSON."""
    start = time.perf_counter()
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.stdout.close()
    if status != 0:
        raise subprocess.CalledProcessError(status, arguments)
    return wall, usage.ru_utime + usage.ru_stime, json.loads(out.strip().splitlines()[-1])


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
        def median(runs, field):
            return statistics.median(run[field] for run in runs)

        ours_s, one_s, theirs_s = (median(runs, 0) for runs in (ours, one_thread, theirs))
        print(f"cv-breast-cancer 5 folds x {args.epochs} epochs, 30-64-1/2 ReLU, Adam 1e-3, batch 200, standardized")
        print("  (medians of %d; whole processes; wall s, then CPU s: user + system)" % args.repeat)
        for name, runs, accuracy in (("backprop cv            ", ours, ours[0][2]["mean"]["accuracy"]),
                                     ("backprop cv --threads 1", one_thread, one_thread[0][2]["mean"]["accuracy"]),
                                     ("sklearn cross_validate ", theirs, theirs[0][2]["accuracy"])):
            print(f"  {name} {median(runs, 0):7.3f} s  CPU {median(runs, 1):7.3f} s  mean accuracy {accuracy:.4f}")
        print(f"  speed-up {theirs_s / ours_s:.1f}x, {theirs_s / one_s:.1f}x with one thread (wall); "
              f"{median(theirs, 1) / median(ours, 1):.1f}x in CPU time")


if __name__ == "__main__":
    main()
