#!/usr/bin/env python3
"""Tables as they come: the one-command default (`backprop cv` without a network file) against scikit-learn's
pipelines on public tables with text columns and missing cells (docs/tables.md, docs/performance.md).

Each table is written from R's carData package (Debian's r-cran-cardata) to CSV. For each:
- backprop: `backprop cv --data T.csv --target C --folds 5 --json` (mean accuracy, or R2 for a regression),
  and the whole process of `backprop train` on all rows (load, train, save);
- scikit-learn: a ColumnTransformer (numeric: SimpleImputer(median, add_indicator) + StandardScaler;
  text: SimpleImputer(constant) + OneHotEncoder(handle_unknown="ignore", sparse_output=False)) ending in
  MLPClassifier/MLPRegressor(early_stopping=True) or HistGradientBoostingClassifier/Regressor, 5-fold
  cross_val_score (StratifiedKFold for a classification, shuffled, seed 0), and the fit time on all rows.

The default network was chosen on the development tables only (`--choose`: each candidate's 5-fold
cross-validated score, that is its score on rows no fold trained on); the check tables, which played no part in
the choice, say whether it holds elsewhere (`--set check`).

Usage: /usr/bin/python3 bench/tables_bench.py [build/backprop] [--runs N] [--set development|check|all]
       [--flags "--hidden 32 ..."]
       /usr/bin/python3 bench/tables_bench.py [build/backprop] --choose [1,2,3,4] [--sklearn-cache FILE]
       /usr/bin/python3 bench/tables_bench.py [build/backprop] --speed [--runs N] [--set ...] [--before OTHER]
       [--tables NAME,NAME] [--pipelines mlp,hgb]
       /usr/bin/python3 bench/tables_bench.py [build/backprop] --same-folds [--candidates "FLAGS;FLAGS"]
       [--splits N] [--seed S] [--set ...] [--tables NAME,NAME] [--sklearn-cache FILE]

--same-folds: backprop and both pipelines on the same rows (on a small table the split moves a score more than
the gaps judged): scikit-learn's 5-fold splits 0 .. N-1 (default 3) of each table; backprop `train` (--seed S,
default 1, and each candidate's flags; "" is the default) on a CSV of a fold's training rows and `eval` on its
test rows; each candidate's gap to the better pipeline, table by table and on average.

--speed: the speed goal alone, table by table: `backprop train` on every row, the whole process (start, load,
train, save), against each pipeline's `fit` on every row timed inside this Python process (warm: imported,
the table read), interleaved run by run (`--before OTHER`: another build of backprop in the same rounds, run
before this one); the CPU time (user + system: the child's rusage for backprop, process_time for the fit,
which counts every thread of HGB's OpenMP team) and the wall time, medians of N runs (default 7) and their
range, and the pipeline's fit over backprop's process (CPU / wall). `--pipelines mlp` leaves HGB out (its
OpenMP team makes its fit take seconds on a loaded machine of 2 cores); `--tables` picks tables of the set.
"""
import json
import os
import resource
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
DEVELOPMENT = [
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
CHECK = [
    ("BEPS", "vote", "classification"),
    ("CES11", "abortion", "classification"),
    ("Greene", "decision", "classification"),
    ("KosteckiDillon", "headache", "classification"),
    ("WVS", "poverty", "classification"),
    ("Davis", "sex", "classification"),
    ("UN", "infantMortality", "regression"),
    ("Ornstein", "interlocks", "regression"),
]
# The candidates --choose compares, in three rounds, each written in full over the defaults that no flag names
# (AdamW 0.003, weight decay 1e-4, batch 32, dropout 0, early stopping 20). 1: the first default (64-32) and
# one change at a time around it, on the development tables;
# 2: combinations of the changes that helped there; 3: the finalists of rounds 1 and 2 on every table (the
# check tables' cross-validated scores are validation data too: more tables, less chance in the choice); 4:
# more dropout, the change that helped most in round 3.
ROUNDS = {"1": [
    ["--hidden", "64,32"],
    ["--hidden", "32"],
    ["--hidden", "128,64"],
    ["--hidden", "32,16"],
    ["--hidden", "64,32", "--learning-rate", "0.001"],
    ["--hidden", "64,32", "--learning-rate", "0.01"],
    ["--hidden", "64,32", "--weight-decay", "0.01"],
    ["--hidden", "64,32", "--weight-decay", "0.1"],
    ["--hidden", "64,32", "--dropout", "0.1"],
    ["--hidden", "64,32", "--dropout", "0.3"],
    ["--hidden", "64,32", "--early-stopping", "40"],
    ["--hidden", "64,32", "--batch-size", "64"],
    ["--hidden", "64,32", "--batch-size", "16"],
], "2": [
    ["--hidden", "16"],
    ["--hidden", "64"],
    ["--hidden", "32", "--learning-rate", "0.001"],
    ["--hidden", "32", "--batch-size", "16"],
    ["--hidden", "32", "--dropout", "0.1"],
    ["--hidden", "64", "--learning-rate", "0.001"],
    ["--hidden", "32", "--learning-rate", "0.001", "--batch-size", "16"],
    ["--hidden", "64,32", "--learning-rate", "0.001", "--batch-size", "16"],
], "3": [
    ["--hidden", "64,32"],
    ["--hidden", "32"],
    ["--hidden", "32", "--dropout", "0.1"],
    ["--hidden", "64,32", "--learning-rate", "0.001"],
    ["--hidden", "64,32", "--learning-rate", "0.001", "--batch-size", "16"],
    ["--hidden", "64,32", "--dropout", "0.1"],
], "4": [
    ["--hidden", "64,32", "--dropout", "0.2"],
    ["--hidden", "128,64", "--dropout", "0.2"],
    ["--hidden", "64,32", "--dropout", "0.1", "--weight-decay", "0.01"],
]}
ROUND_TABLES = {"1": DEVELOPMENT, "2": DEVELOPMENT, "3": DEVELOPMENT + CHECK, "4": DEVELOPMENT + CHECK}


def write_tables(folder, tables):
    names = ", ".join('"%s"' % t[0] for t in tables)
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
                               OneHotEncoder(handle_unknown="ignore", sparse_output=False)), text)])
    return make_pipeline(prepare, final)


