"""backprop.sklearn against scikit-learn's own MLPClassifier and MLPRegressor on the data sets bundled with
scikit-learn (nothing is downloaded; fetch_california_housing is not shipped offline, so load_diabetes
stands for regression): the same split, the same hidden sizes, solver, learning rate, batch size and L2
penalty; max_iter large enough that both converge. backprop must reach scikit-learn's test accuracy (or R^2)
minus 0.02. The fit times are printed (pytest -s shows them), never asserted.
"""
import time

import numpy as np
import pytest
import sklearn.neural_network
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import backprop.sklearn

MARGIN = 0.02  # the issue's: backprop's score >= scikit-learn's - 0.02

# (loader, classifier?, hidden sizes, max_iter, alpha). max_iter is large enough that scikit-learn stops on
# its own (tol) before it; backprop runs every epoch. Diabetes (442 noisy rows) overfits without a strong L2
# penalty in both (test R^2 below 0 for both at alpha 1e-4): alpha=10, the same for both, lets each converge
# to a model that generalizes (R^2 0.37 for both, measured).
CASES = {
    "breast_cancer": (load_breast_cancer, True, (64,), 1000, 1e-4),
    "wine": (load_wine, True, (64,), 1000, 1e-4),
    "digits": (load_digits, True, (64,), 1000, 1e-4),
    "diabetes": (load_diabetes, False, (64,), 2000, 10.0),
}
# 40% of the rows for testing: wine's 178 rows leave 72 test rows, so that one row is 0.014 of accuracy,
# less than the margin.
TEST_SIZE = 0.4


def timed_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


@pytest.mark.parametrize("name", CASES)
def test_scores_at_least_scikit_learns(name):
    load, classification, hidden, max_iter, alpha = CASES[name]
    X, y = load(return_X_y=True)
    if not classification:
        y = (y - y.mean()) / y.std()  # both fit the standardized target; R^2 does not depend on it
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=0, stratify=y if classification else None)
    settings = dict(hidden_layer_sizes=hidden, solver="adam", learning_rate_init=1e-3, batch_size="auto",
                    alpha=alpha, max_iter=max_iter, random_state=0)
    reference_class = sklearn.neural_network.MLPClassifier if classification else sklearn.neural_network.MLPRegressor
    ours_class = backprop.sklearn.MLPClassifier if classification else backprop.sklearn.MLPRegressor
    reference = make_pipeline(StandardScaler(), reference_class(**settings))
    ours = make_pipeline(StandardScaler(), ours_class(**settings, scale="none", threads=2))
    reference_seconds = timed_fit(reference, X_train, y_train)
    ours_seconds = timed_fit(ours, X_train, y_train)
    reference_score, ours_score = reference.score(X_test, y_test), ours.score(X_test, y_test)
    metric = "accuracy" if classification else "R^2"
    print(f"\n{name:14s} {metric:8s} scikit-learn {reference_score:.4f} ({reference[-1].n_iter_} epochs, "
          f"{reference_seconds:.2f} s)  backprop {ours_score:.4f} ({ours[-1].n_iter_} epochs, {ours_seconds:.2f} s)")
    assert ours_score >= reference_score - MARGIN
