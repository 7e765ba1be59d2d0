#!/usr/bin/env bash
# Data-parallel training throughput (docs/distributed.md): the Fashion-MNIST MLP of fashion-mnist-sgd.json
# (784-256-128-10, batch 128), one process and 1..N ranks of one thread each, with and without
# --deterministic; prints each run's epoch lines (samples/s) and the time in the gradient allreduce.
#   bench/data-parallel.sh [BACKPROP] [MAX_RANKS] [EPOCHS]
set -euo pipefail
backprop=${1:-build/backprop}
max_ranks=${2:-2}
epochs=${3:-2}
D=/usr/share/datasets/fashion-mnist
net=$(dirname "$0")/fashion-mnist-sgd.json
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
args=(train "$net" --data $D/train-images-idx3-ubyte.gz --labels $D/train-labels-idx1-ubyte.gz --epochs "$epochs"
      --threads 1 --out "$out/m.model")
for deterministic in "" --deterministic; do
  echo "== one process, 1 thread ${deterministic}"
  "$backprop" "${args[@]}" $deterministic | tr '\r' '\n' | grep -aoE 'epoch [0-9]+/[0-9]+  loss.*'
  for n in $(seq 1 "$max_ranks"); do
    echo "== $n ranks x 1 thread ${deterministic}"
    mpirun --oversubscribe --allow-run-as-root -np "$n" "$backprop" "${args[@]}" $deterministic |
      tr '\r' '\n' | grep -aoE 'epoch [0-9]+/[0-9]+  loss.*|data parallel: .*'
  done
done
