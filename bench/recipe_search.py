#!/usr/bin/env python3
"""The recipe search of docs/performance.md ("Time to a good model"): each candidate trained on 90% of the
Fashion-MNIST training images for seeds 1-3, its validation accuracy printed. The test set is not read.
    /usr/bin/python3 bench/recipe_search.py [BACKPROP] [LETTERS...]
"""
import json, os, subprocess, statistics, sys, tempfile
OUT = tempfile.mkdtemp()
D = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "backprop")
base = json.load(open(os.path.join(ROOT, "examples", "fashion-mnist.json")))
cands = {
  "A cosine lr2e-3 d0.3 e15 (current, fewer epochs)": dict(epochs=15, lr=2e-3, dropout=0.3, schedule={"type": "cosine", "warmup": 1400}),
  "B one_cycle lr2e-3 d0.2 e15": dict(epochs=15, lr=2e-3, dropout=0.2, schedule={"type": "one_cycle"}),
  "C one_cycle lr3e-3 d0.2 e12": dict(epochs=12, lr=3e-3, dropout=0.2, schedule={"type": "one_cycle"}),
  "D one_cycle lr2e-3 d0.3 e15": dict(epochs=15, lr=2e-3, dropout=0.3, schedule={"type": "one_cycle"}),
  "E one_cycle lr4e-3 d0.25 e12": dict(epochs=12, lr=4e-3, dropout=0.25, schedule={"type": "one_cycle"}),
  "F one_cycle lr3e-3 d0.2 e10": dict(epochs=10, lr=3e-3, dropout=0.2, schedule={"type": "one_cycle"}),
  "G one_cycle lr2e-3 d0.2 e13": dict(epochs=13, lr=2e-3, dropout=0.2, schedule={"type": "one_cycle"}),
  "H one_cycle lr2.5e-3 d0.15 e12": dict(epochs=12, lr=2.5e-3, dropout=0.15, schedule={"type": "one_cycle"}),
  "I one_cycle lr2e-3 d0.1 e12": dict(epochs=12, lr=2e-3, dropout=0.1, schedule={"type": "one_cycle"}),
  "J one_cycle lr2e-3 d0.1 e10": dict(epochs=10, lr=2e-3, dropout=0.1, schedule={"type": "one_cycle"}),
  "K one_cycle lr2e-3 d0.0 e10": dict(epochs=10, lr=2e-3, dropout=0.0, schedule={"type": "one_cycle"}),
  "L one_cycle lr2e-3 d0.0 e8": dict(epochs=8, lr=2e-3, dropout=0.0, schedule={"type": "one_cycle"}),
  "M one_cycle lr3e-3 d0.0 e8": dict(epochs=8, lr=3e-3, dropout=0.0, schedule={"type": "one_cycle"}),
  "N one_cycle lr2e-3 d0.0 e6": dict(epochs=6, lr=2e-3, dropout=0.0, schedule={"type": "one_cycle"}),
  "O one_cycle lr2e-3 d0.0 e7": dict(epochs=7, lr=2e-3, dropout=0.0, schedule={"type": "one_cycle"}),
  "P one_cycle lr2e-3 d0.2 e18": dict(epochs=18, lr=2e-3, dropout=0.2, schedule={"type": "one_cycle"}),
  "Q one_cycle lr2e-3 d0.1 e16": dict(epochs=16, lr=2e-3, dropout=0.1, schedule={"type": "one_cycle"}),
  "R one_cycle lr2e-3 d0.3 e18": dict(epochs=18, lr=2e-3, dropout=0.3, schedule={"type": "one_cycle"}),
  # The third round (oneDNN's products, label smoothing added): P again, and P's neighbours with smoothing.
  "S one_cycle lr2e-3 d0.2 e18 ls0.1": dict(epochs=18, lr=2e-3, dropout=0.2, ls=0.1, schedule={"type": "one_cycle"}),
  "T one_cycle lr2e-3 d0.2 e22": dict(epochs=22, lr=2e-3, dropout=0.2, schedule={"type": "one_cycle"}),
  "U one_cycle lr2e-3 d0.2 e22 ls0.1": dict(epochs=22, lr=2e-3, dropout=0.2, ls=0.1, schedule={"type": "one_cycle"}),
  "V one_cycle lr2e-3 d0.1 e16 ls0.1": dict(epochs=16, lr=2e-3, dropout=0.1, ls=0.1, schedule={"type": "one_cycle"}),
  "W one_cycle lr2e-3 d0.2 e18 ls0.05": dict(epochs=18, lr=2e-3, dropout=0.2, ls=0.05, schedule={"type": "one_cycle"}),
  "X one_cycle lr2e-3 d0.3 e22 ls0.1": dict(epochs=22, lr=2e-3, dropout=0.3, ls=0.1, schedule={"type": "one_cycle"}),
  "Y one_cycle lr3e-3 d0.2 e20 ls0.1": dict(epochs=20, lr=3e-3, dropout=0.2, ls=0.1, schedule={"type": "one_cycle"}),
  "Z one_cycle lr2e-3 d0.2 e18 ls0.2": dict(epochs=18, lr=2e-3, dropout=0.2, ls=0.2, schedule={"type": "one_cycle"}),
}
only = sys.argv[2:] 
results = {}
for name, c in cands.items():
    if only and name[0] not in only: continue
    accs = []
    for seed in (1, 2, 3):
        spec = json.loads(json.dumps(base))
        spec["seed"] = seed
        spec["optimizer"]["learning_rate"] = c["lr"]
        spec["training"]["epochs"] = c["epochs"]
        spec["training"]["schedule"] = c["schedule"]
        spec["training"]["validation_split"] = 0.1
        if c.get("ls"): spec["training"]["label_smoothing"] = c["ls"]
        for l in spec["layers"][:-1]: l["dropout"] = c["dropout"]
        f = f"{OUT}/net-{name[0]}-{seed}.json"
        json.dump(spec, open(f, "w"))
        log = f"{OUT}/log-{name[0]}-{seed}.jsonl"
        subprocess.run([B, "train", f, "--data", f"{D}/train-images-idx3-ubyte.gz", "--labels", f"{D}/train-labels-idx1-ubyte.gz",
                        "--quiet", "--log", log, "--out", f"{OUT}/m-{name[0]}-{seed}.model"], check=True)
        last = [json.loads(x) for x in open(log)][-1]
        accs.append(last["validation_accuracy"])
    results[name] = accs
    print(f"{name:50} val acc mean {statistics.mean(accs):.4f}  min {min(accs):.4f} max {max(accs):.4f}  {accs}", flush=True)
