#!/usr/bin/env bash
# Data-parallel training under mpirun (docs/distributed.md), registered with CTest when BACKPROP_WITH_MPI:
#   test_data_parallel.sh BACKPROP_COMMAND MPIEXEC WORK_DIR
# - --deterministic: the models of 1, 2 and 3 ranks are byte-identical to a plain single-process run, with
#   class weights too;
# - without it: one rank under mpirun is byte-identical to a plain run (the same code path), and 2 and 3
#   ranks predict within 1e-4 of it (float sums in another order);
# - only rank 0 writes the log;
# - a rank that cannot read its data ends every rank, exit code 2, with one message; ranks with other
#   data are refused at start;
# - batch_norm: the whole batch's statistics on any number of ranks (2 and 3 within 1e-4 of one process; with
#   --deterministic byte-identical to it), a batch without a row for every rank refused.
set -euo pipefail
backprop=$1
mpiexec=$2
work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
mpirun() { "$mpiexec" --oversubscribe --allow-run-as-root -np "$@"; }
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

# 203 rows (not a multiple of the batch, whose last batch of 3 rows is smaller than the 8-row chunks and
# than 2 ranks x 2), 4 features, 3 classes.
awk 'BEGIN { srand(7); print "a,b,c,d,label";
  for (i = 0; i < 203; i++) { a = 2*rand()-1; b = 2*rand()-1; c = 2*rand()-1; d = 2*rand()-1;
    y = (a*b + 0.5*c - 0.3*d > 0) ? "p" : (c > 0.3 ? "q" : "r");
    printf "%.4f,%.4f,%.4f,%.4f,%s\n", a, b, c, d, y } }' > data.csv
cat > dropout.json <<'JSON'
{"input": 4, "layers": [{"units": 16, "activation": "tanh", "dropout": 0.1}, {"units": 3, "activation": "softmax"}],
 "loss": "softmax_ce", "optimizer": {"type": "adam", "learning_rate": 0.01}, "seed": 5,
 "training": {"epochs": 4, "batch_size": 20}}
JSON
sed 's/, "dropout": 0.1//' dropout.json > plain.json
train=(train --data data.csv --threads 1 --quiet)

echo "--- --deterministic: 1, 2, 3 ranks and a plain process"
"$backprop" "${train[@]}" dropout.json --deterministic --out det0.model
for n in 1 2 3; do
  mpirun "$n" "$backprop" "${train[@]}" dropout.json --deterministic --out "det$n.model"
  cmp det0.model "det$n.model" && echo "$n ranks: byte-identical" || fail "--deterministic, $n ranks: the model differs"
done

echo "--- --deterministic with class weights (issue 30): 2 ranks byte-identical to a plain process"
"$backprop" "${train[@]}" dropout.json --deterministic --class-weight p=3,q=0.5 --out weighted0.model
mpirun 2 "$backprop" "${train[@]}" dropout.json --deterministic --class-weight p=3,q=0.5 --out weighted2.model
cmp weighted0.model weighted2.model && echo "2 ranks, class weights: byte-identical" ||
  fail "--deterministic with class weights, 2 ranks: the model differs"
cmp -s weighted0.model det0.model && fail "class weights changed nothing" || true

echo "--- without it: 1 rank identical, 2 and 3 ranks within 1e-4"
"$backprop" "${train[@]}" plain.json --out plain0.model
"$backprop" predict plain0.model --data data.csv --out plain0.csv
mpirun 1 "$backprop" "${train[@]}" plain.json --out plain1.model
cmp plain0.model plain1.model && echo "1 rank: byte-identical" || fail "1 rank under mpirun differs from a plain run"
for n in 2 3; do
  mpirun "$n" "$backprop" "${train[@]}" plain.json --out "plain$n.model"
  "$backprop" predict "plain$n.model" --data data.csv --out "plain$n.csv"
  difference=$(paste -d, plain0.csv "plain$n.csv" | awk -F, 'NR > 1 { h = NF / 2;
      for (i = 2; i <= h; i++) { d = $i - $(i + h); if (d < 0) d = -d; if (d > m) m = d } } END { printf "%g", m }')
  echo "$n ranks: largest difference of a probability $difference"
  awk -v d="$difference" 'BEGIN { exit !(d <= 1e-4) }' || fail "$n ranks: predictions differ by $difference > 1e-4"
done

