#!/bin/bash
# Store tests: round trips, hostile archives, views/modes, GC, atomic
# activation under a reader, kill -9 during unpack. Usage: test_store.sh DEP_TOOL
set -u
TOOL=$1
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/edgeml-store-test.XXXXXX)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
pass=0 failn=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; failn=$((failn + 1)); }

/usr/bin/python3 "$HERE/mk_pkgs.py" "$T/p" || { echo "FAIL mk_pkgs"; echo "0 passed, 1 failed"; exit 1; }
P=$T/p
NORMAL_SRC=$P/src

# store/ holds only complete entries named by a sha (plus views), never .tmp-*
store_clean() { ! ls -A "$1/store" 2>/dev/null | grep -q '^\.tmp-'; }
store_empty() { [ -z "$(ls -A "$1/store" 2>/dev/null)" ]; }

# ---- round trips ----
for f in pkg.tar pkg.tar.gz pkg.zip pkg.tar.xz pkg.tar.bz2 plain.onnx; do
    R=$T/rt-$f
    sha=$("$TOOL" unpack "$R" "$P/$f" "s3://bucket/models/$f" 2>"$T/err") || { bad "roundtrip $f: $(cat "$T/err")"; continue; }
    want=$(sha256sum "$P/$f" | cut -d' ' -f1)
    [ "$sha" = "$want" ] || { bad "roundtrip $f: digest $sha != $want"; continue; }
    E=$R/store/$sha
    if [ "$f" = plain.onnx ]; then
        cmp -s "$E/plain.onnx" "$P/plain.onnx" && [ "$(ls -A "$E")" = plain.onnx ] \
            && ok "roundtrip $f (single file)" || bad "roundtrip $f: content differs"
        continue
    fi
    # zip stores the hard link as a second copy; compare content, not inodes
    x=""; [ "$f" = pkg.zip ] && x="-x weights-link -x labels-up"
    if diff -r --no-dereference $x "$NORMAL_SRC" "$E" >"$T/diff" 2>&1; then
        m_top=$(stat -c %a "$E"); m_f=$(stat -c %a "$E/labels.txt"); m_x=$(stat -c %a "$E/run.sh")
        m_d=$(stat -c %a "$E/sub")
        if [ "$m_top" = 500 ] && [ "$m_f" = 444 ] && { [ "$m_x" = 555 ] || [ "$f" = pkg.zip ]; } && [ "$m_d" = 555 ]; then
            ok "roundtrip $f"
        else
            bad "roundtrip $f: modes top=$m_top file=$m_f exec=$m_x dir=$m_d"
        fi
    else
        bad "roundtrip $f: $(head -5 "$T/diff")"
    fi
done
if command -v zstd >/dev/null; then
    (cd "$NORMAL_SRC" && tar --zstd -cf "$P/pkg.tar.zst" .)
    sha=$("$TOOL" unpack "$T/rt-zst" "$P/pkg.tar.zst" pkg.tar.zst 2>"$T/err") \
        && diff -r --no-dereference "$NORMAL_SRC" "$T/rt-zst/store/$sha" >/dev/null \
        && ok "roundtrip tar.zst" || bad "roundtrip tar.zst: $(cat "$T/err")"
else
    echo "SKIP tar.zst (no zstd program to build one)"
fi
# Unchanged package with its digest given: nothing is read.
sha=$(sha256sum "$P/pkg.tar.gz" | cut -d' ' -f1)
"$TOOL" unpack "$T/rt-pkg.tar.gz" /nonexistent/file pkg.tar.gz --expect "$sha" >/dev/null 2>"$T/err" \
    && ok "known digest: no read" || bad "known digest: $(cat "$T/err")"
# Wrong digest: refused, no trace.
"$TOOL" unpack "$T/dig" "$P/pkg.tar.gz" pkg.tar.gz --expect "$(printf '%064d' 0)" 2>"$T/err" >/dev/null
if [ $? -ne 0 ] && grep -q "expected 0000" "$T/err" && store_empty "$T/dig"; then ok "bad digest refused"
else bad "bad digest: $(cat "$T/err")"; fi

