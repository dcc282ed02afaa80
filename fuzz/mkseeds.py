#!/usr/bin/python3
"""Seed corpora for fuzz_ipc, fuzz_core and fuzz_unpack (called by run.sh).

usage: mkseeds.py TARGET OUTDIR
  fuzz_ipc     byte 0 picks the part (0 frames, 1 topics, 2 router); then
               well-formed frames of every type, topic/filter pairs, routers
  fuzz_core    byte 0 = mode (chunks, uid, wait, function mode; see
               fuzz_core.c), then well-formed frames of every type (control
               and function), and sessions of the authenticated agent (DONE,
               PUBLISH, INVOKE, BYE)
  fuzz_unpack  small tar, tar.gz, tar.bz2, tar.xz, zip packages, benign and
               hostile (.., absolute, symlinks out, hard links, devices)
"""
import io
import os
import struct
import sys
import tarfile
import zipfile

HELLO, WELCOME, ERROR, MSG, DONE, PUBLISH, NACK, INVOKE, RESULT, ACL, BYE = range(1, 12)
CTL_STATUS, CTL_DEPLOY, CTL_PUBLISH, CTL_SUBSCRIBE, CTL_INVOKE, CTL_REPLY = range(32, 38)
F_INVOKE, F_REPLY, F_ERROR = 1, 2, 4


def frame(t, fields, flags=0, fid=1):
    body = b"".join(struct.pack("=I", len(f)) + f for f in fields)
    return struct.pack("=IBBHQ", len(body), t, flags, len(fields), fid) + body


EXAMPLES = [
    frame(HELLO, [b"0123456789abcdef0123456789abcdef", b"1"]),
    frame(WELCOME, [b"od", b"out/#\nx/+"]),
    frame(ERROR, [b"unknown token"]),
    frame(MSG, [b"od/a", b"od/+", b"cloud", b"payload"], 0, 5),
    frame(MSG, [b"", b"", b"cloud", b"x"], F_INVOKE | F_REPLY, 6),
    frame(DONE, [b"", b"result"], 0, 5),
    frame(PUBLISH, [b"out/1", b"{}"], 0, 7),
    frame(NACK, [b"not authorised"], F_ERROR, 7),
    frame(INVOKE, [b"od", b"data"], F_REPLY, 8),
    frame(RESULT, [b"", b"data"], 0, 8),
    frame(ACL, [b"out/#"]),
    frame(BYE, [b"4"], 0, 4),
    frame(CTL_STATUS, []),
    frame(CTL_DEPLOY, [b""]),
    frame(CTL_DEPLOY, [b"/nonexistent/group.json"]),
    frame(CTL_PUBLISH, [b"c/a/b", b"hello"], 0, 9),
    frame(CTL_PUBLISH, [b"od/1", b"hello"], 0, 10),
    frame(CTL_PUBLISH, [b"x/1/y", b"shadow"], 0, 11),
    frame(CTL_PUBLISH, [b"c/+", b"wild"], 0, 12),
    frame(CTL_SUBSCRIBE, [b"c/#"]),
    frame(CTL_INVOKE, [b"od", b"ping"], F_REPLY, 13),
    frame(CTL_INVOKE, [b"nobody", b"ping"], 0, 14),
    frame(CTL_REPLY, [b"ok"]),
]


