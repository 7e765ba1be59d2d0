"""Checkpoints, resume and the report through Network.fit and the scikit-learn estimators (the library's
training run, train/run.hpp, as `backprop train --checkpoint --checkpoint-every --resume --report` uses it).

As the command's tests (tests/test_checkpoint.cpp's kill test, tests/python/test_class_weight.py): a fit
interrupted, or resumed from the last checkpoint a fit wrote, ends with the uninterrupted fit's model, byte
for byte; another run is refused naming what differs."""
import _thread
import json
import signal
import threading
import time

import numpy as np
import pytest

import backprop
from backprop.sklearn import MLPClassifier, MLPRegressor

NETWORK = {"input": 6, "layers": [{"units": 24, "activation": "relu", "dropout": 0.2},
                                  {"units": 12, "activation": "tanh", "dropout": 0.1},
                                  {"units": 3, "activation": "softmax"}], "loss": "softmax_ce", "seed": 11}
# Everything that carries state across steps: dropout, adam, a cosine schedule with warm-up, a validation
# split with early stopping, shuffling.
OPTIONS = dict(batch_size=4, optimizer="adam", learning_rate=0.005, schedule="cosine", warmup=30,
               validation_split=0.2, early_stopping=4, scale="standard")


def classes(rows=2000, seed=5):
    """Three classes in six features: a class centre plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=rows)
    X = rng.normal(size=(rows, 6))
    X[np.arange(rows), 2 * y] += 2.0
    return X.astype(np.float32), y


def network():
    return backprop.Network.from_json(json.dumps(NETWORK))


class Interrupter:
    """Ctrl-C for a fit, as a user would press it, once `checkpoint` exists: a thread asks for SIGINT (the
    module's fit checks for it every 16 batches) until the handler has raised KeyboardInterrupt once."""

    def __init__(self, checkpoint):
        self.checkpoint = checkpoint
        self.raised = False
        self.stop = threading.Event()

    def handler(self, signum, frame):
        if not self.raised and self.checkpoint.exists():
            self.raised = True
            raise KeyboardInterrupt

    def send(self):
        while not self.stop.is_set() and not self.raised:
            if self.checkpoint.exists():
                _thread.interrupt_main(signal.SIGINT)
            time.sleep(0.0005)

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, self.handler)
        self.thread = threading.Thread(target=self.send)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        signal.signal(signal.SIGINT, self.previous)
        return False


def test_a_fit_interrupted_and_resumed_gives_the_uninterrupted_model_byte_for_byte(tmp_path, capfd):
    X, y = classes()
    whole = network()
    history = whole.fit(X, y, epochs=8, **OPTIONS)

    checkpoint = tmp_path / "run.ckpt"
    files = dict(checkpoint=checkpoint, checkpoint_every=7)
    stopped = network()
    with Interrupter(checkpoint) as interrupter, pytest.raises(KeyboardInterrupt):
        stopped.fit(X, y, epochs=8, **OPTIONS, **files)
    assert interrupter.raised
    # A fit that did not end leaves the network as it was.
    assert stopped.to_bytes() == network().to_bytes()

    # Another run (another learning rate) is refused, naming the checkpoint and what differs.
    refused = network()
    other = dict(OPTIONS, learning_rate=0.01)
    with pytest.raises(ValueError, match="this checkpoint was written by a different run.*optimizer.learning_rate"):
        refused.fit(X, y, epochs=8, **other, **files, resume=checkpoint)

    resumed = network()
    report = tmp_path / "report.html"
    capfd.readouterr()
    resumed_history = resumed.fit(X, y, epochs=8, **OPTIONS, **files, resume=str(checkpoint), report=report,
                                  verbose=True)
    assert f"resuming from {checkpoint}: epoch " in capfd.readouterr().out  # not a fit from the start
    assert resumed.to_bytes() == whole.to_bytes()
    assert [e["validation_loss"] for e in resumed_history] == [e["validation_loss"] for e in history]
    page = report.read_text()
    assert "<html" in page and "backprop.Network.fit" in page and "training wall time" in page


def test_resuming_from_the_last_checkpoint_of_a_fit_ends_where_it_ended(tmp_path, capfd):
    X, y = classes(rows=400)
    checkpoint = tmp_path / "run.ckpt"
    first = network()
    first.fit(X, y, epochs=3, **dict(OPTIONS, early_stopping=0), checkpoint=checkpoint)  # saved before epoch 3
    again = network()
    capfd.readouterr()
    again.fit(X, y, epochs=3, **dict(OPTIONS, early_stopping=0), checkpoint=checkpoint, resume=checkpoint,
              verbose=True)
    assert f"resuming from {checkpoint}: epoch 3, batch 0, step 160" in capfd.readouterr().out
    assert again.to_bytes() == first.to_bytes()


def test_checkpoint_every_is_checked_by_the_library(tmp_path):
    X, y = classes(rows=40)
    with pytest.raises(ValueError, match="checkpoint_every: expected a checkpoint file to write"):
        network().fit(X, y, epochs=1, checkpoint_every=5)
    with pytest.raises(ValueError, match=r"checkpoint_every: expected a number of steps in \[1, 1000000000\], got 0"):
        network().fit(X, y, epochs=1, checkpoint=tmp_path / "run.ckpt", checkpoint_every=0)
    assert not (tmp_path / "run.ckpt").exists()


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_an_estimator_resumed_from_its_checkpoint_ends_where_it_ended_and_writes_its_report(tmp_path, estimator):
    X, y = classes(rows=300)
    target = y if estimator is MLPClassifier else X[:, :2] @ np.array([1.0, -0.5]) + 0.1 * y
    checkpoint, report = tmp_path / "run.ckpt", tmp_path / "report.html"
    params = dict(hidden_layer_sizes=(16,), max_iter=4, batch_size=16, dropout=0.1, early_stopping=True,
                  n_iter_no_change=3, random_state=3)
    first = estimator(**params, checkpoint=str(checkpoint), checkpoint_every=5).fit(X, target)
    assert checkpoint.exists()
    resumed = estimator(**params, checkpoint=str(checkpoint), checkpoint_every=5, resume=str(checkpoint),
                        report=str(report)).fit(X, target)
    assert resumed.network_.to_bytes() == first.network_.to_bytes()
    assert resumed.loss_curve_ == first.loss_curve_
    # It did resume: other data is another run.
    with pytest.raises(ValueError, match="this checkpoint was written by a different run"):
        estimator(**params, checkpoint=str(checkpoint), resume=str(checkpoint)).fit(X[:-1], target[:-1])
    page = report.read_text()
    assert "<html" in page and "training wall time" in page
    assert ("<h2>Confusion matrix" in page) == (estimator is MLPClassifier)
    # Its parameters, for get_params / clone.
    assert resumed.get_params()["resume"] == str(checkpoint)
