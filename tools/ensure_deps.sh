#!/usr/bin/env bash
# Make sure the tools that edgeml's model tests and demo need are present, installing what is
# missing on Debian (apt-get, as root) and the pinned npm dependencies (npm ci).
#
# Usage: tools/ensure_deps.sh [python] [node] [ort] [build]     (no argument: all of them)
#   python  /usr/bin/python3 with numpy, onnx, torch, torchvision  (python3-numpy python3-onnx
#           python3-torch python3-torchvision)
#   node    node + npm  (nodejs npm)
#   ort     node_modules/onnxruntime-node at the version pinned in package-lock.json (npm ci)
#   build   cmake + a C compiler + make (cmake gcc make libc6-dev)
# Also usable as a library: `. tools/ensure_deps.sh` defines ensure_deps and does nothing else.
# Messages go to stderr; exit status non-zero (or return, when sourced) if something is still
# missing afterwards.

_ed_log() { echo "ensure_deps: $*" >&2; }

_ed_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

_ed_apt_install() {
    # $@: Debian package names
    if [ "$(id -u)" != 0 ]; then
        _ed_log "missing Debian packages: $* (run as root, or: sudo apt-get install $*)"
        return 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        _ed_log "missing packages $* and no apt-get to install them"
        return 1
    fi
    _ed_log "apt-get install $*"
    export DEBIAN_FRONTEND=noninteractive
    # update once per process; the lists may be absent on a fresh image
    if [ -z "${_ED_APT_UPDATED:-}" ]; then
        apt-get update -qq >&2 || { _ed_log "apt-get update failed"; return 1; }
        _ED_APT_UPDATED=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >&2 || { _ed_log "apt-get install $* failed"; return 1; }
}

_ed_python() {
    local missing=() mod pkg
    if [ ! -x /usr/bin/python3 ]; then
        missing+=(python3)
    fi
    for mod in numpy:python3-numpy onnx:python3-onnx torch:python3-torch torchvision:python3-torchvision; do
        pkg=${mod#*:}
        mod=${mod%%:*}
        if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c "import $mod" >/dev/null 2>&1; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    _ed_apt_install "${missing[@]}" || return 1
    /usr/bin/python3 -c "import numpy, onnx, torch, torchvision" >/dev/null 2>&1 ||
        { _ed_log "/usr/bin/python3 still cannot import numpy, onnx, torch, torchvision"; return 1; }
}

_ed_node() {
    local missing=()
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    [ ${#missing[@]} -eq 0 ] && return 0
    _ed_apt_install "${missing[@]}"
}

_ed_ort() {
    local root want have
    root=$(_ed_root)
    _ed_node || return 1
    want=$(node -e "const l=require(process.argv[1]);process.stdout.write(l.packages['node_modules/onnxruntime-node'].version)" \
        "$root/package-lock.json" 2>/dev/null) || { _ed_log "cannot read $root/package-lock.json"; return 1; }
    have=$(node -e "process.stdout.write(require(process.argv[1]).version)" \
        "$root/node_modules/onnxruntime-node/package.json" 2>/dev/null || true)
    if [ "$have" = "$want" ] && (cd "$root" && node -e "require('onnxruntime-node')" >/dev/null 2>&1); then
        return 0
    fi
    _ed_log "npm ci (onnxruntime-node $want)"
    # ONNXRUNTIME_NODE_INSTALL=skip: onnxruntime-node's postinstall would otherwise try to fetch
    # optional GPU binaries from nuget.org; the CPU build is inside the npm tarball.
    (cd "$root" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >&2) ||
        { _ed_log "npm ci failed"; return 1; }
    (cd "$root" && node -e "require('onnxruntime-node')" >/dev/null 2>&1) ||
        { _ed_log "onnxruntime-node does not load after npm ci"; return 1; }
}

_ed_build() {
    local missing=()
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
    command -v make >/dev/null 2>&1 || missing+=(make)
    # libraries the deployment modules link (JSON, archives, HTTP, crypto, SQL)
    local p
    for p in pkg-config libjansson-dev libarchive-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    _ed_apt_install "${missing[@]}"
}

ensure_deps() {
    local what rc=0
    [ $# -eq 0 ] && set -- python node ort build
    for what in "$@"; do
        case $what in
            python) _ed_python || rc=1 ;;
            node) _ed_node || rc=1 ;;
            ort) _ed_ort || rc=1 ;;
            build) _ed_build || rc=1 ;;
            *) _ed_log "unknown component '$what'"; rc=2 ;;
        esac
    done
    return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    ensure_deps "$@"
fi