def write(out, name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def seeds_core(out):
    for i, fr in enumerate(EXAMPLES):
        for mode in (0, 3, 4, 8):
            write(out, "f%02d-m%d" % (i, mode), bytes([mode]) + fr)
    # a control session: publish, subscribe, then a cloud message comes back
    s = frame(CTL_STATUS, []) + frame(CTL_PUBLISH, [b"c/x", b"1"], 0, 2) + \
        frame(CTL_INVOKE, [b"od", b"p"], F_REPLY, 3) + frame(CTL_SUBSCRIBE, [b"#"])
    write(out, "session", bytes([8 | 2]) + s)
    write(out, "session-unpriv", bytes([4]) + s)
    # a function peer with a bad token, then function frames
    f = frame(HELLO, [b"x" * 32, b"1"]) + frame(PUBLISH, [b"out/1", b"p"], 0, 2) + \
        frame(DONE, [b"", b""], 0, 1) + frame(BYE, [b"0"], 0, 0)
    write(out, "fn-session", bytes([1]) + f)
    # a header announcing a large body, and one split in the middle
    write(out, "big", bytes([0]) + struct.pack("=IBBHQ", 1 << 20, CTL_PUBLISH, 0, 2, 1) + b"\0" * 64)
    write(out, "toolarge", bytes([0]) + struct.pack("=IBBHQ", (16 << 20) + 1, CTL_STATUS, 0, 0, 1))
    seeds_agent(out)


# function mode (byte 0 bit 4): frames from the authenticated agent; bit 5:
# 1 + bits 6-7 MSGs fed first; bit 2: a CTL_INVOKE with reply waits; DONE ids
# are relative to the session's first MSG (DONE 1 = the first)
FN, FEED, INV, WAIT = 0x10, 0x20, 0x04, 0x08


def seeds_agent(out):
    done = lambda i, st=b"", res=b"r": frame(DONE, [st, res], 0, i)
    sessions = {
        "a-done1": (FN | FEED, done(1)),
        "a-done4": (FN | FEED | 0xC0, done(1) + done(2) + done(3) + done(4)),
        "a-done-rev": (FN | FEED | 0xC0, done(4) + done(2) + done(3) + done(1)),
        "a-done-err": (FN | FEED | INV | 0x40, done(1, b"boom") + done(2, b"", b"x" * 300)),
        "a-done-dup": (FN | FEED | INV, done(1) + done(1) + done(2) + done(0)),
        "a-done-none": (FN, done(1) + done(2**64 - 1)),
        "a-pub": (FN | WAIT, frame(PUBLISH, [b"out/1", b"p"], 0, 1) +
                  frame(PUBLISH, [b"od/1", b"q"], 0, 2) + frame(PUBLISH, [b"self/1", b"s"], 0, 3) +
                  frame(PUBLISH, [b"x/1/y", b"sh"], 0, 4) + frame(PUBLISH, [b"a/all", b"b"], 0, 5)),
        "a-pub-denied": (FN | WAIT, frame(PUBLISH, [b"nope/1", b"p"], 0, 1) +
                         frame(PUBLISH, [b"out/+", b"p"], 0, 2) + frame(PUBLISH, [b"", b""], 0, 3) +
                         frame(PUBLISH, [b"out/\0", b""], 0, 4)),
        "a-self-loop": (FN | FEED | WAIT, frame(PUBLISH, [b"self/a", b"1"], 0, 1) + done(1) + done(2)),
        "a-invoke": (FN | WAIT, frame(INVOKE, [b"od", b"x"], F_REPLY, 1) +
                     frame(INVOKE, [b"od", b"y"], 0, 2) + frame(INVOKE, [b"agent", b"me"], F_REPLY, 3) +
                     frame(INVOKE, [b"nobody", b""], F_REPLY, 4) + frame(INVOKE, [b"nobody", b""], 0, 5)),
        "a-invoke-self": (FN | WAIT | 3, frame(INVOKE, [b"agent", b"me"], F_REPLY, 9) + done(1)),
        "a-bye0": (FN | FEED | 0x80, frame(BYE, [b"0"], 0, 0)),
        "a-bye1": (FN | FEED | INV | 0x80, done(1) + frame(BYE, [b"1"], 0, 1)),
        "a-bye-big": (FN | FEED, frame(BYE, [b"18446744073709551615"], 0, 0)),
        "a-bye-bad": (FN | FEED, frame(BYE, [b"x1"], 0, 0)),
        "a-bye-empty": (FN | FEED, frame(BYE, [b""], 0, 0) + done(1)),
        "a-bye-then": (FN | FEED | WAIT, frame(BYE, [b"0"], 0, 0) + done(1) +
                       frame(PUBLISH, [b"out/1", b"p"], 0, 2) + frame(INVOKE, [b"od", b""], F_REPLY, 3)),
        "a-hello2": (FN, frame(HELLO, [b"0" * 32, b"1"])),
        "a-unexpected": (FN, frame(MSG, [b"t", b"s", b"c", b"p"]) + frame(CTL_STATUS, [])),
        "a-split": (FN | FEED | 3, done(1) + frame(PUBLISH, [b"out/x", b"y" * 100], 0, 2)),
    }
    for name, (mode, data) in sessions.items():
        write(out, name, bytes([mode]) + data)
    for i, fr in enumerate(EXAMPLES):
        write(out, "a-f%02d" % i, bytes([FN | FEED]) + fr)


def seeds_ipc(out):
    for i, fr in enumerate(EXAMPLES):
        write(out, "frame%02d" % i, b"\0" + fr)
    write(out, "frames-all", b"\0" + b"".join(EXAMPLES))

    def s(b):
        return bytes([len(b)]) + b
    pairs = [(b"a/+/c", b"a/b/c"), (b"a/#", b"a"), (b"a/#", b"a/b/c"), (b"#", b"$SYS/x"),
             (b"+/x", b"$SYS/x"), (b"+", b""), (b"a//b", b"a//b"), (b"+/+", b"/"),
             (b"a/b#", b"a/b"), (b"#/a", b"a"), (b"a/+b", b"a/b"), (b"camera/+/frames", b"camera/1/frames")]
    write(out, "topics", b"\1" + b"".join(s(f) + s(t) for f, t in pairs))
    # router: nf, max_items, max_bytes, ns, subs (src, tgt, subject), ops
    subs = [(4, 0, b"in/#"), (0, 4, b"out/+"), (4, 1, b"in/a"), (1, 5, b"#"), (4, 4, b"c/#"),
            (0, 6, b"x/+/y"), (2, 0, b"+/+"), (4, 0, b"in/+")]
    r = bytes([3, 4, 10, len(subs)]) + b"".join(bytes([a, b]) + s(c) for a, b, c in subs)
    ops = bytes([0, 3]) + s(b"in/a") + s(b"p") + bytes([1, 0]) + s(b"out/1") + s(b"q") + \
        bytes([3]) + s(b"f1") + s(b"inv") + bytes([4, 0]) + bytes([5, 2]) + \
        bytes([2, 1]) + s(b"x/1/y") + s(b"") + bytes([0x84, 3])
    write(out, "router", b"\2" + r + ops)


def tar_bytes(entries, mode="w"):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode=mode) as t:
        for name, kind, data in entries:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(data)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                t.addfile(ti)
            elif kind == "hard":
                ti.type = tarfile.LNKTYPE
                ti.linkname = data
                t.addfile(ti)
            elif kind == "chr":
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = 1, 3
                t.addfile(ti)
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
                t.addfile(ti)
    return bio.getvalue()


