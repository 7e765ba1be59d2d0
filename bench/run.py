#!/usr/bin/env python3
"""The project's benchmark: backprop beside its peers (PyTorch, FANN), measured in the same run on the
same machine, medians of several runs. It prints; it never passes or fails.

    sudo apt-get install -y python3-torch libfann-dev dataset-fashion-mnist   # the peers and the data
    /usr/bin/python3 bench/run.py [--repeat 3] [--quick]                      # after building build/backprop

Jobs (../shared/peers/ holds the peer programs; this script builds the C ones into build/peers/):
  fmnist-train-bB  Fashion-MNIST MLP 784-256-128-10, ReLU, softmax_ce, SGD momentum 0.9, batch B:
                   training samples/s through `backprop train` (the epoch time from --log) against
                   PyTorch's best setting (torch threads 1 or 2 x OPENBLAS_NUM_THREADS 1 or 2; the best is
                   named); at batch 128 also one core against one core (both pinned with taskset), backprop's
                   2 threads against its 1, the inputs standardized (--scale standard, its runs taken between
                   those of pixels in [0, 1]), OPENBLAS_CORETYPE=Haswell against unset, and at batch 32 the default
                   thread count against --threads 1. Both sides scale the pixels to [0, 1] otherwise (zeros stay zeros).
  seed-net         the tutorial's 4-2-3-1 sigmoid network, one sample per SGD update, through
                   `backprop train --batch-size 1` on a CSV, against FANN's fann_train; and the floor:
                   bench/seed_floor.cpp, the same step written out by hand (parameters in registers),
                   the most a per-sample program can reach on the machine.
  seed-net-data    the same network on a 1,000,000-row random CSV shuffled every epoch, backprop's default options,
                   against ../shared/peers/fann_seed_data.c on the same file.
  seed-net one-row  the fused one-row step against backprop's own general CPU step, both through train()
                   (bench/row_step.cpp, built as build/bench_row_step): whether the fused step earns its place.
  infer-b1 / -b1024  inference of the same MLP through the C++ API (`backprop bench`) against PyTorch.
  step phases      the batch-128 step taken apart (build/bench_step_phases): microseconds of each phase, and the
                   step's GFLOP/s against this core's fused multiply-add peak (1 and 2 threads).
  load-t10k        reading the gzip-compressed Fashion-MNIST test set and one pass over it (`backprop eval`), and
                   its CPU time against the same with OPENBLAS_NUM_THREADS=1 (no OpenBLAS thread spinning).
  peak-memory      peak RSS of one Fashion-MNIST training epoch, against PyTorch's.
  time-to-0.90     the README's main job (examples/fashion-mnist.json) against ../shared/peers/torch_recipe.py
                   15 0.2, each over seeds 1, 2, 3: mean test accuracy and the whole-process wall time.
Before and after the jobs it runs bench/two_cores.cpp: 2-thread figures mean little when it says SHARED.
The header names the CPU (model, family, vector extensions) and the level of backprop's products: BACKPROP_CPU=avx2
on a CPU with AVX-512 stands for an AVX2 CPU, the peer held to AVX2 too (PEER_ENV below). --b128-only runs the
batch-128 training rows alone. Run it with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (env -u), for both sides.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.normpath(os.path.join(ROOT, "..", "shared", "peers"))
BACKPROP = os.path.join(ROOT, "build", "backprop")
DATA = "/usr/share/datasets/fashion-mnist"
TRAIN_IMAGES = f"{DATA}/train-images-idx3-ubyte.gz"
TRAIN_LABELS = f"{DATA}/train-labels-idx1-ubyte.gz"
TEST_IMAGES = f"{DATA}/t10k-images-idx3-ubyte.gz"
TEST_LABELS = f"{DATA}/t10k-labels-idx1-ubyte.gz"
PYTHON = "/usr/bin/python3"


def run(command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs).stdout


VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "bmi2", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_vnni",
                "avx512_bf16", "avx512_fp16", "amx_tile")


def amd_core(cpuinfo, family, number):
    """AMD's core generation from the family and model numbers (a virtual machine's model name is often just "AMD
    EPYC"): family 25 is Zen 3 or Zen 4 by model, 26 Zen 5, 23 Zen 1 or 2."""
    if "AuthenticAMD" not in cpuinfo:
        return ""
    if family == 25:
        return ", Zen 4" if 0x10 <= number <= 0x1F or 0x60 <= number <= 0x7F or 0xA0 <= number <= 0xAF else ", Zen 3"
    return {26: ", Zen 5", 23: ", Zen 1 or 2"}.get(family, "")


