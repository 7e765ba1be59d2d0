"""batch_norm in training, in files and in the command: what tests/test_batch_norm.cpp does not reach (it holds
the layer's numbers against torch.nn.BatchNorm1d in float64).

- A network with batch_norm entries trains on three classes to a stated accuracy, and the model it saves (binary
  and JSON) predicts the same bytes after loading: the running statistics travel with it.
- A fit interrupted and resumed from its checkpoint gives the uninterrupted model byte for byte (early
  stopping keeps the best epoch's statistics too).
- The emulated device (the device step's code) trains like the CPU, running statistics included.
- Where a batch would have one row (no batch variance): refused with a message (ValueError here, exit 2 from the
  command), nothing written. --deterministic trains the model a plain run trains, byte for byte.
"""
import json
import os
import subprocess

import numpy as np
import pytest

import backprop
from test_training_run import Interrupter, classes

NETWORK = {"input": 6, "layers": [{"units": 16, "activation": "relu"}, {"type": "batch_norm"},
                                  {"units": 8, "activation": "tanh"}, {"type": "batch_norm", "momentum": 0.2},
                                  {"units": 3, "activation": "softmax"}], "loss": "softmax_ce", "seed": 3}
OPTIONS = dict(batch_size=16, optimizer="adam", learning_rate=0.01, validation_split=0.2, early_stopping=3,
               scale="standard")
COMMAND = os.environ.get("BACKPROP_COMMAND", "")


def network():
    return backprop.Network.from_json(json.dumps(NETWORK))


def test_a_batch_norm_network_trains_and_its_files_predict_the_same(tmp_path):
    X, y = classes(rows=1500)
    net = network()
    history = net.fit(X[:1200], y[:1200], epochs=6, **OPTIONS)
    assert len(history) >= 2
    accuracy = np.mean(net.predict(X[1200:]).argmax(axis=1) == y[1200:])
    # The classes overlap (a centre shifted by 2 in noise of 1): a linear model is near the best there is.
    from sklearn.linear_model import LogisticRegression
    reference = LogisticRegression().fit(X[:1200], y[:1200]).score(X[1200:], y[1200:])
    assert accuracy >= reference - 0.05, (accuracy, reference)
    for name, form in (("m.bkp", "binary"), ("m.json", "json")):
        path = tmp_path / name
        net.save(str(path), format=form)
        loaded = backprop.load(str(path))
        np.testing.assert_array_equal(loaded.predict(X[1200:]), net.predict(X[1200:]))
    model = json.loads((tmp_path / "m.json").read_text())
    norms = [layer for layer in model["layers"] if layer.get("type") == "batch_norm"]
    assert len(norms) == 2 and norms[1]["momentum"] == 0.2
    # Trained statistics, not the initial (0, 1): evaluation uses what training saw.
    assert any(abs(v) > 1e-3 for v in norms[0]["running_mean"])
    assert any(abs(v - 1.0) > 1e-3 for v in norms[1]["running_var"])
    assert model["version"] == 3
    assert net.layers[3] == {"type": "batch_norm", "units": 8, "momentum": 0.2, "eps": 1e-5}
    np.testing.assert_array_equal(net.weights(1), np.asarray(norms[0]["scale"], dtype=np.float32))
    np.testing.assert_array_equal(net.bias(3), np.asarray(norms[1]["shift"], dtype=np.float32))


def test_a_batch_norm_fit_interrupted_and_resumed_gives_the_uninterrupted_model_byte_for_byte(tmp_path):
    X, y = classes(rows=1500)
    whole = network()
    whole.fit(X, y, epochs=5, **OPTIONS)
    checkpoint = tmp_path / "run.ckpt"
    files = dict(checkpoint=checkpoint, checkpoint_every=7)
    stopped = network()
    with Interrupter(checkpoint) as interrupter, pytest.raises(KeyboardInterrupt):
        stopped.fit(X, y, epochs=5, **OPTIONS, **files)
    assert interrupter.raised
    resumed = network()
    resumed.fit(X, y, epochs=5, **OPTIONS, **files, resume=str(checkpoint))
    assert resumed.to_bytes() == whole.to_bytes()


@pytest.mark.parametrize("rows, batch_size", [(100, 1), (97, 16)])
def test_a_batch_of_one_row_is_refused(rows, batch_size):
    X, y = classes(rows=rows)
    net = network()
    before = net.to_bytes()
    expected = r"expected at least 2 rows in every batch for a network with batch_norm \(one row has no batch variance\)"
    with pytest.raises(ValueError, match=expected + ", but"):
        net.fit(X, y, epochs=1, batch_size=batch_size)
    assert net.to_bytes() == before


def test_the_emulated_device_trains_like_the_cpu(tmp_path):
    # device="emulated" runs the device step (its batch_norm launches, the running statistics kept on the device
    # and brought back) in host arithmetic. Against the CPU's step: losses within 1e-4 relative, outputs and
    # running statistics within 1e-3 (float rounding grown over 75 steps, as tests/test_device.cpp states).
    X, y = classes(rows=400)
    cpu, emulated = network(), network()
    options = dict(epochs=3, batch_size=16, optimizer="adam", learning_rate=0.01, scale="standard")
    history_cpu = cpu.fit(X, y, **options)
    history_emulated = emulated.fit(X, y, device="emulated", **options)
    for a, b in zip(history_cpu, history_emulated):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
    np.testing.assert_allclose(emulated.predict(X), cpu.predict(X), atol=1e-3)
    statistics = []
    for name, net in (("cpu.json", cpu), ("emulated.json", emulated)):
        net.save(str(tmp_path / name), format="json")
        layers = json.loads((tmp_path / name).read_text())["layers"]
        statistics.append([v for layer in layers if layer.get("type") == "batch_norm"
                           for key in ("running_mean", "running_var") for v in layer[key]])
    assert max(abs(v - 1.0) for v in statistics[0][16:32]) > 1e-2  # trained, not the initial 0 and 1
    np.testing.assert_allclose(statistics[1], statistics[0], atol=1e-3)