def zip_bytes(entries):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        for name, kind, data in entries:
            if kind == "sym":
                zi = zipfile.ZipInfo(name)
                zi.external_attr = (0o120777 << 16)
                z.writestr(zi, data)
            elif kind == "dir":
                z.writestr(zipfile.ZipInfo(name.rstrip("/") + "/"), b"")
            else:
                z.writestr(name, data)
    return bio.getvalue()


def seeds_unpack(out):
    good = [("model", "dir", None), ("model/model.onnx", "file", b"\x08\x07" * 20),
            ("model/labels.txt", "file", b"cat\ndog\n"), ("model/link", "sym", "labels.txt"),
            ("up", "sym", "model/labels.txt"), ("model/sub/deep", "sym", "../labels.txt"),
            ("model/hl", "hard", "model/labels.txt")]
    hostile = {
        "dotdot": [("../edgeml-fuzz-escape", "file", b"x")],
        "dotdot2": [("a/../../canary/evil", "file", b"x")],
        "abs": [("/tmp/edgeml-fuzz-escape", "file", b"x")],
        "symout": [("l", "sym", "../../canary"), ("l/evil", "file", b"x")],
        "symabs": [("l", "sym", "/tmp"), ("l/edgeml-fuzz-escape", "file", b"x")],
        "symdot": [("d", "dir", None), ("d/l", "sym", ".."), ("d/l/../x", "file", b"x")],
        "hardout": [("h", "hard", "/etc/passwd")],
        "dev": [("null", "chr", None)],
        "fifo": [("p", "fifo", None)],
        "dup": [("a", "file", b"1"), ("a", "dir", None), ("a/b", "file", b"2")],
        "symthen": [("s", "sym", "t"), ("s", "file", b"over")],
    }
    for mode, ext in (("w", "tar"), ("w:gz", "tar.gz"), ("w:bz2", "tar.bz2"), ("w:xz", "tar.xz")):
        write(out, "good." + ext, tar_bytes(good, mode))
    for k, e in hostile.items():
        write(out, k + ".tar", tar_bytes(e))
        write(out, k + ".tar.gz", tar_bytes(e, "w:gz"))
    write(out, "good.zip", zip_bytes([(n, k, d if isinstance(d, (bytes, str)) else b"")
                                      for n, k, d in good if k != "hard"]))
    write(out, "dotdot.zip", zip_bytes([("../edgeml-fuzz-escape", "file", b"x")]))
    write(out, "abs.zip", zip_bytes([("/tmp/edgeml-fuzz-escape", "file", b"x")]))
    write(out, "sym.zip", zip_bytes([("l", "sym", "../../x"), ("ok", "file", b"1")]))
    write(out, "plain.bin", b"not an archive\n")
    write(out, "empty", b"")


def main():
    target, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    {"fuzz_ipc": seeds_ipc, "fuzz_core": seeds_core, "fuzz_unpack": seeds_unpack}[target](out)


if __name__ == "__main__":
    main()
