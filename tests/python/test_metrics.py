"""`backprop eval --json` and Network.evaluate against sklearn.metrics on the same predictions (issue 30).

The predictions are `backprop predict`'s probabilities (float32, written so that they read back exactly) or
Network.predict's; scikit-learn computes each figure from them in float64 and ours must agree to 1e-9
relative. The data sets: two classes with one sigmoid output and with a softmax of two, four classes, a
regression of one and of two outputs, and breast cancer with a trained model. Features on a small grid of
integers and repeated rows make many rows score the same (ties), which the ranking figures (ROC AUC,
average precision, the thresholds) must take as scikit-learn's curves do.
"""
import json
import os
import subprocess

import numpy as np
import pytest
from sklearn import metrics
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import label_binarize

import backprop

COMMAND = os.environ.get("BACKPROP_COMMAND", "backprop")
REL = 1e-9


def close(ours, reference, what):
    assert ours == pytest.approx(reference, rel=REL, abs=1e-12), what


def network_file(path, inputs, layers, loss, seed):
    path.write_text(json.dumps({"input": inputs, "layers": [{"units": u, "activation": a} for u, a in layers],
                                "loss": loss, "seed": seed}))
    return path


def tied_rows(rows, inputs, seed):
    # Integers in [0, 3) on each feature: 3^inputs distinct rows among `rows`, so that many repeat.
    return np.random.default_rng(seed).integers(0, 3, size=(rows, inputs)).astype(np.float64)


