"""Tests of the Python module `backprop` (python/backprop_module.cpp), run by CTest as
`python3 -m pytest -q tests/python` with PYTHONPATH set to the module's build folder.

The trace is held against the PyTorch float64 reference (tests/data/seed_reference.json) at 1e-9, as
tests/test_seed_trace.cpp holds `backprop trace`; training is checked on small generated data sets with
fixed seeds, against stated accuracies and errors.
"""
import concurrent.futures
import json
import os
import pathlib
import pickle
import threading

import numpy as np
import pytest

import backprop

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED_NETWORK = ROOT / "examples" / "seed.json"
XOR_NETWORK = ROOT / "examples" / "xor.json"
TOLERANCE = 1e-9  # absolute, or relative for figures above 1


def blobs(rows_per_class=100, seed=0):
    """Three Gaussian clusters in 2-D, well apart: (X float32 (300, 2), y int64 (300,))."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [-3.0, -2.0], [3.0, -2.0]])
    X = np.concatenate([rng.normal(c, 1.0, size=(rows_per_class, 2)) for c in centres]).astype(np.float32)
    y = np.repeat(np.arange(3), rows_per_class)
    order = rng.permutation(len(y))
    return X[order], y[order]


def classifier():
    return backprop.Network.from_json(json.dumps({
        "input": 2,
        "layers": [{"units": 16, "activation": "tanh"}, {"units": 3, "activation": "softmax"}],
        "loss": "softmax_ce", "seed": 1}))


def assert_close(actual, expected, where):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64).reshape(actual.shape)
    limit = TOLERANCE * np.maximum(1.0, np.abs(expected))
    assert np.all(np.abs(actual - expected) <= limit), f"{where}: {actual} vs {expected}"


# ---- trace ----

@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_trace_of_the_seed_matches_pytorch(loss):
    reference = json.loads((ROOT / "tests" / "data" / "seed_reference.json").read_text())[loss]["steps"]
    steps = backprop.trace(str(SEED_NETWORK), input=[1, 2, 3, 4], target=[1], steps=2, loss=loss)
    assert len(steps) == len(reference) == 2
    for step, expected in zip(steps, reference):
        assert step["step"] == expected["step"]
        assert_close(step["loss"], expected["loss"], f"step {step['step']} loss")
        assert len(step["layers"]) == 3
        for index, (layer, expected_layer) in enumerate(zip(step["layers"], expected["layers"])):
            for key in ("z", "a", "delta", "grad_weights", "grad_bias", "weights", "bias"):
                assert_close(layer[key], expected_layer[key], f"step {step['step']} layer {index + 1} {key}")
    assert abs(steps[0]["loss"] - 0.06937370282921486) < 1e-12 if loss == "mse" else True


def test_trace_shapes_and_a_network_object():
    net = backprop.load(SEED_NETWORK)  # a pathlib.Path works as well as a str
    steps = backprop.trace(net, input=np.array([[1, 2, 3, 4], [4, 3, 2, 1]]), target=[[1], [0]], steps=1)
    layer = steps[0]["layers"][0]
    assert layer["z"].shape == (2, 2) and layer["delta"].shape == (2, 2)   # (B, OUT)
    assert layer["weights"].shape == (4, 2) and layer["grad_weights"].shape == (4, 2)  # (IN, OUT)
    assert layer["bias"].shape == (2,) and layer["activation"] == "sigmoid"
    # An untrained Network traces the file's own double weights: the same figures as tracing the path.
    by_path = backprop.trace(str(SEED_NETWORK), input=[1, 2, 3, 4], target=1)
    by_object = backprop.trace(net, input=[1, 2, 3, 4], target=1)
    assert by_path[0]["loss"] == by_object[0]["loss"]


def test_trace_is_written_out_as_the_command_writes_it():
    trace = backprop.trace(str(SEED_NETWORK), input=[1, 2, 3, 4], target=[1], steps=2, loss="bce")
    assert len(trace) == 2 and [step["step"] for step in trace] == [1, 2] and trace[-1] is trace.steps[-1]
    # The same renderer as `backprop trace ... --expand --format markdown` (docs/seed-trace.md, checked current
    # by tests/test_trace_render.cpp); only the heading names the network differently.
    committed = (ROOT / "docs" / "seed-trace.md").read_text()
    assert trace.markdown().split("\n", 1)[1] == committed.split("\n", 1)[1]
    assert "- $z_{3}[0] = 0.1000\\,(0.6453) + 0.2000\\,(0.6895) + 0.3000\\,(0.7304) + 0.1000 = 0.5216$" in trace.markdown()
    assert trace._repr_markdown_() == trace.markdown() and trace._repr_html_() == trace.html()
    assert trace.html().startswith("<!DOCTYPE html>") and trace.html().count('<circle class="unit') == 10
    assert trace.dot().count(" -> ") == 17
    assert "delta3[0] = (a3[0] - y[0]) = (0.6275 - 1.0000) = -0.3725" in trace.text()
    assert "z3 = W3^T a2 + b3 = [0.52155742]" in trace.text(digits=8, expand=False)
    wide = backprop.Network.from_json(json.dumps({"input": 2, "layers": [{"units": 17, "activation": "tanh"},
                                                  {"units": 1, "activation": "sigmoid"}], "loss": "bce", "seed": 1}))
    too_large = backprop.trace(wide, input=[1, 2], target=[1])
    with pytest.raises(ValueError, match="--json"):
        too_large.html()
    assert too_large._repr_html_() is None  # a notebook then shows the plain repr


# ---- classification ----

def test_fit_classification_reaches_the_stated_accuracy():
    X, y = blobs()
    net = classifier()
    history = net.fit(X, y, epochs=30, batch_size=16, optimizer="adam", learning_rate=0.01,
                      validation_split=0.2, seed=1, scale="standard")
    assert [h["epoch"] for h in history] == list(range(1, 31))
    assert set(history[0]) == {"epoch", "learning_rate", "seconds", "loss", "accuracy",
                               "validation_loss", "validation_accuracy"}
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["validation_accuracy"] >= 0.95
    assert net.classes == ["0", "1", "2"]
    assert net.scaling["kind"] == "standard" and net.scaling["offset"].shape == (2,)

    metrics = net.evaluate(X, y)
    assert {"loss", "accuracy", "rows", "balanced_accuracy", "roc_auc", "classes"} <= set(metrics)
    assert metrics["rows"] == 300
    assert metrics["accuracy"] >= 0.95

    probabilities = net.predict(X)
    assert probabilities.shape == (300, 3) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(probabilities.argmax(axis=1) == y) == pytest.approx(metrics["accuracy"])
    # One row as a 1-D array, and any dtype or layout: converted to float32 C order.
    assert net.predict(X[0].astype(np.float64)).shape == (1, 3)
    np.testing.assert_array_equal(net.predict(np.asfortranarray(X)), probabilities)


def test_label_smoothing_trains_the_smoothed_loss_and_evaluate_reports_the_plain_one():
    X, y = blobs()
    options = dict(epochs=20, batch_size=16, optimizer="adam", learning_rate=0.01, seed=1, scale="standard")
    plain, smoothed, zero = classifier(), classifier(), classifier()
    plain_history = plain.fit(X, y, **options)
    history = smoothed.fit(X, y, label_smoothing=0.2, **options)
    zero.fit(X, y, label_smoothing=0.0, **options)
    assert smoothed.label_smoothing == 0.2 and plain.label_smoothing == 0.0
    # 0 is the fit without it, bit for bit; 0.2 trains to confident outputs whose smoothed loss stays far up.
    np.testing.assert_array_equal(zero.predict(X), plain.predict(X))
    assert history[-1]["loss"] > plain_history[-1]["loss"] + 0.1
    # evaluate: the plain cross-entropy of the predicted probabilities (float32 outputs: 1e-5 relative).
    P = smoothed.predict(X).astype(np.float64)
    cross_entropy = -np.mean(np.log(P[np.arange(len(y)), y]))
    assert smoothed.evaluate(X, y)["loss"] == pytest.approx(cross_entropy, rel=1e-5)
    q = 0.8 * np.eye(3)[y] + 0.2 / 3
    assert abs(cross_entropy - np.mean(-(q * np.log(P)).sum(axis=1))) > 0.05
    # Kept in the model: saved and loaded, pickled.
    assert pickle.loads(pickle.dumps(smoothed)).label_smoothing == 0.2
    with pytest.raises(ValueError, match=r"^label_smoothing: expected a number in \[0, 1\) \(0: off\), got 1$"):
        classifier().fit(X, y, label_smoothing=1.0)


def test_one_sigmoid_output_gives_two_class_probabilities():
    net = backprop.load(XOR_NETWORK)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    net.fit(X, y, epochs=500)  # the file's recipe: adam 0.05, batch 4
    assert net.evaluate(X, y)["accuracy"] == 1.0
    p = net.predict(X)
    assert p.shape == (4, 2)  # [P(class 0), P(class 1)]
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(p.argmax(axis=1), y)


def test_save_load_predict_identical(tmp_path):
    X, y = blobs()
    net = classifier()
    net.fit(X, y, epochs=5, optimizer="adam", learning_rate=0.01, seed=1, scale="standard")
    expected = net.predict(X)
    for name, format in (("model.bin", "binary"), ("model.json", "json")):
        net.save(tmp_path / name, format=format)
        loaded = backprop.load(str(tmp_path / name))
        np.testing.assert_array_equal(loaded.predict(X), expected)
        assert loaded.classes == net.classes and loaded.architecture == "2-16-3"
        np.testing.assert_array_equal(loaded.scaling["scale"], net.scaling["scale"])
        np.testing.assert_array_equal(loaded.weights(0), net.weights(0))
        assert loaded.evaluate(X, y) == net.evaluate(X, y)


def test_properties():
    net = backprop.Network.from_file(str(SEED_NETWORK))
    assert net.architecture == "4-2-3-1"
    assert net.layers[0] == {"units": 2, "activation": "sigmoid", "dropout": 0.0}
    assert (net.input_size, net.output_size, net.loss, net.task) == (4, 1, "mse", "regression")
    assert net.classes == [] and net.scaling is None
    np.testing.assert_array_equal(net.weights(0), np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]],
                                                           dtype=np.float32))
    np.testing.assert_array_equal(net.bias(-1), np.array([0.1], dtype=np.float32))
    assert "4-2-3-1" in repr(net)


# ---- regression ----

def test_fit_regression():
    rng = np.random.default_rng(2)
    X = rng.uniform(-3, 3, size=(400, 1)).astype(np.float32)
    y = np.sin(X[:, 0])  # float64 (N,): converted to float32
    net = backprop.Network.from_json(json.dumps({
        "input": 1,
        "layers": [{"units": 32, "activation": "tanh"}, {"units": 1, "activation": "identity"}],
        "loss": "mse", "seed": 1}))
    history = net.fit(X, y, epochs=100, batch_size=32, optimizer="adam", learning_rate=0.01, seed=1,
                      validation_split=0.25)
    assert {"rmse", "mae", "validation_rmse", "validation_mae"} <= set(history[-1])
    assert "accuracy" not in history[-1]
    assert history[-1]["validation_rmse"] < 0.1  # 0.047 measured; sin is smooth
    with pytest.raises(ValueError, match="^label_smoothing: expected 0 with the loss mse"):
        net.fit(X, y, epochs=1, label_smoothing=0.1)
    metrics = net.evaluate(X, y[:, None])  # (N, 1) works as well as (N,)
    assert {"loss", "rmse", "mae", "rows", "r2", "root_mean_squared_error", "largest_errors"} <= set(metrics)
    assert metrics["rmse"] < 0.1
    prediction = net.predict(X)
    assert prediction.shape == (400, 1)
    assert np.sqrt(np.mean((prediction[:, 0] - y) ** 2)) == pytest.approx(metrics["rmse"], rel=1e-4)


# ---- errors: ValueError (bad input) and RuntimeError (divergence) with the library's message ----

def test_errors_raise_with_the_message(tmp_path):
    X, y = blobs(rows_per_class=10)
    net = classifier()
    with pytest.raises(ValueError, match=r"X: expected 2 features per row \(the network's inputs\)"):
        net.predict(np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"y: expected class indices in \[0, 3\)"):
        net.fit(X, y.astype(np.float64), epochs=1)
    bad = y.copy()
    bad[4] = 7
    with pytest.raises(ValueError, match=r"y: row 4: expected a class index in \[0, 3\), got 7"):
        net.fit(X, bad, epochs=1)
    with pytest.raises(ValueError, match=r"y: expected 30 labels \(one per row of X\), got 29"):
        net.evaluate(X, y[:-1])
    nan_X = X.copy()
    nan_X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X: row 2, column 1: expected a finite number, got nan"):
        net.fit(nan_X, y, epochs=1)
    with pytest.raises(ValueError, match="optimizer"):
        net.fit(X, y, epochs=1, optimizer="bogus")
    with pytest.raises(ValueError, match="scale: expected none, standard or minmax, got 'bogus'"):
        net.fit(X, y, epochs=1, scale="bogus")
    # The library's TrainingOptions name the keyword, never the command's flag (--clip-grad-norm).
    with pytest.raises(ValueError, match=r"^clip_grad_norm: expected a positive number, got 0$"):
        net.fit(X, y, clip_grad_norm=0)
    with pytest.raises(ValueError, match=r"^validation_split: expected a fraction in \[0, 1\), got 1$"):
        net.fit(X, y, validation_split=1)
    with pytest.raises(ValueError, match="cannot open"):
        backprop.load(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"input": 4, "layers": [')
    with pytest.raises(ValueError, match="broken.json:1:"):
        backprop.load(broken)
    with pytest.raises(ValueError, match="expected 4 numbers per row"):
        backprop.trace(str(SEED_NETWORK), input=[1, 2, 3], target=[1])
    with pytest.raises(TypeError):
        backprop.trace(42, input=[1, 2, 3, 4], target=[1])

    rng = np.random.default_rng(0)
    big = rng.normal(0, 1e3, size=(64, 1)).astype(np.float32)
    regression = backprop.Network.from_json(
        '{"input": 1, "layers": [{"units": 8, "activation": "relu"}, {"units": 1, "activation": "identity"}]}')
    with pytest.raises(RuntimeError, match="training diverged"):
        regression.fit(big, big[:, 0] ** 3, epochs=50, optimizer="sgd", learning_rate=10.0)


def test_device_keyword_emulated_trains_like_the_cpu_and_bad_names_are_refused():
    # device="emulated" runs the GPU's code path on the CPU (docs/gpu.md); its arithmetic matches the CPU's
    # to float rounding, so the two histories agree closely.
    X, y = blobs()
    cpu, emulated = classifier(), classifier()
    kwargs = dict(epochs=3, batch_size=16, optimizer="momentum", learning_rate=0.05, seed=2)
    history_cpu = cpu.fit(X, y, device="cpu", **kwargs)
    history_emulated = emulated.fit(X, y, device="emulated", **kwargs)
    for a, b in zip(history_cpu, history_emulated):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
    assert emulated.evaluate(X, y, device="emulated")["loss"] == pytest.approx(emulated.evaluate(X, y)["loss"], rel=1e-6)
    with pytest.raises(ValueError, match="device: expected cpu or cuda, got 'tpu'"):
        cpu.fit(X, y, epochs=1, device="tpu")


# ---- bad input the library refuses everywhere: NaN rows, a directory, thread counts ----

def test_predict_and_trace_refuse_nan_and_infinity():
    net = classifier()
    X = np.zeros((5, 2), dtype=np.float32)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"^X: row 3, column 1: expected a finite number, got nan$"):
        net.predict(X)
    with pytest.raises(ValueError, match=r"X: row 0, column 0: expected a finite number, got inf"):
        net.predict(np.array([np.inf, 0.0]))
    with pytest.raises(ValueError, match=r"^input: expected finite numbers, got nan at position 2$"):
        backprop.trace(str(SEED_NETWORK), input=[1, np.nan, 3, 4], target=[1])
    with pytest.raises(ValueError, match=r"^target: expected finite numbers, got -inf at position 1$"):
        backprop.trace(str(SEED_NETWORK), input=[1, 2, 3, 4], target=[-np.inf])


def test_loading_a_directory_says_it_is_a_directory(tmp_path):
    with pytest.raises(ValueError, match=r": is a directory: expected a file$") as error:
        backprop.Network.from_file(tmp_path)
    assert str(tmp_path) in str(error.value) and "empty" not in str(error.value)


@pytest.mark.parametrize("threads", [0, -1, 1025, 100000])
def test_set_threads_takes_1_to_1024(threads):
    with pytest.raises(ValueError, match=rf"^threads: expected a number from 1 to 1024, got {threads}$"):
        backprop.set_threads(threads)


def test_set_threads_in_range_keeps_the_results():
    X, _ = blobs()
    net = classifier()
    expected = net.predict(X)
    try:
        for threads in (1, 3, 1024):  # 1024: the top of the range is accepted (the threads start and stop)
            backprop.set_threads(threads)
            np.testing.assert_array_equal(net.predict(X), expected)
    finally:
        backprop.set_threads(os.cpu_count() or 1)


# numpy shares the process's OpenBLAS: importing backprop, fitting and predicting in float (oneDNN's products)
# and setting backprop's threads leave OpenBLAS's thread count as numpy had it; backprop sets OpenBLAS to one
# thread only before a call of its own into it. In a fresh interpreter, OpenBLAS told to use 2 threads (it takes
# fewer on a one-core machine, where the test still checks that nothing changed it).
OPENBLAS_THREADS_AROUND_BACKPROP = """
import ctypes, json, numpy as np
openblas = ctypes.CDLL("libopenblas.so.0")
before = openblas.openblas_get_num_threads()
import backprop
net = backprop.Network.from_json(json.dumps({"input": 2, "layers": [{"units": 8, "activation": "relu"},
    {"units": 3, "activation": "softmax"}], "loss": "softmax_ce", "seed": 1}))
