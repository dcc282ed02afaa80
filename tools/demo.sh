#!/usr/bin/env bash
# edgeml demo: build, export a seeded SqueezeNet 1.1, classify a deterministic image with
# `edgeml infer`, print the top-5 classes and the max difference from PyTorch's output.
#
# Usage: tools/demo.sh
# Environment: EDGEML_BUILD_DIR (default <repo>/build), EDGEML_CACHE (default
# ~/.cache/edgeml/models). On Debian, missing packages (cmake gcc make python3-torch
# python3-torchvision python3-onnx python3-numpy) are installed with apt-get when run as root.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${EDGEML_BUILD_DIR:-$ROOT/build}
CACHE=${EDGEML_CACHE:-${HOME:-/tmp}/.cache/edgeml/models}
PY=/usr/bin/python3

. "$ROOT/tools/ensure_deps.sh"
ensure_deps build python || { echo "demo: missing dependencies (see above)" >&2; exit 1; }

echo "== building edgeml in $BUILD"
mkdir -p "$BUILD"
if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$BUILD" --target edgeml -j "$(nproc 2>/dev/null || echo 2)"; } >"$BUILD/demo-build.log" 2>&1; then
    tail -n 30 "$BUILD/demo-build.log" >&2
    echo "demo: build failed (full log: $BUILD/demo-build.log)" >&2
    exit 1
fi
EDGEML=$BUILD/edgeml
[ -x "$EDGEML" ] || { echo "demo: $EDGEML was not built" >&2; exit 1; }

echo "== exporting SqueezeNet 1.1 (seeded random weights, opset 17) to $CACHE"
"$PY" "$ROOT/tools/export_models.py" "$CACHE" --only squeezenet1_1
MODEL=$CACHE/squeezenet1_1/opset17/model.onnx

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgeml-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
"$PY" "$ROOT/tools/demo_helper.py" image "$WORK/image.npy"

echo "== $EDGEML infer $MODEL --input input=image.npy --output-dir out"
start=$(date +%s%N)
"$EDGEML" infer "$MODEL" --input input="$WORK/image.npy" --output-dir "$WORK/out"
end=$(date +%s%N)
echo "   ($(( (end - start) / 1000000 )) ms including load)"
"$PY" "$ROOT/tools/demo_helper.py" report "$WORK/out/logits.npy" "$WORK/image.npy"
