#!/usr/bin/env bash
# Per architecture: the stripped sizes of the binaries and libraries, and the core's RSS
# (idle, 10 pinned NoContainer functions, one message each: tests/router/test_core_rss.py's
# scenario) under qemu-user. Nothing about speed: qemu timings mean nothing.
#
#   bench/arch_size.sh [ARCH ...]      ARCH: aarch64, armhf, x86_64 (default: aarch64 armhf)
#
# ARCH's build is build-ARCH (tools/test.sh --arch ARCH makes it; x86_64: build/). Under
# qemu-user a process's VmRSS is qemu's (translator, code cache) plus the guest's, so the
# script also measures qemu running a program that only pause()s, and reports the difference
# as the core's own RSS: an upper bound (code translated for the core counts in it), which the
# native x86_64 number of the same source puts in proportion. Markdown on stdout
# (bench/ARCH.md holds one run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- aarch64 armhf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rss_of() {  # PID -> VmRSS kB
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

echo "| arch | edgeml | edgeml-core | libedgeml.so | libedgeml-sdk.so | libedgeml.a | core VmRSS under qemu | qemu + idle program | core's own (difference) |"
echo "|---|---|---|---|---|---|---|---|---|"
for arch in "$@"; do
    case $arch in
        aarch64) triplet=aarch64-linux-gnu qemu=qemu-aarch64 build=$root/build-aarch64 ;;
        armhf) triplet=arm-linux-gnueabihf qemu=qemu-arm build=$root/build-armhf ;;
        x86_64) triplet=x86_64-linux-gnu qemu="" build=$root/build ;;
        *) echo "arch_size: unknown architecture '$arch'" >&2; exit 2 ;;
    esac
    [ -x "$build/edgeml" ] || { echo "arch_size: no $build/edgeml (tools/test.sh --arch $arch builds it)" >&2; exit 1; }
    strip=$(command -v "$triplet-strip" || command -v strip)
    sizes=()
    for f in edgeml edgeml-core libedgeml.so libedgeml-sdk.so libedgeml.a; do
        src=$(find "$build" -maxdepth 3 -name "$f" \( -type f -o -type l \) | head -1)
        if [ -z "$src" ]; then sizes+=("-"); continue; fi
        cp -L "$src" "$tmp/$f"
        if [ "$f" = libedgeml.a ]; then "$strip" -g "$tmp/$f"; else "$strip" "$tmp/$f"; fi
        sizes+=("$(( $(stat -c %s "$tmp/$f") / 1024 )) KiB")
    done
    # The core's RSS: the test's scenario, its printed line.
    line=$(/usr/bin/python3 "$root/tests/router/test_core_rss.py" "$build/edgeml" 2>&1 | grep -o 'VmRSS [0-9]* kB with 10 functions' || true)
    core_kb=$(echo "$line" | awk '{print $2}')
    base_kb="-" own="-"
    if [ -n "$qemu" ]; then
        printf '#include <unistd.h>\nint main(void) { pause(); return 0; }\n' > "$tmp/idle.c"
        "$triplet-gcc" -O2 "$tmp/idle.c" -o "$tmp/idle"
        "$qemu" -L "/usr/$triplet" "$tmp/idle" & pid=$!
        sleep 1
        base_kb=$(rss_of $pid)
        kill $pid; wait $pid 2>/dev/null || true
        [ -n "$core_kb" ] && own=$(( core_kb - base_kb ))
        base_kb="$base_kb kB"
    else
        own=$core_kb
    fi
    echo "| $arch | ${sizes[0]} | ${sizes[1]} | ${sizes[2]} | ${sizes[3]} | ${sizes[4]} | ${core_kb:-?} kB | $base_kb | $own kB |"
done