@pytest.mark.skipif(not COMMAND, reason="BACKPROP_COMMAND (the built command) is not set")
def test_the_command_trains_evaluates_and_refuses_with_exit_2(tmp_path):
    X, y = classes(rows=600)
    data = tmp_path / "data.csv"
    with open(data, "w") as f:
        f.write(",".join("x%d" % i for i in range(6)) + ",label\n")
        for row, label in zip(X, y):
            f.write(",".join("%.7g" % v for v in row) + ",c%d\n" % label)
    net_file = tmp_path / "net.json"
    net_file.write_text(json.dumps(NETWORK))
    model = tmp_path / "m.bkp"
    run = lambda *args: subprocess.run([COMMAND, *map(str, args)], capture_output=True, text=True)
    trained = run("train", net_file, "--data", data, "--target", "label", "--out", model, "--epochs", "4",
                  "--batch-size", "16")
    assert trained.returncode == 0, trained.stderr
    evaluated = run("eval", model, "--data", data, "--target", "label")
    assert evaluated.returncode == 0 and "accuracy" in evaluated.stdout, evaluated.stderr
    # --deterministic computes the whole batch as one process does (docs/distributed.md): the same model bytes.
    deterministic = tmp_path / "deterministic.bkp"
    result = run("train", net_file, "--data", data, "--target", "label", "--out", deterministic, "--epochs", "4",
                 "--batch-size", "16", "--deterministic")
    assert result.returncode == 0, result.stderr
    assert deterministic.read_bytes() == model.read_bytes()
    refused = tmp_path / "refused.bkp"
    result = run("train", net_file, "--data", data, "--target", "label", "--out", refused, "--epochs", "1",
                 "--batch-size", "1")
    assert result.returncode == 2, result.stderr
    assert "expected at least 2 rows in every batch for a network with batch_norm" in result.stderr
    assert not refused.exists()


def test_the_estimators_put_a_batch_norm_after_each_hidden_layer():
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from backprop.sklearn import MLPClassifier, MLPRegressor
    X, y = load_wine(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = MLPClassifier((16, 8), batch_norm=True, max_iter=60, batch_size=16, random_state=0)
    model.fit(X_train, y_train)
    kinds = [layer.get("type", "dense") for layer in model.network_.layers]
    assert kinds == ["dense", "batch_norm", "dense", "batch_norm", "dense"]
    assert model.get_params()["batch_norm"] is True
    # wine's classes are almost linearly separable once scaled: a linear model is the reference.
    reference = LogisticRegression(max_iter=5000).fit(X_train, y_train).score(X_test, y_test)
    assert model.score(X_test, y_test) >= reference - 0.05, (model.score(X_test, y_test), reference)
    regressor = MLPRegressor((8,), batch_norm=True, max_iter=5, batch_size=16, random_state=0).fit(X_train, X_train[:, 0])
    assert [layer.get("type", "dense") for layer in regressor.network_.layers] == ["dense", "batch_norm", "dense"]


def test_trace_of_a_network_with_batch_norm_matches_torch_and_refuses_one_row(tmp_path):
    """backprop.trace as `backprop trace`: every figure of tests/data/batch_norm_reference.json's "traces" (torch in
    float64, plain SGD) at 1e-12 relative to max(1, |value|), the working written out, one row refused."""
    path = os.path.join(os.path.dirname(__file__), "..", "data", "batch_norm_reference.json")
    with open(path) as f:
        reference = json.load(f)
    for case in reference["traces"]:
        net = tmp_path / (case["name"] + ".json")
        net.write_text(json.dumps(case["network"]))
        steps = backprop.trace(str(net), input=np.array(case["x"]), target=np.array(case["y"]), steps=2)
        for s, (step, expected) in enumerate(zip(steps, case["steps"])):
            assert abs(step["loss"] - expected["loss"]) <= 1e-12
            for l, (layer, figures) in enumerate(zip(step["layers"], expected["layers"])):
                before = {"running_mean_before", "running_var_before"} if "type" in figures else set()
                assert set(layer) - {"activation"} == set(figures) | before, case["name"]
                if before:  # the start's statistics (0 and 1 unless given), then torch's after the step before
                    entry, features = case["network"]["layers"][l], len(figures["mean"])
                    for key, start in (("running_mean", 0.0), ("running_var", 1.0)):
                        value = np.asarray(entry.get(key, [start] * features) if s == 0
                                           else case["steps"][s - 1]["layers"][l][key])
                        np.testing.assert_allclose(layer[key + "_before"], value, rtol=0,
                                                   atol=1e-12 * max(1.0, np.abs(value).max()), err_msg=key)
                for key, value in figures.items():
                    if key == "type":
                        assert layer[key] == value
                        continue
                    value = np.asarray(value)
                    np.testing.assert_allclose(np.asarray(layer[key]).reshape(value.shape), value, rtol=0,
                                               atol=1e-12 * max(1.0, np.abs(value).max()), err_msg=key)
        assert "mean2[0] = (sum_r a1[r][0]) / " in steps.text() or "mean1[0] = (sum_r a0[r][0]) / " in steps.text()
        assert "xhat" in steps.html() and "batch_norm" in steps.dot()
    with pytest.raises(ValueError, match="expected at least 2 rows for a network with batch_norm"):
        backprop.trace(str(net), input=[case["x"][0]], target=[case["y"][0]])
