#!/usr/bin/env bash
# Builds the libFuzzer targets (clang++, -DBACKPROP_FUZZ=ON, in build-fuzz) and runs each for SECONDS on its
# seed corpus (tests/fuzz/corpus/<target>/), two at a time. Prints each target's executions and the files of
# any crash; crashers are kept in tests/fuzz/crashers/<target>/ (tests/test_fuzz_regressions.cpp replays
# them, and the corpus, in every ordinary test run). New corpus entries go to build-fuzz/corpus/<target>/,
# not into the sources.
#   bash tests/fuzz/run.sh 600          # 10 minutes a target
#   JOBS=1 bash tests/fuzz/run.sh 60    # one at a time
set -uo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=${1:-60}
JOBS=${JOBS:-2}
TARGETS=(${TARGETS:-csv idx npy network_json model})
BUILD=build-fuzz

cmake -S . -B "$BUILD" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBACKPROP_FUZZ=ON \
  -DBACKPROP_BUILD_TESTS=OFF -DBACKPROP_INSTALL=OFF -DBACKPROP_WITH_PYTHON=OFF -DBACKPROP_WITH_ONNX=OFF \
  -DBACKPROP_WITH_CUDA=OFF >/dev/null \
  || exit 1
cmake --build "$BUILD" -j2 $(printf -- '--target fuzz_%s ' "${TARGETS[@]}") || exit 1

run_one() {
  local target=$1
  local work=$BUILD/corpus/$target crashers=tests/fuzz/crashers/$target log=$BUILD/fuzz_$target.log
  mkdir -p "$work" "$crashers"
  # -rss_limit_mb (and the malloc limit it implies) turns a huge allocation from a declared size into a crash;
  # 4 GiB leaves room for the largest network a file may declare (io::kMaxNetworkParameters, read in double).
  "$BUILD/tests/fuzz/fuzz_$target" "$work" "tests/fuzz/corpus/$target" -max_total_time="$SECONDS_PER_TARGET" \
    -rss_limit_mb=4096 -timeout=60 -artifact_prefix="$crashers/" -print_final_stats=1 >"$log" 2>&1
  local status=$?
  local runs
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  echo "fuzz_$target: exit $status, ${runs:-?} executions in ${SECONDS_PER_TARGET} s, corpus $(ls "$work" | wc -l) files, log $log"
  for f in "$crashers"/*; do [ -e "$f" ] && echo "  crasher: $f"; done
  return 0
}

running=0
for target in "${TARGETS[@]}"; do
  run_one "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait
