"""Class and sample weights (issue 30): the loss of nn/loss.hpp (its PyTorch reference is
tests/test_evaluation.cpp's WeightedLoss) through the command, Network.fit and the scikit-learn estimators."""
import json
import os
import subprocess

import numpy as np
import pytest

import backprop
from backprop.sklearn import MLPClassifier

COMMAND = os.environ.get("BACKPROP_COMMAND", "backprop")


def run(*arguments, expect=0, env=None):
    result = subprocess.run([COMMAND, *map(str, arguments)], capture_output=True, text=True,
                            env=None if env is None else dict(os.environ, **env))
    assert result.returncode == expect, result.stdout + result.stderr
    return result.stdout + result.stderr


def imbalanced(rows=600, seed=0):
    # Class 1 is one row in ten and overlaps class 0: unweighted training favours class 0.
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.1).astype(int)
    X = rng.normal(size=(rows, 2)) + y[:, None] * 1.2
    return X.round(4), y


def write_csv(path, X, y, weights=None):
    header = ["a", "b"] + (["w"] if weights is not None else []) + ["label"]
    columns = [X[:, 0], X[:, 1]] + ([weights] if weights is not None else []) + [y]
    lines = [",".join(header)] + [",".join(f"{v:g}" for v in row) for row in zip(*columns)]
    path.write_text("\n".join(lines) + "\n")
    return path


NETWORK = {"input": 2, "layers": [{"units": 8, "activation": "tanh"}, {"units": 2, "activation": "softmax"}],
           "loss": "softmax_ce", "optimizer": {"type": "adam", "learning_rate": 0.01},
           "training": {"epochs": 20, "batch_size": 32}, "seed": 4}


@pytest.fixture
def network(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(NETWORK))
    return path


def test_a_constant_sample_weight_trains_the_same_model_and_is_not_a_feature(tmp_path, network):
    X, y = imbalanced()
    run("train", network, "--data", write_csv(tmp_path / "plain.csv", X, y), "--out", tmp_path / "plain.bin", "--quiet")
    weighted = write_csv(tmp_path / "weighted.csv", X, y, np.full(len(y), 2.0))
    run("train", network, "--data", weighted, "--sample-weight", "w", "--out", tmp_path / "weighted.bin", "--quiet")
    # softmax_ce's weighted mean divides by the weights' sum: a constant weight changes nothing.
    assert (tmp_path / "plain.bin").read_bytes() == (tmp_path / "weighted.bin").read_bytes()


def test_balanced_class_weights_raise_the_rare_class_recall(tmp_path, network):
    X, y = imbalanced()
    data = write_csv(tmp_path / "data.csv", X, y)
    recall = {}
    for weights in ("none", "balanced"):
        model = tmp_path / f"{weights}.bin"
        run("train", network, "--data", data, "--class-weight", weights, "--out", model, "--quiet",
            "--report", tmp_path / f"{weights}.html")
        report = json.loads(run("eval", model, "--data", data, "--json"))
        recall[weights] = (report["classes"]["1"]["recall"], report["balanced_accuracy"])
    assert "<th>class weights</th><td>balanced</td>" in (tmp_path / "balanced.html").read_text()
    assert "class weights" not in (tmp_path / "none.html").read_text()
    assert recall["balanced"][0] > recall["none"][0] + 0.2, recall
    assert recall["balanced"][1] > recall["none"][1], recall


def test_network_fit_class_weight_is_the_same_as_those_sample_weights():
    X, y = imbalanced()
    X = X.astype(np.float32)
    by_class = backprop.Network.from_json(json.dumps(NETWORK))
    by_class.fit(X, y, class_weight={"1": 5.0}, seed=2)
    by_row = backprop.Network.from_json(json.dumps(NETWORK))
    by_row.fit(X, y, sample_weight=np.where(y == 1, 5.0, 1.0), seed=2)
    np.testing.assert_array_equal(by_class.predict(X), by_row.predict(X))
    unweighted = backprop.Network.from_json(json.dumps(NETWORK))
    unweighted.fit(X, y, seed=2)
    assert not np.array_equal(unweighted.predict(X), by_row.predict(X))
    with pytest.raises(ValueError, match="sample_weight: expected .* weights \\(one per row of X\\)"):
        by_row.fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="expected a weight >= 0"):
        by_row.fit(X, y, sample_weight=-np.ones(len(y)))


