#!/usr/bin/env python3
"""Columns of many categories: pooling (the 30 most frequent values one input each, the rarer ones one input)
against an embedding (one input of codes and an embedding entry), `backprop cv --many-categories pool|embedding`
(docs/tables.md, docs/performance.md).

The tables are public ones with a text column of more than 30 values, written to CSV from R packages that
Debian ships (r-cran-cardata, r-cran-mass, r-cran-nlme, R's datasets): mostly repeated measurements, where the
column names the subject, school or plot. A column whose R factor levels are numbers is named by --categorical,
as its owner would (both choices get the same flags). MplsStops is a sample of 10,000 of its 51,920 rows (seed
1), without its identifier and time stamp.

For each table and choice: the 5-fold cross-validated accuracy (R2 for a regression) of the default network,
the mean over seeds; each fold's scores are on rows it did not train on, so the choice rests on validation data
only. `--synthetic` adds a generated table (below) for development; the choice rests on the R tables.

Usage: /usr/bin/python3 bench/many_categories_bench.py [build/backprop] [--seeds 1,2,3] [--tables A,B]
       [--flags "..."] [--synthetic]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

# (name, R expression, target, columns read as categories)
TABLES = [
    ("Blackmore", "carData::Blackmore", "exercise", ["subject"]),
    ("nlschools", "MASS::nlschools", "lang", ["class"]),
    ("MathAchieve", "nlme::MathAchieve", "MathAch", ["School"]),
    ("Milk", "nlme::Milk", "protein", []),
    ("ChickWeight", "datasets::ChickWeight", "weight", ["Chick", "Diet"]),
    ("Spruce", "nlme::Spruce", "logSize", ["plot"]),
    ("Wheat2", "nlme::Wheat2", "yield", ["Block"]),
    ("bdf", "nlme::bdf", "langPOST", ["schoolNR"]),
    ("bdf_minority", "nlme::bdf", "Minority", ["schoolNR"]),
    ("attenu", "datasets::attenu", "accel", ["station"]),
    ("MplsStops", "local({set.seed(1); m <- carData::MplsStops; m <- m[sample(nrow(m), 10000), ]; "
                  "m$idNum <- NULL; m$date <- NULL; m})", "problem", []),
]


def write_tables(folder, tables):
    script = "".join('write.csv(as.data.frame(%s), "%s", row.names = FALSE);\n' % (expr, os.path.join(folder, name + ".csv"))
                     for name, expr, _, _ in tables)
    subprocess.run(["Rscript", "-e", script], check=True, capture_output=True)


def write_synthetic(path, rows=3000, categories=200, seed=0):
    """A regression on a column of `categories` values drawn by a Zipf law (exponent 1.1), each value with its
    own effect N(0, 1), plus two numeric columns x1, x2 ~ N(0, 1): y = effect + x1 - 0.5 x2 + N(0, 0.5)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, categories + 1) ** 1.1
    codes = rng.choice(categories, size=rows, p=weights / weights.sum())
    effect = rng.normal(size=categories)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    y = effect[codes] + x1 - 0.5 * x2 + rng.normal(scale=0.5, size=rows)
    with open(path, "w") as f:
        f.write("group,x1,x2,y\n")
        for c, a, b, t in zip(codes, x1, x2, y):
            f.write("g%d,%.6f,%.6f,%.6f\n" % (c, a, b, t))


def cv(binary, path, target, categorical, choice, seed, flags):
    command = [binary, "cv", "--data", path, "--target", target, "--folds", "5", "--json", "--quiet",
               "--seed", str(seed), "--many-categories", choice] + flags
    if categorical:
        command += ["--categorical", ",".join(categorical)]
    mean = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)["mean"]
    return mean["accuracy"] if "accuracy" in mean else mean["r2"]


def option(name, default):
    at = sys.argv.index(name) + 1 if name in sys.argv else len(sys.argv)
    return sys.argv[at] if at < len(sys.argv) and not sys.argv[at].startswith("--") else default


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "build/backprop"
    seeds = [int(s) for s in option("--seeds", "1,2,3").split(",")]
    wanted = option("--tables", None)
    tables = [t for t in TABLES if wanted is None or t[0] in wanted.split(",")]
    flags = option("--flags", "").split()
    print("| table | rows | pool | embedding | embedding - pool |")
    print("| --- | ---: | ---: | ---: | ---: |")
    differences = []
    with tempfile.TemporaryDirectory() as folder:
        write_tables(folder, tables)
        runs = [(name, os.path.join(folder, name + ".csv"), target, categorical) for name, _, target, categorical in tables]
        if "--synthetic" in sys.argv:
            write_synthetic(os.path.join(folder, "synthetic.csv"))
            runs.append(("synthetic (not in the means)", os.path.join(folder, "synthetic.csv"), "y", []))
        for name, path, target, categorical in runs:
            rows = sum(1 for _ in open(path)) - 1
            scores = {choice: statistics.mean(cv(binary, path, target, categorical, choice, seed, flags) for seed in seeds)
                      for choice in ("pool", "embedding")}
            difference = scores["embedding"] - scores["pool"]
            if not name.startswith("synthetic"):
                differences.append((scores["pool"], scores["embedding"]))
            print("| %s | %d | %.4f | %.4f | %+.4f |" % (name, rows, scores["pool"], scores["embedding"], difference),
                  flush=True)
    pool, embedding = np.mean([d[0] for d in differences]), np.mean([d[1] for d in differences])
    better = sum(1 for p, e in differences if e > p)
    print("\nmeans over the %d tables: pool %.4f, embedding %.4f (%+.4f); embedding better on %d" % (
        len(differences), pool, embedding, embedding - pool, better))


if __name__ == "__main__":
    main()
