#!/usr/bin/env python3
"""The GPU benchmark (issue 8): Fashion-MNIST MLP 784-256-128-10 training (ReLU, softmax_ce, SGD momentum 0.9,
bench/fashion-mnist-sgd.json) on a CUDA device at batch 128, 1024 and 8192, `backprop train --device cuda`
against PyTorch (bench/gpu/torch_fmnist_cuda.py, its better setting) in the same run. Prints a table: job,
backprop, PyTorch, ratio, GPU, date; samples/s are 60,000 rows over the median epoch time, the first epoch
(warm-up: cuBLAS's heuristics, PyTorch's caching allocator) left out.

    python3 bench/gpu/gpu_bench.py [--backprop PATH] [--epochs 6] [--out DIR]

The data is Fashion-MNIST's training set when /usr/share/datasets/fashion-mnist has it, otherwise 60,000
random uint8 images with random labels of the same shape (the speed of a step does not depend on the
values). Run by bench/gpu/device-check.sh on the GPU machine.
"""
import argparse
import datetime
import gzip
import json
import os
import statistics
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FASHION = "/usr/share/datasets/fashion-mnist"
TARGETS = {128: ("ratio", 2.0), 8192: ("ratio", 1.2), 1024: ("epoch_ms", 50.0)}


def write_data(folder):
    images_path, labels_path = os.path.join(folder, "images.npy"), os.path.join(folder, "labels.npy")
    source = f"{FASHION}/train-images-idx3-ubyte.gz"
    if os.path.exists(source):
        images = np.frombuffer(gzip.open(source).read(), np.uint8, offset=16).reshape(-1, 784)
        labels = np.frombuffer(gzip.open(f"{FASHION}/train-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
        what = "Fashion-MNIST's 60,000 training images"
    else:
        generator = np.random.default_rng(0)
        images = generator.integers(0, 256, size=(60000, 784), dtype=np.uint8)
        labels = generator.integers(0, 10, size=60000, dtype=np.uint8)
        what = "60,000 random 784-byte images (Fashion-MNIST not installed here)"
    np.save(images_path, images)
    np.save(labels_path, labels.astype(np.int64))
    return images_path, labels_path, what


def backprop_run(backprop, images, labels, batch, epochs, out):
    log = os.path.join(out, f"backprop-b{batch}.jsonl")
    subprocess.run([backprop, "train", os.path.join(ROOT, "bench", "fashion-mnist-sgd.json"), "--data", images,
                    "--labels", labels, "--device", "cuda", "--batch-size", str(batch), "--epochs", str(epochs),
                    "--log", log, "--quiet", "--out", os.path.join(out, "gpu.model")], check=True)
    seconds = [json.loads(line)["seconds"] for line in open(log)]
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def torch_run(images, labels, batch, epochs):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gpu", "torch_fmnist_cuda.py"), images, labels,
                          str(batch), str(epochs)], check=True, capture_output=True, text=True).stdout
    results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    timed = [r for r in results if "samples_per_second" in r]
    best = max(timed, key=lambda r: r["samples_per_second"])
    return best, results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backprop", default=os.path.join(ROOT, ".gpu-bundle", "backprop"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", default=os.environ.get("OUT", "/tmp/backprop-gpu-bench"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    images, labels, what = write_data(args.out)
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        gpu = "no nvidia-smi"
    print(f"data: {what}; GPU: {gpu}; {datetime.date.today()}")
    print("| job | backprop (samples/s) | PyTorch best (samples/s) | ratio | backprop epoch | target |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for batch in (128, 1024, 8192):
        seconds = backprop_run(args.backprop, images, labels, batch, args.epochs, args.out)
        ours = 60000 / seconds
        best, all_settings = torch_run(images, labels, batch, args.epochs)
        ratio = ours / best["samples_per_second"]
        kind, goal = TARGETS[batch]
        if kind == "ratio":
            target = f">= {goal}x: {'met' if ratio >= goal else 'MISSED'}"
        else:
            target = f"epoch < {goal:.0f} ms: {'met' if seconds * 1e3 < goal else 'MISSED'}"
        others = ", ".join(f"{r['setting']} {r.get('samples_per_second', float('nan')):,.0f}" for r in all_settings)
        print(f"| fmnist-train-b{batch} | {ours:,.0f} | {best['samples_per_second']:,.0f} ({best['setting']}) | "
              f"{ratio:.2f} | {seconds * 1e3:.1f} ms | {target} |   torch settings: {others}", flush=True)


if __name__ == "__main__":
    main()
