#!/usr/bin/env python3
"""The C export's speed and size: the Fashion-MNIST MLP (784-256-128-10) exported as C, float and int8, against
backprop's own inference and PyTorch's, one row at a time on one core.

  /usr/bin/python3 bench/c_export.py [--model FILE] [--repeat N]

Without --model it trains examples/fashion-mnist.json for 2 epochs (the weights' values do not change the
timings). Each side is pinned to core 0 (taskset) and runs one thread; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
are unset for every side (shared/peers/README.md). Prints, per side, the median over --repeat runs (and the
spread) of the batch-1 latency and of the rows per second when rows are predicted one after another, then the
compiled objects' sizes (size(1): text + data, the weights being in .rodata, counted in text), and the ratios.
The C program is compiled with `gcc -O2` (portable) and `gcc -O3 -march=native`. Figures go to
docs/performance.md with the CPU (lscpu).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = os.path.join(ROOT, "build", "backprop")
FASHION = "/usr/share/datasets/fashion-mnist"
PEERS = os.path.join(ROOT, "..", "shared", "peers")
ENVIRONMENT = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
ENVIRONMENT["OPENBLAS_NUM_THREADS"] = "1"

# Times NAME_predict on `rows` random rows in [0, 1], each row once per pass, after a warm-up pass.
TIMER = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "HEADER"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
  enum { ROWS = 2000, PASSES = 10 };
  static float features[ROWS][NAME_INPUTS];
  float outputs[NAME_OUTPUTS], scratch[NAME_SCRATCH], sink = 0.0f;
  int r, i, pass;
  double start;
  srand(1);
  for (r = 0; r < ROWS; ++r)
    for (i = 0; i < NAME_INPUTS; ++i) features[r][i] = (float)rand() / (float)RAND_MAX;
  for (r = 0; r < ROWS; ++r) { NAME_predict(features[r], outputs, scratch); sink += outputs[0]; }
  start = now();
  for (pass = 0; pass < PASSES; ++pass)
    for (r = 0; r < ROWS; ++r) { NAME_predict(features[r], outputs, scratch); sink += outputs[0]; }
  printf("%.3f %g\n", (now() - start) / (PASSES * ROWS) * 1e6, sink);
  return 0;
}
"""


def run(arguments, **kwargs):
    return subprocess.run(arguments, check=True, capture_output=True, text=True, env=ENVIRONMENT, **kwargs).stdout


def pinned(arguments):
    return run(["taskset", "-c", "0", *arguments])


def model_file(work):
    network = os.path.join(work, "fashion.json")
    with open(os.path.join(ROOT, "examples", "fashion-mnist.json")) as f:
        spec = json.load(f)
    spec["training"]["epochs"] = 2
    with open(network, "w") as f:
        json.dump(spec, f)
    model = os.path.join(work, "fashion.model")
    run([COMMAND, "train", network, "--data", FASHION + "/train-images-idx3-ubyte.gz", "--labels",
         FASHION + "/train-labels-idx1-ubyte.gz", "--quiet", "--out", model])
    return model


def c_program(work, model, name, flags, extra=()):
    header = os.path.join(work, name + ".h")
    run([COMMAND, "export", model, "--format", "c", "--out", header, "--name", name, *extra])
    timer = os.path.join(work, "timer_%s.c" % name)
    with open(timer, "w") as f:
        f.write(TIMER.replace("HEADER", name + ".h").replace("NAME_", name + "_"))
    binaries = {}
    for label, options in flags.items():
        obj = os.path.join(work, "%s_%s.o" % (name, label))
        run(["gcc", "-std=c99", *options, "-c", "-o", obj, header[:-2] + ".c"])
        size = run(["size", obj]).splitlines()[1].split()
        binary = os.path.join(work, "%s_%s" % (name, label))
        run(["gcc", "-std=c99", *options, "-o", binary, timer, obj, "-lm"])
        binaries[label] = (binary, int(size[0]) + int(size[1]))
    return binaries


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="backprop-c-bench-")
    model = args.model or model_file(work)
    flags = {"O2": ["-O2"], "O3-native": ["-O3", "-march=native"]}
    sides = {}
    calibration = ["--quantize", "int8", "--calibration", FASHION + "/train-images-idx3-ubyte.gz"]
    for kind, extra in (("float", ()), ("int8", calibration)):
        for label, (binary, size) in c_program(work, model, "m_" + kind, flags, extra).items():
            sides["C %s, gcc -%s (%d bytes)" % (kind, label, size)] = lambda b=binary: float(pinned([b]).split()[0])
    sides["backprop bench --batch 1 --threads 1"] = lambda: json.loads(pinned(
        [COMMAND, "bench", model, "--batch", "1", "--threads", "1", "--json"]))[0]["latency_us"]
    torch_infer = os.path.join(PEERS, "torch_infer.py")
    if os.path.exists(torch_infer):
        sides["PyTorch (torch_infer.py, 1 thread)"] = lambda: float(
            pinned(["/usr/bin/python3", torch_infer]).split("latency ")[1].split()[0])
    results = {}
    for name, measure in sides.items():
        samples = [measure() for _ in range(args.repeat)]
        results[name] = samples
        print("%-48s batch-1 latency %8.2f us (%.2f-%.2f), %10.0f rows/s" % (
            name, statistics.median(samples), min(samples), max(samples), 1e6 / statistics.median(samples)))
    reference = statistics.median(results["backprop bench --batch 1 --threads 1"])
    for name, samples in results.items():
        print("%-48s %.2fx backprop's batch-1 speed" % (name, reference / statistics.median(samples)))


if __name__ == "__main__":
    sys.exit(main())
