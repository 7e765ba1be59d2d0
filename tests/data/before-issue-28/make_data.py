"""Writes the small data files of these fixtures (Python's random module only: the same files anywhere)."""
import math
import random
import struct

rng = random.Random(28)


def number(x):
    return f"{x:.3f}"


def write_csv(name, header, rows):
    with open(name, "w", newline="") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(row) + "\n")


# The seed network (4 inputs, one sigmoid output, mse): a number in (0, 1) from four inputs in [0, 5).
def seed_row(with_target):
    x = [rng.uniform(0, 5) for _ in range(4)]
    y = 1 / (1 + math.exp(-(0.4 * x[0] - 0.3 * x[1] + 0.2 * x[2] - 0.1 * x[3])))
    return [number(v) for v in x] + ([number(y)] if with_target else [])


write_csv("seed-train.csv", ["x1", "x2", "x3", "x4", "y"], [seed_row(True) for _ in range(8)])
write_csv("seed-input.csv", ["x1", "x2", "x3", "x4"], [seed_row(False) for _ in range(5)])

# Three classes around three centres; one name holds a comma, so that predict's header quotes it.
classes = ["cat", "dog", "fish, blue"]
centres = [(-2.0, 0.0, 1.0), (2.0, 0.5, -1.0), (0.0, 3.0, 2.0)]


def class_row(with_label):
    c = rng.randrange(3)
    x = [centres[c][f] + rng.gauss(0, 0.8) for f in range(3)]
    return [number(v) for v in x] + (['"' + classes[c] + '"' if "," in classes[c] else classes[c]] if with_label else [])


write_csv("clf-train.csv", ["x1", "x2", "x3", "animal"], [class_row(True) for _ in range(30)])
write_csv("clf-input.csv", ["x1", "x2", "x3"], [class_row(False) for _ in range(6)])


# Two targets of two inputs.
def regression_row(with_targets):
    a, b = rng.uniform(-1, 1), rng.uniform(0, 2)
    u, v = math.sin(2 * a) + 0.5 * b, a * b + rng.gauss(0, 0.05)
    return [number(a), number(b)] + ([number(u), number(v)] if with_targets else [])


write_csv("reg-train.csv", ["a", "b", "u", "v"], [regression_row(True) for _ in range(25)])
write_csv("reg-input.csv", ["a", "b"], [regression_row(False) for _ in range(5)])


# uint8 features (as images are) in NPY, version 1.0, C order; labels int64.
def write_npy(name, descr, shape, data):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(name, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + data)


labels = [rng.randrange(3) for _ in range(20)]
pixels = [min(255, max(0, int(40 + 80 * label + rng.gauss(0, 30)) + 10 * f)) for label in labels for f in range(6)]
write_npy("bytes-x.npy", "|u1", "(20, 6)", bytes(pixels))
write_npy("bytes-y.npy", "<i8", "(20,)", struct.pack("<20q", *labels))
