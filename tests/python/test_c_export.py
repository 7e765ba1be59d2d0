"""`backprop export --format c` against `backprop predict`: the exported X.h and X.c compiled and run.

For every activation (relu, leaky_relu with the default and a set slope, sigmoid, tanh, softmax, identity), every
feature scaling (none, standard, minmax) and every task (classification with a softmax output, bce with one
sigmoid output, regression with an identity output or with the activation at the output), the test exports a
JSON model with explicit weights as C and
  - compiles the pair with a test program with `gcc -std=c99 -Wall -Wextra -Werror -pedantic`, with clang the
    same way, and as C++ with `g++ -std=c++17 -Wall -Wextra -Werror -pedantic`;
  - runs it on a batch of rows and compares with the probabilities or values `backprop predict` prints, within
    1e-5 (relative above 1);
  - checks the interface: NAME_INPUTS, NAME_OUTPUTS, NAME_SCRATCH, the names arrays.
int8 (--quantize int8 --calibration DATA): a model trained on a tabular set (scikit-learn's breast cancer table)
keeps its test accuracy within 1 point of the float export's, and a Fashion-MNIST model (the README's network,
trained briefly) within 0.5 points; the int8 weight arrays are a quarter of the float ones' bytes. Bad input
(a name that is not a C identifier, a calibration file of the wrong width, --quantize without --calibration, an
--out that is not a .h) is exit 2 with a message.

Run by CTest with Debian's /usr/bin/python3 and BACKPROP_COMMAND set to the built command; needs gcc, g++ and
clang (the README's packages), numpy, and for the tabular int8 case scikit-learn. Exit code 77 (skipped) when
BACKPROP_COMMAND is not set or a tool is missing.
"""

import csv
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
except ImportError as error:
    np = None
    IMPORT_ERROR = str(error)
else:
    IMPORT_ERROR = ""

# The export tests' models and data, one copy: the ONNX test's (its onnx and cv2 imports are optional there).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_onnx_export as export_cases  # noqa: E402

layers_for = export_cases.layers_for
COMMAND = os.environ.get("BACKPROP_COMMAND", "")
TOLERANCE = 1e-5
SKIP_EXIT_CODE = 77
FASHION = "/usr/share/datasets/fashion-mnist"
STRICT = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
COMPILERS = {"gcc": ["gcc", "-std=c99"] + STRICT, "clang": ["clang", "-std=c99"] + STRICT,
             "g++": ["g++", "-std=c++17", "-x", "c++"] + STRICT}


def skip_reason():
    if IMPORT_ERROR:
        return "needs numpy (Debian: python3-numpy): " + IMPORT_ERROR
    if not COMMAND:
        return "BACKPROP_COMMAND (the built backprop command) is not set"
    missing = [c for c in ("gcc", "g++", "clang") if shutil.which(c) is None]
    if missing:
        return "needs the compilers " + ", ".join(missing)
    return ""


# A program that reads rows of NAME_INPUTS floats (raw float32, from the file named first) and writes each
# row's outputs as text, one row a line; it also prints the interface's constants and names on its first line.
TEST_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include "HEADER"

