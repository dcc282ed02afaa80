#!/bin/sh
# Issue-5 IPC benchmark (not a ctest test): function -> function publish
# latency p50/p99 and messages/s through `edgeml core` vs Mosquitto (Debian's
# broker on a loopback port, two libmosquitto clients, QoS 0) in the same run,
# and the core's RSS idle with 10 pinned functions.
#   bench/ipc_bench.sh [BUILD_DIR] [--lat-n N] [--gap-us US] [--tp-n N] [--reps R] [--keep-work]
# BUILD_DIR defaults to $EDGEML_BUILD, else ./build; build a release there first:
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
#   cmake --build build -j2 --target edgeml edgeml_sdk_static
# Needs mosquitto, libmosquitto-dev, a C compiler, /usr/bin/python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  build=$1
  shift
else
  build=${EDGEML_BUILD:-$here/../build}
fi
[ -x "$build/edgeml" ] || { echo "ipc_bench.sh: $build/edgeml: not built" >&2; exit 1; }
exec /usr/bin/python3 "$here/ipc_bench.py" "$build" "$@"
