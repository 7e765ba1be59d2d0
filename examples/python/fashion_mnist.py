#!/usr/bin/env python3
"""Fashion-MNIST with the Python module: the README's main job (examples/fashion-mnist.json: 784-256-128-10,
ReLU, dropout 0.1, AdamW with a one-cycle schedule, label smoothing 0.1, standardized inputs, 16 epochs)
trained from numpy arrays.

    cmake -S . -B build && cmake --build build -j2
    PYTHONPATH=build/python /usr/bin/python3 examples/python/fashion_mnist.py [--epochs N] [--out MODEL]

Reads Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, IDX files, gzip) with numpy and
gzip alone, and prints the test accuracy (about 0.90 after the file's 16 epochs; fewer epochs for a quick
run).
"""
import argparse
import gzip
import pathlib
import sys
import time

import numpy as np

import backprop

ROOT = pathlib.Path(__file__).resolve().parents[2]


def read_idx(path):
    """An IDX file (MNIST's format: magic, big-endian u32 dimensions, then uint8 data) as a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{path}: expected an IDX file of unsigned bytes")
    dimensions = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dimensions))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dimensions).reshape(shape)


def load(folder, part):
    images = read_idx(folder / f"{part}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{part}-labels-idx1-ubyte.gz")
    # value / 255 in float32, one row of 784 per image, as `backprop train` reads IDX images.
    return (images.reshape(len(images), -1).astype(np.float32) / np.float32(255)), labels.astype(np.int64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=pathlib.Path, default=pathlib.Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--network", type=pathlib.Path, default=ROOT / "examples" / "fashion-mnist.json")
    parser.add_argument("--epochs", type=int, default=None, help="default: the network file's (16)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=pathlib.Path, default=None, help="save the trained model here")
    args = parser.parse_args()

    X_train, y_train = load(args.data, "train")
    X_test, y_test = load(args.data, "t10k")
    net = backprop.Network.from_file(args.network)
    print(f"{args.network.name}: network {net.architecture}, {len(X_train)} training and {len(X_test)} test images")

    started = time.perf_counter()
    history = net.fit(X_train, y_train, epochs=args.epochs, seed=args.seed, verbose=True)
    seconds = time.perf_counter() - started
    print(f"trained {len(history)} epochs in {seconds:.1f} s; last training loss {history[-1]['loss']:.4f}")

    metrics = net.evaluate(X_test, y_test)
    print(f"test loss {metrics['loss']:.4f}  test accuracy {metrics['accuracy']:.4f}")
    if args.out:
        net.save(args.out)
        print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
