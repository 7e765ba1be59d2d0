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
