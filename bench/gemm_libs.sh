#!/usr/bin/env bash
# Builds and runs bench/gemm_libs (edgeml's GEMM vs OpenBLAS, oneDNN, XNNPACK from Debian,
# one thread each). Usage: bench/gemm_libs.sh BUILD_DIR [REPEATS]
# Installs libopenblas-dev libdnnl-dev libxnnpack-dev when run as root and missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
b=${1:?usage: bench/gemm_libs.sh BUILD_DIR [REPEATS]}
if [ "$(id -u)" = 0 ]; then
    for p in libopenblas-dev libdnnl-dev libxnnpack-dev; do
        dpkg -s "$p" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null
    done
fi
cc -O2 -std=c11 -D_GNU_SOURCE -I"$root/include" -I"$root/src/infer" "$root/bench/gemm_libs.c" \
   "$b/libedgeml.a" -lm -lpthread -ldl -o "$b/gemm_libs"
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 DNNL_MAX_CPU_ISA=ALL taskset -c 0 "$b/gemm_libs" "${2:-5}"
