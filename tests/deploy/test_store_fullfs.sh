#!/bin/bash
# Full disk: a 1 MiB tmpfs as the root; a 2 MiB package must fail cleanly
# (one line naming the space), leave v1 active and no .tmp- behind.
# Needs root (mount); exits 77 (skipped) otherwise. Usage: test_store_fullfs.sh DEP_TOOL
set -u
TOOL=$1
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root to mount a small tmpfs"; exit 77; fi
T=$(mktemp -d /tmp/edgeml-fullfs.XXXXXX)
M=$T/root
mkdir -p "$M"
if ! mount -t tmpfs -o size=1m tmpfs "$M" 2>"$T/merr"; then
    echo "SKIP: cannot mount tmpfs: $(cat "$T/merr")"; rm -rf "$T"; exit 77
fi
trap 'umount "$M"; rm -rf "$T"' EXIT
pass=0 failn=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; failn=$((failn + 1)); }
/usr/bin/python3 - "$T" <<'PY'
import io, os, sys, tarfile
t = sys.argv[1]
def pkg(path, files, mode="w:gz"):
    with tarfile.open(path, mode) as tf:
        for n, body in files:
            ti = tarfile.TarInfo(n); ti.size = len(body); tf.addfile(ti, io.BytesIO(body))
pkg(f"{t}/v1.tar.gz", [("a", b"v1" * 8), ("b", b"v1" * 8)])
# declared sizes fit the free-space check one by one, the total does not
pkg(f"{t}/big.tar.gz", [("part%d" % i, b"\0" * (300 * 1024)) for i in range(7)])
pkg(f"{t}/bigrand.tar.gz", [("part%d" % i, os.urandom(300 * 1024)) for i in range(7)])
# one entry bigger than the disk: refused before writing
pkg(f"{t}/huge.tar.gz", [("huge", b"\0" * (3 << 20))])
with open(f"{t}/plain.bin", "wb") as f: f.write(os.urandom(2 << 20))
PY
s1=$("$TOOL" deploy "$M" R "$T/v1.tar.gz" v1.tar.gz 2>"$T/err") || bad "v1 deploy: $(cat "$T/err")"
for p in big.tar.gz bigrand.tar.gz huge.tar.gz plain.bin; do
    if "$TOOL" deploy "$M" R "$T/$p" "$p" >/dev/null 2>"$T/err"; then bad "$p fit a 1 MiB disk?"; continue; fi
    msg=$(cat "$T/err")
    if ! echo "$msg" | grep -qi "space"; then bad "$p: message: $msg"
    elif [ "$(readlink "$M/resources/R")" != "../store/$s1.root" ] || [ "$(cat "$M/resources/R/a")" != "$(printf 'v1%.0s' 1 2 3 4 5 6 7 8)" ]; then
        bad "$p: previous version not active"
    elif ls -A "$M/store" | grep -q '^\.tmp-'; then bad "$p: left $(ls -A "$M/store")"
    else ok "$p on a full disk: $msg"; fi
done
"$TOOL" deploy "$M" R "$T/v1.tar.gz" v1.tar.gz >/dev/null 2>"$T/err" && ok "deploys again after the failures" || bad "redeploy: $(cat "$T/err")"
echo "$pass passed, $failn failed"
[ $failn -eq 0 ]
