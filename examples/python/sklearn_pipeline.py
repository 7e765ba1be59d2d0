#!/usr/bin/env python3
"""backprop's scikit-learn classifier in a Pipeline with a StandardScaler, cross-validated on a data set
bundled with scikit-learn (handwritten digits, 8x8 pixels, 1797 rows, 10 classes).

    /usr/bin/python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install --no-build-isolation .
    .venv/bin/python examples/python/sklearn_pipeline.py [--folds N] [--epochs N]
(or, from a build folder: PYTHONPATH=build/python /usr/bin/python3 examples/python/sklearn_pipeline.py)

Prints each fold's accuracy and their mean (0.937 with the defaults; the folds are not shuffled, and
the digits of one writer fall in one fold, so this is below a shuffled split's 0.97).
"""
import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from backprop.sklearn import MLPClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    # scale="none": the Pipeline's StandardScaler already standardizes (the estimator's default would too).
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(128,), max_iter=args.epochs,
                                                             batch_size=32, scale="none", random_state=0))
    start = time.perf_counter()
    scores = cross_val_score(pipeline, X, y, cv=args.folds)
    print(f"{args.folds}-fold accuracy: {' '.join(f'{s:.3f}' for s in scores)}  mean {scores.mean():.3f} "
          f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