def test_mlp_classifier_class_weight_and_sample_weight():
    X, y = imbalanced()
    labels = np.where(y == 1, "rare", "common")
    settings = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0, learning_rate_init=0.01)
    plain = MLPClassifier(**settings).fit(X, labels)
    ones = MLPClassifier(**settings).fit(X, labels, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(plain.predict_proba(X), ones.predict_proba(X))
    balanced = MLPClassifier(**settings, class_weight="balanced").fit(X, labels)
    as_dict = MLPClassifier(**settings, class_weight={"rare": 5.0}).fit(X, labels)
    recall = lambda model: np.mean(model.predict(X)[labels == "rare"] == "rare")
    assert recall(balanced) > recall(plain) + 0.2 and recall(as_dict) > recall(plain)
    with pytest.raises(ValueError, match="class_weight: labels not among the classes"):
        MLPClassifier(**settings, class_weight={"other": 2.0}).fit(X, labels)
    with pytest.raises(ValueError, match="class_weight 'balanced' is not supported for partial_fit"):
        MLPClassifier(**settings, class_weight="balanced").partial_fit(X, labels, classes=["common", "rare"])
    partial = MLPClassifier(**settings, class_weight={"rare": 5.0}).partial_fit(X, labels, classes=["common", "rare"])
    assert partial.n_iter_ == 1


def test_bad_weights_are_refused_with_the_option_named(tmp_path, network):
    X, y = imbalanced()
    data = write_csv(tmp_path / "data.csv", X, y)
    out = tmp_path / "m.bin"
    assert "no class 'maybe' in the data" in run("train", network, "--data", data, "--class-weight", "maybe=2",
                                                 "--out", out, expect=2)
    assert "--class-weight (class_weight): expected balanced, none or LABEL=WEIGHT" in run(
        "train", network, "--data", data, "--class-weight", "1=-1", "--out", out, expect=2)
    assert "one of them the --sample-weight column 'w'" in run("train", network, "--data", data,
                                                                  "--sample-weight", "w", "--out", out, expect=2)
    regression = tmp_path / "regression.json"
    regression.write_text(json.dumps(dict(NETWORK, layers=[{"units": 1, "activation": "identity"}], loss="mse")))
    assert "expected none for a network that does not classify" in run(
        "train", regression, "--data", data, "--class-weight", "balanced", "--out", out, expect=2)
    assert not out.exists()


def test_deterministic_training_takes_the_weights_through_the_exact_reducer(tmp_path, network):
    # --deterministic sums 8-row chunks in fixed point, each weighted by its part of the batch's weights: the
    # same model for any thread count, and the plain sum's model to float rounding.
    X, y = imbalanced()
    data = write_csv(tmp_path / "data.csv", X, y, np.where(y == 1, 3.0, 0.5))
    for name, flags in {"plain": [], "one": ["--deterministic", "--threads", 1],
                        "two": ["--deterministic", "--threads", 2]}.items():
        run("train", network, "--data", data, "--sample-weight", "w", "--class-weight", "balanced", *flags,
            "--out", tmp_path / f"{name}.bin", "--quiet")
    assert (tmp_path / "one.bin").read_bytes() == (tmp_path / "two.bin").read_bytes()
    X32 = X.astype(np.float32)
    plain = backprop.Network.from_file(str(tmp_path / "plain.bin")).predict(X32)
    exact = backprop.Network.from_file(str(tmp_path / "one.bin")).predict(X32)
    np.testing.assert_allclose(exact, plain, atol=1e-4)
    unweighted = tmp_path / "unweighted.bin"
    run("train", network, "--data", write_csv(tmp_path / "u.csv", X, y), "--deterministic", "--out", unweighted,
        "--quiet")
    assert np.abs(backprop.Network.from_file(str(unweighted)).predict(X32) - exact).max() > 1e-2


def test_the_emulated_device_trains_with_the_weights_as_the_cpu(tmp_path, network):
    # The device's weighted loss is the CPU's (tests/test_device.cpp holds it step by step): the same model to
    # float rounding after 20 epochs, and far from the unweighted one.
    X, y = imbalanced()
    data = write_csv(tmp_path / "data.csv", X, y, np.where(np.arange(len(y)) % 7 == 0, 0.0, 1.5))
    weighted = ["--class-weight", "balanced", "--sample-weight", "w"]
    plain = write_csv(tmp_path / "plain.csv", X, y)
    emulated = {"BACKPROP_DEVICE": "emulated"}
    for name, flags, env in [("cpu", ["--data", data, *weighted], None), ("device", ["--data", data, *weighted], emulated),
                             ("unweighted", ["--data", plain], emulated)]:
        run("train", network, *flags, "--out", tmp_path / f"{name}.bin", "--quiet", env=env)
    X32 = X.astype(np.float32)
    cpu, device, unweighted = (backprop.Network.from_file(str(tmp_path / f"{name}.bin")).predict(X32)
                               for name in ("cpu", "device", "unweighted"))
    np.testing.assert_allclose(device, cpu, atol=1e-3)
    assert np.abs(unweighted - cpu).max() > 0.1


def test_the_checkpoint_keeps_the_class_weights(tmp_path, network):
    X, y = imbalanced()
    data = write_csv(tmp_path / "data.csv", X, y)
    checkpoint = tmp_path / "run.ckpt"
    run("train", network, "--data", data, "--class-weight", "balanced", "--epochs", 2, "--checkpoint", checkpoint,
        "--out", tmp_path / "m.bin", "--quiet")
    refused = run("train", network, "--data", data, "--class-weight", "none", "--epochs", 2, "--resume", checkpoint,
                  "--out", tmp_path / "m2.bin", expect=2)
    assert "training.class_weight" in refused
    run("train", network, "--data", data, "--class-weight", "balanced", "--epochs", 2, "--resume", checkpoint,
        "--out", tmp_path / "m2.bin", "--quiet")
    # Resumed, the run ends where the uninterrupted one did.
    assert (tmp_path / "m2.bin").read_bytes() == (tmp_path / "m.bin").read_bytes()


TRACED = {"input": 2, "layers": [{"units": 3, "activation": "tanh"}, {"units": 2, "activation": "softmax"}],
          "loss": "softmax_ce", "optimizer": {"type": "sgd", "learning_rate": 0.1}, "seed": 2}


@pytest.mark.parametrize("loss", ["softmax_ce", "bce"])
def test_the_trace_shows_the_weighted_loss(tmp_path, loss):
    # Row weights: balanced class weights (scikit-learn's compute_class_weight, the reference) times the given
    # sample weights. The trace's loss and output delta against numpy from its own outputs a, to 1e-12:
    # softmax_ce's sum_r w_r l_r / sum_r w_r (CrossEntropyLoss(weight=)), bce's 1/B sum_r w_r l_r (BCELoss).
    from sklearn.utils.class_weight import compute_class_weight
    network = tmp_path / "net.json"
    two = loss == "softmax_ce"
    last = {"units": 2, "activation": "softmax"} if two else {"units": 1, "activation": "sigmoid"}
    network.write_text(json.dumps(dict(TRACED, loss=loss, layers=[TRACED["layers"][0], last])))
    labels = np.array([0, 1, 1, 1])
    y = np.eye(2)[labels] if two else labels[:, None].astype(float)
    sample = np.array([1.0, 0.5, 2.0, 0.0])
    target = ";".join(",".join(f"{v:g}" for v in row) for row in y)
    arguments = ["trace", network, "--input", "0.5,-1;1,2;0.3,0.3;-1,0.2", "--target", target,
                 "--class-weight", "balanced", "--sample-weight", ",".join(f"{v:g}" for v in sample)]
    traced = json.loads(run(*arguments, "--json"))
    w = sample * compute_class_weight("balanced", classes=np.array([0, 1]), y=labels)[labels]
    np.testing.assert_allclose(traced["row_weights"], w, rtol=1e-15)
    a = np.array(traced["steps"][0]["layers"][-1]["a"]).reshape(y.shape)
    if two:
        rows, denominator = -(y * np.log(a)).sum(axis=1), w.sum()
    else:
        rows, denominator = -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1), len(w)
    assert traced["steps"][0]["loss"] == pytest.approx((w * rows).sum() / denominator, rel=1e-12)
    delta = np.array(traced["steps"][0]["layers"][-1]["delta"]).reshape(y.shape)
    np.testing.assert_allclose(delta, (a - y) * w[:, None] / denominator, rtol=1e-12, atol=1e-15)
    unweighted = json.loads(run("trace", network, "--input", "0.5,-1;1,2;0.3,0.3;-1,0.2", "--target", target,
                                "--json"))
    assert abs(unweighted["steps"][0]["loss"] - traced["steps"][0]["loss"]) > 1e-3
    text = run(*arguments, "--expand")
    assert "w      = [" in text and "(the loss is the weighted mean: row r's delta carries w[r] / D" in text
    assert f"{w[0]:.4f}(" in text  # the loss's working names the first row's weight


