#!/usr/bin/env bash
# The test command: installs what the tests need (apt, npm), builds edgeml twice
# (release, and AddressSanitizer + UndefinedBehaviorSanitizer), runs the whole
# ctest suite in both, then cross-builds for aarch64 (so that nothing x86-only lands
# unnoticed; EDGEML_TEST_AARCH64=1 also runs its unit tests and a conformance subset under
# qemu-user), and ends with one summary line over all of them: "N passed, N failed".
#
#   tools/test.sh                  as above
#   tools/test.sh --arch aarch64   only the aarch64 cross-build (build-aarch64), the whole suite
#   tools/test.sh --arch armhf     only the armhf cross-build (build-armhf), the whole suite
# The --arch runs install their own cross toolchain, the target's multiarch -dev packages and
# qemu-user (with its binfmt_misc entry, so that the host's python3 can run target programs),
# run every test under qemu except those listed in tests/no-qemu.txt, and print that list with
# the reasons at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

arch=""
while [ $# -gt 0 ]; do
    case $1 in
        --arch) arch=${2:-}; shift 2 || { echo "test.sh: --arch needs aarch64 or armhf" >&2; exit 2; } ;;
        --arch=*) arch=${1#--arch=}; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "test.sh: unknown argument '$1' (usage: tools/test.sh [--arch aarch64|armhf])" >&2; exit 2 ;;
    esac
done
case $arch in
    ""|aarch64|armhf) ;;
    *) echo "test.sh: unknown architecture '$arch' (aarch64 or armhf)" >&2; exit 2 ;;
esac
. tools/cross.sh

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
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
set -o pipefail

if [ -n "$arch" ]; then
    # The whole suite for one ARM target under qemu-user.
    status=0
    cross_setup "$arch" || exit 1
    cross_build "$arch" "$jobs" || exit 1
    cross_ctest "$arch" "$jobs" "" "$logdir/$arch.log" || status=1
    cross_conformance_compare "$arch" | tee "$logdir/$arch-conformance.log" || status=1
    cross_list_not_run "$arch"
    summary "$logdir" || status=1
    exit $status
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEDGEML_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"

status=0
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

# aarch64 (issue 11): the cross-build always (compile and link every target: x86-only code
# that slips into portable files fails here, as em_dwconv_cblock_ws did once); its unit tests
# and a conformance subset under qemu-user with EDGEML_TEST_AARCH64=1 (opt-in until the thread
# pool's spin-wait no longer crawls under emulation and the run is timed within CI's budget).
t0=$(date +%s)
if [ "${EDGEML_TEST_AARCH64:-0}" != 1 ]; then
    echo "== aarch64 cross-build (compile and link; EDGEML_TEST_AARCH64=1 also runs its unit tests under qemu) =="
    if cross_setup aarch64 && cross_build aarch64 "$jobs"; then
        echo "aarch64 cross-build: built" | tee "$logdir/aarch64.log"
        echo "100% tests passed, 0 tests failed out of 1" >> "$logdir/aarch64.log"
    else
        echo "aarch64 cross-build failed" | tee "$logdir/aarch64.log"
        echo "0% tests passed, 1 tests failed out of 1" >> "$logdir/aarch64.log"
        status=1
    fi
elif echo "== aarch64 cross-build under qemu-user: unit tests, conformance subset ==" && cross_setup aarch64 && cross_build aarch64 "$jobs"; then
    cross_ctest aarch64 "$jobs" quick "$logdir/aarch64.log" || status=1
else
    echo "aarch64 cross-build failed" | tee "$logdir/aarch64.log"
    echo "0% tests passed, 1 tests failed out of 1" >> "$logdir/aarch64.log"
    status=1
fi
echo "aarch64 cross-build and tests: $(( $(date +%s) - t0 )) s"

summary "$logdir" || status=1
exit $status
