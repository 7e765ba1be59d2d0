"""The scikit-learn estimators backprop.sklearn.MLPClassifier and MLPRegressor (python/backprop/sklearn.py):
scikit-learn's own estimator checks, Pipeline, GridSearchCV(n_jobs=2), cross_val_score, pickling,
string labels, partial_fit. Run by CTest (python_sklearn) against build/python, and by CI against the
package pip installed.
"""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import SkipTestWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from backprop import Network
from backprop.sklearn import MLPClassifier, MLPRegressor


@pytest.mark.parametrize("estimator", [MLPClassifier(), MLPRegressor()], ids=["classifier", "regressor"])
def test_passes_scikit_learns_estimator_checks(estimator):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkipTestWarning)
        check_estimator(estimator)
    skipped = sorted(str(w.message) for w in caught if issubclass(w.category, SkipTestWarning))
    # Only the checks the estimators declare (their "_xfail_checks" tag, with the reason) are skipped;
    # pandas-only checks skip where pandas is not installed.
    declared = set(estimator._get_tags()["_xfail_checks"])
    for message in skipped:
        assert any(name in message for name in declared) or "pandas" in message, message


def iris_split():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_string_labels_any_dtype_and_the_fitted_attributes():
    X_train, X_test, y_train, y_test = iris_split()
    names = np.array(["setosa", "versicolor", "virginica"])
    model = MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, learning_rate_init=0.01, random_state=0)
    model.fit(X_train.tolist(), names[y_train])  # a list of lists, string labels
    assert list(model.classes_) == list(names)
    assert set(model.predict(X_test)) <= set(names)
    assert model.score(X_test, names[y_test]) >= 0.9  # 0.98 measured; iris is nearly separable
    P = model.predict_proba(X_test)
    assert P.shape == (len(X_test), 3) and P.dtype == np.float64
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)
    assert model.n_iter_ == 100 and len(model.loss_curve_) == 100
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert isinstance(model.network_, Network) and model.network_.architecture == "4-16-3"
    # Integer features (iris in millimetres) train as well: any numeric dtype is read as float32.
    as_int = MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, learning_rate_init=0.01, random_state=0)
    as_int.fit((X_train * 10).astype(np.int16), y_train)
    assert as_int.score((X_test * 10).astype(np.int16), y_test) >= 0.9


def test_early_stopping_stops_and_records_the_validation_loss():
    X_train, _, y_train, _ = iris_split()
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5000, early_stopping=True, n_iter_no_change=5,
                          learning_rate_init=0.05, random_state=0).fit(X_train, y_train)
    assert model.n_iter_ < 5000
    assert len(model.validation_loss_curve_) == model.n_iter_


def test_same_random_state_same_model_and_bad_parameters_are_refused():
    X_train, X_test, y_train, _ = iris_split()
    a = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=3).fit(X_train, y_train)
    b = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=3).fit(X_train, y_train)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    with pytest.raises(ValueError, match="hidden_layer_sizes: expected positive whole numbers"):
        MLPClassifier(hidden_layer_sizes=(0,)).fit(X_train, y_train)
    with pytest.raises(ValueError, match="activation: expected one of"):
        MLPClassifier(activation="swish").fit(X_train, y_train)
    with pytest.raises(ValueError, match="^clip_grad_norm: expected a positive number"):  # the library's check
        MLPClassifier(clip_grad_norm=-1.0).fit(X_train, y_train)
    with pytest.raises(ValueError, match="^threads: expected a number from 1 to 1024, got 0$"):
        MLPClassifier(threads=0).fit(X_train, y_train)


def test_every_element_wise_activation_is_a_choice_and_silu_trains():
    import backprop
    assert "silu" in backprop.ACTIVATIONS and "softmax" in backprop.ACTIVATIONS
    X_train, X_test, y_train, y_test = iris_split()
    with pytest.raises(ValueError, match="activation: expected one of logistic, identity, sigmoid, tanh, relu, "
                                         "leaky_relu, silu, got 'softmax'"):
        MLPClassifier(activation="softmax").fit(X_train, y_train)
    model = MLPClassifier(hidden_layer_sizes=(8,), activation="silu", max_iter=200, learning_rate_init=0.02,
                          random_state=0).fit(X_train, y_train)
    assert model.network_.layers[0]["activation"] == "silu"
    assert model.score(X_test, y_test) >= 0.9


