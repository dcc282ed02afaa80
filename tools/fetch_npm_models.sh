#!/usr/bin/env bash
# Fetch the third-party ONNX models that edgeml's real-model tests use, from pinned npm packages.
#
# Usage: tools/fetch_npm_models.sh [CACHEDIR]
#   CACHEDIR defaults to ${EDGEML_CACHE:-~/.cache/edgeml/models}/npm.
#
# Writes (skipping files already present with the pinned sha256):
#   CACHEDIR/mlsd_512x512_tiny.onnx    jp.keijiro.mlsd@1.0.0 ONNX/  (tf2onnx, NHWC RGBA float input)
#   CACHEDIR/mlsd_512x512_large.onnx   jp.keijiro.mlsd@1.0.0 ONNX/
#   CACHEDIR/isnet_small_int8.onnx     @imgly/background-removal-data@1.4.5: the chunks of
#                                      /models/small listed in dist/resources.json, concatenated
# Every tarball, chunk and final model is checked against a sha256 pinned here; a mismatch is an
# error and nothing is written. The models are never committed to the repository.
set -euo pipefail

CACHEDIR=${1:-${EDGEML_CACHE:-${HOME:-/tmp}/.cache/edgeml/models}/npm}

# Pinned packages: name@version, sha256 of the `npm pack` tarball.
MLSD_PKG=jp.keijiro.mlsd@1.0.0
MLSD_TGZ_SHA256=700e384ed337273202138ecad4a540b4b4f224b6aae92e85696c7c1a405b0bc8
IMGLY_PKG=@imgly/background-removal-data@1.4.5
IMGLY_TGZ_SHA256=ca7789abb39370727c9a098310b53bce41518d200000423c7107f8c01bbce946
# Pinned outputs.
MLSD_TINY_SHA256=86182f576d4741945c6e9f1b5f6dd308f50745e6b2144fd8e799a4ae6a306d8d
MLSD_LARGE_SHA256=c54856d88ff908a2feec230d6cab4714e88e99b692b095bb170042640e20f90d
ISNET_SHA256=7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a

die() { echo "fetch_npm_models: $*" >&2; exit 1; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
have() { [ -f "$1" ] && [ "$(sha256 "$1")" = "$2" ]; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required (apt-get install $2)"; }

need_cmd npm npm
need_cmd node nodejs
need_cmd sha256sum coreutils
need_cmd tar tar

mkdir -p "$CACHEDIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgeml-npm.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# npm_pack PKG SHA256 -> extracts into $WORK/<dir> and prints that dir
npm_pack() {
    local pkg=$1 want=$2 dir tgz got f
    dir=$WORK/$(echo "$pkg" | tr '@/' '__')
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$pkg" >/dev/null 2>"$dir/npm.log") ||
        die "npm pack $pkg failed: $(grep -v 'Unknown user config' "$dir/npm.log" | tail -n 3)"
    tgz=
    for f in "$dir"/*.tgz; do [ -f "$f" ] && tgz=$f; done
    [ -n "$tgz" ] || die "npm pack $pkg produced no tarball"
    got=$(sha256 "$tgz")
    [ "$got" = "$want" ] || die "$pkg: tarball sha256 $got, expected $want"
    mkdir -p "$dir/x"
    tar -xzf "$tgz" -C "$dir/x" --no-same-owner --no-same-permissions
    rm -f "$tgz"
    echo "$dir/x/package"
}

# install SRC DEST SHA256: verify then move into place atomically
install_file() {
    local src=$1 dest=$2 want=$3 got
    [ -f "$src" ] || die "missing $(basename "$src") in the package"
    got=$(sha256 "$src")
    [ "$got" = "$want" ] || die "$(basename "$dest"): sha256 $got, expected $want"
    cp "$src" "$dest.tmp.$$"
    mv -f "$dest.tmp.$$" "$dest"
    echo "fetch_npm_models: $dest"
}

if have "$CACHEDIR/mlsd_512x512_tiny.onnx" $MLSD_TINY_SHA256 &&
   have "$CACHEDIR/mlsd_512x512_large.onnx" $MLSD_LARGE_SHA256; then
    echo "fetch_npm_models: mlsd: cached"
else
    pkg=$(npm_pack $MLSD_PKG $MLSD_TGZ_SHA256)
    install_file "$pkg/ONNX/mlsd_512x512_tiny.onnx" "$CACHEDIR/mlsd_512x512_tiny.onnx" $MLSD_TINY_SHA256
    install_file "$pkg/ONNX/mlsd_512x512_large.onnx" "$CACHEDIR/mlsd_512x512_large.onnx" $MLSD_LARGE_SHA256
fi

if have "$CACHEDIR/isnet_small_int8.onnx" $ISNET_SHA256; then
    echo "fetch_npm_models: isnet: cached"
else
    pkg=$(npm_pack $IMGLY_PKG $IMGLY_TGZ_SHA256)
    # resources.json: { "/models/small": { "chunks": [ {"hash": H, "offsets": [a, b]}, ...],
    # "size": N }, ... }; each chunk is the file dist/<H>, H its sha256.
    node - "$pkg/dist" "$WORK/isnet.onnx" <<'EOF'
'use strict';
const fs = require('fs'), path = require('path'), crypto = require('crypto');
const [dist, out] = process.argv.slice(2);
const fail = (m) => { process.stderr.write(`fetch_npm_models: ${m}\n`); process.exit(1); };
let res;
try { res = JSON.parse(fs.readFileSync(path.join(dist, 'resources.json'), 'utf8')); }
catch (e) { fail(`resources.json: ${e.message}`); }
const ent = res['/models/small'];
if (!ent || !Array.isArray(ent.chunks) || !ent.chunks.length) fail('resources.json has no /models/small chunks');
const fd = fs.openSync(out, 'w');
let pos = 0;
for (const c of ent.chunks) {
  if (!/^[0-9a-f]{64}$/.test(c.hash)) fail(`bad chunk name ${JSON.stringify(c.hash)}`);
  const buf = fs.readFileSync(path.join(dist, c.hash));
  const h = crypto.createHash('sha256').update(buf).digest('hex');
  if (h !== c.hash) fail(`chunk ${c.hash}: sha256 ${h}`);
  if (Array.isArray(c.offsets) && (c.offsets[0] !== pos || c.offsets[1] !== pos + buf.length))
    fail(`chunk ${c.hash}: offsets ${c.offsets} do not follow ${pos} (+${buf.length})`);
  fs.writeSync(fd, buf);
  pos += buf.length;
}
fs.closeSync(fd);
if (typeof ent.size === 'number' && ent.size !== pos) fail(`/models/small: ${pos} bytes, resources.json says ${ent.size}`);
EOF
    install_file "$WORK/isnet.onnx" "$CACHEDIR/isnet_small_int8.onnx" $ISNET_SHA256
fi