def machine():
    """The CPU's model, family and model numbers, and its vector extensions (those the products' levels use and
    the peers' libraries may pick)."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        model = re.search(r"model name\s*:\s*(.*)", text).group(1).strip()
        family = re.search(r"cpu family\s*:\s*(\d+)", text).group(1)
        number = re.search(r"^model\s*:\s*(\d+)", text, re.M).group(1)
        flags = re.search(r"flags\s*:\s*(.*)", text).group(1).split()
        simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
        extensions = " ".join(f for f in VECTOR_FLAGS if f in flags)
        core = amd_core(text, int(family), int(number))
        model = f"{model} (family {family} model {number}{core}, {simd}; vector extensions: {extensions})"
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores, {model}"


# The level backprop's products run at (BACKPROP_CPU, src/base/cpu_level.cpp: avx512, avx2, baseline; unset,
# the widest the CPU has). Forced to avx2 on a CPU with AVX-512, the run stands for an AVX2 CPU: backprop holds its
# own oneDNN to AVX2, and the peer is held the same way (its OpenBLAS to the kernels it picks on a Zen 3 or a
# Haswell, its oneDNN and ATen to AVX2), so that neither side uses AVX-512.
FORCED = os.environ.get("BACKPROP_CPU", "")
ONEDNN_ISA = os.environ.get("ONEDNN_MAX_CPU_ISA", "")
PEER_ENV = {}
# BACKPROP_CPU=baseline with ONEDNN_MAX_CPU_ISA=AVX2 is the code before the AVX2 tiles on an AVX2 CPU (no skipping,
# oneDNN's AVX2 kernels): the peer is held to AVX2 then too.
if FORCED == "avx2" or ONEDNN_ISA.upper() == "AVX2":
    amd = "AuthenticAMD" in open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else False
    PEER_ENV = {"OPENBLAS_CORETYPE": "Zen" if amd else "Haswell", "ONEDNN_MAX_CPU_ISA": "AVX2",
                "ATEN_CPU_CAPABILITY": "avx2"}


def level_line():
    if not FORCED and not ONEDNN_ISA:
        return "level: the widest the CPU has (BACKPROP_CPU unset)"
    peer = ", ".join(f"{k}={v}" for k, v in PEER_ENV.items()) or "as it is"
    onednn = f", ONEDNN_MAX_CPU_ISA={ONEDNN_ISA}" if ONEDNN_ISA else ""
    return f"level: BACKPROP_CPU={FORCED} (forced){onednn}; the peer: {peer}"


# One thread is taken on one core (taskset -c 0), so that no helper thread of either side runs beside it.
PIN = ["taskset", "-c", "0"] if shutil.which("taskset") else []


def backprop_epoch_samples_per_second(network, batch, threads, epochs, extra=(), env=None):
    """threads None: backprop's default (no --threads); 1: pinned to one core."""
    with tempfile.TemporaryDirectory() as folder:
        log = os.path.join(folder, "log.jsonl")
        thread_option = [] if threads is None else ["--threads", str(threads)]
        run([*(PIN if threads == 1 else []), BACKPROP, "train", network, "--data", TRAIN_IMAGES, "--labels",
             TRAIN_LABELS, "--epochs", str(epochs), "--batch-size", str(batch), *thread_option, "--log", log, "--quiet",
             "--out", os.path.join(folder, "m.model"), *extra], env=env)
        seconds = [json.loads(line)["seconds"] for line in open(log)]
    return 60000 / statistics.median(seconds)