# ---- hostile and broken packages ----
for h in "$P"/hostile/*; do
    n=$(basename "$h")
    R=$T/h-$n
    if "$TOOL" unpack "$R" "$h" "$n" >/dev/null 2>"$T/err"; then
        bad "hostile $n accepted"; continue
    fi
    msg=$(cat "$T/err")
    case $n in
    truncated.tar.gz) want="corrupt\|truncat\|Truncat" ;;
    notatar.tar) want="not a tar" ;;
    *) want="EVIL" ;;
    esac
    if ! echo "$msg" | grep -q "$want"; then bad "hostile $n: message does not name the entry: $msg"
    elif [ "$(echo "$msg" | wc -l)" -ne 1 ]; then bad "hostile $n: not one line: $msg"
    elif ! store_empty "$R"; then bad "hostile $n: left $(ls -A "$R/store")"
    elif ls /tmp/EVIL-* "$T"/EVIL-* "$T"/p/EVIL* >/dev/null 2>&1; then bad "hostile $n: wrote outside"
    else ok "hostile $n refused: $msg"; fi
done

# ---- activation, views and modes ----
# As root, views are owned by root with the OwnerSetting's group; run by another user, a
# deployment keeps that user as the owner and can only give its own groups.
if [ "$(id -u)" = 0 ]; then
    OWN="0 0"; G1=4242; G2=4243
else
    OWN="$(id -u) $(id -g)"; G1=$(id -g); G2=$(id -g)
fi
R=$T/act
s1=$("$TOOL" deploy "$R" M "$P/v1.tar.gz" v1.tar.gz --keep 1) || bad "deploy v1"
[ "$(cat "$R/resources/M/a")" = "$(printf 'v1%.0s' 1 2 3 4 5 6 7 8)" ] && ok "v1 readable at resources/M" || bad "v1 content"
[ "$(readlink "$R/resources/M")" = "../store/$s1.root" ] && ok "resources/M -> ../store/<sha>.root" \
    || bad "link is $(readlink "$R/resources/M")"
[ "$(stat -c '%a %u %g' "$R/store/$s1.root")" = "500 $OWN" ] && [ "$(stat -c %a "$R/store/$s1.root/a")" = 400 ] \
    && ok "root-only modes 0500/0400 (owner $OWN)" || bad "root-only modes: $(stat -c '%a %u %g' "$R/store/$s1.root" "$R/store/$s1.root/a")"
[ ! -e "$R/store/$s1" ] && ok "first view took the pristine tree over (no copy)" || bad "pristine left beside its view"
# the same content for another resource with a group owner: a copy with its modes
"$TOOL" deploy "$R" N "$P/v1.tar.gz" v1.tar.gz --group "$G1" --perm ro --keep 1 >/dev/null || bad "deploy N"
[ "$(stat -c '%a %g' "$R/store/$s1.g$G1-ro")" = "550 $G1" ] && [ "$(stat -c '%a %g' "$R/store/$s1.g$G1-ro/b")" = "440 $G1" ] \
    && [ "$(stat -c %a "$R/store/$s1.root/a")" = 400 ] && ok "ro view 0550/0440 gid $G1 beside root view" \
    || bad "ro view modes: $(stat -c '%n %a %g' "$R/store/$s1".*/b)"
s2=$("$TOOL" deploy "$R" W "$P/v2.tar.gz" v2.tar.gz --group "$G2" --perm rw --keep 1) || bad "deploy W"
[ "$(stat -c '%a %g' "$R/store/$s2.g$G2-rw")" = "770 $G2" ] && [ "$(stat -c '%a' "$R/store/$s2.g$G2-rw/a")" = 660 ] \
    && ok "rw view 0770/0660" || bad "rw view modes"
if [ "$(id -u)" != 0 ]; then
    # a group this user is not in: refused naming the group, nothing switched
    was=$(readlink "$R/resources/N")
    "$TOOL" deploy "$R" N "$P/v2.tar.gz" v2.tar.gz --group 4242 --perm ro --keep 1 >/dev/null 2>"$T/err" \
        && bad "non-root: foreign group accepted" \
        || { grep -q "chown to group 4242" "$T/err" && [ "$(readlink "$R/resources/N")" = "$was" ] \
             && ok "non-root: a foreign group is refused, N unchanged: $(head -c 200 "$T/err")" \
             || bad "non-root: foreign group: $(cat "$T/err")"; }
