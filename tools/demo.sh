#!/usr/bin/env bash
# edgeml demo, end to end on one machine, no cloud: build edgeml and the classify example
# function, make a SqueezeNet 1.1 model package, deploy a group to a temporary root, start the
# core, publish a camera frame and print the classification the function publishes back.
#
#   tools/demo.sh [IMAGE.jpg|IMAGE.png]      (default: a generated 320x240 frame)
#
# Steps (each one is also a command you can run yourself):
#   1. cmake --build BUILD --target edgeml edgeml-core classify
#   2. tools/mk_classifier_pkg.py all WORK/pkg --classify BUILD/examples/classify/classify
#        -> squeezenet1_1.tar.gz (model.onnx, labels.txt, preprocess.json), classify-code.tar.gz,
#           group.json (examples/classify/group.json.in with file:// URIs and sha256s), frame.jpg
#   3. edgeml deploy WORK/pkg/group.json --root WORK/root
#   4. edgeml core --root WORK/root &                         (runs the pinned classify function)
#   5. edgeml subscribe --root WORK/root 'inference/#' --count 1 &
#   6. edgeml publish --root WORK/root camera/cam1/frames WORK/pkg/frame.jpg
#   7. print the result; SIGTERM the core
# The model's weights are random (seeded): no pretrained ImageNet classifier ships in Debian or
# npm, and nothing is downloaded. The labels are ImageNet's names, the answers are arbitrary.
#
# Environment: EDGEML_BUILD_DIR (default <repo>/build), EDGEML_CACHE (exported models, default
# ~/.cache/edgeml/models), EDGEML_DEMO_KEEP=1 keeps the work directory, EDGEML_DEMO_ISOLATION
# (NoContainer, the default, or GreengrassContainer). On Debian 12 as root, missing packages are
# installed with apt-get (cmake gcc make pkg-config, the -dev libraries, python3-torch
# python3-torchvision python3-onnx python3-numpy python3-pil).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${EDGEML_BUILD_DIR:-$ROOT/build}
ISOLATION=${EDGEML_DEMO_ISOLATION:-NoContainer}
PY=/usr/bin/python3
IMAGE=${1:-}

die() { echo "demo: $*" >&2; exit 1; }

. "$ROOT/tools/ensure_deps.sh"
ensure_deps build python || die "missing dependencies (see above)"
# what the example adds: image decoding (C) and generating the test frame (Python)
extra=()
for p in libjpeg62-turbo-dev libpng-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || extra+=("$p")
done
"$PY" -c "import PIL" >/dev/null 2>&1 || extra+=(python3-pil)
if [ ${#extra[@]} -gt 0 ]; then
    _ed_apt_install "${extra[@]}" || die "missing packages: ${extra[*]}"
fi

echo "== building edgeml and examples/classify in $BUILD"
mkdir -p "$BUILD"
if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$BUILD" --target edgeml edgeml-core classify -j "$(nproc 2>/dev/null || echo 2)"; } \
       >"$BUILD/demo-build.log" 2>&1; then
    tail -n 30 "$BUILD/demo-build.log" >&2
    die "build failed (full log: $BUILD/demo-build.log)"
fi
EDGEML=$BUILD/edgeml
CLASSIFY=$BUILD/examples/classify/classify
[ -x "$EDGEML" ] || die "$EDGEML was not built"
[ -x "$CLASSIFY" ] || die "$CLASSIFY was not built"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgeml-demo.XXXXXX")
chmod 0755 "$WORK" # the function runs as another user (65534) and must reach the root
R=$WORK/root
CORE_PID=
SUB_PID=
cleanup() {
    local rc=$?
    [ -n "$SUB_PID" ] && kill "$SUB_PID" 2>/dev/null || true
    if [ -n "$CORE_PID" ] && kill -0 "$CORE_PID" 2>/dev/null; then
        kill -TERM "$CORE_PID" 2>/dev/null || true
        wait "$CORE_PID" 2>/dev/null || true
    fi
    if [ $rc -ne 0 ]; then
        echo "demo: failed; the last lines of the logs:" >&2
        for f in "$WORK/core.out" "$R/logs/functions/classify.log"; do
            [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
        done
    fi
    if [ "${EDGEML_DEMO_KEEP:-0}" = 1 ]; then
        echo "demo: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

echo "== making the model package, the function's code package and the group ($ISOLATION)"
"$PY" "$ROOT/tools/mk_classifier_pkg.py" all "$WORK/pkg" --classify "$CLASSIFY" \
    --isolation "$ISOLATION" >/dev/null
[ -n "$IMAGE" ] || IMAGE=$WORK/pkg/frame.jpg
[ -f "$IMAGE" ] || die "$IMAGE: no such file"

echo "== $EDGEML deploy group.json --root $R"
mkdir -p "$R"
"$EDGEML" deploy "$WORK/pkg/group.json" --root "$R"

echo "== $EDGEML core --root $R   (in the background)"
"$EDGEML" core --root "$R" >"$WORK/core.out" 2>&1 &
CORE_PID=$!
for _ in $(seq 100); do
    [ -S "$R/run/core.sock" ] && break
    kill -0 "$CORE_PID" 2>/dev/null || die "the core exited: $(tail -n 3 "$WORK/core.out")"
    sleep 0.1
done
[ -S "$R/run/core.sock" ] || die "no socket at $R/run/core.sock after 10 s"

echo "== $EDGEML subscribe --root $R 'inference/#' --count 1   (in the background)"
"$EDGEML" subscribe --root "$R" 'inference/#' --count 1 >"$WORK/result.out" 2>"$WORK/sub.err" &
SUB_PID=$!
sleep 0.3

# QoS 0 and a function that loads its model when it starts: publish again every few seconds
# until the result is there (a frame that arrives first waits in the function's queue).
echo "== $EDGEML publish --root $R camera/cam1/frames $(basename "$IMAGE")"
start=$(date +%s%N)
got=
for _ in 1 2 3 4 5 6; do
    "$EDGEML" publish --root "$R" camera/cam1/frames "$IMAGE" >/dev/null
    for _ in $(seq 50); do
        kill -0 "$SUB_PID" 2>/dev/null || { got=1; break; }
        sleep 0.1
    done
    [ -n "$got" ] && break
done
[ -n "$got" ] || die "no result on inference/# after 30 s"
wait "$SUB_PID" || die "edgeml subscribe failed: $(tail -n 3 "$WORK/sub.err")"
SUB_PID=
end=$(date +%s%N)

echo "== result ($(( (end - start) / 1000000 )) ms from publish to result, model load included)"
cat "$WORK/result.out"

echo "== stopping the core (SIGTERM)"
kill -TERM "$CORE_PID"
wait "$CORE_PID" || die "the core exited with status $?"
CORE_PID=
echo "== done"