int main(int argc, char **argv) {
  float features[NAME_INPUTS], outputs[NAME_OUTPUTS], scratch[NAME_SCRATCH];
  FILE *in = fopen(argv[1], "rb");
  int o;
  (void)argc;
  if (!in) return 3;
  printf("INPUTS %d OUTPUTS %d SCRATCH %d first-feature %s last-name %s\n", NAME_INPUTS, NAME_OUTPUTS,
         NAME_SCRATCH, NAME_features[0], LAST_NAME);
  while (fread(features, sizeof(float), NAME_INPUTS, in) == NAME_INPUTS) {
    NAME_predict(features, outputs, scratch);
    for (o = 0; o < NAME_OUTPUTS; ++o) printf(o ? " %.9g" : "%.9g", outputs[o]);
    printf("\n");
  }
  fclose(in);
  return 0;
}
"""


class CExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        reason = skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.temp = tempfile.TemporaryDirectory(prefix="backprop-c-")
        cls.dir = cls.temp.name
        rng = np.random.default_rng(7)
        features = np.column_stack([rng.normal(50.0, 10.0, 40), rng.normal(-3.0, 0.5, 40), rng.uniform(0.0, 2.0, 40)])
        cls.features = features.astype(np.float32)
        cls.data = os.path.join(cls.dir, "features.csv")
        write_csv(cls.data, ["x1", "x2", "x3"], cls.features)

    @classmethod
    def tearDownClass(cls):
        cls.temp.cleanup()

    def run_command(self, *arguments, expect=0):
        result = subprocess.run([COMMAND, *arguments], capture_output=True, text=True)
        self.assertEqual(result.returncode, expect,
                         "backprop %s:\n%s%s" % (" ".join(arguments), result.stdout, result.stderr))
        return result

    model_file = export_cases.OnnxExportTest.model_file  # a JSON model with explicit weights and scaling
    scaling = export_cases.OnnxExportTest.scaling

    def predictions(self, model_path, data):
        out = os.path.join(self.dir, "predictions.csv")
        self.run_command("predict", model_path, "--data", data, "--out", out)
        with open(out, newline="") as f:
            rows = list(csv.reader(f))
        columns = [i for i, name in enumerate(rows[0]) if name.startswith(("p_", "y_"))]
        return np.array([[float(row[i]) for i in columns] for row in rows[1:]])

    def export(self, model_path, name, *extra):
        header = os.path.join(self.dir, name + ".h")
        self.run_command("export", model_path, "--format", "c", "--out", header, "--name", name, *extra)
        self.assertTrue(os.path.exists(header[:-2] + ".c"))
        return header

    def compiled_outputs(self, header, name, features, compiler="gcc", last_name=None):
        """Compiles header's .c with the test program by `compiler` and runs it on the rows of features."""
        program = TEST_PROGRAM.replace("HEADER", os.path.basename(header)).replace("NAME_", name + "_")
        program = program.replace("LAST_NAME", last_name or name + "_features[0]")
        main = os.path.join(self.dir, "main_%s.c" % name)
        with open(main, "w") as f:
            f.write(program)
        binary = os.path.join(self.dir, "run_%s_%s" % (name, compiler.replace("+", "p")))
        build = subprocess.run(COMPILERS[compiler] + ["-O2", "-o", binary, main, header[:-2] + ".c", "-lm"],
                               capture_output=True, text=True)
        self.assertEqual(build.returncode, 0, "%s:\n%s" % (" ".join(COMPILERS[compiler]), build.stderr))
        rows = os.path.join(self.dir, "rows.f32")
        np.ascontiguousarray(features, dtype=np.float32).tofile(rows)
        run = subprocess.run([binary, rows], capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        lines = run.stdout.splitlines()
        return lines[0], np.array([[float(v) for v in line.split()] for line in lines[1:]])

    def assert_close(self, actual, expected, what):
        self.assertEqual(actual.shape, expected.shape, what)
        error = np.abs(actual - expected) / np.maximum(1.0, np.abs(expected))
        self.assertLessEqual(error.max(), TOLERANCE, "%s: largest difference from backprop predict: %g" % (what, error.max()))

    # ---- float: every activation, scaling and task ----

    def test_every_activation_with_every_scaling_for_every_task(self):
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
                    if output_activation is None and activation == "identity":
                        continue
                    with self.subTest(task=task, scaling=scaling, activation=activation, slope=slope):
                        count += 1
                        activations = [activation, activation, output_activation or activation]
                        path = self.model_file("case%d" % count, layers_for(rng, [3, 5, 4, units], activations, slope),
                                               loss, self.scaling(scaling), classes=classes, targets=targets)
                        name = "m%d" % count
                        header = self.export(path, name)
                        expected = self.predictions(path, self.data)
                        for compiler in COMPILERS:
                            first, actual = self.compiled_outputs(header, name, self.features, compiler)
                            self.assert_close(actual, expected, "%s, %s" % (name, compiler))
                        outputs = 2 if units == 1 else units
                        self.assertIn("INPUTS 3 OUTPUTS %d " % outputs, first)
                        self.assertIn("first-feature x1", first)
                        with open(header) as f:
                            text = f.read()
                        self.assertIn("#define %s_CLASSES" % name, text) if classes else \
                            self.assertIn("%s_targets[%s_OUTPUTS]" % (name, name), text)
        self.assertEqual(count, 4 * 3 * len(hidden) - 3)

    def test_batch_norm_is_folded_into_the_next_dense_layer(self):
        rng = np.random.default_rng(5)
        dense = layers_for(rng, [3, 4, 3], ["tanh", "softmax"])
        norm = {"type": "batch_norm", "eps": 1e-3, "scale": [0.5, -1.5, 2.0, 1.0], "shift": [0.1, -0.2, 0.3, 0.0],
                "running_mean": [0.2, -0.3, 0.5, 0.1], "running_var": [0.5, 2.0, 0.05, 1.5]}
        path = self.model_file("batch_norm", [dense[0], norm, dense[1]], "softmax_ce", self.scaling("standard"),
                               classes=["a", "b", "c"])
        header = self.export(path, "m_bn")
        expected = self.predictions(path, self.data)
        for compiler in COMPILERS:
            _, actual = self.compiled_outputs(header, "m_bn", self.features, compiler)
            self.assert_close(actual, expected, "batch_norm folded, %s" % compiler)

    # ---- embedding ----

    def embedding_model(self):
        """Two embeddings (6 categories x 2 values of x2, then 3 x 3 of x1, read through the first's output), a tanh
        layer and a softmax output; x3 standardized, the code columns left as they are (offset 0, scale 1)."""
        rng = np.random.default_rng(13)
        features = np.column_stack([np.arange(40) % 3, np.arange(40) % 6, rng.normal(2.0, 1.0, 40)]).astype(np.float32)
        data = os.path.join(self.dir, "codes.csv")
        write_csv(data, ["x1", "x2", "x3"], features)
        first = {"type": "embedding", "input": 1, "categories": 6, "dim": 2,
                 "weights": export_cases.rng_matrix(rng, 6, 2, 2.0)}
        second = {"type": "embedding", "input": 0, "categories": 3, "dim": 3,
                  "weights": export_cases.rng_matrix(rng, 3, 3, 2.0)}
        x3 = features[:, 2].astype(np.float64)
        scaling = {"kind": "standard", "offset": [0.0, 0.0, x3.mean()], "scale": [1.0, 1.0, x3.std()]}
        path = self.model_file("embedding", [first, second] + layers_for(rng, [6, 5, 3], ["tanh", "softmax"]),
                               "softmax_ce", scaling, classes=["a", "b", "c"])
        return path, data, features, first

    def test_embedding_tables_are_static_arrays_and_each_code_picks_its_row(self):
        path, data, features, first = self.embedding_model()
        header = self.export(path, "m_emb")
        expected = self.predictions(path, data)
        for compiler in COMPILERS:
            _, actual = self.compiled_outputs(header, "m_emb", features, compiler)
            self.assert_close(actual, expected, "embedding, %s" % compiler)
        with open(header[:-2] + ".c") as f:
            source = f.read()
        self.assertIn("static const float m_emb_e1[6][2] = {", source)
        self.assertIn("static const float m_emb_e2[3][3] = {", source)
        # Each code picks its own row: the table with its rows reversed gives other outputs.
        table = re.search(r"static const float m_emb_e1\[6\]\[2\] = \{\n(.*?)\};\n", source, re.S).group(1)
        rows = table.split(",\n")
        with open(header[:-2] + ".c", "w") as f:
            f.write(source.replace(table, ",\n".join(reversed(rows))))
        _, swapped = self.compiled_outputs(header, "m_emb", features, "gcc")
        self.assertGreater(np.abs(swapped - expected).max(), 1e-3)
        self.assertEqual(len(rows), len(first["weights"]))
        # int8: the tables stay float32 (a lookup has no product to quantize); the dense layers after them are
        # quantized, and the probabilities stay within 0.05 of predict's on these rows (calibrated on them).
        int8_header = self.export(path, "m_emb_q", "--quantize", "int8", "--calibration", data)
        _, int8_outputs = self.compiled_outputs(int8_header, "m_emb_q", features)
        print("embedding int8: largest difference from predict %.4f" % np.abs(int8_outputs - expected).max())
        self.assertLessEqual(np.abs(int8_outputs - expected).max(), 0.05)
        with open(int8_header[:-2] + ".c") as f:
            self.assertIn("static const float m_emb_q_e1[6][2] = {", f.read())

    def test_a_bad_code_returns_its_feature_and_nan_outputs_without_reading_out_of_bounds(self):
        """NAME_predict returns k + 1 for a code at features[k] that is not a whole number in [0, N), writes NaN
        to every output and reads no table out of bounds (compiled with AddressSanitizer and UBSan, which
        catch a read past a static array and a float cast to int out of range); a good row returns 0."""
        path, _, features, _ = self.embedding_model()
        header = self.export(path, "m_bad")
        program = r"""
#include <stdio.h>
#include "m_bad.h"
int main(void) {
  const float rows[][3] = {{0, 1, 0.5f}, {0, 6, 0.5f}, {0, -1, 0.5f}, {0, 2.5f, 0.5f}, {0, 1e9f, 0.5f},
                           {0, 0.0f / 0.0f, 0.5f}, {3, 1, 0.5f}, {-0.5f, 1, 0.5f}, {2, 5, 0.5f}};
  float outputs[m_bad_OUTPUTS], scratch[m_bad_SCRATCH];
  unsigned r;
  int o;
  for (r = 0; r < sizeof rows / sizeof rows[0]; ++r) {
    printf("%d", m_bad_predict(rows[r], outputs, scratch));
    for (o = 0; o < m_bad_OUTPUTS; ++o) printf(" %.9g", outputs[o]);
    printf("\n");
  }
  return 0;
}
"""
        main = os.path.join(self.dir, "main_bad.c")
        with open(main, "w") as f:
            f.write(program)
        binary = os.path.join(self.dir, "run_bad")
        sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
        build = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-g"] + sanitize +
                               ["-o", binary, main, header[:-2] + ".c", "-lm"], capture_output=True, text=True)
        self.assertEqual(build.returncode, 0, build.stderr)
        run = subprocess.run([binary], capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stderr, "")
        lines = [line.split() for line in run.stdout.splitlines()]
        # features[1] (x2, 6 categories) is checked first, by the first entry; then features[0] (x1, 3).
        self.assertEqual([int(line[0]) for line in lines], [0, 2, 2, 2, 2, 2, 1, 1, 0])
        for line in lines:
            values = np.array([float(v) for v in line[1:]])
            self.assertEqual(len(values), 3)
            if line[0] == "0":
                self.assertAlmostEqual(float(values.sum()), 1.0, places=5)
            else:
                self.assertTrue(np.isnan(values).all(), line)

    def test_the_interface_and_the_names(self):
        rng = np.random.default_rng(3)
        path = self.model_file("named", layers_for(rng, [3, 4, 3], ["relu", "softmax"]), "softmax_ce",
                               self.scaling("standard"), classes=['say "hi"', "b\\c", "d*/e"])
        header = self.export(path, "m_wine")
        with open(header) as f:
            text = f.read()
        for line in ("#define m_wine_INPUTS 3", "#define m_wine_OUTPUTS 3", "#define m_wine_CLASSES 3",
                     "int m_wine_predict(const float *features, float *outputs, float *scratch);",
                     " * Returns 0 (a model with an embedding entry returns k + 1 for a bad code at features[k])."):
            self.assertIn(line, text)
        scratch = int(re.search(r"#define m_wine_SCRATCH (\d+)", text).group(1))
        self.assertGreaterEqual(scratch, 1)
        self.assertIn("From " + path, text)  # the comment names the file and its checksum
        self.assertRegex(text, r"FNV-1a 64 of its bytes: [0-9a-f]{16}")
        # Names with quotes, backslashes and a comment's end come out as the same bytes.
        first, actual = self.compiled_outputs(header, "m_wine", self.features, "gcc", last_name="m_wine_classes[2]")
        self.assertIn("last-name d*/e", first)
        self.assert_close(actual, self.predictions(path, self.data), "named")

    # ---- int8 ----

    def int8_accuracy(self, model_path, name, calibration, features, labels):
        float_header = self.export(model_path, name + "_f")
        int8_header = self.export(model_path, name + "_q", "--quantize", "int8", "--calibration", calibration)
        _, float_outputs = self.compiled_outputs(float_header, name + "_f", features)
        _, int8_outputs = self.compiled_outputs(int8_header, name + "_q", features)
        float_accuracy = float(np.mean(float_outputs.argmax(axis=1) == labels))
        int8_accuracy = float(np.mean(int8_outputs.argmax(axis=1) == labels))
        return float_header, int8_header, float_accuracy, int8_accuracy

    def test_int8_on_a_tabular_model_within_one_point(self):
        try:
            from sklearn.datasets import load_breast_cancer
            from sklearn.model_selection import train_test_split
        except ImportError as error:
            self.skipTest("needs scikit-learn (Debian: python3-sklearn): %s" % error)
        x, y = load_breast_cancer(return_X_y=True)
        x_train, x_test, y_train, y_test = train_test_split(x.astype(np.float32), y, test_size=0.3, random_state=0)
        names = ["f%d" % i for i in range(x.shape[1])]
        train = os.path.join(self.dir, "cancer_train.csv")
        write_csv(train, names + ["label"], x_train, y_train)
        network = os.path.join(self.dir, "cancer.json")
        with open(network, "w") as f:
            json.dump({"input": x.shape[1], "layers": [{"units": 32, "activation": "relu"},
                                                       {"units": 2, "activation": "softmax"}],
                       "seed": 1, "optimizer": {"type": "adam", "learning_rate": 0.01},
                       "training": {"epochs": 60, "batch_size": 32, "scale": "standard"}}, f)
        model = os.path.join(self.dir, "cancer.model")
        self.run_command("train", network, "--data", train, "--quiet", "--out", model)
        _, _, float_accuracy, int8_accuracy = self.int8_accuracy(model, "cancer", train, x_test, y_test)
        print("\nbreast cancer test accuracy: float %.4f, int8 %.4f" % (float_accuracy, int8_accuracy))
        self.assertGreater(float_accuracy, 0.9)
        self.assertLessEqual(float_accuracy - int8_accuracy, 0.01)

    def test_int8_on_fashion_mnist_within_half_a_point_and_a_quarter_of_the_weight_bytes(self):
        if not os.path.isdir(FASHION):
            self.skipTest("needs Debian's dataset-fashion-mnist")
        network = os.path.join(self.dir, "fashion.json")
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "fashion-mnist.json")) as f:
            spec = json.load(f)
        spec["training"]["epochs"] = 2  # a brief run: the quantization's effect is the point, not the model
        with open(network, "w") as f:
            json.dump(spec, f)
        model = os.path.join(self.dir, "fashion.model")
        self.run_command("train", network, "--data", FASHION + "/train-images-idx3-ubyte.gz", "--labels",
                         FASHION + "/train-labels-idx1-ubyte.gz", "--quiet", "--out", model)
        images, labels = read_idx(FASHION + "/t10k-images-idx3-ubyte.gz"), read_idx(FASHION + "/t10k-labels-idx1-ubyte.gz")
        features = images.reshape(len(images), -1).astype(np.float32) / 255.0  # as backprop reads uint8 images
        float_header, int8_header, float_accuracy, int8_accuracy = self.int8_accuracy(
            model, "fashion", FASHION + "/train-images-idx3-ubyte.gz", features, labels)
        print("\nFashion-MNIST test accuracy: float %.4f, int8 %.4f" % (float_accuracy, int8_accuracy))
        self.assertGreater(float_accuracy, 0.8)
        self.assertLessEqual(float_accuracy - int8_accuracy, 0.005)
        # The float export gives predict's outputs on the test images too.
        expected = self.predictions(model, FASHION + "/t10k-images-idx3-ubyte.gz")
        _, actual = self.compiled_outputs(float_header, "fashion_f", features[:500])
        self.assert_close(actual, expected[:500], "Fashion-MNIST float")
        float_bytes, int8_bytes = weight_bytes(float_header[:-2] + ".c"), weight_bytes(int8_header[:-2] + ".c")
        print("weight arrays: float %d bytes, int8 %d bytes" % (float_bytes, int8_bytes))
        self.assertLessEqual(int8_bytes * 4, float_bytes)

    # ---- bad input ----

    def test_bad_input_is_exit_2_with_a_message(self):
        rng = np.random.default_rng(5)
        path = self.model_file("bad", layers_for(rng, [3, 4, 2], ["relu", "softmax"]), "softmax_ce",
                               self.scaling("none"), classes=["a", "b"])
        out = os.path.join(self.dir, "bad.h")
        for name in ("9lives", "my-model", "int", "a b", ""):
            result = self.run_command("export", path, "--format", "c", "--out", out, "--name", name, expect=2)
            self.assertIn("--name: expected a C identifier", result.stderr)
        narrow = os.path.join(self.dir, "narrow.csv")
        write_csv(narrow, ["x1", "x2"], self.features[:, :2])
        result = self.run_command("export", path, "--format", "c", "--out", out, "--quantize", "int8",
                                  "--calibration", narrow, expect=2)
        self.assertIn("narrow.csv", result.stderr)
        result = self.run_command("export", path, "--format", "c", "--out", out, "--quantize", "int8", expect=2)
        self.assertIn("--calibration", result.stderr)
        result = self.run_command("export", path, "--format", "c", "--out", os.path.join(self.dir, "bad.c"), expect=2)
        self.assertIn("ending in .h", result.stderr)
        self.assertFalse(os.path.exists(out))


def weight_bytes(source):
    """The bytes of the layer weight arrays (static const float/int8_t NAME_wK[OUT][IN]) declared in source."""
    total = 0
    with open(source) as f:
        for kind, rows, columns in re.findall(r"static const (float|int8_t) \w+_w\d+\[(\d+)\]\[(\d+)\]", f.read()):
            total += int(rows) * int(columns) * (4 if kind == "float" else 1)
    return total


def write_csv(path, header, features, labels=None):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i, row in enumerate(features):
            writer.writerow(["%.9g" % v for v in row] + ([str(labels[i])] if labels is not None else []))


def read_idx(path):
    """An IDX file (gzip) as a numpy array of uint8."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


if __name__ == "__main__":
    reason = skip_reason()
    if reason:
        print("SKIPPED: " + reason)
        sys.exit(SKIP_EXIT_CODE)
    unittest.main()
