#!/bin/sh
# start.sh DIR: starts the loopback S3 harness (s3rver + SigV4-checking proxy)
# with its files under DIR; prints the proxy's port. Exit 77 when node or the
# npm package s3rver is missing (tests treat it as skipped).
set -eu
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null 2>&1 || { echo "start.sh: node not found" >&2; exit 77; }
(cd "$here" && node -e 'require.resolve("s3rver")' >/dev/null 2>&1) ||
  { echo "start.sh: npm package s3rver missing (run: ONNXRUNTIME_NODE_INSTALL=skip npm ci)" >&2; exit 77; }
mkdir -p "$dir"
rm -f "$dir/port"
node "$here/harness.js" "$dir" >"$dir/harness.log" 2>&1 &
echo $! >"$dir/pid"
i=0
while [ ! -s "$dir/port" ]; do
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "start.sh: harness did not start:" >&2
    cat "$dir/harness.log" >&2
    exit 1
  fi
  sleep 0.1
done
cat "$dir/port"
