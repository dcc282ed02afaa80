#!/usr/bin/env bash
# The amd64 Debian packages on a clean Debian 12: install, the README's quick start against the
# installed files, purge.
#
#   test_deb_install.sh REPO WORKDIR
#
# 1. tools/package.sh builds the .debs from the committed tree (git archive HEAD, what a fresh
#    clone has) into WORKDIR/deb.
# 2. A clean Debian 12 root: `debootstrap --variant=minbase bookworm` (deb.debian.org), cached
#    as ~/.cache/edgeml/bookworm-minbase-amd64.tar.gz (EDGEML_CACHE_DIR), unpacked fresh each
#    run; apt's downloaded .debs are cached beside it. All of it runs in a private mount
#    namespace (unshare -m): /proc and /dev mounted into the root vanish with it.
# 3. In the root: apt-get install ./edgeml*.deb (Depends resolved from the Debian mirror), then
#    the packaged files (unit with /usr/bin, conffile, user, /var/lib/edgeml modes, man page,
#    docs) and the quick start of tools/demo.sh with the INSTALLED /usr/bin/edgeml: deploy the
#    classify example function + SqueezeNet 1.1 to /var/lib/edgeml, start the core as the
#    packaged unit does (functions as the edgeml user), publish a frame, get the top-5 back.
#    The classify function is compiled on the host against the libedgeml-dev package's headers
#    and pkg-config files (unpacked, PKG_CONFIG_SYSROOT_DIR) and links the installed
#    libedgeml.so.0 and libedgeml-sdk.so.0 of the root (checked with ldd in the root).
# 4. apt-get purge + autoremove: the root's file list equals the one before the install;
#    again with /var/lib/edgeml/keep-on-purge: only /var/lib/edgeml is left.
# NoContainer isolation only: a GreengrassContainer needs the namespaces and cgroups of a real
# boot (tests/run and tests/core cover it on the host).
# Needs root (exit 77 = skipped otherwise), debootstrap (installed with apt when missing),
# /usr/bin/python3 with torch/torchvision/onnx (the model), gcc, libjpeg/libpng -dev.
set -euo pipefail
REPO=$(cd "$1" && pwd)
WORK=$2
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: installs packages into a debootstrap root: needs root"
    exit 77
fi
# one private mount namespace for the whole test
if [ -z "${EDGEML_DEB_TEST_NS:-}" ]; then
    exec env EDGEML_DEB_TEST_NS=1 unshare -m --propagation private "$0" "$@"
fi

