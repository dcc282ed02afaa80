#!/usr/bin/python3
"""Round trip and rejection tests of the CLI's .npy reader/writer (via npy_tool).

usage: test_npy.py NPY_TOOL
"""
import io
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

TOOL = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="edgeml-npy-")
failures = []

DTYPES = {  # numpy dtype -> edgeml dtype code
    "bool": 9, "int8": 3, "uint8": 2, "int16": 5, "uint16": 4, "int32": 6, "uint32": 12,
    "int64": 7, "uint64": 13, "float16": 10, "float32": 1, "float64": 11,
}
SHAPES = [(), (0,), (3,), (2, 3), (2, 0, 4), (1, 1, 1, 1, 5), (0, 0)]


def tool(*args):
    p = subprocess.run([TOOL] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout.strip()


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def sample(dt, shape):
    rng = np.random.default_rng(sum(shape) + len(dt))
    n = int(np.prod(shape, dtype=np.int64))
    if dt == "bool":
        return (rng.integers(0, 2, n) == 1).reshape(shape)
    if dt.startswith("float"):
        a = rng.standard_normal(n).astype(dt)
        if n >= 3:
            a[0], a[1], a[2] = np.inf, -0.0, np.nan
        return a.reshape(shape)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, n, dtype=dt, endpoint=True).reshape(shape)


# ---- round trips: every dtype, versions 1/2/3, 0-d, empty -----------------
count = 0
for dt, code in DTYPES.items():
    for shape in SHAPES:
        a = sample(dt, shape)
        for ver in (1, 2, 3):
            src = os.path.join(TMP, "src.npy")
            with open(src, "wb") as f:
                np.lib.format.write_array(f, a, version=(ver, 0))
            rc, out = tool("parse", src)
            want = "ok %d %d%s" % (ver, code, "".join(" %d" % d for d in shape))
            check(rc == 0 and out == want, "parse %s %s v%d: %r (want %r)" % (dt, shape, ver, out, want))
            for wver in (0, 1, 2, 3):
                dst = os.path.join(TMP, "dst.npy")
                rc, out = tool("copy", src, dst, str(wver))
                check(rc == 0, "copy %s %s v%d->%d: %s" % (dt, shape, ver, wver, out))
                if rc:
                    continue
                b = np.load(dst)
                check(b.dtype == a.dtype and b.shape == a.shape and
                      a.tobytes() == b.tobytes(),
                      "round trip %s %s v%d->%d" % (dt, shape, ver, wver))
                with open(dst, "rb") as f:
                    raw = f.read()
                check(raw[6] == (wver or 1) and
                      (len(raw) - a.nbytes) % 64 == 0, "header layout %s v%d" % (dt, wver))
                count += 1

# numpy's np.save output (what users actually have)
for dt in DTYPES:
    a = sample(dt, (4, 5))
    src = os.path.join(TMP, "save.npy")
    np.save(src, a)
    rc, out = tool("parse", src)
    check(rc == 0, "np.save %s: %s" % (dt, out))

# bfloat16 as '<u2' raw bits
bits = np.array([0x3f80, 0xbf80, 0x7fc0, 0], dtype="<u2")
src = os.path.join(TMP, "bf.npy")
np.save(src, bits)
rc, out = tool("copy-bf16", src, os.path.join(TMP, "bf2.npy"))
check(rc == 0, "bf16 copy: " + out)
b = np.load(os.path.join(TMP, "bf2.npy"))
check(b.dtype == np.dtype("<u2") and (b == bits).all(), "bf16 round trip")

# Python 2 era 'L' suffix and 1-byte types with other order chars are fine
def raw(header, data=b"", version=1, pad=True, magic=b"\x93NUMPY"):
    h = header.encode("latin1") if isinstance(header, str) else header
    pre = 10 if version == 1 else 12
    if pad:
        total = (pre + len(h) + 1 + 63) // 64 * 64
        h = h + b" " * (total - pre - len(h) - 1) + b"\n"
    lenf = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return magic + bytes([version, 0]) + lenf + h + data


