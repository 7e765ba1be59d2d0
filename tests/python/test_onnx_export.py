"""`backprop export --format onnx` against `backprop predict`, in OpenCV's dnn and in a numpy evaluator.

For every activation (relu, leaky_relu with the default and a set slope, sigmoid, tanh, softmax, identity,
silu as Sigmoid then Mul),
every feature scaling (none, standard, minmax) and every task (classification with a softmax output, bce with
one sigmoid output, regression with an identity output or with the activation at the output), the test
exports a JSON model with explicit weights to ONNX and
  - checks it with onnx.checker (full check) and onnx.shape_inference (strict mode), and its interface
    (opset 11, IR version 6, Gemm with transB = 1 and W stored [OUT, IN]);
  - loads it in OpenCV's dnn (cv2.dnn.readNetFromONNX; Debian 12's python3-opencv is 4.6) and runs a batch of
    rows (net.setInput / net.forward) and one row;
  - evaluates the graph with the small numpy evaluator below (onnxruntime is not packaged by Debian);
and compares both with the probabilities or values `backprop predict` prints, within 1e-5. The evaluator is
tested on its own too (EvaluatorTest): it must read Gemm's transB, so a graph with the weights transposed the
wrong way must not match. One model is trained by `backprop train` (--scale standard).

Run by CTest (tests/CMakeLists.txt) with Debian's /usr/bin/python3 and BACKPROP_COMMAND set to the built
command; needs python3-onnx, python3-numpy and python3-opencv. Runs under unittest or pytest; without
BACKPROP_COMMAND (e.g. collected by another pytest run) or without one of those modules, the tests skip
with a message (run as a script: exit code 77, which CTest reports as skipped).
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
    from onnx import helper, numpy_helper
except ImportError as error:  # reported by the skip below
    np = onnx = helper = numpy_helper = None
    IMPORT_ERROR = str(error)
else:
    IMPORT_ERROR = ""
try:
    import cv2
except ImportError as error:
    cv2 = None
    CV2_IMPORT_ERROR = str(error)
else:
    CV2_IMPORT_ERROR = ""

COMMAND = os.environ.get("BACKPROP_COMMAND", "")
TOLERANCE = 1e-5
SKIP_EXIT_CODE = 77  # CTest's SKIP_RETURN_CODE for this test


OPSET = 11
IR_VERSION = 6


def evaluator_skip_reason():
    if IMPORT_ERROR:
        return "needs numpy and onnx (Debian: python3-numpy python3-onnx): " + IMPORT_ERROR
    return ""


def skip_reason():
    if IMPORT_ERROR:
        return evaluator_skip_reason()
    if CV2_IMPORT_ERROR:
        return "needs OpenCV's Python module (Debian: python3-opencv): " + CV2_IMPORT_ERROR
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
    "Mul": lambda i, a: i[0] * i[1],
    "MatMul": lambda i, a: i[0] @ i[1],
    "Gemm": _gemm,
    "Relu": lambda i, a: np.maximum(i[0], 0.0),
    "LeakyRelu": lambda i, a: np.where(i[0] >= 0, i[0], a.get("alpha", 0.01) * i[0]),
    "Sigmoid": lambda i, a: 1.0 / (1.0 + np.exp(-i[0])),
    "Tanh": lambda i, a: np.tanh(i[0]),
    "Softmax": lambda i, a: _softmax(i[0], a.get("axis", -1)),
    "Identity": lambda i, a: i[0],
    "BatchNormalization": lambda i, a: (i[0] - i[3]) / np.sqrt(i[4] + a.get("epsilon", 1e-5)) * i[1] + i[2],
    # Indices are held as float64 like every value here: whole numbers, taken as int64 (np.take raises
    # IndexError for one out of range, as a runtime's Gather fails).
    "Gather": lambda i, a: np.take(i[0], i[1].astype(np.int64), axis=a.get("axis", 0)),
    "Cast": lambda i, a: np.trunc(i[0]) if a["to"] == onnx.TensorProto.INT64 else i[0],
    "Concat": lambda i, a: np.concatenate(i, axis=a["axis"]),
}


def evaluate(model, features):
    """The graph's outputs for features (rows x inputs), nodes in order (the export writes them sorted).
    Raises ValueError where the shapes do not fit (numpy's matmul), e.g. W read the wrong way round."""
    values = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    values[model.graph.input[0].name] = np.asarray(features, dtype=np.float32).astype(np.float64)
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in OPERATORS:
            raise AssertionError("operator the evaluator does not know: %s %s" % (node.domain, node.op_type))
        values[node.output[0]] = OPERATORS[node.op_type]([values[n] for n in node.input], _attributes(node))
    return values[model.graph.output[0].name]


def with_gemm_weights_transposed(model, flip_trans_b):
    """A copy of model with every Gemm's B initializer transposed; with flip_trans_b its transB flipped as
    well (the same function, written the other way), without it the weights are read the wrong way round."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    weights = {node.input[1] for node in model.graph.node if node.op_type == "Gemm"}
    for tensor in model.graph.initializer:
        if tensor.name in weights:
            transposed = np.ascontiguousarray(numpy_helper.to_array(tensor).T)
            tensor.CopyFrom(numpy_helper.from_array(transposed, tensor.name))
    if flip_trans_b:
        for node in model.graph.node:
            if node.op_type == "Gemm":
                for attribute in node.attribute:
                    if attribute.name == "transB":
                        attribute.i = 1 - attribute.i
    return model


def opencv_outputs(model_path, features):
    """OpenCV's dnn: the model's outputs for features (rows x inputs) as one batch."""
    net = cv2.dnn.readNetFromONNX(model_path)
    net.setInput(np.ascontiguousarray(features, dtype=np.float32))
    return net.forward().astype(np.float64)


class EvaluatorTest(unittest.TestCase):
    """The numpy evaluator reads Gemm's attributes: a wrong reading of transB fails here."""

    @classmethod
    def setUpClass(cls):
        reason = evaluator_skip_reason()
        if reason:
            raise unittest.SkipTest(reason)

    @staticmethod
    def gemm_model(b, trans_b):
        """One Gemm: output = input B (transB = 0) or input B^T (transB = 1), plus C = 0, 1, 2, ..."""
        inputs, outputs = (b.shape[1], b.shape[0]) if trans_b else b.shape
        graph = helper.make_graph(
            [helper.make_node("Gemm", ["input", "b", "c"], ["output"], transA=0, transB=trans_b)], "gemm",
            [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", inputs])],
            [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["batch", outputs])],
            [numpy_helper.from_array(b, "b"), numpy_helper.from_array(np.arange(outputs, dtype=np.float32), "c")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        onnx.checker.check_model(model, full_check=True)
        return model

    def test_gemm_reads_trans_b(self):
        x = np.array([[1.0, 2.0], [3.0, -1.0]], dtype=np.float32)
        b = np.array([[1.0, 2.0], [0.0, 5.0]], dtype=np.float32)  # square and not symmetric: only transB tells
        c = np.arange(2.0)
        self.assertFalse(np.allclose(x @ b, x @ b.T))
        np.testing.assert_allclose(evaluate(self.gemm_model(b, 0), x), x @ b + c)
        np.testing.assert_allclose(evaluate(self.gemm_model(b, 1), x), x @ b.T + c)

    def test_gemm_with_trans_b_and_weights_stored_out_by_in(self):
        x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
        w = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]], dtype=np.float32)  # [OUT 2, IN 3]: the export's layout
        model = self.gemm_model(w, 1)
        np.testing.assert_allclose(evaluate(model, x), [[-2.0, 6.5]])
        # The same function written the other way (W^T stored [IN, OUT], transB = 0): the same outputs.
        rewritten = with_gemm_weights_transposed(model, flip_trans_b=True)
        np.testing.assert_allclose(evaluate(rewritten, x), [[-2.0, 6.5]])
        # W^T stored with transB = 1 left: read the wrong way round, the shapes do not fit.
        with self.assertRaises(ValueError):
            evaluate(with_gemm_weights_transposed(model, flip_trans_b=False), x)


