#!/usr/bin/env python3
"""Tables as they come: the one-command default (`backprop cv` without a network file) against scikit-learn's
pipelines on public tables with text columns and missing cells (docs/tables.md, docs/performance.md).

Each table is written from R's carData package (Debian's r-cran-cardata) to CSV. For each:
- backprop: `backprop cv --data T.csv --target C --folds 5 --json` (mean accuracy, or R2 for a regression),
  and the whole process of `backprop train` on all rows (load, train, save);
- scikit-learn: a ColumnTransformer (numeric: SimpleImputer(median, add_indicator) + StandardScaler;
  text: SimpleImputer(constant) + OneHotEncoder(handle_unknown="ignore")) ending in
  MLPClassifier/MLPRegressor(early_stopping=True) or HistGradientBoostingClassifier/Regressor, 5-fold
  cross_val_score (StratifiedKFold for a classification, shuffled, seed 0), and the fit time on all rows.

Usage: /usr/bin/python3 bench/tables_bench.py [build/backprop] [--runs N]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

# (R data set, target column, task)
TABLES = [
    ("TitanicSurvival", "survived", "classification"),
    ("Chile", "vote", "classification"),
    ("Arrests", "released", "classification"),
    ("Womenlf", "partic", "classification"),
    ("Wells", "switch", "classification"),
    ("Cowles", "volunteer", "classification"),
    ("Mroz", "lfp", "classification"),
    ("Salaries", "salary", "regression"),
    ("Prestige", "prestige", "regression"),
    ("SLID", "wages", "regression"),
]


def write_tables(folder):
    names = ", ".join('"%s"' % t[0] for t in TABLES)
    script = ('library(carData); for (n in c(%s)) write.csv(get(n), file.path("%s", paste0(n, ".csv")), '
              'row.names = FALSE)' % (names, folder))
    subprocess.run(["Rscript", "-e", script], check=True, capture_output=True)


def sklearn_pipeline(frame, target, task, final):
    x = frame.drop(columns=[target])
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c])]
    text = [c for c in x.columns if c not in numeric]
    prepare = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), numeric),
        ("text", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                               OneHotEncoder(handle_unknown="ignore")), text)])
    return make_pipeline(prepare, final)


def sklearn_scores(path, target, task):
    frame = pd.read_csv(path)
    frame = frame[frame[target].notna()]
    y = frame[target].astype(str) if task == "classification" else frame[target]
    x = frame.drop(columns=[target])
    folds = (StratifiedKFold if task == "classification" else KFold)(5, shuffle=True, random_state=0)
    out = {}
    finals = {
        "mlp": (MLPClassifier if task == "classification" else MLPRegressor)(
            early_stopping=True, max_iter=500, random_state=0),
        "hgb": (HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor)(
            random_state=0),
    }
    for name, final in finals.items():
        pipeline = sklearn_pipeline(frame, target, task, final)
        scores = cross_val_score(pipeline, x, y, cv=folds, scoring="accuracy" if task == "classification" else "r2")
        start = time.perf_counter()
        pipeline.fit(x, y)
        out[name] = (float(np.mean(scores)), time.perf_counter() - start)
    return out


def backprop_scores(binary, path, target, folder):
    result = subprocess.run([binary, "cv", "--data", path, "--target", target, "--folds", "5", "--json", "--quiet"],
                            check=True, capture_output=True, text=True)
    mean = json.loads(result.stdout)["mean"]
    score = mean["accuracy"] if "accuracy" in mean else mean["r2"]
    start = time.perf_counter()
    subprocess.run([binary, "train", "--data", path, "--target", target, "--out", os.path.join(folder, "m.model"),
                    "--quiet"], check=True, capture_output=True)
    return score, time.perf_counter() - start


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "build/backprop"
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    print("| table | rows | task | backprop | sklearn MLP | sklearn HGB | backprop - best | train s (median) "
          "| MLP fit s | HGB fit s | speed vs faster sklearn |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    gaps, ours, mlps, hgbs = [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        write_tables(folder)
        for name, target, task in TABLES:
            path = os.path.join(folder, name + ".csv")
            rows = sum(1 for _ in open(path)) - 1
            measured = [backprop_scores(binary, path, target, folder) for _ in range(runs)]
            score = measured[0][0]
            seconds = statistics.median(m[1] for m in measured)
            theirs = sklearn_scores(path, target, task)
            best = max(theirs["mlp"][0], theirs["hgb"][0])
            faster = min(theirs["mlp"][1], theirs["hgb"][1])
            gaps.append(score - best)
            ours.append(score)
            mlps.append(theirs["mlp"][0])
            hgbs.append(theirs["hgb"][0])
            print("| %s | %d | %s | %.4f | %.4f | %.4f | %+.4f | %.3f | %.3f | %.3f | %.1fx |" % (
                name, rows, task, score, theirs["mlp"][0], theirs["hgb"][0], score - best, seconds,
                theirs["mlp"][1], theirs["hgb"][1], faster / seconds))
    print("\nmeans: backprop %.4f, sklearn MLP %.4f, sklearn HGB %.4f; worst gap to the better pipeline %+.4f" % (
        np.mean(ours), np.mean(mlps), np.mean(hgbs), min(gaps)))


if __name__ == "__main__":
    main()