def parse_bytes(b):
    p = os.path.join(TMP, "case.npy")
    with open(p, "wb") as f:
        f.write(b)
    return tool("parse", p)


OK_CASES = {
    "py2 long dims": raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }", b"\0" * 8),
    "double quotes, no trailing comma": raw('{"descr": "<i4", "fortran_order": False, "shape": (1,)}', b"\0" * 4),
    "key order": raw("{'shape': (), 'fortran_order': False, 'descr': '|u1'}", b"\7"),
    "'<' on 1-byte": raw("{'descr': '<i1', 'fortran_order': False, 'shape': (1,), }", b"\1"),
}
for name, b in OK_CASES.items():
    rc, out = parse_bytes(b)
    check(rc == 0, "accept %s: %s" % (name, out))

HDR = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
GOOD = raw(HDR, b"\0" * 8)
BAD_CASES = {
    "fortran order": raw("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", b"\0" * 16),
    "big endian": raw("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
    "native order": raw("{'descr': '=f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
    "object": raw("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", b"\0" * 16),
    "unicode": raw("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", b"\0" * 24),
    "bytes": raw("{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }", b"\0" * 6),
    "complex": raw("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", b"\0" * 16),
    "datetime": raw("{'descr': '<M8[s]', 'fortran_order': False, 'shape': (2,), }", b"\0" * 16),
    "structured": raw("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
    "bad magic": raw(HDR, b"\0" * 8, magic=b"\x93NUMPZ"),
    "version 4": raw(HDR, b"\0" * 8, version=4),
    "minor version": GOOD[:7] + b"\1" + GOOD[8:],
    "truncated data": GOOD[:-1],
    "trailing garbage": GOOD + b"\0",
    "truncated header": GOOD[:40],
    "empty file": b"",
    "magic only": b"\x93NUMPY\x01\x00",
    "header len beyond file": GOOD[:8] + struct.pack("<H", 0xffff) + GOOD[10:],
    "v2 huge header len": raw(HDR, b"\0" * 8, version=2)[:8] + struct.pack("<I", 0xffffffff) + raw(HDR, b"\0" * 8, version=2)[12:],
    "no newline": raw(HDR + " " * 6, b"\0" * 8, pad=False),
    "duplicate key": raw("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
    "missing key": raw("{'descr': '<f4', 'shape': (2,), }", b"\0" * 8),
    "extra key": raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", b"\0" * 8),
    "shape not tuple": raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", b"\0" * 8),
    "shape list": raw("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", b"\0" * 8),
    "negative dim": raw("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", b"\0" * 8),
    "leading zeros": raw("{'descr': '<f4', 'fortran_order': False, 'shape': (02,), }", b"\0" * 8),
    "float dim": raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }", b"\0" * 8),
    "huge dim": raw("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"),
    "overflowing shape": raw("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
    "overflowing bytes": raw("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }"),
    "escape": raw("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
    "non-ascii": raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '\xe9': 1}", b"\0" * 8),
    "fortran_order 0": raw("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", b"\0" * 8),
    "unterminated string": raw("{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
    "text after dict": raw(HDR + " x", b"\0" * 8),
    "two dicts": raw(HDR + HDR, b"\0" * 8),
    "missing colon": raw("{'descr' '<f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
    "double comma": raw("{'descr': '<f4',, 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
    "empty dict": raw("{}", b""),
    "not a dict": raw("('descr', '<f4')", b""),
    "bool value 2": raw("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", b"\1\2"),
    "rank 65": raw("{'descr': '|u1', 'fortran_order': False, 'shape': (%s), }" % ("1, " * 65), b"\0"),
    "NUL in header": raw("{'descr': '<f4',\0 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
}
for name, b in BAD_CASES.items():
    rc, out = parse_bytes(b)
    check(rc == 1 and out.startswith("error: ") and "\n" not in out,
          "reject %s: rc=%d %r" % (name, rc, out))
    print("  %-28s -> %s" % (name, out))

print("%d round trips, %d rejection cases, %d failures" % (count, len(BAD_CASES), len(failures)))
sys.exit(1 if failures else 0)