def torch_training(batch, threads, epochs, blas_threads=None):
    """torch.set_num_threads(threads), OPENBLAS_NUM_THREADS=blas_threads (default: threads); one and one is pinned."""
    blas_threads = blas_threads or threads
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas_threads), **PEER_ENV)
    pin = PIN if threads == 1 and blas_threads == 1 else []
    out = run([*pin, PYTHON, os.path.join(PEERS, "torch_fmnist.py"), str(threads), str(batch), str(epochs)], env=env)
    rates = [float(x) for x in re.findall(r"samples/s=(\d+)", out)]
    return statistics.median(rates)


def seed_net_backprop(updates_per_epoch=1000, epochs=2000):
    with tempfile.TemporaryDirectory() as folder:
        csv = os.path.join(folder, "seed.csv")
        with open(csv, "w") as f:
            f.write("x1,x2,x3,x4,y\n" + "1,2,3,4,1\n" * updates_per_epoch)
        log = os.path.join(folder, "log.jsonl")
        run([BACKPROP, "train", os.path.join(ROOT, "bench", "seed-net.json"), "--data", csv, "--epochs", str(epochs),
             "--threads", "1", "--log", log, "--quiet", "--out", os.path.join(folder, "s.model")])
        seconds = [json.loads(line)["seconds"] for line in open(log)]
    return updates_per_epoch / statistics.median(seconds)


def build_fann():
    folder = os.path.join(ROOT, "build", "peers")
    os.makedirs(folder, exist_ok=True)
    binary = os.path.join(folder, "fann_seed")
    run(["gcc", "-O3", "-march=native", os.path.join(PEERS, "fann_seed.c"), "-lfloatfann", "-lm", "-o", binary])
    return binary


def build_seed_floor():
    binary = os.path.join(ROOT, "build", "peers", "seed_floor")
    os.makedirs(os.path.dirname(binary), exist_ok=True)
    run(["g++", "-O3", "-march=native", os.path.join(ROOT, "bench", "seed_floor.cpp"), "-o", binary])
    return binary


def two_cores_check():
    """bench/two_cores.cpp's verdict: are the 2 vCPUs 2 cores right now? (None when it cannot be built.)"""
    binary = os.path.join(ROOT, "build", "peers", "two_cores")
    os.makedirs(os.path.dirname(binary), exist_ok=True)
    include = next((d for d in ("/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas")
                    if os.path.exists(os.path.join(d, "cblas.h"))), "/usr/include")
    try:
        source = os.path.join(ROOT, "bench", "two_cores.cpp")
        if not os.path.exists(binary) or os.path.getmtime(binary) < os.path.getmtime(source):
            run(["g++", "-O2", "-std=c++17", f"-I{include}", source,
                 "-lopenblas", "-lpthread", "-o", binary])
        return run([binary]).strip()
    except (subprocess.CalledProcessError, OSError):
        return None


def peak_rss_kb(command):
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *command], check=True, capture_output=True, text=True)
    return int(out.stderr.strip().splitlines()[-1])


