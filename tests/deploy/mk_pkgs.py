#!/usr/bin/python3
"""Builds the packages test_store.sh unpacks: a source tree in its common
archive forms, hostile archives (one bad entry each, named 'EVIL...' or with
the bad path), and the versioned packages of the activation tests.
Usage: mk_pkgs.py OUT"""
import io
import os
import random
import sys
import tarfile
import zipfile

out = sys.argv[1]
src = os.path.join(out, "src")
rnd = random.Random(4)


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


# The round-trip tree: binary data, nesting, an empty file, an executable, an
# internal symlink and a hard link.
write(f"{src}/model.onnx", bytes(rnd.getrandbits(8) for _ in range(300000)))
write(f"{src}/labels.txt", b"cat\ndog\n")
write(f"{src}/sub/deeper/weights.bin", bytes(rnd.getrandbits(8) for _ in range(70000)))
write(f"{src}/sub/empty", b"")
write(f"{src}/run.sh", b"#!/bin/sh\necho hi\n", 0o755)
os.symlink("sub/deeper/weights.bin", f"{src}/weights-link")
os.symlink("../labels.txt", f"{src}/sub/labels-up")
os.link(f"{src}/labels.txt", f"{src}/labels-hard.txt")

with tarfile.open(f"{out}/pkg.tar", "w", format=tarfile.GNU_FORMAT) as t:
    t.add(src, arcname=".")
for mode, ext in (("w:gz", "tar.gz"), ("w:xz", "tar.xz"), ("w:bz2", "tar.bz2")):
    with tarfile.open(f"{out}/pkg.{ext}", mode, format=tarfile.PAX_FORMAT) as t:
        # no directory entries at all: missing parents are fine
        for root, dirs, files in os.walk(src):
            for n in sorted(files):
                p = os.path.join(root, n)
                t.add(p, arcname=os.path.relpath(p, src), recursive=False)
with zipfile.ZipFile(f"{out}/pkg.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(src):
        for n in sorted(files):
            p = os.path.join(root, n)
            if not os.path.islink(p):  # zip is read as a stream: no symlinks
                z.write(p, os.path.relpath(p, src))
write(f"{out}/plain.onnx", bytes(rnd.getrandbits(8) for _ in range(50000)))


# Hostile archives: name -> list of (kind, path, arg)
def tar_with(path, entries, mode="w"):
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as t:
        ok = tarfile.TarInfo("ok.txt")
        ok.size = 3
        t.addfile(ok, io.BytesIO(b"ok\n"))
        for kind, name, arg in entries:
            ti = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                data = arg
                ti.size = len(arg)
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, arg
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "blk":
                ti.type, ti.devmajor, ti.devminor = tarfile.BLKTYPE, 7, 0
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
            t.addfile(ti, io.BytesIO(data) if data is not None else None)


hostile = os.path.join(out, "hostile")
os.makedirs(hostile)
cases = {
    "dotdot": [("file", "../EVIL-dotdot", b"x")],
    "dotdot-mid": [("file", "a/../../EVIL-mid", b"x")],
    "absolute": [("file", "/tmp/EVIL-abs", b"x")],
    "sym-abs": [("sym", "EVIL-symabs", "/etc/passwd")],
    "sym-out": [("sym", "d/EVIL-symout", "../../etc")],
    "sym-trick": [("sym", "EVIL-symtrick", "d/e/../../..")],
    "through-sym": [("sym", "lnk", "sub"), ("dir", "sub", None), ("file", "lnk/EVIL-through", b"x")],
    "hard-out": [("hard", "EVIL-hardout", "../outside")],
    "hard-abs": [("hard", "EVIL-hardabs", "/etc/passwd")],
    "hard-missing": [("hard", "EVIL-hardmissing", "nothere")],
    "chr": [("chr", "EVIL-chr", None)],
    "blk": [("blk", "EVIL-blk", None)],
    "fifo": [("fifo", "EVIL-fifo", None)],
    "dup-over-sym": [("sym", "EVIL-dup", "ok.txt"), ("file", "EVIL-dup", b"y")],
    # found by fuzz_unpack: a control character in a refused entry's name
    # made the error two lines (dep_errf now writes them as '?')
    "newline-name": [("file", "../EVIL-nl\nsecond line\x1b[2J", b"x")],
}
for name, entries in cases.items():
    tar_with(f"{hostile}/{name}.tar", entries)
tar_with(f"{hostile}/gz-dotdot.tar.gz", [("file", "../EVIL-gz", b"x")], "w:gz")
with zipfile.ZipFile(f"{hostile}/zip-dotdot.zip", "w") as z:
    z.writestr("ok.txt", b"ok\n")
    z.writestr("../EVIL-zip", b"x")
with zipfile.ZipFile(f"{hostile}/zip-abs.zip", "w") as z:
    z.writestr("/EVIL-zipabs", b"x")
# Broken: a truncated tar.gz and a "tar" that is not one.
data = open(f"{out}/pkg.tar.gz", "rb").read()
write(f"{hostile}/truncated.tar.gz", data[: len(data) // 2])
write(f"{hostile}/notatar.tar", b"this is not a tar archive\n" * 100)


# Versions for activation: a and b carry the same tag.
def version(path, tag, extra=0):
    with tarfile.open(path, "w:gz") as t:
        for n in ("a", "b"):
            body = (tag * 8).encode()
            ti = tarfile.TarInfo(n)
            ti.size = len(body)
            t.addfile(ti, io.BytesIO(body))
        if extra:
            ti = tarfile.TarInfo("big")
            ti.size = extra
            t.addfile(ti, io.BytesIO(bytes(rnd.getrandbits(8) for _ in range(extra))))


version(f"{out}/v1.tar.gz", "v1")
version(f"{out}/v2.tar.gz", "v2")
version(f"{out}/v3.tar.gz", "v3")
# Many entries, for kill -9 in the middle.
with tarfile.open(f"{out}/many.tar", "w") as t:
    for i in range(300):
        body = (b"%d\n" % i) * 1000
        ti = tarfile.TarInfo(f"d{i % 7}/f{i}")
        ti.size = len(body)
        t.addfile(ti, io.BytesIO(body))