def test_label_smoothing_is_a_parameter_of_the_classifier():
    X_train, X_test, y_train, y_test = iris_split()
    parameters = dict(hidden_layer_sizes=(16,), max_iter=100, learning_rate_init=0.01, random_state=0)
    model = MLPClassifier(**parameters)
    assert model.get_params()["label_smoothing"] == 0.0
    assert model.set_params(label_smoothing=0.15) is model and model.get_params()["label_smoothing"] == 0.15
    assert clone(model).get_params()["label_smoothing"] == 0.15
    assert "label_smoothing" not in MLPRegressor().get_params()  # the regressor's mse has none
    model.fit(X_train, y_train)
    assert model.network_.label_smoothing == 0.15
    assert model.score(X_test, y_test) >= 0.9  # 0.93 measured (0.96 without smoothing)
    plain = MLPClassifier(**parameters).fit(X_train, y_train)
    explicit_zero = MLPClassifier(label_smoothing=0.0, **parameters).fit(X_train, y_train)
    np.testing.assert_array_equal(explicit_zero.predict_proba(X_test), plain.predict_proba(X_test))
    assert plain.network_.label_smoothing == 0.0
    # loss_curve_ is the smoothed loss: the smoothed targets keep it above the plain curve at the end.
    assert model.loss_curve_[-1] > plain.loss_curve_[-1] + 0.05
    copy = pickle.loads(pickle.dumps(model))
    assert copy.get_params() == model.get_params() and copy.network_.label_smoothing == 0.15
    with pytest.raises(ValueError, match=r"^label_smoothing: expected a number in \[0, 1\)"):
        MLPClassifier(label_smoothing=1.0).fit(X_train, y_train)


def test_partial_fit_continues_from_the_parameters_so_far():
    X_train, X_test, y_train, y_test = iris_split()
    model = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes: expected every class label"):
        model.partial_fit(X_train, y_train)
    model.partial_fit(X_train, y_train, classes=[0, 1, 2])
    first = model.loss_curve_[0]
    for _ in range(49):
        model.partial_fit(X_train, y_train)
    assert model.n_iter_ == 50 and model.loss_curve_[-1] < first
    assert model.score(X_test, y_test) >= 0.9  # 0.93 measured (0.96 without smoothing)
    with pytest.raises(ValueError, match="labels not among the classes"):
        model.partial_fit(X_train, y_train + 5)

    X, y = make_regression(n_samples=200, n_features=4, noise=1.0, random_state=0)
    regressor = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    for _ in range(100):
        regressor.partial_fit(X, y / 100)
    assert regressor.n_iter_ == 100 and regressor.score(X, y / 100) > 0.9


def test_regressor_takes_several_targets():
    X, Y = make_regression(n_samples=300, n_features=5, n_targets=2, noise=1.0, random_state=1)
    model = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, random_state=0)
    model.fit(X, Y / 100)
    assert model.predict(X).shape == (300, 2) and model.n_outputs_ == 2
    assert model.score(X, Y / 100) > 0.95  # a linear map with little noise


def test_pipeline_cross_val_score_and_grid_search_with_two_processes():
    X, y = load_iris(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=100,
                                                             learning_rate_init=0.01, random_state=0))
    scores = cross_val_score(pipeline, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() >= 0.85
    # n_jobs=2: scikit-learn pickles the estimator to the worker processes and the fitted ones back.
    search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0),
                          {"learning_rate_init": [1e-5, 1e-2]}, cv=3, n_jobs=2)
    search.fit(X, y)
    # 1e-5 for 50 epochs barely moves from the start: the larger rate wins.
    assert search.best_params_ == {"learning_rate_init": 1e-2}
    assert search.best_score_ > search.cv_results_["mean_test_score"].min()


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(*load_iris(return_X_y=True)),
    lambda: MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(
        *make_regression(n_samples=100, n_features=3, random_state=0)),
], ids=["classifier", "regressor"])
def test_estimators_pickle_to_identical_predictions(make):
    model = make()
    X = load_iris(return_X_y=True)[0][:, :model.n_features_in_]
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict(X), model.predict(X))
    assert copy.get_params() == model.get_params()