X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
net.fit(X, np.arange(64) % 3, epochs=2, batch_size=16)
net.predict(X)
backprop.set_threads(1)
print(before, openblas.openblas_get_num_threads())
"""


def test_numpy_keeps_its_openblas_threads():
    import subprocess
    import sys
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", OPENBLAS_THREADS_AROUND_BACKPROP], env=environment, check=True,
                         capture_output=True, text=True).stdout.split()
    before, after = int(out[0]), int(out[1])
    assert before == min(2, os.cpu_count() or 1)
    assert after == before


# ---- pickling: through the model bytes and their checksum ----

def test_pickle_round_trip_predicts_identically():
    X, y = blobs()
    net = classifier()
    net.fit(X, y, epochs=3, seed=1, scale="standard")
    for copy in (pickle.loads(pickle.dumps(net)), backprop.Network.from_bytes(net.to_bytes())):
        np.testing.assert_array_equal(copy.predict(X), net.predict(X))
        assert copy.classes == net.classes and copy.scaling is not None
        np.testing.assert_array_equal(copy.scaling["offset"], net.scaling["offset"])
    assert type(pickle.loads(pickle.dumps(net))) is backprop.Network


def test_unpickling_damaged_bytes_raises_a_clear_value_error():
    data = bytearray(classifier().to_bytes())
    data[-9] ^= 0x01  # one bit of the last parameter (the checksum's 8 bytes follow): only the checksum can tell
    with pytest.raises(ValueError, match=r"^backprop.Network bytes: .*checksum"):
        backprop.Network.from_bytes(bytes(data))
    pickled = pickle.dumps(classifier())
    # The same bytes damaged inside a pickle: found where they lie and flipped.
    start = pickled.index(b"BKPROP\r\n")
    damaged = bytearray(pickled)
    damaged[start + 40] ^= 0x01
    with pytest.raises(ValueError, match=r"^backprop.Network bytes: "):
        pickle.loads(bytes(damaged))
    with pytest.raises(ValueError, match=r"backprop.Network bytes: .*"):
        backprop.Network.from_bytes(bytes(data[:30]))  # cut short


# ---- threads: the GIL is released; one Network used from several threads at once ----

def test_predict_from_8_threads_at_once_equals_serial():
    X, y = blobs(rows_per_class=400)
    net = classifier()
    net.fit(X, y, epochs=2, seed=1)
    chunks = np.array_split(X, 8)
    serial = [net.predict(chunk) for chunk in chunks]
    start = threading.Barrier(8)

    def work(i):
        start.wait()  # all 8 inside predict together, as far as the scheduler allows
        return [net.predict(chunks[i]) for _ in range(20)]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    for i, repeats in enumerate(results):
        for result in repeats:
            np.testing.assert_array_equal(result, serial[i])


def test_fit_in_one_thread_while_others_predict_and_evaluate():
    # Defect 1 of the hardening issue: fit replaced the model that predict and evaluate (GIL released) were
    # reading, and the process crashed. Now each call reads the model from before the fit or after it,
    # whole: every prediction made meanwhile equals one of the two.
    X, y = blobs()
    net = classifier()
    before = net.predict(X)
    done = threading.Event()
    seen = []

    def read():
        while not done.is_set():
            seen.append(net.predict(X))
            net.evaluate(X, y)
            net.weights(0), net.layers, net.scaling, repr(net)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(3):  # three fits, one after the other: the third state is the one to keep
            net.fit(X, y, epochs=30, batch_size=8, seed=1, scale="standard")
            seen.append(net.predict(X))
    finally:
        done.set()
        for reader in readers:
            reader.join()
    states = [before]
    reference = classifier()
    for _ in range(3):
        reference.fit(X, y, epochs=30, batch_size=8, seed=1, scale="standard")
        states.append(reference.predict(X))
    np.testing.assert_array_equal(net.predict(X), states[-1])  # the fits ran in full, one after the other
    for prediction in seen:
        assert any(np.array_equal(prediction, state) for state in states)


def test_two_fits_at_once_run_one_after_the_other():
    X, y = blobs()
    net = classifier()
    threads = [threading.Thread(target=net.fit, args=(X, y), kwargs=dict(epochs=10, seed=1, scale="standard"))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reference = classifier()
    for _ in range(2):
        reference.fit(X, y, epochs=10, seed=1, scale="standard")
    np.testing.assert_array_equal(net.predict(X), reference.predict(X))
