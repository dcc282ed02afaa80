#!/usr/bin/env bash
# Peak FP32 FMA throughput of this CPU (bench/roofline.c), per thread count.
# Usage: bench/roofline.sh [roofline options: --threads 1,2 --seconds S --isa auto|avx512|avx2|all --json]
# (bench/compare.py builds and runs the same program for its roofline table.)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/edgeml-roofline.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
"${CC:-cc}" -O2 -pthread "$ROOT/bench/roofline.c" -o "$OUT/roofline"
"$OUT/roofline" "$@"
