#!/bin/sh
# Issue-4 deployment benchmark (not a ctest test; see bench/README.md).
#   bench/deploy_bench.sh [EDGEML] [options of deploy_bench.py]
# EDGEML defaults to $EDGEML, else ./build/edgeml. Build it as a release first:
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2 --target edgeml
# Needs node + the npm package s3rver (npm ci in the repo root), curl, tar, /usr/bin/python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  edgeml=$1
  shift
else
  edgeml=${EDGEML:-$here/../build/edgeml}
fi
[ -x "$edgeml" ] || { echo "deploy_bench.sh: $edgeml: not built (give the path of a release edgeml)" >&2; exit 1; }
exec /usr/bin/python3 "$here/deploy_bench.py" "$edgeml" "$@"
