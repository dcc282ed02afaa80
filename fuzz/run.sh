#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) into their own build
# directory and runs each for SECONDS, one after the other, starting from a
# seed corpus of real models (ONNX backend test data) and .npy files.
#
# usage: fuzz/run.sh [SECONDS] [TARGET...]     (default 60 s; targets fuzz_model fuzz_npy
#        fuzz_group fuzz_ipc fuzz_core fuzz_unpack; fuzz_core wants root, as the core)
# env:   EDGEML_FUZZ_BUILD  build directory    (default /tmp/edgeml-fuzz-build)
#        EDGEML_FUZZ_UBSAN_RECOVER=1           UBSan reports do not stop the run
#        EDGEML_ONNX_TESTDATA                  (default /usr/share/libonnx-testdata/data)
# Crashes go to $EDGEML_FUZZ_BUILD/artifacts/, the grown corpus stays in
# $EDGEML_FUZZ_BUILD/corpus/<target>/ for the next run, logs in *.log.
set -eu
SECS=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=${*:-fuzz_model fuzz_npy fuzz_group fuzz_ipc fuzz_core fuzz_unpack}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${EDGEML_FUZZ_BUILD:-/tmp/edgeml-fuzz-build}
DATA=${EDGEML_ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}
PY=${EDGEML_TEST_PYTHON:-/usr/bin/python3}

if [ "${EDGEML_FUZZ_UBSAN_RECOVER:-0}" = 1 ]; then
    # UBSan reports are printed and the run goes on (to look past a known
    # report); ASan errors still stop it
    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DEDGEML_FUZZ=ON -DEDGEML_SANITIZE=OFF -DCMAKE_C_FLAGS="$SAN" \
        -DCMAKE_EXE_LINKER_FLAGS="$SAN" -DCMAKE_SHARED_LINKER_FLAGS="$SAN" >/dev/null
else
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DEDGEML_FUZZ=ON -DEDGEML_SANITIZE=ON -DCMAKE_C_FLAGS= -DCMAKE_EXE_LINKER_FLAGS= \
        -DCMAKE_SHARED_LINKER_FLAGS= >/dev/null
fi
if ! cmake --build "$BUILD" -j2 --target $TARGETS >"$BUILD/build.log" 2>&1; then
    tail -30 "$BUILD/build.log"
    exit 1
fi

SEEDS=$BUILD/seeds
mkdir -p "$SEEDS/fuzz_model" "$SEEDS/fuzz_npy" "$SEEDS/fuzz_group" "$BUILD/artifacts"
# group documents: the validator's own fixtures (a full v1 export and one per rule)
[ -n "$(ls -A "$SEEDS/fuzz_group")" ] || cp "$ROOT"/tests/group/fixtures/*.json "$ROOT"/tests/group/fixtures/rules/*.json "$SEEDS/fuzz_group/" 2>/dev/null || true
# model seeds: every model.onnx of the test data, named after its directory
if [ -z "$(ls -A "$SEEDS/fuzz_model")" ]; then
    for d in "$DATA"/node/*/ "$DATA"/simple/*/ "$DATA"/pytorch-converted/*/ "$DATA"/pytorch-operator/*/; do
        [ -f "$d/model.onnx" ] || continue
        cp "$d/model.onnx" "$SEEDS/fuzz_model/$(basename "$(dirname "$d/x")")-$(basename "$d").onnx"
    done
fi
# npy seeds: every dtype, versions 1-3, 0-d and empty arrays
if [ -z "$(ls -A "$SEEDS/fuzz_npy")" ]; then
    "$PY" - "$SEEDS/fuzz_npy" <<'PYEOF' || echo "warning: no numpy: .npy seeds skipped"
import sys, os
import numpy as np
out = sys.argv[1]
i = 0
for dt in ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
           "float16", "float32", "float64"]:
    for shape in [(), (0,), (3,), (2, 3), (1, 0, 2)]:
        for ver in (1, 2, 3):
            a = np.zeros(shape, dtype=dt)
            with open(os.path.join(out, "s%03d.npy" % i), "wb") as f:
                np.lib.format.write_array(f, a, version=(ver, 0))
            i += 1
PYEOF
fi
# issue 5 targets: well-formed frames of every type, topics, routers, and
# small benign and hostile archives (fuzz/mkseeds.py)
for t in fuzz_ipc fuzz_core fuzz_unpack; do
    case " $TARGETS " in *" $t "*) ;; *) continue ;; esac
    mkdir -p "$SEEDS/$t"
    [ -n "$(ls -A "$SEEDS/$t")" ] || "$PY" "$ROOT/fuzz/mkseeds.py" "$t" "$SEEDS/$t"
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:max_allocation_size_mb=1024:detect_leaks=1}
if [ "${EDGEML_FUZZ_UBSAN_RECOVER:-0}" = 1 ]; then
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=0}
else
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
status=0
for t in $TARGETS; do
    mkdir -p "$BUILD/corpus/$t"
    dict=""
    case $t in
        fuzz_model) dict="-dict=$ROOT/fuzz/onnx.dict" ;;
        fuzz_npy) dict="-dict=$ROOT/fuzz/npy.dict" ;;
    esac
    # fuzz_core / fuzz_unpack make their temporary roots here (removed after)
    rm -rf "$BUILD/tmp"
    mkdir -p -m 755 "$BUILD/tmp"
    echo "== $t: $SECS s (log: $BUILD/$t.log)"
    if TMPDIR=$BUILD/tmp "$BUILD/fuzz/$t" -max_total_time="$SECS" -timeout=30 -rss_limit_mb=3072 \
        -malloc_limit_mb=4096 -print_final_stats=1 $dict \
        -artifact_prefix="$BUILD/artifacts/$t-" "$BUILD/corpus/$t" "$SEEDS/$t" \
        >"$BUILD/$t.log" 2>&1; then
        :
    else
        status=1
        echo "!! $t found a problem; see $BUILD/$t.log and $BUILD/artifacts/"
    fi
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$BUILD/$t.log" | cut -c1-160 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
        "$BUILD/$t.log" || true
    grep -E 'ERROR|SUMMARY|runtime error|fuzz_[a-z]+: ' "$BUILD/$t.log" | sort | uniq -c | head -20 || true
    rm -rf "$BUILD/tmp"
done
exit $status
