#!/usr/bin/env bash
# Builds edgeml's Debian packages and checks them with lintian.
#
#   tools/package.sh [--out DIR] [--worktree] [--no-lintian] [ARCH ...]
#
# ARCH: amd64 arm64 armhf (default: all three). For each one it writes into DIR (default
# <repo>/build-deb, git-ignored):
#   edgeml_<version>_<arch>.deb          /usr/bin/edgeml, edgeml-core, edgeml(1), the systemd
#                                        unit, /etc/edgeml/edgeml-core.conf, /usr/share/doc/edgeml
#   libedgeml0_<version>_<arch>.deb      libedgeml.so.0 (the runtime)
#   libedgeml-sdk0_<version>_<arch>.deb  libedgeml-sdk.so.0 (what functions link)
#   libedgeml-dev_<version>_<arch>.deb   headers, static libraries, pkg-config files
# and lintian-<arch>.txt (lintian's full output). The exit status is non-zero when a build fails
# or lintian reports an error.
#
# How: dpkg-buildpackage with the project's debian/ directory (debhelper, cmake), for the ARM
# architectures as a cross build (`dpkg-buildpackage -a ARCH`, DEB_BUILD_PROFILES="cross
# nocheck") with the project's toolchain files cmake/toolchains/<triplet>.cmake. The package
# dependencies (Depends:) come from dpkg-shlibdeps, which reads the multiarch libraries of the
# target architecture (libcurl4:arm64, ...), so those are installed too.
#
# The sources are the committed tree (git archive HEAD: what a fresh clone has); --worktree
# takes the working tree instead (tracked and untracked, not ignored, files).
#
# As root on Debian 12 it installs what it needs with apt-get: dpkg-dev debhelper lintian
# cmake pkgconf and the -dev libraries; for arm64/armhf also `dpkg --add-architecture`,
# crossbuild-essential-ARCH, pkgconf:ARCH (the ARCH pkg-config wrapper) and the -dev libraries
# of ARCH. EDGEML_JOBS sets the build's parallelism (default: the number of CPUs).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build-deb
WORKTREE=0
LINTIAN=1
ARCHES=()
while [ $# -gt 0 ]; do
    case $1 in
        --out) OUT=$2; shift 2 ;;
        --out=*) OUT=${1#--out=}; shift ;;
        --worktree) WORKTREE=1; shift ;;
        --no-lintian) LINTIAN=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        amd64|arm64|armhf) ARCHES+=("$1"); shift ;;
        *) echo "package.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ ${#ARCHES[@]} -gt 0 ] || ARCHES=(amd64 arm64 armhf)
JOBS=${EDGEML_JOBS:-$(nproc 2>/dev/null || echo 2)}
BUILD_ARCH=$(dpkg --print-architecture)
log() { echo "package.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# the -dev libraries of debian/control's Build-Depends
DEV_LIBS=(libjansson-dev libarchive-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev)

apt_install() {
    # $@: packages (with :arch); installs the missing ones
    local need=() p
    for p in "$@"; do
        # installed for the build architecture (or Architecture: all) unless p names one
        local want="installed ($BUILD_ARCH|all)"
        case $p in *:*) want="installed ${p#*:}" ;; esac
        dpkg-query -W -f '${db:Status-Status} ${Architecture}\n' "${p%%:*}" 2>/dev/null |
            grep -qxE "$want" || need+=("$p")
    done
    [ ${#need[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})"
    log "apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # other apt users on the machine: wait for the lock instead of failing
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

tools=(dpkg-dev debhelper fakeroot cmake pkgconf make gcc libc6-dev git)
[ "$LINTIAN" = 1 ] && tools+=(lintian)
apt_install "${tools[@]}" "${DEV_LIBS[@]}"
for a in "${ARCHES[@]}"; do
    [ "$a" = "$BUILD_ARCH" ] && continue
    if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
        [ "$(id -u)" = 0 ] || die "architecture $a is not enabled (as root: dpkg --add-architecture $a)"
        log "dpkg --add-architecture $a"
        dpkg --add-architecture "$a"
    fi
    apt_install "crossbuild-essential-$a" "pkgconf:$a" "${DEV_LIBS[@]/%/:$a}"
done

VERSION=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
UPSTREAM=${VERSION%-*}
mkdir -p "$OUT"
status=0
for a in "${ARCHES[@]}"; do
    work=$OUT/work-$a
    src=$work/edgeml-$UPSTREAM
    rm -rf "$work"
    mkdir -p "$src"
    if [ "$WORKTREE" = 1 ]; then
        (cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$src"
    else
        git -C "$ROOT" archive HEAD | tar -xf - -C "$src"
    fi
    flags=(--no-sign -b "-j$JOBS")
    profiles=nocheck
    if [ "$a" != "$BUILD_ARCH" ]; then
        flags+=(-a "$a")
        profiles="cross nocheck"
        triplet=$(dpkg-architecture -a "$a" -qDEB_HOST_GNU_TYPE 2>/dev/null)
        [ -f "$src/cmake/toolchains/$triplet.cmake" ] ||
            log "warning: cmake/toolchains/$triplet.cmake is not in the tree: debhelper's cross settings only"
    fi
    log "$a: dpkg-buildpackage ${flags[*]} (log: $work/build.log)"
    if ! (cd "$src" && DEB_BUILD_PROFILES=$profiles DEB_BUILD_OPTIONS="nocheck noddebs parallel=$JOBS" \
            dpkg-buildpackage "${flags[@]}") >"$work/build.log" 2>&1; then
        tail -n 40 "$work/build.log" >&2
        log "$a: build failed (full log: $work/build.log)"
        status=1
        continue
    fi
    debs=()
    for p in edgeml libedgeml0 libedgeml-sdk0 libedgeml-dev; do
        f=${p}_${VERSION}_$a.deb
        [ -f "$work/$f" ] || { log "$a: $f was not built"; status=1; continue; }
        mv -f "$work/$f" "$OUT/$f"
        debs+=("$OUT/$f")
    done
    for f in "${debs[@]}"; do
        printf '%-60s %8s bytes\n' "$(basename "$f")" "$(stat -c %s "$f")"
    done
    if [ "$LINTIAN" = 1 ] && [ ${#debs[@]} -gt 0 ]; then
        # error and warning tags fail nothing by themselves here: --fail-on error does
        lintian --fail-on error --info --display-info "${debs[@]}" >"$OUT/lintian-$a.txt" 2>&1 || {
            log "$a: lintian reports errors:"; grep '^E:' "$OUT/lintian-$a.txt" >&2 || cat "$OUT/lintian-$a.txt" >&2
            status=1
        }
        log "$a: lintian: $(grep -c '^E:' "$OUT/lintian-$a.txt" || true) errors, $(grep -c '^W:' "$OUT/lintian-$a.txt" || true) warnings, $(grep -c '^I:' "$OUT/lintian-$a.txt" || true) info ($OUT/lintian-$a.txt)"
    fi
    rm -rf "$work"
done
exit $status