def write_csv(path, X, y):
    y = np.asarray(y).reshape(len(X), -1)
    header = [f"x{i}" for i in range(X.shape[1])] + [f"y{i}" for i in range(y.shape[1])]
    lines = [",".join(header)] + [",".join(f"{v:g}" for v in row) for row in np.hstack([X, y])]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*arguments):
    result = subprocess.run([COMMAND, *map(str, arguments)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def predicted_probabilities(model, data, tmp_path):
    out = tmp_path / "predictions.csv"
    run("predict", model, "--data", data, "--out", out)
    table = np.genfromtxt(out, delimiter=",", names=True, dtype=None, encoding=None)
    columns = [name for name in table.dtype.names if name.startswith("p_")]
    # The shortest text that reads back as the same float32 (not as a double): read as float32, then widened.
    probabilities = np.column_stack([table[c] for c in columns]).astype(np.float32).astype(np.float64)
    return np.array([table["class"]]).ravel(), probabilities


def check_classification(ours, y, probabilities, predicted, sigmoid=False):
    # One sigmoid output: scikit-learn is given P(class 1) alone and takes 1 - p itself, as the library does.
    k = probabilities.shape[1]
    labels = list(range(k))
    close(ours["accuracy"], metrics.accuracy_score(y, predicted), "accuracy")
    close(ours["balanced_accuracy"], metrics.balanced_accuracy_score(y, predicted), "balanced_accuracy")
    for average in ("macro", "weighted"):
        p, r, f, _ = metrics.precision_recall_fscore_support(y, predicted, average=average, zero_division=0)
        close(ours[f"precision_{average}"], p, average)
        close(ours[f"recall_{average}"], r, average)
        close(ours[f"f1_{average}"], f, average)
    p, r, f, support = metrics.precision_recall_fscore_support(y, predicted, labels=labels, zero_division=0)
    for c, scores in enumerate(ours["classes"].values()):
        close([scores["precision"], scores["recall"], scores["f1"]], [p[c], r[c], f[c]], f"class {c}")
        assert scores["support"] == support[c]
    assert ours["confusion_matrix"] == metrics.confusion_matrix(y, predicted, labels=labels).tolist()
    if k == 2:
        close(ours["log_loss"], metrics.log_loss(y, probabilities[:, 1] if sigmoid else probabilities, labels=labels),
              "log_loss")
        close(ours["roc_auc"], metrics.roc_auc_score(y, probabilities[:, 1]), "roc_auc")
        close(ours["average_precision"], metrics.average_precision_score(y, probabilities[:, 1]), "ap")
        check_thresholds(ours["thresholds"], y, probabilities[:, 1])
    else:
        close(ours["log_loss"], metrics.log_loss(y, probabilities, labels=labels), "log_loss")
        close(ours["roc_auc"], metrics.roc_auc_score(y, probabilities, multi_class="ovr", average="macro",
                                                     labels=labels), "roc_auc")
        # scikit-learn 1.2 binarizes multiclass labels for average precision only from 1.3 on: done here.
        close(ours["average_precision"],
              metrics.average_precision_score(label_binarize(y, classes=labels), probabilities, average="macro"),
              "average_precision")


def check_thresholds(ours, y, score):
    # Every distinct score as a threshold (positive when score >= it), the highest of equal bests.
    candidates = np.unique(score)[::-1]
    f1 = [metrics.f1_score(y, (score >= t).astype(int)) for t in candidates]
    best = int(np.argmax(f1))
    close(ours["f1"]["f1"], f1[best], "max F1")
    assert ours["f1"]["threshold"] == candidates[best]
    fpr, tpr, thresholds = metrics.roc_curve(y, score, drop_intermediate=False)
    j = (tpr - fpr)[1:]  # roc_curve's first point is above every score
    best = int(np.argmax(j))
    close(ours["youden"]["j"], j[best], "Youden's J")
    assert ours["youden"]["threshold"] == thresholds[1:][best]


@pytest.mark.parametrize("case", ["sigmoid", "softmax2", "softmax4"])
def test_eval_classification_matches_sklearn(tmp_path, case):
    outputs, classes, loss = {"sigmoid": (1, 2, "bce"), "softmax2": (2, 2, "softmax_ce"),
                              "softmax4": (4, 4, "softmax_ce")}[case]
    X = tied_rows(400, 3, seed=classes)
    y = np.random.default_rng(7).integers(0, classes, size=len(X))
    y[: classes] = np.arange(classes)  # every class present
    data = write_csv(tmp_path / "data.csv", X, y)
    network = network_file(tmp_path / "net.json", 3, [(5, "tanh"), (outputs, "sigmoid" if outputs == 1 else "softmax")],
                           loss, seed=11)
    ours = json.loads(run("eval", network, "--data", data, "--json"))
    predicted, probabilities = predicted_probabilities(network, data, tmp_path)
    if outputs == 1:
        probabilities = np.column_stack([1 - probabilities[:, 1], probabilities[:, 1]])
    assert len(np.unique(probabilities[:, -1])) < len(X) / 4, "the data should make many ties"
    assert ours["rows"] == len(X)
    check_classification(ours, y, probabilities, predicted.astype(int), sigmoid=outputs == 1)


@pytest.mark.parametrize("outputs", [1, 2])
def test_eval_regression_matches_sklearn(tmp_path, outputs):
    rng = np.random.default_rng(3)
    X = tied_rows(300, 4, seed=outputs)
    y = np.round(rng.normal(size=(len(X), outputs)), 2)
    data = write_csv(tmp_path / "data.csv", X, y)
    network = network_file(tmp_path / "net.json", 4, [(6, "tanh"), (outputs, "identity")], "mse", seed=5)
    target = ",".join(f"y{i}" for i in range(outputs))
    ours = json.loads(run("eval", network, "--data", data, "--target", target, "--json"))
    out = tmp_path / "predictions.csv"
    run("predict", network, "--data", data, "--target", target, "--out", out)
    prediction = np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2).astype(np.float32).astype(np.float64)
    truth = y.astype(np.float32).astype(np.float64)  # the data is read as float32
    close(ours["mean_absolute_error"], metrics.mean_absolute_error(truth, prediction), "mae")
    close(ours["root_mean_squared_error"], metrics.mean_squared_error(truth, prediction, squared=False), "rmse")
    close(ours["r2"], metrics.r2_score(truth, prediction), "r2")
    errors = np.abs(prediction - truth).max(axis=1)
    order = sorted(range(len(X)), key=lambda r: (-errors[r], r))[:5]
    assert [e["row"] for e in ours["largest_errors"]] == order
    for e in ours["largest_errors"]:
        close(abs(e["error"]), errors[e["row"]], "largest error")


def test_network_evaluate_matches_sklearn_on_a_trained_model():
    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype(np.float32)
    net = backprop.Network.from_json(json.dumps({"input": 30, "layers": [{"units": 16, "activation": "relu"},
                                                                         {"units": 2, "activation": "softmax"}],
                                                 "loss": "softmax_ce", "seed": 2}))
    net.fit(X, y, epochs=5, batch_size=32, optimizer="adam", learning_rate=1e-3, scale="standard", seed=2)
    ours = net.evaluate(X, y)
    probabilities = net.predict(X).astype(np.float64)
    check_classification(ours, y, probabilities, probabilities.argmax(axis=1))
    assert ours["rows"] == len(X) and 0.8 < ours["accuracy"] < 1.0


def test_predict_threshold_picks_the_second_class_at_or_above_it(tmp_path):
    X = tied_rows(200, 3, seed=1)
    y = np.random.default_rng(2).integers(0, 2, size=len(X))
    data = write_csv(tmp_path / "data.csv", X, y)
    network = network_file(tmp_path / "net.json", 3, [(4, "tanh"), (1, "sigmoid")], "bce", seed=3)
    _, probabilities = predicted_probabilities(network, data, tmp_path)
    threshold = float(np.median(probabilities[:, 1]))
    out = tmp_path / "thresholded.csv"
    run("predict", network, "--data", data, "--threshold", threshold, "--out", out)
    predicted = np.genfromtxt(out, delimiter=",", names=True)["class"]
    np.testing.assert_array_equal(predicted, (probabilities[:, 1] >= threshold).astype(int))
    assert 0 < predicted.sum() < len(X)

    four = network_file(tmp_path / "four.json", 3, [(4, "tanh"), (4, "softmax")], "softmax_ce", seed=3)
    refused = subprocess.run([COMMAND, "predict", str(four), "--data", str(data), "--threshold", "0.5"],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "--threshold: expected a model of two classes" in refused.stderr


class _Predictor:
    """A fitted model for sklearn.inspection: the backprop model's most probable class."""

    def __init__(self, path):
        self.network = backprop.Network.from_file(str(path))

    def fit(self, X, y):
        return self

    def predict(self, X):
        return self.network.predict(np.asarray(X, dtype=np.float32)).argmax(axis=1)


def test_importance_ranks_columns_as_sklearn_and_a_noise_column_scores_near_zero(tmp_path):
    from sklearn.inspection import permutation_importance
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 4)).round(3)
    # x0 decides most, x1 less, x2 a little; x3 is noise the labels never see.
    y = (2.0 * X[:, 0] + 1.0 * X[:, 1] + 0.6 * X[:, 2] + 0.3 * rng.normal(size=len(X)) > 0).astype(int)
    data = write_csv(tmp_path / "data.csv", X, y)
    network = tmp_path / "net.json"
    network.write_text(json.dumps({"input": 4, "layers": [{"units": 16, "activation": "tanh"},
                                                          {"units": 2, "activation": "softmax"}],
                                   "loss": "softmax_ce", "optimizer": {"type": "adam", "learning_rate": 0.01},
                                   "training": {"epochs": 30, "batch_size": 32, "scale": "standard"}, "seed": 1}))
    model = tmp_path / "model.bin"
    run("train", network, "--data", data, "--out", model, "--quiet")
    ours = json.loads(run("importance", model, "--data", data, "--repeats", 10, "--json"))
    assert ours["metric"] == "accuracy" and [c["name"] for c in ours["columns"]] == ["x0", "x1", "x2", "x3"]
    means = np.array([c["mean"] for c in ours["columns"]])
    assert abs(means[3]) < 0.01, means  # noise: near zero
    assert means[0] > 0.2, means        # the deciding column: clearly above
    assert ours["columns"][3]["std"] < 0.01 and ours["columns"][0]["std"] > 0

    reference = permutation_importance(_Predictor(model), X.astype(np.float32), y, scoring="accuracy",
                                       n_repeats=10, random_state=0)
    assert list(np.argsort(-means)) == list(np.argsort(-reference.importances_mean)), (means, reference.importances_mean)
    close(ours["baseline"], metrics.accuracy_score(y, _Predictor(model).predict(X)), "baseline accuracy")

    refused = subprocess.run([COMMAND, "importance", str(model), "--data", str(data), "--metric", "r2"],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "metric: 'r2' is a figure of regression" in refused.stderr


# ---- the kept threshold: train --threshold, the model file's "threshold", predict, eval, info ----

def separable_csvs(tmp_path):
    """Two classes (30% positives) that a small network separates well but not perfectly: training and
    validation files."""
    rng = np.random.default_rng(5)
    paths = []
    for name, rows in (("train", 300), ("validation", 160)):
        X = rng.normal(size=(rows, 3))
        y = (X[:, 0] + 0.8 * rng.normal(size=rows) > 0.6).astype(int)
        paths.append(write_csv(tmp_path / f"{name}.csv", X, y))
    return paths


@pytest.mark.parametrize("rule", ["f1", "youden"])
def test_train_keeps_the_threshold_eval_picks_on_the_validation_rows(tmp_path, rule):
    train, validation = separable_csvs(tmp_path)
    network = network_file(tmp_path / "net.json", 3, [(6, "tanh"), (2, "softmax")], "softmax_ce", seed=3)
    model = tmp_path / "model.bin"
    run("train", network, "--data", train, "--validation", validation, "--epochs", 15, "--threshold", rule,
        "--quiet", "--out", model)
    assert model.read_bytes()[8] == 4  # format version 4: the model keeps a threshold
    ours = json.loads(run("eval", model, "--data", validation, "--json"))
    threshold = ours["threshold"]
    assert threshold == ours["thresholds"][rule]["threshold"]
    # scikit-learn's choice on predict's probabilities of the validation rows (check_thresholds' rules).
    y = np.genfromtxt(validation, delimiter=",", names=True)["y0"].astype(int)
    predicted, probabilities = predicted_probabilities(model, validation, tmp_path)
    check_thresholds(ours["thresholds"], y, probabilities[:, 1])
    # predict uses it; eval's thresholded figures are at it, as scikit-learn computes them from those classes.
    np.testing.assert_array_equal(predicted, (probabilities[:, 1] >= threshold).astype(int))
    check_classification(ours, y, probabilities, predicted)
    assert "threshold" in run("info", model) and f"{threshold:.6g}" in run("info", model)
    # The threshold moves some rows here, so the figures below differ from the most probable class's.
    assert metrics.accuracy_score(y, probabilities.argmax(axis=1)) != ours["accuracy"]
    # Permutation importance scores the model's predictions: its baseline is eval's accuracy at the threshold.
    assert json.loads(run("importance", model, "--data", validation, "--json"))["baseline"] == ours["accuracy"]
    # --threshold overrides the model's.
    out = tmp_path / "override.csv"
    run("predict", model, "--data", validation, "--threshold", 0.999, "--out", out)
    np.testing.assert_array_equal(np.genfromtxt(out, delimiter=",", names=True)["class"],
                                  (probabilities[:, 1] >= 0.999).astype(int))
    # The JSON export keeps it and says version 4; it loads back with the same threshold.
    exported = tmp_path / "model.json"
    run("export", model, "--format", "json", "--out", exported)
    text = json.loads(exported.read_text())
    assert text["version"] == 4 and text["threshold"] == threshold
    assert backprop.Network.from_file(str(exported)).threshold == threshold


def test_a_given_threshold_is_kept_and_a_model_without_one_stays_version_1(tmp_path):
    train, validation = separable_csvs(tmp_path)
    network = network_file(tmp_path / "net.json", 3, [(6, "tanh"), (2, "softmax")], "softmax_ce", seed=3)
    run("train", network, "--data", train, "--epochs", 3, "--threshold", 0.3, "--quiet", "--out", tmp_path / "a.bin")
    assert backprop.Network.from_file(str(tmp_path / "a.bin")).threshold == 0.3
    run("train", network, "--data", train, "--epochs", 3, "--quiet", "--out", tmp_path / "b.bin")
    assert (tmp_path / "b.bin").read_bytes()[8] == 1
    assert backprop.Network.from_file(str(tmp_path / "b.bin")).threshold is None
    # The same training with and without a kept threshold: the same bytes but for the version and the header.
    a, b = backprop.Network.from_file(str(tmp_path / "a.bin")), backprop.Network.from_file(str(tmp_path / "b.bin"))
    np.testing.assert_array_equal(a.weights(0), b.weights(0))


@pytest.mark.parametrize("case", ["no validation rows", "four classes", "regression"])
def test_train_threshold_is_refused_where_it_cannot_apply(tmp_path, case):
    train, validation = separable_csvs(tmp_path)
    four = write_csv(tmp_path / "four.csv", tied_rows(120, 3, seed=4), np.arange(120) % 4)
    layers, loss, data, extra = {
        "no validation rows": ([(4, "tanh"), (2, "softmax")], "softmax_ce", train, []),
        "four classes": ([(4, "tanh"), (4, "softmax")], "softmax_ce", four, ["--validation-split", "0.3"]),
        "regression": ([(4, "tanh"), (1, "identity")], "mse", train, ["--validation-split", "0.3"]),
    }[case]
    network = network_file(tmp_path / "net.json", 3, layers, loss, seed=3)
    out = tmp_path / "model.bin"
    result = subprocess.run([COMMAND, "train", str(network), "--data", str(data), "--threshold", "f1", "--out",
                             str(out), *extra], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    expected = {"no validation rows": "--threshold: f1 (the threshold of the largest F1 on the validation rows) "
                                      "needs validation rows",
                "four classes": "--threshold: expected a network of two classes",
                "regression": "--threshold: expected a network of two classes"}[case]
    assert expected in result.stderr
    assert not out.exists()


def test_network_fit_and_mlpclassifier_keep_and_use_the_threshold(tmp_path):
    from sklearn.neural_network import MLPClassifier as _Unused  # noqa: F401 (scikit-learn present)
    from backprop.sklearn import MLPClassifier
    import pickle
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    y = (X[:, 0] + 0.8 * rng.normal(size=400) > 0.6).astype(np.int64)
    net = backprop.Network.from_json(json.dumps({
        "input": 3, "layers": [{"units": 6, "activation": "tanh"}, {"units": 2, "activation": "softmax"}],
        "loss": "softmax_ce", "seed": 2}))
    net.fit(X, y, epochs=5, validation_split=0.3, threshold="f1")
    t = net.threshold
    assert t is not None and 0 < t < 1
    p = net.predict(X)[:, 1]
    np.testing.assert_array_equal(net.predict_classes(X), (p >= t).astype(np.int64))
    assert net.evaluate(X, y)["accuracy"] == pytest.approx(np.mean((p >= t) == y), rel=0, abs=0)
    assert pickle.loads(pickle.dumps(net)).threshold == t
    net.save(str(tmp_path / "n.bin"))
    assert backprop.Network.from_file(str(tmp_path / "n.bin")).threshold == t
    net.threshold = None
    np.testing.assert_array_equal(net.predict_classes(X), net.predict(X).argmax(axis=1))
    with pytest.raises(ValueError, match="needs validation rows"):
        net.fit(X, y, epochs=1, validation_split=0.0, threshold="youden")

    labels = np.array(["no", "yes"])[y]
    given = MLPClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0, threshold=0.2).fit(X, labels)
    proba = given.predict_proba(X)
    np.testing.assert_array_equal(given.predict(X), np.where(proba[:, 1] >= 0.2, "yes", "no"))
    assert given.network_.threshold == 0.2
    picked = MLPClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0, early_stopping=True,
                           threshold="youden").fit(X, labels)
    assert picked.network_.threshold is not None
    proba = picked.predict_proba(X)
    np.testing.assert_array_equal(picked.predict(X), np.where(proba[:, 1] >= picked.network_.threshold, "yes", "no"))
    with pytest.raises(ValueError, match="needs validation rows"):
        MLPClassifier(hidden_layer_sizes=(6,), max_iter=2, threshold="f1").fit(X, labels)