# ---- models and data ----

# Each activation's nodes, in order (identity: none).
ONNX_ACTIVATIONS = {"relu": ["Relu"], "leaky_relu": ["LeakyRelu"], "sigmoid": ["Sigmoid"], "tanh": ["Tanh"],
                    "softmax": ["Softmax"], "silu": ["Sigmoid", "Mul"], "identity": []}


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

    def export_and_check(self, model_path, classification, expected_ops, outputs, gemm_inputs=3, opencv=True):
        onnx_path = model_path + ".onnx"
        self.run_command("export", model_path, "--format", "onnx", "--out", onnx_path)
        model = onnx.load(onnx_path)
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        self.assertEqual(inferred.graph.output[0].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)

        # The interface: opset 11, input "input" [batch, 3], output "output" [batch, OUT], float32.
        self.assertEqual(model.producer_name, "backprop")
        self.assertEqual([(o.domain, o.version) for o in model.opset_import], [("", OPSET)])
        self.assertEqual(model.ir_version, IR_VERSION)
        for value, width in ((model.graph.input[0], 3), (model.graph.output[0], outputs)):
            tensor = value.type.tensor_type
            self.assertEqual(tensor.elem_type, onnx.TensorProto.FLOAT)
            self.assertEqual([d.dim_param or d.dim_value for d in tensor.shape.dim], ["batch", width])
        self.assertEqual([i.name for i in model.graph.input], ["input"])
        self.assertEqual([o.name for o in model.graph.output], ["output"])
        self.assertEqual([n.op_type for n in model.graph.node], expected_ops)

        # Each Gemm as PyTorch writes Linear: transA = 0 and transB = 1 both written (OpenCV 4.6 reads a Gemm
        # without transB as if it were 1), W stored [OUT, IN], b [OUT].
        initializers = {t.name: t for t in model.graph.initializer}
        inputs = gemm_inputs
        for node in (n for n in model.graph.node if n.op_type == "Gemm"):
            self.assertEqual(_attributes(node), {"transA": 0, "transB": 1}, node.name)
            self.assertEqual(len(node.input), 3, node.name)
            weights, bias = initializers[node.input[1]], initializers[node.input[2]]
            self.assertEqual(len(bias.dims), 1, node.name)
            self.assertEqual(list(weights.dims), [bias.dims[0], inputs], node.name)
            inputs = bias.dims[0]
        self.assertEqual(inputs, outputs)

        header, expected = self.predictions(model_path, classification)

        def compare(actual, what):
            if classification and outputs == 1:  # one sigmoid output a: predict prints 1 - a, a
                actual = np.column_stack([1.0 - actual[:, 0], actual[:, 0]])
            rows = expected[: len(actual)]
            self.assertEqual(actual.shape, rows.shape, "%s: %s" % (what, header))
            error = np.abs(actual - rows) / np.maximum(1.0, np.abs(rows))
            self.assertLessEqual(error.max(), TOLERANCE,
                                 "%s: largest difference from backprop predict: %g" % (what, error.max()))

        compare(evaluate(model, self.features), "the numpy evaluator")
        compare(evaluate(with_gemm_weights_transposed(model, flip_trans_b=True), self.features),
                "the numpy evaluator, the graph rewritten with transB = 0")
        try:  # the weights read the wrong way round: the shapes do not fit, or the outputs differ
            wrong = evaluate(with_gemm_weights_transposed(model, flip_trans_b=False), self.features)
        except ValueError:
            pass
        else:
            with self.assertRaises(AssertionError):
                compare(wrong, "the numpy evaluator, the weights read the wrong way round")
        if opencv:
            compare(opencv_outputs(onnx_path, self.features), "OpenCV's dnn, %d rows" % len(self.features))
            compare(opencv_outputs(onnx_path, self.features[:1]), "OpenCV's dnn, one row")
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

    def test_batch_norm_exports_as_batch_normalization_with_its_running_statistics(self):
        rng = np.random.default_rng(5)
        dense = layers_for(rng, [3, 4, 3], ["relu", "softmax"])
        # Statistics far from the identity's (0, 1), so that a graph ignoring them cannot match.
        norm = {"type": "batch_norm", "momentum": 0.2, "eps": 1e-3,
                "scale": rng_matrix(rng, 1, 4, 0.5)[0], "shift": rng_matrix(rng, 1, 4, 0.5)[0],
                "running_mean": (np.abs(rng_matrix(rng, 1, 4, 2.0)[0])).tolist(),
                "running_var": (np.abs(rng_matrix(rng, 1, 4, 3.0)[0]) + 0.1).tolist()}
        path = self.model_file("batch_norm", [dense[0], norm, dense[1]], "softmax_ce", self.scaling("standard"),
                               classes=["a", "b", "c"])
        model = self.export_and_check(path, True, ["Sub", "Div", "Gemm", "Relu", "BatchNormalization", "Gemm",
                                                   "Softmax"], 3)
        node = [n for n in model.graph.node if n.op_type == "BatchNormalization"][0]
        self.assertAlmostEqual(_attributes(node)["epsilon"], 1e-3, places=9)
        self.assertAlmostEqual(_attributes(node)["momentum"], 0.8, places=6)

    def test_embedding_exports_as_gather_cast_gather_concat(self):
        # The middle column holds codes of 6 categories; the embedding puts its 2 values in its place. OpenCV
        # 4.6's dnn refuses a Gather of a constant by a computed index ("Blob layer1_index not found in const"),
        # so this graph is checked by onnx's checker and shape inference and the numpy evaluator only.
        rng = np.random.default_rng(11)
        codes = np.arange(40) % 6
        features = np.column_stack([rng.normal(2.0, 1.0, 40), codes, rng.uniform(-1.0, 1.0, 40)]).astype(np.float32)
        self.features = features
        self.data = os.path.join(self.dir, "codes.csv")
        with open(self.data, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["x1", "x2", "x3"])
            for row in features:
                writer.writerow(["%.9g" % v for v in row])
        embedding = {"type": "embedding", "input": 1, "categories": 6, "dim": 2, "weights": rng_matrix(rng, 6, 2, 2.0)}
        dense = layers_for(rng, [4, 5, 3], ["tanh", "softmax"])
        x = features.astype(np.float64)
        scaling = {"kind": "standard", "offset": [x[:, 0].mean(), 0.0, x[:, 2].mean()],
                   "scale": [x[:, 0].std(), 1.0, x[:, 2].std()]}
        path = self.model_file("embedding", [embedding] + dense, "softmax_ce", scaling, classes=["a", "b", "c"])
        model = self.export_and_check(path, True, ["Sub", "Div", "Gather", "Cast", "Gather", "Gather", "Gather",
                                                   "Concat", "Gemm", "Tanh", "Gemm", "Softmax"], 3,
                                      gemm_inputs=4, opencv=False)
        lookup = [n for n in model.graph.node if n.name == "layer1_lookup"][0]
        weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}[lookup.input[0]]
        np.testing.assert_array_equal(weights, np.array(embedding["weights"], dtype=np.float32))
        # Each row's code picks its row of the weights: another table gives other outputs.
        swapped = onnx.ModelProto.FromString(model.SerializeToString())
        for tensor in swapped.graph.initializer:
            if tensor.name == lookup.input[0]:
                tensor.CopyFrom(numpy_helper.from_array(weights[::-1].copy(), tensor.name))
        self.assertGreater(np.abs(evaluate(swapped, features) - evaluate(model, features)).max(), 1e-3)

    def test_every_activation_with_every_scaling_for_every_task(self):
        # (loss, output units, output activation or None for the hidden one, classes, targets)
        tasks = {
            "classification": ("softmax_ce", 4, "softmax", ["a", "b", "c", "d"], []),
            "bce": ("bce", 1, "sigmoid", ["no", "yes"], []),
            "regression": ("mse", 2, "identity", [], ["u", "v"]),
            "regression, the activation at the output": ("mse", 2, None, [], ["u", "v"]),
        }
        hidden = [("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("sigmoid", None), ("tanh", None),
                  ("identity", None), ("silu", None)]
        rng = np.random.default_rng(11)
        count = 0
        for task, (loss, units, output_activation, classes, targets) in tasks.items():
            for scaling in ("none", "standard", "minmax"):
                for activation, slope in hidden:
                    last = output_activation or activation
                    if output_activation is None and activation == "identity":
                        continue  # the same model as "regression"
                    with self.subTest(task=task, scaling=scaling, activation=activation, slope=slope):
                        count += 1
                        activations = [activation, activation, last]
                        layers = layers_for(rng, [3, 5, 4, units], activations, slope)
                        path = self.model_file("case%d" % count, layers, loss, self.scaling(scaling),
                                               classes=classes, targets=targets)
                        ops = [] if scaling == "none" else ["Sub", "Div"]
                        for name in activations:
                            ops += ["Gemm"] + ONNX_ACTIVATIONS[name]
                        model = self.export_and_check(path, bool(classes), ops, units)
                        for node in model.graph.node:
                            if node.op_type == "LeakyRelu":
                                self.assertAlmostEqual(_attributes(node)["alpha"], slope or 0.01, places=6)
                            if node.op_type == "Softmax":
                                self.assertEqual(_attributes(node), {"axis": 1})
                        metadata = {p.key: json.loads(p.value) for p in model.metadata_props}
                        self.assertEqual(metadata.get("classes", []), classes)
                        self.assertEqual(metadata.get("targets", []), targets)
                        self.assertEqual(metadata["features"], ["x1", "x2", "x3"])
        self.assertEqual(count, 4 * 3 * len(hidden) - 3)

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