def test_gradcheck_checks_the_weighted_loss(tmp_path):
    # Central differences of the weighted loss against its backward pass: class weights (the file's own, and the
    # option's), sample weights with a 0, for softmax_ce, bce and mse.
    network = tmp_path / "net.json"
    network.write_text(json.dumps(dict(TRACED, training={"class_weight": {"1": 4.0}})))
    assert "row weights" in run("gradcheck", network, "--batch", 6)  # the file's class_weight
    run("gradcheck", network, "--batch", 6, "--class-weight", "balanced", "--sample-weight", "1,0,2,0.5,1,3")
    sigmoid = dict(TRACED, loss="bce", layers=[TRACED["layers"][0], {"units": 1, "activation": "sigmoid"}])
    network.write_text(json.dumps(sigmoid))
    run("gradcheck", network, "--batch", 6, "--class-weight", "0=0.25,1=3", "--sample-weight", "1,0,2,0.5,1,3")
    network.write_text(json.dumps(dict(sigmoid, loss="mse")))
    run("gradcheck", network, "--batch", 6, "--sample-weight", "1,0,2,0.5,1,3")
    assert "expected none for a network that does not classify" in run(
        "gradcheck", network, "--batch", 6, "--class-weight", "balanced", expect=2)
    assert "expected one weight per row (6), got 2" in run("gradcheck", network, "--batch", 6, "--sample-weight",
                                                           "1,2", expect=2)
    assert "expected finite weights >= 0" in run("gradcheck", network, "--batch", 2, "--sample-weight", "1,-1",
                                                 expect=2)
    assert "every weight 0" in run("gradcheck", network, "--batch", 2, "--sample-weight", "0,0", expect=2)
