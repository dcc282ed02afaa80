#!/usr/bin/env bash
# edgeml vs ONNX Runtime (issue 10): a thin wrapper around bench/compare.py.
#
# Usage: bench/compare.sh [BUILD_DIR] [compare.py options]     (bench/compare.py --help)
#   BUILD_DIR  an edgeml build (BUILD_DIR/edgeml, BUILD_DIR/libedgeml.so); without it, a Release
#              build is made in ./build-bench (cmake -DCMAKE_BUILD_TYPE=Release).
# Installs what is missing (tools/ensure_deps.sh: cmake/gcc, python3-numpy/onnx/torch/
# torchvision, nodejs/npm, onnxruntime-node via `ONNXRUNTIME_NODE_INSTALL=skip npm ci`); the
# models are exported/fetched by compare.py into $EDGEML_CACHE (default ~/.cache/edgeml/models).
# Examples:
#   bench/compare.sh                                   # everything, 1 and 2 threads
#   bench/compare.sh build --models resnet50,lstm --threads 1 --rounds 5
#   bench/compare.sh build --markdown bench/RESULTS.md
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

case ${1:-} in -h|--help) exec /usr/bin/python3 "$ROOT/bench/compare.py" --help ;; esac
BUILD=
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    BUILD=$1
    shift
fi

. "$ROOT/tools/ensure_deps.sh"
if [ -z "$BUILD" ]; then
    ensure_deps build || exit 1
    BUILD=$ROOT/build-bench
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >&2
    cmake --build "$BUILD" -j"${JOBS:-2}" --target edgeml edgeml_shared >&2
fi
ensure_deps python node ort || exit 1

EDGEML_COMPARE_SH=1 exec /usr/bin/python3 "$ROOT/bench/compare.py" --build-dir "$BUILD" "$@"