t0=$(date +%s)
CACHE=${EDGEML_CACHE_DIR:-$HOME/.cache/edgeml}
BASE=$CACHE/bookworm-minbase-amd64.tar.gz
MIRROR=${EDGEML_DEBIAN_MIRROR:-http://deb.debian.org/debian}
fail=0
pass() { echo "PASS $*"; }
bad() { echo "FAIL $*"; fail=1; }
die() { echo "FAIL $*"; exit 1; }
step() { echo "== $* ($(( $(date +%s) - t0 )) s)"; }

export DEBIAN_FRONTEND=noninteractive
need=()
for p in debootstrap dpkg-dev pkgconf gcc libjpeg62-turbo-dev libpng-dev libjansson-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get -o DPkg::Lock::Timeout=900 update -qq &&
        apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
        die "apt-get install ${need[*]}"
fi

rm -rf "$WORK"
mkdir -p "$WORK" "$CACHE/apt-archives/partial"
R=$WORK/root

step "tools/package.sh amd64"
"$REPO/tools/package.sh" --no-lintian --out "$WORK/deb" amd64 >"$WORK/package.log" 2>&1 ||
    { tail -n 30 "$WORK/package.log"; die "tools/package.sh"; }
VERSION=$(dpkg-parsechangelog -l "$REPO/debian/changelog" -S Version)
DEBS=()
for p in edgeml libedgeml0 libedgeml-sdk0 libedgeml-dev; do
    DEBS+=("$WORK/deb/${p}_${VERSION}_amd64.deb")
done
ls -l "${DEBS[@]}" | awk '{print $5, $9}'

step "clean Debian 12 root"
if [ ! -s "$BASE" ]; then
    echo "debootstrap --variant=minbase bookworm $MIRROR (cached as $BASE)"
    debootstrap --variant=minbase bookworm "$WORK/dbs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
        { tail -n 20 "$WORK/debootstrap.log"; die "debootstrap"; }
    tar -C "$WORK/dbs" -czf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
    rm -rf "$WORK/dbs"
fi
mkdir -p "$R"
tar -C "$R" -xzf "$BASE"
cp /etc/resolv.conf "$R/etc/resolv.conf"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount --bind "$CACHE/apt-archives" "$R/var/cache/apt/archives"
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"; }

# what the example function needs at run time (not edgeml's): before the "before" list
in_root apt-get update -qq >/dev/null || die "apt-get update in the root"
in_root apt-get install -y -qq --no-install-recommends libjpeg62-turbo libpng16-16 >/dev/null ||
    die "apt-get install libjpeg62-turbo libpng16-16 in the root"
# the root's files, apart from the package manager's own state, caches, logs and mounts
listing() {
    in_root find / -xdev \( -path /proc -o -path /dev -o -path /sys -o -path /tmp -o -path /run \
        -o -path /var/cache -o -path /var/log -o -path /var/lib/apt -o -path /var/lib/dpkg \
        -o -path /srv \) -prune -o -print | LC_ALL=C sort
}
listing >"$WORK/before.txt"
# Creating the system user (kept on purge, see debian/README.Debian) makes the shadow tools'
# backups of the user database, /etc/shadow- and /etc/gshadow- (/etc/passwd- and /etc/group-
# are already there): the only files the install may leave besides /var/lib/edgeml.
printf '%s\n' /etc/shadow- /etc/gshadow- | LC_ALL=C sort -u - "$WORK/before.txt" >"$WORK/before+user.txt"

step "the demo's packages, built against the installed library"
mkdir -p "$WORK/dev" "$R/srv/demo"
dpkg-deb -x "$WORK/deb/libedgeml-dev_${VERSION}_amd64.deb" "$WORK/dev"
dpkg-deb -x "$WORK/deb/libedgeml0_${VERSION}_amd64.deb" "$WORK/dev"
dpkg-deb -x "$WORK/deb/libedgeml-sdk0_${VERSION}_amd64.deb" "$WORK/dev"
ex=$REPO/examples/classify
if PKG_CONFIG_SYSROOT_DIR=$WORK/dev PKG_CONFIG_LIBDIR=$WORK/dev/usr/lib/x86_64-linux-gnu/pkgconfig \
   sh -c 'cc -O2 -std=c11 -D_GNU_SOURCE "$@" $(pkg-config --cflags --libs edgeml-sdk edgeml) \
       $(pkg-config --libs jansson libpng 2>/dev/null || echo -ljansson -lpng16) -ljpeg -lm' _ \
       "$ex/classify.c" "$ex/classifier.c" "$ex/image.c" -I"$ex" -o "$WORK/classify" \
       2>"$WORK/classify-build.log"; then
    pass "classify builds with the libedgeml-dev package's headers and pkg-config files (edgeml, edgeml-sdk)"
else
    cat "$WORK/classify-build.log"; die "classify does not build against libedgeml-dev"
fi
/usr/bin/python3 "$REPO/tools/mk_classifier_pkg.py" all "$R/srv/demo/pkg" --classify "$WORK/classify" \
    --isolation NoContainer >"$WORK/mkpkg.log" 2>&1 || { tail -n 20 "$WORK/mkpkg.log"; die "mk_classifier_pkg.py"; }
# the group's file:// URIs name the host's path of the root: make them the root's own
sed -i "s|$R/srv/demo|/srv/demo|g" "$R/srv/demo/pkg/group.json"
mkdir -p "$R/srv/debs"
cp "${DEBS[@]}" "$R/srv/debs/"

install_debs() {
    # shellcheck disable=SC2046
    in_root apt-get install -y -qq --no-install-recommends $(cd "$R" && printf '/srv/debs/%s ' $(ls srv/debs)) \
        >"$WORK/install.log" 2>&1
}
purge_debs() {
    in_root apt-get purge -y -qq edgeml libedgeml0 libedgeml-sdk0 libedgeml-dev >"$WORK/purge.log" 2>&1 &&
        in_root apt-get autoremove --purge -y -qq >>"$WORK/purge.log" 2>&1
}

step "apt-get install the four packages"
install_debs || { cat "$WORK/install.log"; die "apt-get install of the packages on a clean Debian 12"; }
pass "apt-get install ./edgeml_${VERSION}_amd64.deb ./libedgeml*.deb on a clean Debian 12 (Depends from the mirror)"
in_root dpkg-query -W -f '${Depends}\n' edgeml | sed 's/^/  edgeml Depends: /'

# what the packages put in place
[ "$(in_root /usr/bin/edgeml --version 2>&1)" != "" ] && pass "/usr/bin/edgeml --version: $(in_root /usr/bin/edgeml --version 2>&1)" || bad "edgeml --version"
[ -x "$R/usr/bin/edgeml-core" ] && pass "/usr/bin/edgeml-core installed" || bad "no /usr/bin/edgeml-core"
unit=$R/lib/systemd/system/edgeml-core.service
if [ -f "$unit" ] && grep -q '^ExecStart=.*/usr/bin/edgeml core' "$unit" && ! grep -v '^#' "$unit" | grep -q /usr/local; then
    pass "edgeml-core.service installed, runs /usr/bin/edgeml (no /usr/local)"
else
    bad "edgeml-core.service missing or not using /usr/bin"
fi
[ -L "$R/etc/systemd/system/multi-user.target.wants/edgeml-core.service" ] &&
    pass "edgeml-core.service enabled" || bad "edgeml-core.service not enabled"
in_root dpkg-query -W -f '${Conffiles}\n' edgeml | grep -q ' /etc/edgeml/edgeml-core.conf ' &&
    pass "/etc/edgeml/edgeml-core.conf is a conffile" || bad "/etc/edgeml/edgeml-core.conf is not a conffile"
if uent=$(in_root getent passwd edgeml); then
    IFS=: read -r _ _ EUID_ EGID_ _ ehome eshell <<<"$uent"
    [ "$EUID_" -lt 1000 ] && [ "$eshell" = /usr/sbin/nologin ] &&
        pass "system user edgeml: uid $EUID_ gid $EGID_ home $ehome shell $eshell" ||
        bad "user edgeml is not a system user: $uent"
else
    bad "no user edgeml"; EUID_=x EGID_=x
fi
perm=$(stat -c '%U:%G %a' "$R/var/lib/edgeml")
[ "$perm" = "root:root 755" ] && pass "/var/lib/edgeml root:root 0755" || bad "/var/lib/edgeml is $perm"
[ -f "$R/usr/share/man/man1/edgeml.1.gz" ] && in_root zcat /usr/share/man/man1/edgeml.1.gz | grep -q '^\.SH COMMANDS' &&
    pass "edgeml(1) installed" || bad "no edgeml(1)"
for d in README.md architecture.md core.md runtime.md copyright changelog.Debian.gz README.Debian; do
    [ -f "$R/usr/share/doc/edgeml/$d" ] || bad "no /usr/share/doc/edgeml/$d"
done
[ -f "$R/usr/share/doc/edgeml/architecture.md" ] && pass "docs under /usr/share/doc/edgeml"
# the function links the root's installed libraries
mkdir -p "$R/srv/check" && cp "$WORK/classify" "$R/srv/check/classify"
ldd_out=$(in_root ldd /srv/check/classify)
if grep -q 'libedgeml.so.0 => /lib/x86_64-linux-gnu/libedgeml.so.0\|libedgeml.so.0 => /usr/lib/x86_64-linux-gnu/libedgeml.so.0' <<<"$ldd_out" &&
   grep -q 'libedgeml-sdk.so.0 => /[a-z/]*lib/x86_64-linux-gnu/libedgeml-sdk.so.0' <<<"$ldd_out" &&
   ! grep -q 'not found' <<<"$ldd_out"; then
    pass "classify links the installed libedgeml.so.0 and libedgeml-sdk.so.0"
else
    echo "$ldd_out"; bad "classify does not resolve to the installed libraries"
fi
rm -rf "$R/srv/check"

step "quick start with the installed edgeml (tools/demo.sh's flow)"
D=/var/lib/edgeml
if in_root /usr/bin/edgeml deploy /srv/demo/pkg/group.json --root $D >"$WORK/deploy.out" 2>&1; then
    pass "edgeml deploy group.json --root $D"
else
    cat "$WORK/deploy.out"; die "edgeml deploy"
fi
# as edgeml-core.service starts it: its options file, functions as the user edgeml
in_root /bin/sh -c '. /etc/edgeml/edgeml-core.conf; exec /usr/bin/edgeml core --root /var/lib/edgeml --run-as "$(id -u edgeml):$(id -g edgeml)" $EDGEML_CORE_OPTS' \
    >"$WORK/core.out" 2>&1 &
CORE=$!
stop_core() {
    if kill -0 "$CORE" 2>/dev/null; then kill -TERM "$CORE"; wait "$CORE" 2>/dev/null || true; fi
}
trap 'stop_core' EXIT
for _ in $(seq 100); do [ -S "$R$D/run/core.sock" ] && break; sleep 0.1; done
[ -S "$R$D/run/core.sock" ] || { cat "$WORK/core.out"; die "no $D/run/core.sock after 10 s"; }
in_root /usr/bin/edgeml subscribe --root $D 'inference/#' --count 1 --timeout-ms 40000 >"$WORK/result.out" 2>"$WORK/sub.err" &
SUB=$!
sleep 0.3
got=
for _ in 1 2 3 4 5 6; do
    in_root /usr/bin/edgeml publish --root $D camera/cam1/frames /srv/demo/pkg/frame.jpg >/dev/null 2>&1 || true
    for _ in $(seq 50); do kill -0 "$SUB" 2>/dev/null || { got=1; break; }; sleep 0.1; done
    [ -n "$got" ] && break
done
wait "$SUB" 2>/dev/null || true
if grep -q '^inference/' "$WORK/result.out" && grep -q '"top5"\|"label"' "$WORK/result.out"; then
    pass "publish camera/cam1/frames frame.jpg -> $(cut -c1-160 "$WORK/result.out" | head -n 1)"
else
    echo "--- subscribe:"; cat "$WORK/result.out" "$WORK/sub.err"; echo "--- core:"; tail -n 20 "$WORK/core.out"
    echo "--- function log:"; tail -n 20 "$R$D/logs/functions/"*.log 2>/dev/null || true
    bad "no classification result on inference/#"
fi
if grep -q "started pid [0-9]* (pinned, NoContainer, uid $EUID_ gid $EGID_)" "$R$D/logs/core.log"; then
    pass "the function ran as the user edgeml ($EUID_:$EGID_)"
else
    grep 'started pid' "$R$D/logs/core.log" || true; bad "the function did not run as edgeml ($EUID_:$EGID_)"
fi
stop_core
trap - EXIT
in_root /usr/bin/edgeml status --root $D >/dev/null 2>&1 && pass "edgeml status --root $D" || bad "edgeml status"

step "apt-get purge"
purge_debs || { cat "$WORK/purge.log"; die "apt-get purge"; }
listing >"$WORK/after.txt"
if diff "$WORK/before+user.txt" "$WORK/after.txt" >"$WORK/purge.diff"; then
    pass "purge: the root's file list equals the one before the install ($(wc -l <"$WORK/after.txt") paths; /var/lib/edgeml and /etc/edgeml gone; the user's /etc/shadow- /etc/gshadow- backups stay)"
else
    echo "--- files that differ (< before, > after):"; head -n 40 "$WORK/purge.diff"
    bad "purge left files behind"
fi
in_root getent passwd edgeml >/dev/null && pass "purge keeps the user edgeml (documented: files elsewhere may carry its uid)" ||
    bad "purge removed the user edgeml (debian/README.source says it stays)"

step "apt-get purge with /var/lib/edgeml/keep-on-purge"
install_debs || { cat "$WORK/install.log"; die "second apt-get install"; }
in_root /usr/bin/edgeml deploy /srv/demo/pkg/group.json --root $D >"$WORK/deploy2.out" 2>&1 || { cat "$WORK/deploy2.out"; die "second deploy"; }
touch "$R$D/keep-on-purge"
( cd "$R" && find ./var/lib/edgeml | sed 's|^\.||' | LC_ALL=C sort ) >"$WORK/data.txt"
purge_debs || { cat "$WORK/purge.log"; die "second apt-get purge"; }
listing >"$WORK/after2.txt"
LC_ALL=C sort -u "$WORK/before+user.txt" "$WORK/data.txt" >"$WORK/expect2.txt"
if diff "$WORK/expect2.txt" "$WORK/after2.txt" >"$WORK/purge2.diff"; then
    pass "purge with keep-on-purge: only /var/lib/edgeml is left ($(wc -l <"$WORK/data.txt") paths, group.json and state.db included)"
else
    echo "--- (< expected, > after):"; head -n 40 "$WORK/purge2.diff"
    bad "purge with keep-on-purge: files differ"
fi
[ -f "$R$D/state.db" ] || bad "state.db not kept"
grep -q 'keeping /var/lib/edgeml' "$WORK/purge.log" && pass "purge says it keeps /var/lib/edgeml" || bad "purge did not say it kept /var/lib/edgeml"

step "done"
umount -l "$R/var/cache/apt/archives" "$R/dev" "$R/proc" 2>/dev/null || true
[ "${EDGEML_DEB_TEST_KEEP:-0}" = 1 ] || rm -rf "$R"
exit $fail