# ---- the training report's plots: the numbers behind them against scikit-learn ----

def report_values(page, name):
    """The rows of numbers of the plot element named `name` (its data-values attribute, full precision)."""
    import re
    found = re.search(r'data-name="%s" data-values="([^"]*)"' % re.escape(name), page)
    assert found, f"no plot named {name} in the report"
    return np.array([[float(v) for v in row.split(" ")] for row in found.group(1).split(";")])


def check_calibration(page, y_true, score):
    from sklearn.calibration import calibration_curve
    ours = report_values(page, "calibration")
    prob_true, prob_pred = calibration_curve(y_true, score, n_bins=10)
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], score), minlength=10)
    np.testing.assert_allclose(ours[:, 0], prob_pred, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ours[:, 1], prob_true, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(ours[:, 2], counts[counts > 0])


def check_curves(page, suffix, y_true, score):
    fpr, tpr, _ = metrics.roc_curve(y_true, score, drop_intermediate=False)
    np.testing.assert_allclose(report_values(page, "roc" + suffix), np.column_stack([fpr, tpr]), rtol=1e-12, atol=0)
    precision, recall, _ = metrics.precision_recall_curve(y_true, score)
    # scikit-learn's points from recall 0 up, stopping where the recall first reaches 1; ours go on through
    # every lower score (at recall 1).
    reference = np.column_stack([recall[::-1], precision[::-1]])
    ours = report_values(page, "precision_recall" + suffix)
    np.testing.assert_allclose(ours[: len(reference)], reference, rtol=1e-12, atol=0)
    assert np.all(ours[len(reference):, 0] == 1.0)


@pytest.mark.parametrize("classes", [2, 3])
def test_report_curves_and_reliability_are_sklearns(tmp_path, classes):
    rng = np.random.default_rng(classes)
    files = []
    for name, rows in (("train", 300), ("validation", 200)):
        X = rng.normal(size=(rows, 2))
        y = np.argmax(X @ np.array([[1.0, -0.5, 0.2], [0.3, 0.8, -1.0]])[:, :classes] + 0.6 * rng.normal(size=(rows, classes)), axis=1)
        files.append(write_csv(tmp_path / f"{name}.csv", X, y))
    network = network_file(tmp_path / "net.json", 2, [(6, "tanh"), (classes, "softmax")], "softmax_ce", seed=4)
    model, page = tmp_path / "model.bin", tmp_path / "report.html"
    run("train", network, "--data", files[0], "--validation", files[1], "--epochs", 8, "--quiet", "--out", model,
        "--report", page)
    html = page.read_text()
    y = np.genfromtxt(files[1], delimiter=",", names=True)["y0"].astype(int)
    _, p = predicted_probabilities(model, files[1], tmp_path)
    if classes == 2:
        check_curves(html, "", y, p[:, 1])
        check_calibration(html, y, p[:, 1])
    else:
        for c in range(classes):
            check_curves(html, f":{c}", (y == c).astype(int), p[:, c])
        check_calibration(html, (p.argmax(axis=1) == y).astype(int), p.max(axis=1))  # the top label's


def test_report_residuals_and_importance_are_predicts_and_importances(tmp_path):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 3))
    y = 2 * X[:, 0] - X[:, 1] + 0.1 * rng.normal(size=300)
    data = write_csv(tmp_path / "data.csv", X, y)
    validation = write_csv(tmp_path / "validation.csv", X[:120], y[:120])
    network = network_file(tmp_path / "net.json", 3, [(8, "tanh"), (1, "identity")], "mse", seed=6)
    model, page = tmp_path / "model.bin", tmp_path / "report.html"
    run("train", network, "--data", data, "--validation", validation, "--epochs", 10, "--quiet", "--out", model,
        "--report", page, "--report-importance", 3)
    html = page.read_text()
    out = tmp_path / "predictions.csv"
    run("predict", model, "--data", validation, "--out", out)
    predicted = np.genfromtxt(out, delimiter=",", names=True)["y_y0"].astype(np.float32).astype(np.float64)
    target = np.genfromtxt(validation, delimiter=",", names=True)["y0"].astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(report_values(html, "residuals"), np.column_stack([predicted, predicted - target]),
                               rtol=1e-12, atol=0)
    # The importance: `backprop importance` on the same rows, with the network's seed and the same shuffles.
    ours = json.loads(run("importance", model, "--data", validation, "--repeats", 3, "--seed", 6, "--json"))
    import re
    rows = re.findall(r'<tr data-values="([^ "]+) ([^"]+)"><td>([^<]*)</td>', html)
    assert [name for _, _, name in rows] == [c["name"] for c in ours["columns"]]
    for (mean, std, _), column in zip(rows, ours["columns"]):
        assert float(mean) == column["mean"] and float(std) == column["std"]
    assert "The drop of r2" in html