# The peer of "time to 0.90": ../shared/peers/torch_recipe.py with its torch.manual_seed(0) replaced by the seed
# asked for (the script itself is left as it is), so that both sides are measured over the same three seeds.
TORCH_RECIPE_WITH_SEED = """
import runpy, sys, torch
seed = int(sys.argv[1])
sys.argv = sys.argv[2:]  # the recipe's own: its path, EPOCHS, DROPOUT
real_manual_seed = torch.manual_seed
torch.manual_seed = lambda _ignored: real_manual_seed(seed)
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def wall_seconds(command, env=None):
    started = datetime.datetime.now()
    out = run(command, env=env)
    return (datetime.datetime.now() - started).total_seconds(), out


def time_to_accuracy(seeds=(1, 2, 3)):
    """The README's main job (examples/fashion-mnist.json) against torch_recipe.py: each side's mean test accuracy
    over the same seeds, and the median whole-process wall time (start, load, train, save or evaluate)."""
    main_job = json.load(open(os.path.join(ROOT, "examples", "fashion-mnist.json")))
    ours_acc, ours_sec, theirs_acc, theirs_sec = [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            main_job["seed"] = seed
            network = os.path.join(folder, f"net{seed}.json")
            json.dump(main_job, open(network, "w"))
            model = os.path.join(folder, f"m{seed}.model")
            seconds, _ = wall_seconds([BACKPROP, "train", network, "--data", TRAIN_IMAGES, "--labels", TRAIN_LABELS,
                                       "--quiet", "--out", model])
            ours_sec.append(seconds)
            out = run([BACKPROP, "eval", model, "--data", f"{DATA}/t10k-images-idx3-ubyte.gz", "--labels",
                       f"{DATA}/t10k-labels-idx1-ubyte.gz", "--json"])
            ours_acc.append(json.loads(out)["accuracy"])
            recipe = os.path.join(PEERS, "torch_recipe.py")
            seconds, out = wall_seconds([PYTHON, "-c", TORCH_RECIPE_WITH_SEED, str(seed), recipe, "15", "0.2"],
                                        env=dict(os.environ, **PEER_ENV))
            theirs_sec.append(seconds)
            theirs_acc.append(float(re.search(r"test_acc=([\d.]+)", out).group(1)))
    return ours_acc, statistics.median(ours_sec), theirs_acc, statistics.median(theirs_sec)


def seed_net_on_data(have_fann, rows=1_000_000, epochs=4):
    """The seed network, one sample per update, on a CSV of `rows` random rows shuffled every epoch, with
    backprop's default options (no --threads), against ../shared/peers/fann_seed_data.c on the same file: the
    median updates/s of epochs 2.. on both sides (a data set that does not sit in L1, unlike seed-net's)."""
    with tempfile.TemporaryDirectory() as folder:
        csv = os.path.join(folder, "seed-data.csv")
        import random
        generator = random.Random(1)
        with open(csv, "w") as f:
            f.write("x1,x2,x3,x4,y\n")
            for _ in range(rows):
                x = [generator.uniform(0, 4) for _ in range(4)]
                f.write(",".join(f"{v:.4f}" for v in x) + f",{generator.random():.4f}\n")
        log = os.path.join(folder, "log.jsonl")
        run([BACKPROP, "train", os.path.join(ROOT, "bench", "seed-net.json"), "--data", csv, "--epochs", str(epochs),
             "--log", log, "--quiet", "--out", os.path.join(folder, "s.model")])
        seconds = [json.loads(line)["seconds"] for line in open(log)][1:]
        ours = rows / statistics.median(seconds)
        theirs = None
        if have_fann:
            binary = os.path.join(folder, "fann_seed_data")
            run(["gcc", "-O3", "-march=native", os.path.join(PEERS, "fann_seed_data.c"), "-lfloatfann", "-lm", "-o",
                 binary])
            out = run([binary, csv, str(epochs)])
            theirs = float(re.search(r"([\d.]+) updates/s", out).group(1))
    return ours, theirs


def main():
    global BACKPROP
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is shown)")
    parser.add_argument("--quick", action="store_true", help="batch 128 only, fewer epochs")
    parser.add_argument("--backprop", default=BACKPROP,
                        help="the backprop command to measure (another build's, for a before/after pair)")
    parser.add_argument("--b128-only", action="store_true",
                        help="the batch-128 training rows alone (2 threads, one core, 2 against 1, standardized)")
    args = parser.parse_args()
    BACKPROP = os.path.abspath(args.backprop)
    if not os.path.exists(BACKPROP):
        sys.exit(f"build backprop first: {BACKPROP} is missing")
    have_torch = subprocess.run([PYTHON, "-c", "import torch"], capture_output=True).returncode == 0
    have_fann = os.path.exists("/usr/include/floatfann.h")
    median = lambda f: statistics.median(f() for _ in range(args.repeat))

    def median_by_threads(*jobs):
        """For each job, medians for 1 and 2 threads, the runs taken in turn (1, 2, 1, 2, ...; with two jobs, the
        first's 1, the second's 1, the first's 2, ...) so that a contended or faster minute on this shared machine
        falls on every setting and job rather than on all the runs of one: the one-core figures of pixels in [0, 1]
        and of standardized inputs were once taken minutes apart, and their ratio said more about the host's drift
        than about the job (docs/performance.md, "Honest AVX2 copies")."""
        runs = [{1: [], 2: []} for _ in jobs]
        for _ in range(args.repeat):
            for t in (1, 2):
                for job, job_runs in zip(jobs, runs):
                    job_runs[t].append(job(t))
        medians = [{t: statistics.median(v) for t, v in job_runs.items()} for job_runs in runs]
        return medians[0] if len(jobs) == 1 else medians
    rows = []
    cores_before = two_cores_check()

    network = os.path.join(ROOT, "bench", "fashion-mnist-sgd.json")
    epochs = 2 if args.quick else 3
    # PyTorch's settings: torch threads 1 or 2, each with OPENBLAS_NUM_THREADS 1 or 2; the best is its figure.
    torch_settings = [(1, 1), (1, 2), (2, 1), (2, 2)]
    for batch in ([128] if args.quick or args.b128_only else [32, 128, 512]):
        pixels = lambda t: backprop_epoch_samples_per_second(network, batch, t, epochs)
        # At batch 128 the same job with the inputs standardized, its runs taken between these.
        standardized = lambda t: backprop_epoch_samples_per_second(network, batch, t, epochs,
                                                                   extra=["--scale", "standard"])
        if batch == 128:
            ours, dense = median_by_threads(pixels, standardized)
        else:
            ours = median_by_threads(pixels)
        best_threads = max(ours, key=ours.get)
        peer, note = None, "python3-torch missing"
        if have_torch:
            theirs = {}
            for _ in range(args.repeat):
                for setting in torch_settings:
                    theirs.setdefault(setting, []).append(torch_training(batch, setting[0], epochs, setting[1]))
            theirs = {k: statistics.median(v) for k, v in theirs.items()}
            best = max(theirs, key=theirs.get)
            peer = theirs[best]
            note = (f"PyTorch best: {best[0]} torch thread(s), OPENBLAS_NUM_THREADS={best[1]}; "
                    f"one core {theirs[(1, 1)]:.0f}")
            if batch == 128:
                rows.append(("fmnist-train-b128, one core (samples/s)", ours[1], theirs[(1, 1)],
                             "both pinned to core 0 (taskset), 1 thread each; target 1.5x"))
        rows.append((f"fmnist-train-b{batch} (samples/s)", ours[best_threads], peer,
                     f"backprop {best_threads} thread(s), other {ours[3 - best_threads]:.0f}; {note}"
                     + ("; target 2.0x" if batch == 128 else "")))
        if batch == 128:
            rows.append(("fmnist-train-b128: 2 threads vs 1 pinned", ours[2], ours[1],
                         "backprop against itself; target 1.5x"))
            # The same job with the inputs standardized: their zeros are kept by folding the offset into the first
            # layer (src/train/step.hpp, folded_scaling), the hidden layers' ReLU zeros fall otherwise.
            dense_best = max(dense, key=dense.get)
            rows.append(("fmnist-train-b128, --scale standard (samples/s)", dense[dense_best], peer,
                         f"backprop {dense_best} thread(s), one core {dense[1]:.0f}"
                         + (f" ({dense[1] / theirs[(1, 1)]:.2f}x PyTorch's)" if have_torch else "")
                         + f", {dense[1] / ours[1]:.2f} of pixels in [0, 1] on one core; target 1.5x one core"))
    if args.b128_only:
        print_table(rows, args.repeat, cores_before, two_cores_check())
        return
    # The same figure whatever OpenBLAS is told: the float products are oneDNN's, which reads the CPU itself.
    haswell = dict(os.environ, OPENBLAS_CORETYPE="Haswell")
    told = median(lambda: backprop_epoch_samples_per_second(network, 128, 2, epochs, env=haswell))
    untold = median(lambda: backprop_epoch_samples_per_second(network, 128, 2, epochs))
    rows.append(("fmnist-train-b128, OPENBLAS_CORETYPE=Haswell vs unset", told, untold,
                 "2 threads; target within 10% (0.90-1.10)"))
    # Default options (no --threads) against --threads 1 pinned, on the smallest work per step of the jobs.
    default = median(lambda: backprop_epoch_samples_per_second(network, 32, None, epochs))
    one = median(lambda: backprop_epoch_samples_per_second(network, 32, 1, epochs))
    rows.append(("fmnist-train-b32, default vs --threads 1", default, one,
                 "backprop against itself; target: never below 1.0"))

    ours = median(seed_net_backprop)
    peer, note = None, "libfann-dev missing"
    if have_fann:
        fann = build_fann()
        peer = median(lambda: float(re.search(r"([\d.]+) updates/s", run([fann, "2000000"])).group(1)))
        note = "FANN 2.2 fann_train"
    rows.append(("seed-net per-sample (updates/s)", ours, peer, note + f"; backprop {1e9 / ours:.0f} ns/update"))
    floor_binary = build_seed_floor()
    floor = median(lambda: float(re.search(r"([\d.]+) updates/s", run([floor_binary, "4000000"])).group(1)))
    rows.append(("seed-net floor, hand-written (updates/s)", floor, peer,
                 f"not backprop: the step's arithmetic alone, {1e9 / floor:.0f} ns (bench/seed_floor.cpp)"))
    ours, theirs = seed_net_on_data(have_fann)
    rows.append(("seed-net, 1M-row shuffled CSV (updates/s)", ours, theirs,
                 "backprop default options; FANN fann_seed_data.c, same file; epochs 2-4, median; target 1.5x"))
    # The one-row step against the general CPU step, both through train() (bench/row_step.cpp); the peer
    # column holds the general step, so the ratio is the one-row step's gain.
    row_step_binary = os.path.join(ROOT, "build", "bench_row_step")
    if os.path.exists(row_step_binary):
        outs = [run([row_step_binary]) for _ in range(args.repeat)]
        fused = statistics.median(1e9 / float(re.search(r"one-row step: ([\d.]+)", o).group(1)) for o in outs)
        general = statistics.median(1e9 / float(re.search(r"general CPU step: ([\d.]+)", o).group(1)) for o in outs)
        rows.append(("seed-net one-row step vs general step (updates/s)", fused, general,
                     "peer = backprop's general CPU step through train() (bench/row_step.cpp)"))

    # The step taken apart (bench/step_phases.cpp): its phases, and its rate against this core's FMA peak.
    phases_binary = os.path.join(ROOT, "build", "bench_step_phases")
    if os.path.exists(phases_binary):
        for threads in (1, 2):
            outs = [run([*(PIN if threads == 1 else []), phases_binary, "128", str(threads)]) for _ in range(args.repeat)]
            rates = [float(re.search(r"([\d.]+) GFLOP/s;", o).group(1)) for o in outs]
            peak = statistics.median(float(re.search(r"FMA peak ([\d.]+)", o).group(1)) for o in outs)
            middle = outs[rates.index(statistics.median(rates))] if args.repeat % 2 else outs[0]
            phases = re.search(r"\(us\): (.*); step", middle).group(1)
            rows.append((f"fmnist b128 step, {threads} thread(s) (GFLOP/s)", statistics.median(rates), peak * threads,
                         f"peer = {threads} x this core's FMA peak; dense products' FLOPs (zeros skipped count); "
                         f"phases (us): {phases}"))

    # Both sides on one thread (PyTorch's torch_infer.py sets 1 torch thread; OPENBLAS_NUM_THREADS=1 keeps its
    # OpenBLAS to one too) and the same statistic: torch_infer.py times a loop of passes, a mean.
    bench = lambda batch: json.loads(run([BACKPROP, "bench", network, "--batch", str(batch), "--threads", "1",
                                          "--json"]))[0]
    latency = median(lambda: bench(1)["mean_us"])
    default_bench = lambda: json.loads(run([BACKPROP, "bench", network, "--batch", "1", "--json"]))[0]["mean_us"]
    rows.append(("infer-b1, default vs --threads 1 (us, lower wins)", median(default_bench), latency,
                 "backprop against itself; target: never below 1.0"))
    throughput = median(lambda: 1024 / (bench(1024)["mean_us"] * 1e-6))
    torch_latency = torch_throughput = None
    if have_torch:
        one_thread = dict(os.environ, OPENBLAS_NUM_THREADS="1", **PEER_ENV)
        outs = [run([PYTHON, os.path.join(PEERS, "torch_infer.py")], env=one_thread) for _ in range(args.repeat)]
        torch_latency = statistics.median(float(re.search(r"latency ([\d.]+) us", o).group(1)) for o in outs)
        torch_throughput = statistics.median(float(re.search(r"throughput (\d+)", o).group(1)) for o in outs)
    # Latency: lower is better, so the ratio is peer / ours (above 1: faster than the peer).
    rows.append(("infer-b1 latency (us, lower wins)", latency, torch_latency,
                 "both 1 thread, mean pass; ratio = peer/ours; target 20 us or less"))
    rows.append(("infer-b1024 (samples/s)", throughput, torch_throughput, "both 1 thread, mean pass; target 1.3x"))

    if have_torch and not args.quick:
        ours_acc, ours_sec, theirs_acc, theirs_sec = time_to_accuracy()
        spread = lambda a: f"{statistics.mean(a):.4f} ({min(a):.4f}-{max(a):.4f})"
        rows.append(("time to 0.90: main job vs torch_recipe (s, lower wins)", ours_sec, theirs_sec,
                     f"test accuracy over seeds 1-3: backprop {spread(ours_acc)}, PyTorch {spread(theirs_acc)} "
                     f"(15 epochs, dropout 0.2); whole-process wall time, median; ratio = peer/ours; target 2x"))

    # Reading the gzip-compressed test set (10,000 images) and one pass over it: the load time that
    # IdxLoad.FashionMnistTestSet once asserted (a timing is a benchmark's figure, not a test).
    def load_seconds():
        started = time.perf_counter()
        run([BACKPROP, "eval", network, "--data", TEST_IMAGES, "--labels", TEST_LABELS, "--json"])
        return time.perf_counter() - started
    rows.append(("load + eval t10k, gz (s, lower wins)", median(load_seconds), None, "no peer"))
    # OpenBLAS's start-up threads, stopped as the library opens it (src/kernels/cpu/blas_libraries.cpp): the CPU time
    # of the same command with OpenBLAS told to start none, the ratio ~1.0 when none spins.
    def eval_cpu_seconds(env=None):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run([BACKPROP, "eval", network, "--data", TEST_IMAGES, "--labels", TEST_LABELS, "--json"], env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    no_threads = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    rows.append(("eval t10k CPU time, default vs OPENBLAS_NUM_THREADS=1 (s, lower wins)", median(eval_cpu_seconds),
                 median(lambda: eval_cpu_seconds(no_threads)), "OpenBLAS's start-up threads stopped; target ~1.0"))

    scratch = tempfile.mkdtemp()
    ours_kb = median(lambda: peak_rss_kb([BACKPROP, "train", network, "--data", TRAIN_IMAGES, "--labels", TRAIN_LABELS,
                                          "--epochs", "1", "--quiet", "--out", os.path.join(scratch, "m.model")]))
    shutil.rmtree(scratch)
    torch_kb = median(lambda: peak_rss_kb([PYTHON, os.path.join(PEERS, "torch_fmnist.py"), "1", "128", "1"])) \
        if have_torch else None
    rows.append(("peak memory, 1 epoch (MB, lower wins)", ours_kb / 1024, torch_kb / 1024 if torch_kb else None,
                 "ratio = peer/ours"))

    print_table(rows, args.repeat, cores_before, two_cores_check())


def print_table(rows, repeat, cores_before, cores_after):
    when = datetime.date.today().isoformat()
    print(f"machine: {machine()}, {platform.system()} {platform.release()}; date {when}; medians of {repeat}")
    print(f"{level_line()}; backprop: {BACKPROP}")
    if cores_before:
        print(f"two-core check (bench/two_cores.cpp) before: {cores_before}; after: {cores_after}")
    print(f"{'job':40} {'backprop':>12} {'peer':>12} {'ratio':>7}  notes")
    for job, ours, peer, note in rows:
        lower_wins = "lower wins" in job
        ratio = (peer / ours if lower_wins else ours / peer) if peer else None
        print(f"{job:40} {ours:12.1f} {peer if peer else float('nan'):12.1f} "
              f"{ratio if ratio else float('nan'):7.2f}  {note}")


if __name__ == "__main__":
    main()