fi
"$TOOL" deploy "$R" X "$P/v2.tar.gz" v2.tar.gz --group 4243 >/dev/null 2>"$T/err" \
    && bad "half OwnerSetting accepted" || ok "half OwnerSetting refused: $(cat "$T/err")"

# ---- keep N and garbage collection ----
R=$T/gc
s1=$("$TOOL" deploy "$R" M "$P/v1.tar.gz" v1.tar.gz --keep 1)
s2=$("$TOOL" deploy "$R" M "$P/v2.tar.gz" v2.tar.gz --keep 1)
[ -d "$R/store/$s1.root" ] && [ -d "$R/store/$s2.root" ] && ok "previous version kept (keep 1)" || bad "previous version not kept"
s3=$("$TOOL" deploy "$R" M "$P/v3.tar.gz" v3.tar.gz --keep 1)
if [ ! -e "$R/store/$s1.root" ] && [ -d "$R/store/$s2.root" ] && [ -d "$R/store/$s3.root" ]; then ok "oldest collected"
else bad "gc: $(ls "$R/store")"; fi
"$TOOL" unpack "$R" "$P/pkg.tar" pkg.tar >/dev/null   # unpacked, never activated
"$TOOL" gc "$R" --keep 0
[ "$(ls "$R/store")" = "$s3.root" ] && ok "gc keep 0: only the active view stays" || bad "gc keep 0: $(ls "$R/store")"

# ---- atomic activation under a reader ----
R=$T/atomic
s1=$("$TOOL" deploy "$R" M "$P/v1.tar.gz" v1.tar.gz --keep 2)
s2=$("$TOOL" deploy "$R" M "$P/v2.tar.gz" v2.tar.gz --keep 2)
"$TOOL" reader "$R" M "$T/stop" >"$T/reader.out" 2>&1 &
rpid=$!
sleep 0.1
okact=1
for i in $(seq 1 100); do
    "$TOOL" activate "$R" M "$s1" --keep 2 || okact=0
    "$TOOL" activate "$R" M "$s2" --keep 2 || okact=0
    "$TOOL" gc "$R" --keep 2 || okact=0
done
touch "$T/stop"
wait $rpid; rrc=$?
if [ $okact = 1 ] && [ $rrc = 0 ]; then ok "200 activations, reader never saw a mix: $(cat "$T/reader.out")"
else bad "atomic: activations ok=$okact reader rc=$rrc: $(cat "$T/reader.out")"; fi

# ---- kill -9 during unpack, then rerun ----
R=$T/kill
s1=$("$TOOL" deploy "$R" M "$P/v1.tar.gz" v1.tar.gz)
"$TOOL" deploy "$R" M "$P/many.tar" many.tar --slow 5 >/dev/null 2>&1 &
kpid=$!
for i in $(seq 1 200); do ls -A "$R/store" | grep -q '^\.tmp-' && break; sleep 0.02; done
sleep 0.2
kill -9 $kpid 2>/dev/null; wait $kpid 2>/dev/null
if ! ls -A "$R/store" | grep -q '^\.tmp-'; then bad "kill -9: no unpack was in progress"
elif [ "$(readlink "$R/resources/M")" != "../store/$s1.root" ] || [ ! -r "$R/resources/M/a" ]; then
    bad "kill -9: previous version not active"
else
    s4=$("$TOOL" deploy "$R" M "$P/many.tar" many.tar 2>"$T/err")
    if [ -n "$s4" ] && store_clean "$R" && cmp -s <(cat "$R/resources/M/d3/f10") <(printf '10\n%.0s' $(seq 1000)); then
        ok "kill -9 mid-unpack, rerun succeeds and leaves no .tmp-"
    else bad "kill -9 rerun: $(cat "$T/err") $(ls -A "$R/store")"; fi
fi

echo "$pass passed, $failn failed"
[ $failn -eq 0 ]
