#!/usr/bin/env bash
# The test command: installs what the tests need (apt, npm), builds edgeml twice
# (release, and AddressSanitizer + UndefinedBehaviorSanitizer), runs the whole
# ctest suite in both, and ends with ctest's summary line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    need=()
    for p in cmake gcc g++ make clang libclang-rt-14-dev libonnx-testdata python3-numpy python3-onnx \
             python3-torch python3-torchvision \
             pkg-config libjansson-dev libarchive-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev \
             libjpeg62-turbo-dev libpng-dev mosquitto libmosquitto-dev python3-pil; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    # node/npm may come from Debian or from another source (nodesource ships npm inside nodejs).
    command -v node >/dev/null || need+=(nodejs)
    command -v npm >/dev/null || need+=(npm)
    if [ ${#need[@]} -gt 0 ]; then
        echo "test.sh: apt-get install ${need[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
fi
tools/ensure_deps.sh >&2

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEDGEML_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"

status=0
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
set -o pipefail
echo "== release build =="
(cd build && ctest --output-on-failure -j"$jobs") 2>&1 | tee "$logdir/release.log" || status=1
cp -f build/tests/STATUS.md tests/conformance/STATUS.md 2>/dev/null || true
echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j"$jobs" -LE "slow|install") 2>&1 | tee "$logdir/asan.log" || status=1
echo "== ThreadSanitizer: sessions of one model on several threads =="
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGEML_TSAN=ON >/dev/null
cmake --build build-tsan -j"$jobs" --target test_threads test_pool
(cd build-tsan && ctest --output-on-failure -R threads_) 2>&1 | tee "$logdir/tsan.log" || status=1

# One closing line over the three ctest runs.
cat "$logdir"/*.log | awk '/tests passed, [0-9]+ tests failed out of/ {
    for (i = 1; i <= NF; i++) if ($i == "of") total += $(i+1); else if ($i == "failed" && $(i-1) == "tests") failed += $(i-2) }
    END { printf "%d passed, %d failed\n", total - failed, failed; exit failed ? 1 : 0 }' || status=1
exit $status
