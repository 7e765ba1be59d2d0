"""The embedding entry through Python: Network.layers and weights describe it, a prediction worked by hand, and
a code outside its categories is a ValueError naming the entry (its numbers against torch are
tests/test_embedding.cpp's)."""
import json

import numpy as np
import pytest

import backprop

SPEC = {"input": 3, "layers": [
    {"type": "embedding", "input": 1, "categories": 3, "dim": 2, "weights": [[1, 2], [3, 4], [5, 6]]},
    {"units": 1, "activation": "identity", "weights": [[1], [10], [100], [1000]], "bias": [0.5]}], "loss": "mse"}


@pytest.fixture
def network(tmp_path):
    path = tmp_path / "n.json"
    path.write_text(json.dumps(SPEC))
    return backprop.load(str(path))


def test_layers_and_weights_describe_the_embedding(network):
    assert network.layers[0] == {"type": "embedding", "units": 4, "input": 1, "categories": 3, "dim": 2}
    np.testing.assert_array_equal(network.weights(0), np.array([[1, 2], [3, 4], [5, 6]], dtype=np.float32))
    assert network.bias(0).shape == (0,)
    assert network.weights(1).shape == (4, 1)


def test_a_prediction_worked_by_hand(network):
    # Row (0.25, 2, -1): code 2 puts (5, 6) in place of position 1 -> (0.25, 5, 6, -1);
    # 0.25 + 10 * 5 + 100 * 6 + 1000 * -1 + 0.5 = -349.25. Row (1, 0, 0) -> (1, 1, 2, 0): 211.5.
    rows = np.array([[0.25, 2, -1], [1, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(network.predict(rows), np.array([[-349.25], [211.5]], dtype=np.float32))


@pytest.mark.parametrize("code", [3, -1, 0.5])
def test_a_code_outside_its_categories_is_a_value_error(network, code):
    with pytest.raises(ValueError, match=r"layers\[0\] \(embedding of input 1\): expected a category's code"):
        network.predict(np.array([[0, code, 0]], dtype=np.float32))


def test_trace_of_an_embedding_worked_by_hand(network):
    """backprop.trace as `backprop trace --json`: rows (0.25, 2, -1) and (1, 0, 0) pick rows 2 and 0 of the table;
    with mse against 0 on one identity output, delta = a / B, so row c's gradient is the sum over the rows with code
    c of delta times the output weights (10, 100) at the code's place, and plain SGD moves only those rows."""
    steps = backprop.trace(network, input=np.array([[0.25, 2, -1], [1, 0, 0]]), target=np.array([[0.0], [0.0]]),
                           steps=1, learning_rate=0.001)
    entry = steps[0]["layers"][0]
    assert (entry["type"], entry["input"], entry["categories"], entry["dim"]) == ("embedding", 1, 3, 2)
    assert list(entry["codes"]) == [2, 0]
    np.testing.assert_array_equal(entry["a"], [[0.25, 5, 6, -1], [1, 1, 2, 0]])
    outputs = np.array([-349.25, 211.5])
    delta = outputs / 2  # d(1/(2B) sum a^2)/da with B = 2
    np.testing.assert_allclose(entry["delta"], np.outer(delta, [1, 10, 100, 1000]), rtol=1e-15)
    expected = np.zeros((3, 2))
    expected[2] = delta[0] * np.array([10, 100])
    expected[0] = delta[1] * np.array([10, 100])
    np.testing.assert_allclose(entry["grad_weights"], expected, rtol=1e-15)
    np.testing.assert_allclose(entry["weights"], np.array([[1, 2], [3, 4], [5, 6]]) - 0.001 * expected, rtol=1e-15)
    assert entry["weights"][1].tolist() == [3, 4], "no code 1 in the batch: its row unchanged"
    assert "grad_input" not in entry
    assert "W1[2][0] = 5.0000" in steps.text() and "embedding" in steps.html()
