#!/usr/bin/env bash
# The GPU check of issue 8, prepared to run in one call of the device tool (an H200 machine: CUDA 13, PyTorch,
# no Debian packages, nothing to download):
#
#   here:   bash bench/gpu/bundle.sh                       # builds .gpu-bundle/ (the command, the tests, OpenBLAS)
#   device: run(command="bash bench/gpu/device-check.sh", carry=[".gpu-bundle"], timeout_s=540)
#
# It runs the device tests (Backends/*: every kernel against the CPU reference, training on the GPU against
# the CPU), then bench/gpu/gpu_bench.py (batch 128, 1024, 8192 against PyTorch). Logs go to $OUT. About 5
# minutes; the tests stop after 240 s and the benchmark after 420 s whatever happens.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/backprop-gpu-check}
mkdir -p "$OUT"
BUNDLE=$PWD/.gpu-bundle
[ -x "$BUNDLE/backprop" ] || { echo "no .gpu-bundle/backprop: run bench/gpu/bundle.sh here and carry .gpu-bundle" >&2; exit 2; }
# CUDA's runtime and cuBLAS: the toolkit's (one version, so preferred), else those of PyTorch's nvidia packages.
find_cuda() {
  find "$@" -xdev \( -name 'libcublas.so.13*' -o -name 'libcudart.so.13*' \) 2>/dev/null \
    | xargs -r -n1 dirname | sort -u | paste -sd: -
}
cuda_dirs=$(find_cuda /usr/local/cuda*/)
[ -n "$cuda_dirs" ] || cuda_dirs=$(find_cuda /usr/local /opt /usr/lib)
export LD_LIBRARY_PATH="$BUNDLE/lib:$cuda_dirs:${LD_LIBRARY_PATH:-}"
export BACKPROP_CUDA_PLUGIN="$BUNDLE/lib/libbackprop_cuda.so"  # the bundle's plugin, not the build tree's path
echo "== machine"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
ldd "$BUNDLE/backprop" "$BUNDLE/lib/libbackprop_cuda.so" | grep -E "not found|cublas|cudart|openblas"
echo "== device tests"
timeout 240 "$BUNDLE/backprop_tests" --gtest_filter='Backends/*' >"$OUT/tests.txt" 2>&1
echo "exit $?"; grep -E "^\[  (PASSED|FAILED|SKIPPED) |Failure|Expected|Which is|^  Actual" "$OUT/tests.txt" | head -60
echo "== benchmark"
PYTHONUNBUFFERED=1 timeout 420 python3 bench/gpu/gpu_bench.py --backprop "$BUNDLE/backprop" --out "$OUT" 2>&1 \
  | tee "$OUT/bench.txt"
rm -f "$OUT"/*.npy "$OUT"/gpu.model