def pipeline_final(name, task):
    """The pipelines' last step: "mlp" or "hgb"."""
    if name == "mlp":
        return (MLPClassifier if task == "classification" else MLPRegressor)(
            early_stopping=True, max_iter=500, random_state=0)
    return (HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor)(
        random_state=0)


def sklearn_scores(path, target, task):
    frame = pd.read_csv(path)
    frame = frame[frame[target].notna()]
    y = frame[target].astype(str) if task == "classification" else frame[target]
    x = frame.drop(columns=[target])
    folds = (StratifiedKFold if task == "classification" else KFold)(5, shuffle=True, random_state=0)
    out = {}
    for name in ("mlp", "hgb"):
        pipeline = sklearn_pipeline(frame, target, task, pipeline_final(name, task))
        scores = cross_val_score(pipeline, x, y, cv=folds, scoring="accuracy" if task == "classification" else "r2")
        start = time.perf_counter()
        pipeline.fit(x, y)
        out[name] = (float(np.mean(scores)), time.perf_counter() - start)
    return out


def backprop_cv(binary, path, target, flags, seed=None):
    command = [binary, "cv", "--data", path, "--target", target, "--folds", "5", "--json", "--quiet"] + flags
    if seed is not None:
        command += ["--seed", str(seed)]
    mean = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)["mean"]
    return mean["accuracy"] if "accuracy" in mean else mean["r2"]


def backprop_scores(binary, path, target, folder, flags):
    score = backprop_cv(binary, path, target, flags)
    start = time.perf_counter()
    subprocess.run([binary, "train", "--data", path, "--target", target, "--out", os.path.join(folder, "m.model"),
                    "--quiet"] + flags, check=True, capture_output=True)
    return score, time.perf_counter() - start


