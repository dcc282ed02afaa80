#!/usr/bin/env bash
# Opset 18..21 operator test: build small models (tests/opset/make_cases.py), run each with ONNX
# Runtime (the reference, tools/ort_run.js) and with `edgeml infer`, compare the outputs
# (tests/models/compare.py: |a-e| <= 1e-4*max(1,max|e|) + 1e-4*|e|; non-floats exact).
# A case with expected/ outputs (spec rules where ONNX Runtime departs from the spec) is compared
# with those instead; a case with expect_error must be refused with one error line.
#
# Usage: tests/opset/run_opset.sh BUILD_DIR
#
# Environment:
#   EDGEML_BIN     the edgeml CLI (default BUILD_DIR/edgeml)
#   EDGEML_CASES   only cases whose name contains this substring (e.g. "Resize", "-21")
#   EDGEML_KEEP=1  keep the work directory (models, inputs, outputs) and print its path
# Missing tools are installed on Debian (python3-onnx python3-numpy via apt-get when root;
# `npm ci` when node_modules is missing).
# Prints one line per case, then "N passed, N failed"; exit status 1 on any failure.
set -euo pipefail

if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    [ $# -eq 1 ] && exit 0 || exit 2
fi
BUILD_DIR=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EDGEML=${EDGEML_BIN:-$BUILD_DIR/edgeml}
PY=/usr/bin/python3
COMPARE=$ROOT/tests/models/compare.py

. "$ROOT/tools/ensure_deps.sh"
if ! { [ -x $PY ] && $PY -c "import numpy, onnx" >/dev/null 2>&1; }; then
    _ed_apt_install python3 python3-numpy python3-onnx || exit 1
fi
ensure_deps node ort || { echo "run_opset: missing dependencies (see above)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgeml-opset.XXXXXX")
if [ "${EDGEML_KEEP:-0}" = 1 ]; then
    echo "run_opset: work directory $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi

$PY "$ROOT/tests/opset/make_cases.py" "$WORK/cases" --only "${EDGEML_CASES:-}"
[ -x "$EDGEML" ] || echo "run_opset: $EDGEML is not built: every case fails" >&2

PASSED=0
FAILED=0
fail_line() {
    printf '%-38s FAIL: %s\n' "$1" "$2"
    FAILED=$((FAILED + 1))
}

shopt -s nullglob
for dir in "$WORK"/cases/*/; do
    dir=${dir%/}
    name=$(basename "$dir")
    out=$WORK/out/$name
    mkdir -p "$out"
    args=()
    inargs=()
    for f in "$dir"/inputs/*.npy; do
        args+=("$(basename "$f" .npy)=$f")
        inargs+=(--input "$(basename "$f" .npy)=$f")
    done
    if [ ! -x "$EDGEML" ]; then
        fail_line "$name" "edgeml CLI not built ($EDGEML)"
        continue
    fi
    if [ -f "$dir/expect_error" ]; then
        # hostile model: edgeml must refuse it with one error line (no crash, no sanitizer report)
        want=$(head -n 1 "$dir/expect_error")
        rc=0
        timeout 120 "$EDGEML" infer "$dir/model.onnx" "${inargs[@]}" --output-dir "$out/edgeml" \
            >"$out/edgeml.log" 2>&1 || rc=$?
        lines=$(grep -c '' "$out/edgeml.log" || true)
        if [ "$rc" -eq 0 ]; then
            fail_line "$name" "edgeml accepted a model it must refuse ($want)"
        elif [ "$rc" -ge 124 ]; then
            fail_line "$name" "edgeml crashed or hung (exit status $rc): $(head -c 300 "$out/edgeml.log")"
        elif [ "$lines" -ne 1 ] || ! grep -qF -- "$want" "$out/edgeml.log"; then
            fail_line "$name" "want one error line containing '$want', got $lines: $(head -c 300 "$out/edgeml.log")"
        else
            printf '%-38s PASS (refused: %s)\n' "$name" "$(cut -c1-120 "$out/edgeml.log")"
            PASSED=$((PASSED + 1))
        fi
        continue
    fi
    if [ -d "$dir/expected" ]; then
        # reference outputs computed from the spec's rules (where ONNX Runtime departs from it)
        ref="spec=$dir/expected"
    elif (cd "$ROOT" && node tools/ort_run.js "$dir/model.onnx" "$out/ort" "${args[@]}") 2>"$out/ort.err"; then
        ref="ort=$out/ort"
    else
        fail_line "$name" "ONNX Runtime reference: $(tail -n 1 "$out/ort.err")"
        continue
    fi
    if ! timeout 120 "$EDGEML" infer "$dir/model.onnx" "${inargs[@]}" --output-dir "$out/edgeml" \
            >"$out/edgeml.log" 2>&1; then
        why=$(tail -n 1 "$out/edgeml.log")
        fail_line "$name" "edgeml infer: ${why:-non-zero exit status}"
        continue
    fi
    if $PY "$COMPARE" --label "$name" "$out/edgeml" "$ref"; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
    fi
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