echo "--- batch_norm: the whole batch's statistics (SyncBatchNorm), docs/distributed.md"
# The last batch of 3 rows gives 3 ranks one row each: their statistics alone would have no variance.
sed 's/{"units": 3,/{"type": "batch_norm"}, {"units": 3,/' plain.json > norm.json
grep -q batch_norm norm.json || fail "norm.json has no batch_norm"
"$backprop" "${train[@]}" norm.json --out norm0.model
"$backprop" predict norm0.model --data data.csv --out norm0.csv
mpirun 1 "$backprop" "${train[@]}" norm.json --out norm1.model
cmp norm0.model norm1.model && echo "batch_norm, 1 rank: byte-identical" || fail "batch_norm, 1 rank differs"
for n in 2 3; do
  mpirun "$n" "$backprop" "${train[@]}" norm.json --out "norm$n.model"
  "$backprop" predict "norm$n.model" --data data.csv --out "norm$n.csv"
  difference=$(paste -d, norm0.csv "norm$n.csv" | awk -F, 'NR > 1 { h = NF / 2;
      for (i = 2; i <= h; i++) { d = $i - $(i + h); if (d < 0) d = -d; if (d > m) m = d } } END { printf "%g", m }')
  echo "batch_norm, $n ranks: largest difference of a probability $difference"
  awk -v d="$difference" 'BEGIN { exit !(d <= 1e-4) }' || fail "batch_norm, $n ranks: predictions differ by $difference"
done
# --deterministic: every rank computes the whole batch, so 1, 2 and 3 ranks write the plain process's bytes.
for n in 1 2 3; do
  mpirun "$n" "$backprop" "${train[@]}" norm.json --deterministic --out "normdet$n.model"
  cmp norm0.model "normdet$n.model" && echo "batch_norm --deterministic, $n ranks: byte-identical" ||
    fail "batch_norm --deterministic, $n ranks: the model differs from one process's"
done
# Checkpoints hold the running statistics: 2 ranks resumed under 2 give the uninterrupted model; with
# --deterministic a checkpoint of 2 ranks resumed under 3 gives it too.
mpirun 2 "$backprop" "${train[@]}" norm.json --checkpoint norm.ckpt --checkpoint-every 25 --out normckpt.model
mpirun 2 "$backprop" "${train[@]}" norm.json --resume norm.ckpt --out normresumed.model
cmp normckpt.model normresumed.model && echo "batch_norm, 2 ranks resumed: byte-identical" ||
  fail "batch_norm, 2 ranks: the resumed model differs"
mpirun 2 "$backprop" "${train[@]}" norm.json --deterministic --checkpoint normdet.ckpt --checkpoint-every 25 \
  --out normdetckpt.model
mpirun 3 "$backprop" "${train[@]}" norm.json --deterministic --resume normdet.ckpt --out normdetresumed.model
cmp norm0.model normdetresumed.model && echo "batch_norm --deterministic, 2 ranks resumed under 3: byte-identical" ||
  fail "batch_norm --deterministic: 2 ranks resumed under 3 differ"
set +e
output=$(mpirun 4 "$backprop" "${train[@]}" norm.json --out refused.model 2>&1)
code=$?
set -e
[ "$code" -ne 0 ] || fail "batch_norm, 4 ranks and a last batch of 3 rows: exit code 0"
echo "$output" | grep -q 'batch_norm under mpirun: expected at least one row per rank in every batch (4 ranks), but 203 training rows in batches of 20 leave a batch of 3 rows' ||
  fail "batch_norm, 4 ranks: no message naming the batch: $output"
[ ! -e refused.model ] || fail "batch_norm, 4 ranks: a model was written"

echo "--- only rank 0 writes the log"
mpirun 2 "$backprop" "${train[@]}" plain.json --log log.jsonl --out logged.model
[ "$(wc -l < log.jsonl)" -eq 4 ] && echo "log: 4 epochs" || fail "the log has $(wc -l < log.jsonl) lines, not 4"

echo "--- a rank that cannot read its data"
printf 'a,b\nx,y\n' > broken.csv
set +e
output=$(mpirun 3 bash -c 'data=data.csv; [ "${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" = 1 ] && data=broken.csv
  exec "$0" train plain.json --data "$data" --threads 1 --quiet --out failed.model' "$backprop" 2>&1)
code=$?
set -e
echo "$output" | grep '^backprop:' || true
[ "$code" -ne 0 ] || fail "a rank without data: exit code 0"
[ "$(echo "$output" | grep -c '^backprop:')" -eq 1 ] || fail "a rank without data: not exactly one message"
echo "$output" | grep -q '^backprop: rank 1 of 3: broken.csv' || fail "a rank without data: the message names neither rank nor file"
[ ! -e failed.model ] || fail "a rank without data: a model was written"

echo "--- ranks with other data"
head -150 data.csv > fewer.csv
set +e
output=$(mpirun 2 bash -c 'data=data.csv; [ "${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" = 1 ] && data=fewer.csv
  exec "$0" train plain.json --data "$data" --threads 1 --quiet --out differ.model' "$backprop" 2>&1)
code=$?
set -e
echo "$output" | grep '^backprop:' || true
[ "$code" -ne 0 ] || fail "ranks with other data: exit code 0"
echo "$output" | grep -q '^backprop: the ranks differ: rank 1 of 2 differs from rank 0 in its training or validation data' ||
  fail "ranks with other data: no clear message"

[ "$failures" -eq 0 ] && echo "all passed" || { echo "$failures failed"; exit 1; }