def child_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_train(binary, path, target, folder, flags):
    """(CPU s, wall s) of one `backprop train` process on every row."""
    cpu, wall = child_cpu(), time.perf_counter()
    subprocess.run([binary, "train", "--data", path, "--target", target, "--out", os.path.join(folder, "m.model"),
                    "--quiet"] + flags, check=True, capture_output=True)
    return child_cpu() - cpu, time.perf_counter() - wall


def timed_fits(path, target, task, pipelines):
    """{"mlp": (CPU s, wall s), "hgb": ...}: each pipeline's fit on every row, in this process."""
    frame = pd.read_csv(path)
    frame = frame[frame[target].notna()]
    y = frame[target].astype(str) if task == "classification" else frame[target]
    x = frame.drop(columns=[target])
    out = {}
    for name in pipelines:
        pipeline = sklearn_pipeline(frame, target, task, pipeline_final(name, task))
        cpu, wall = time.process_time(), time.perf_counter()
        pipeline.fit(x, y)
        out[name] = (time.process_time() - cpu, time.perf_counter() - wall)
    return out


def spread(values, scale=1000.0):
    if not values:
        return "-"
    return "%.1f (%.1f-%.1f)" % (statistics.median(values) * scale, min(values) * scale, max(values) * scale)


def speed(binary, before, tables, runs, flags, pipelines=("mlp", "hgb")):
    """The whole process of `backprop train` against the pipelines' fit, table by table, interleaved."""
    builds = ([("before", before)] if before else []) + [("backprop", binary)]
    print("| table | rows | %s | MLP fit CPU ms | HGB fit CPU ms | %s | MLP fit wall ms | HGB fit wall ms "
          "| MLP fit / backprop, CPU (wall) | faster fit / backprop, CPU (wall) |" % (
              " | ".join("%s CPU ms" % name for name, _ in builds), " | ".join("%s wall ms" % name for name, _ in builds)))
    print("| --- | ---: |" + " ---: |" * (2 * len(builds) + 6))
    with tempfile.TemporaryDirectory() as folder:
        write_tables(folder, tables)
        for name, target, task in tables:
            path = os.path.join(folder, name + ".csv")
            rows = sum(1 for _ in open(path)) - 1
            ours = {label: [] for label, _ in builds}
            theirs = {"mlp": [], "hgb": []}
            for _ in range(runs):
                for label, build in builds:
                    ours[label].append(timed_train(build, path, target, folder, flags))
                for final, measured in timed_fits(path, target, task, pipelines).items():
                    theirs[final].append(measured)
            median = lambda values, i: statistics.median(v[i] for v in values)
            mine = ours["backprop"]
            faster = min(pipelines, key=lambda f: median(theirs[f], 1))
            print("| %s | %d | %s | %s | %s | %s | %s | %s | %.1fx (%.1fx) | %.1fx (%.1fx) |" % (
                name, rows, " | ".join(spread([v[0] for v in ours[label]]) for label, _ in builds),
                spread([v[0] for v in theirs["mlp"]]), spread([v[0] for v in theirs["hgb"]]),
                " | ".join(spread([v[1] for v in ours[label]]) for label, _ in builds),
                spread([v[1] for v in theirs["mlp"]]), spread([v[1] for v in theirs["hgb"]]),
                median(theirs["mlp"], 0) / median(mine, 0), median(theirs["mlp"], 1) / median(mine, 1),
                median(theirs[faster], 0) / median(mine, 0), median(theirs[faster], 1) / median(mine, 1)),
                flush=True)


def sklearn_best(tables, folder, cache):
    """The better pipeline's score on each table, from the cache file where it has them (the pipelines are
    deterministic: random_state 0), else computed and added to it."""
    known = json.load(open(cache)) if cache and os.path.exists(cache) else {}
    for name, target, task in tables:
        if name not in known:
            theirs = sklearn_scores(os.path.join(folder, name + ".csv"), target, task)
            known[name] = max(theirs["mlp"][0], theirs["hgb"][0])
    if cache:
        json.dump(known, open(cache, "w"))
    return [known[name] for name, _, _ in tables]


def choose(binary, rounds, cache, seeds=(1, 2, 3)):
    """Each candidate's cross-validated score, averaged over seeds, against the better scikit-learn pipeline of
    each table: the mean gap and the worst table's gap."""
    print("| round | candidate | mean score | mean gap to the better pipeline | worst gap | worst table |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for r in rounds:
        tables = ROUND_TABLES[r]
        with tempfile.TemporaryDirectory() as folder:
            write_tables(folder, tables)
            best = sklearn_best(tables, folder, cache)
            for flags in ROUNDS[r]:
                scores = [statistics.mean(backprop_cv(binary, os.path.join(folder, name + ".csv"), target, flags, seed)
                                          for seed in seeds) for name, target, _ in tables]
                gaps = [score - b for score, b in zip(scores, best)]
                worst = min(range(len(gaps)), key=lambda i: gaps[i])
                print("| %s | %s | %.4f | %+.4f | %+.4f | %s |" % (r, " ".join(flags), np.mean(scores), np.mean(gaps),
                                                                   gaps[worst], tables[worst][0]), flush=True)


def split_rows(path, target, task, split):
    """The rows of each fold of scikit-learn's 5-fold split `split` (StratifiedKFold for a classification,
    shuffled, random_state=split) of the rows whose target is present: [(training rows, test rows)]."""
    frame = pd.read_csv(path)
    frame = frame[frame[target].notna()]
    y = frame[target].astype(str) if task == "classification" else frame[target]
    folds = (StratifiedKFold if task == "classification" else KFold)(5, shuffle=True, random_state=split)
    return frame, y, [(frame.index[train], frame.index[test]) for train, test in folds.split(frame, y)]


def write_rows(lines, rows, path):
    """The CSV's header and the given records, as the file wrote them (one record per line: R's write.csv)."""
    with open(path, "w") as out:
        out.write(lines[0])
        out.writelines(lines[1 + r] for r in rows)


def same_folds(binary, tables, candidates, splits, cache, seed=1):
    """Each candidate and both pipelines on the same folds: scikit-learn's 5-fold splits 0, 1, ... of each
    table, backprop as `train` on a CSV of a fold's training rows (its recipe and network inferred there, as
    `cv` does) and `eval` on its test rows; the pipelines fitted on the same rows (their scores cached in FILE).
    Prints each candidate's mean score, mean gap to the better pipeline and its gap on each table."""
    known = json.load(open(cache)) if cache and os.path.exists(cache) else {}
    with tempfile.TemporaryDirectory() as folder:
        write_tables(folder, tables)
        best, scores = [], {" ".join(flags): [] for flags in candidates}
        for name, target, task in tables:
            path = os.path.join(folder, name + ".csv")
            lines = open(path).readlines()
            theirs, ours = {"mlp": [], "hgb": []}, {key: [] for key in scores}
            for split in splits:
                frame, y, folds = split_rows(path, target, task, split)
                assert len(lines) == len(pd.read_csv(path)) + 1, name
                for fold, (train, test) in enumerate(folds):
                    write_rows(lines, train, os.path.join(folder, "train.csv"))
                    write_rows(lines, test, os.path.join(folder, "test.csv"))
                    for key in scores:
                        model = os.path.join(folder, "fold.model")
                        subprocess.run([binary, "train", "--data", os.path.join(folder, "train.csv"), "--target", target,
                                        "--task", task, "--out", model, "--quiet", "--seed", str(seed)] + key.split(),
                                       check=True, capture_output=True)
                        figures = json.loads(subprocess.run(
                            [binary, "eval", model, "--data", os.path.join(folder, "test.csv"), "--target", target,
                             "--json"], check=True, capture_output=True, text=True).stdout)
                        ours[key].append(figures["accuracy"] if task == "classification" else figures["r2"])
                    entry = "%s/%d/%d" % (name, split, fold)
                    if entry not in known:
                        x = frame.drop(columns=[target])
                        known[entry] = {}
                        for final in ("mlp", "hgb"):
                            pipeline = sklearn_pipeline(frame, target, task, pipeline_final(final, task))
                            pipeline.fit(x.loc[train], y.loc[train])
                            known[entry][final] = float(pipeline.score(x.loc[test], y.loc[test]))
                    for final in ("mlp", "hgb"):
                        theirs[final].append(known[entry][final])
            best.append(max(np.mean(theirs["mlp"]), np.mean(theirs["hgb"])))
            for key in scores:
                scores[key].append(np.mean(ours[key]))
            print("%s: MLP %.4f, HGB %.4f; %s" % (name, np.mean(theirs["mlp"]), np.mean(theirs["hgb"]), ", ".join(
                "%s %+.4f" % (key or "(default)", scores[key][-1] - best[-1]) for key in scores)), flush=True)
            if cache:
                json.dump(known, open(cache, "w"))
    print("\n| candidate | mean score | mean gap to the better pipeline | worst gap | tables below -0.03 |")
    print("| --- | ---: | ---: | ---: | --- |")
    for key, values in scores.items():
        gaps = [v - b for v, b in zip(values, best)]
        below = ", ".join("%s %+.4f" % (t[0], g) for t, g in zip(tables, gaps) if g < -0.03) or "none"
        print("| %s | %.4f | %+.4f | %+.4f | %s |" % (key or "(the default)", np.mean(values), np.mean(gaps), min(gaps),
                                                     below), flush=True)


def option(name, default):
    at = sys.argv.index(name) + 1 if name in sys.argv else len(sys.argv)
    return sys.argv[at] if at < len(sys.argv) and not sys.argv[at].startswith("--") else default


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "build/backprop"
    if "--same-folds" in sys.argv:
        tables = {"development": DEVELOPMENT, "check": CHECK, "all": DEVELOPMENT + CHECK}[option("--set", "all")]
        picked = option("--tables", None)
        tables = [t for t in tables if picked is None or t[0] in picked.split(",")]
        # Its value may begin with "--" (a candidate's flags), so it is taken as it stands.
        given = sys.argv[sys.argv.index("--candidates") + 1] if "--candidates" in sys.argv else ""
        candidates = [c.split() for c in given.split(";")]
        splits = range(int(option("--splits", "3")))
        same_folds(binary, tables, candidates, splits, option("--sklearn-cache", None), int(option("--seed", "1")))
        return
    if "--choose" in sys.argv:
        choose(binary, option("--choose", "1,2,3,4").split(","), option("--sklearn-cache", None))
        return
    tables = {"development": DEVELOPMENT, "check": CHECK, "all": DEVELOPMENT + CHECK}[option("--set", "all")]
    flags = option("--flags", "").split()
    if "--speed" in sys.argv:
        picked = option("--tables", None)
        tables = [t for t in tables if picked is None or t[0] in picked.split(",")]
        speed(binary, option("--before", None), tables, int(option("--runs", "7")), flags,
              tuple(option("--pipelines", "mlp,hgb").split(",")))
        return
    runs = int(option("--runs", "3"))
    print("| table | rows | task | backprop | sklearn MLP | sklearn HGB | backprop - best | train s (median) "
          "| MLP fit s | HGB fit s | speed vs faster sklearn |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    gaps, ours, mlps, hgbs = [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        write_tables(folder, tables)
        for name, target, task in tables:
            path = os.path.join(folder, name + ".csv")
            rows = sum(1 for _ in open(path)) - 1
            measured = [backprop_scores(binary, path, target, folder, flags) for _ in range(runs)]
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
