#!/usr/bin/env bash
# Builds, on this (CPU-only) machine, what bench/gpu/device-check.sh runs on a GPU machine, which has CUDA and
# PyTorch but none of Debian's packages: .gpu-bundle/ (ignored by git) with the command and the test program
# (CUDA for sm_90, the H100/H200; no -march=native, as the GPU machine's CPU is another) and the shared
# libraries that machine may lack (OpenBLAS and what it needs). oneDNN is left out (OpenBLAS does the CPU's float
# products), so that neither libdnnl nor its OpenCL and OpenMP libraries have to travel. About 40 MB; carry it
# with the device tool.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DBACKPROP_NATIVE=OFF -DBACKPROP_WITH_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DBACKPROP_WITH_ONNX=OFF -DBACKPROP_WITH_MPI=OFF -DBACKPROP_WITH_PYTHON=OFF \
  -DBACKPROP_WITH_ONEDNN=OFF -DBACKPROP_INSTALL=OFF >/dev/null
cmake --build build-gpu -j2 --target backprop_cli backprop_tests backprop_cuda
rm -rf .gpu-bundle
mkdir -p .gpu-bundle/lib
cp build-gpu/backprop build-gpu/tests/backprop_tests .gpu-bundle/
cp build-gpu/libbackprop_cuda.so .gpu-bundle/lib/  # the CUDA backend (a plugin found on LD_LIBRARY_PATH there)
for lib in libopenblas.so.0 libgfortran.so.5 libquadmath.so.0; do
  cp -L "$(ldconfig -p | awk -v name="$lib" '$1 == name { print $NF; exit }')" .gpu-bundle/lib/
done
! ldd .gpu-bundle/backprop .gpu-bundle/backprop_tests | grep -E "dnnl|OpenCL" || { echo "oneDNN linked" >&2; exit 1; }
du -sh .gpu-bundle
