"""`backprop export --format onnx` against `backprop predict`.

For models that cover every activation (relu, leaky_relu, sigmoid, tanh, softmax, identity), both losses
of classification (softmax_ce, bce with one sigmoid output), regression, and the feature scalings
(standard, minmax, none), the test exports the model to ONNX, checks it with onnx.checker (full check:
shape inference in strict mode), evaluates the graph with the small numpy evaluator below (onnxruntime is
not packaged by Debian) and compares its outputs with the probabilities or values `backprop predict`
prints, within 1e-5. One model is trained by `backprop train` (--scale standard); the others are JSON
models with explicit weights.

Run by CTest (tests/CMakeLists.txt) with Debian's /usr/bin/python3 and BACKPROP_COMMAND set to the built
command; needs python3-onnx and python3-numpy. Runs under unittest or pytest; without BACKPROP_COMMAND
(e.g. collected by another pytest run) or without onnx, every test is skipped with a message.
"""

import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as error:  # reported by the skip below
    np = onnx = numpy_helper = None
    IMPORT_ERROR = str(error)
else:
    IMPORT_ERROR = ""

COMMAND = os.environ.get("BACKPROP_COMMAND", "")
TOLERANCE = 1e-5
SKIP_EXIT_CODE = 77  # CTest's SKIP_RETURN_CODE for this test


def skip_reason():
    if IMPORT_ERROR:
        return "needs numpy and onnx (Debian: python3-numpy python3-onnx): " + IMPORT_ERROR
    if not COMMAND:
        return "BACKPROP_COMMAND (the built backprop command) is not set"
    return ""


# ---- a numpy evaluator of the operators the export uses (float64 arithmetic on float32 inputs) ----


def _attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def _gemm(inputs, attributes):
    a, b = inputs[0], inputs[1]
    if attributes.get("transA", 0):
        a = a.T
    if attributes.get("transB", 0):
        b = b.T
    y = attributes.get("alpha", 1.0) * (a @ b)
    if len(inputs) > 2:
        y = y + attributes.get("beta", 1.0) * inputs[2]
    return y


OPERATORS = {
    "Sub": lambda i, a: i[0] - i[1],
    "Div": lambda i, a: i[0] / i[1],
    "Add": lambda i, a: i[0] + i[1],
    "MatMul": lambda i, a: i[0] @ i[1],
    "Gemm": _gemm,
    "Relu": lambda i, a: np.maximum(i[0], 0.0),
    "LeakyRelu": lambda i, a: np.where(i[0] >= 0, i[0], a.get("alpha", 0.01) * i[0]),
    "Sigmoid": lambda i, a: 1.0 / (1.0 + np.exp(-i[0])),
    "Tanh": lambda i, a: np.tanh(i[0]),
    "Softmax": lambda i, a: _softmax(i[0], a.get("axis", -1)),
    "Identity": lambda i, a: i[0],
}


def evaluate(model, features):
    """The graph's outputs for features (rows x inputs), nodes in order (the export writes them sorted)."""
    values = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    values[model.graph.input[0].name] = np.asarray(features, dtype=np.float32).astype(np.float64)
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in OPERATORS:
            raise AssertionError("operator the evaluator does not know: %s %s" % (node.domain, node.op_type))
        values[node.output[0]] = OPERATORS[node.op_type]([values[n] for n in node.input], _attributes(node))
    return values[model.graph.output[0].name]


# ---- models and data ----


def rng_matrix(rng, rows, columns, scale=0.8):
    return (rng.standard_normal((rows, columns)) * scale).round(6).tolist()


def layers_for(rng, sizes, activations, slope=None):
    layers = []
    for inputs, (units, activation) in zip(sizes, zip(sizes[1:], activations)):
        layer = {"units": units, "activation": activation,
                 "weights": rng_matrix(rng, inputs, units), "bias": rng_matrix(rng, 1, units, 0.3)[0]}
        if activation == "leaky_relu" and slope is not None:
            layer["slope"] = slope
        layers.append(layer)
    return layers


class OnnxExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        reason = skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.temp = tempfile.TemporaryDirectory(prefix="backprop-onnx-")
        cls.dir = cls.temp.name
        rng = np.random.default_rng(7)
        # Raw features far from 0 and of different spreads, so that the scaling matters.
        features = np.column_stack([rng.normal(50.0, 10.0, 40), rng.normal(-3.0, 0.5, 40), rng.uniform(0.0, 2.0, 40)])
        cls.features = features.astype(np.float32)
        cls.data = os.path.join(cls.dir, "features.csv")
        with open(cls.data, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["x1", "x2", "x3"])
            for row in cls.features:
                writer.writerow(["%.9g" % v for v in row])

    @classmethod
    def tearDownClass(cls):
        cls.temp.cleanup()

    def run_command(self, *arguments):
        result = subprocess.run([COMMAND, *arguments], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, "backprop %s:\n%s%s" % (" ".join(arguments), result.stdout, result.stderr))
        return result.stdout

    def model_file(self, name, layers, loss, scaling, classes=(), targets=()):
        """A JSON model (the format `export --format json` writes) with explicit weights and scaling."""
        network = os.path.join(self.dir, name + ".net.json")
        with open(network, "w") as f:
            json.dump({"input": 3, "layers": layers, "loss": loss}, f)
        exported = os.path.join(self.dir, name + ".model.json")
        self.run_command("export", network, "--format", "json", "--out", exported)
        with open(exported) as f:
            model = json.load(f)
        model["scaling"] = scaling
        model["classes"] = list(classes)
        model["targets"] = list(targets)
        model["features"] = ["x1", "x2", "x3"]
        with open(exported, "w") as f:
            json.dump(model, f)
        return exported

    def scaling(self, kind):
        if kind == "none":
            return {"kind": "none", "offset": [], "scale": []}
        x = self.features.astype(np.float64)
        if kind == "standard":
            return {"kind": "standard", "offset": x.mean(axis=0).tolist(), "scale": x.std(axis=0).tolist()}
        return {"kind": "minmax", "offset": x.min(axis=0).tolist(), "scale": (x.max(axis=0) - x.min(axis=0)).tolist()}

    def predictions(self, model_path, classification):
        """`backprop predict`'s outputs: the network's output layer per row."""
        out = os.path.join(self.dir, "predictions.csv")
        self.run_command("predict", model_path, "--data", self.data, "--out", out)
        with open(out, newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        if classification:
            columns = [i for i, name in enumerate(header) if name.startswith("p_")]
        else:
            columns = [i for i, name in enumerate(header) if name.startswith("y_")]
        return header, np.array([[float(row[i]) for i in columns] for row in body])

    def export_and_check(self, model_path, classification, expected_ops, outputs):
        onnx_path = model_path + ".onnx"
        self.run_command("export", model_path, "--format", "onnx", "--out", onnx_path)
        model = onnx.load(onnx_path)
        onnx.checker.check_model(model, full_check=True)

        # The interface: opset 13, input "input" [batch, 3], output "output" [batch, OUT], float32.
        self.assertEqual(model.producer_name, "backprop")
        self.assertEqual([(o.domain, o.version) for o in model.opset_import], [("", 13)])
        self.assertEqual(model.ir_version, 7)
        for value, width in ((model.graph.input[0], 3), (model.graph.output[0], outputs)):
            tensor = value.type.tensor_type
            self.assertEqual(tensor.elem_type, onnx.TensorProto.FLOAT)
            self.assertEqual([d.dim_param or d.dim_value for d in tensor.shape.dim], ["batch", width])
        self.assertEqual([i.name for i in model.graph.input], ["input"])
        self.assertEqual([o.name for o in model.graph.output], ["output"])
        self.assertEqual([n.op_type for n in model.graph.node], expected_ops)
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        self.assertEqual(inferred.graph.output[0].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)

        header, expected = self.predictions(model_path, classification)
        actual = evaluate(model, self.features)
        if classification and outputs == 1:  # one sigmoid output: predict prints p_<class 0> = 1 - a, p_<class 1> = a
            actual = np.column_stack([1.0 - actual[:, 0], actual[:, 0]])
        self.assertEqual(actual.shape, expected.shape, header)
        error = np.abs(actual - expected) / np.maximum(1.0, np.abs(expected))
        self.assertLessEqual(error.max(), TOLERANCE, "largest difference from backprop predict: %g" % error.max())
        return model

    # ---- the cases ----

    def test_relu_softmax_classifier_with_standard_scaling(self):
        rng = np.random.default_rng(1)
        path = self.model_file("relu_softmax", layers_for(rng, [3, 5, 4], ["relu", "softmax"]), "softmax_ce",
                               self.scaling("standard"), classes=["a", "b", "c", "d"])
        model = self.export_and_check(path, True, ["Sub", "Div", "Gemm", "Relu", "Gemm", "Softmax"], 4)
        softmax = [n for n in model.graph.node if n.op_type == "Softmax"][0]
        self.assertEqual(onnx.helper.get_attribute_value(softmax.attribute[0]), 1)
        self.assertIn("classes: a, b, c, d", model.doc_string)
        self.assertEqual(json.loads({p.key: p.value for p in model.metadata_props}["classes"]), ["a", "b", "c", "d"])

    def test_leaky_relu_and_tanh_regression_with_minmax_scaling(self):
        rng = np.random.default_rng(2)
        path = self.model_file("leaky_tanh", layers_for(rng, [3, 6, 4, 2], ["leaky_relu", "tanh", "identity"], slope=0.2),
                               "mse", self.scaling("minmax"), targets=["u", "v"])
        model = self.export_and_check(path, False, ["Sub", "Div", "Gemm", "LeakyRelu", "Gemm", "Tanh", "Gemm"], 2)
        leaky = [n for n in model.graph.node if n.op_type == "LeakyRelu"][0]
        self.assertAlmostEqual(onnx.helper.get_attribute_value(leaky.attribute[0]), 0.2, places=6)
        self.assertEqual(model.graph.node[-1].output[0], "output")  # identity: the last Gemm writes the output

    def test_default_leaky_relu_slope_and_sigmoid_output_for_bce_without_scaling(self):
        rng = np.random.default_rng(3)
        path = self.model_file("sigmoid_bce", layers_for(rng, [3, 4, 3, 1], ["sigmoid", "leaky_relu", "sigmoid"]),
                               "bce", self.scaling("none"), classes=["no", "yes"])
        model = self.export_and_check(path, True, ["Gemm", "Sigmoid", "Gemm", "LeakyRelu", "Gemm", "Sigmoid"], 1)
        leaky = [n for n in model.graph.node if n.op_type == "LeakyRelu"][0]
        self.assertAlmostEqual(onnx.helper.get_attribute_value(leaky.attribute[0]), 0.01, places=6)

    def test_identity_hidden_layer_and_sigmoid_regression(self):
        rng = np.random.default_rng(4)
        path = self.model_file("identity_hidden", layers_for(rng, [3, 3, 2], ["identity", "sigmoid"]), "mse",
                               self.scaling("standard"))
        self.export_and_check(path, False, ["Sub", "Div", "Gemm", "Gemm", "Sigmoid"], 2)

    def test_a_trained_model(self):
        # Labels from a rule on the features, so that training has something to learn.
        labelled = os.path.join(self.dir, "labelled.csv")
        with open(labelled, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["x1", "x2", "x3", "kind"])
            for row in self.features:
                kind = "high" if row[0] > 50 else ("mid" if row[2] > 1 else "low")
                writer.writerow(["%.9g" % v for v in row] + [kind])
        network = os.path.join(self.dir, "trained.net.json")
        with open(network, "w") as f:
            json.dump({"input": 3, "layers": [{"units": 8, "activation": "tanh"}, {"units": 3, "activation": "softmax"}],
                       "seed": 5, "optimizer": {"type": "adam", "learning_rate": 0.05},
                       "training": {"epochs": 30, "batch_size": 8}}, f)
        model_path = os.path.join(self.dir, "trained.model")
        self.run_command("train", network, "--data", labelled, "--scale", "standard", "--quiet", "--out", model_path)
        self.export_and_check(model_path, True, ["Sub", "Div", "Gemm", "Tanh", "Gemm", "Softmax"], 3)


if __name__ == "__main__":
    reason = skip_reason()
    if reason:
        print("SKIPPED: " + reason)
        sys.exit(SKIP_EXIT_CODE)
    unittest.main()
