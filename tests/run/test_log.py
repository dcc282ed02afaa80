#!/usr/bin/python3
"""run_log rotation through the driver: sizes, keep count, whole lines, the
newest bytes kept in order. usage: test_log.py SPAWN_TOOL"""
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import etest  # noqa: E402

TOOL = sys.argv[1]
T = etest.Tally()
check = T.check


def feed(path, data, max_bytes, keep, chunk):
    r = subprocess.run([TOOL, "log", path, str(max_bytes), str(keep), str(chunk)], input=data,
                       capture_output=True)
    return r.returncode, r.stdout.decode()


def files(path, keep):
    out = []
    for k in range(keep, 0, -1):
        if os.path.exists(f"{path}.{k}"):
            out.append(f"{path}.{k}")
    out.append(path)
    return out


def read(p):
    with open(p, "rb") as f:
        return f.read()


def case(name, data, max_bytes, keep, chunk, long_lines=False):
    d = tempfile.mkdtemp(prefix="edgeml-runlog-")
    path = os.path.join(d, "F.log")
    rc, out = feed(path, data, max_bytes, keep, chunk)
    check(f"{name}: no write errors", rc == 0 and out.strip() == "errors 0", out)
    fs = files(path, keep)
    sizes = [len(read(f)) for f in fs]
    check(f"{name}: every file within {max_bytes} bytes", all(s <= max_bytes for s in sizes), sizes)
    check(f"{name}: no file past .{keep}", not os.path.exists(f"{path}.{keep + 1}"), os.listdir(d))
    check(f"{name}: keeps {keep} old files", len(fs) == keep + 1, fs)
    joined = b"".join(read(f) for f in fs)
    check(f"{name}: files in order are the newest bytes of the input", data.endswith(joined),
          (len(joined), len(data)))
    if not long_lines:
        check(f"{name}: each file holds whole lines",
              all(read(f).endswith(b"\n") or not read(f) for f in fs[:-1])
              and (data.endswith(b"\n") <= read(fs[-1]).endswith(b"\n")),
              [read(f)[-5:] for f in fs])
        start = len(data) - len(joined)
        check(f"{name}: the oldest kept file starts at a line start", start == 0 or data[start - 1:start] == b"\n",
              start)
    subprocess.run(["rm", "-rf", d])


def main():
    rnd = random.Random(5)
    lines = b"".join(b"%05d " % i + b"x" * rnd.randint(0, 60) + b"\n" for i in range(400))
    case("short lines, odd chunks", lines, 256, 3, 7)
    case("short lines, big chunks", lines, 1000, 2, 4096)
    case("keep 0", lines, 300, 0, 13)
    long = b"".join((b"L%d " % i) + b"y" * 900 + b"\n" for i in range(5)) + b"tail\n"
    case("lines longer than the file", long, 256, 4, 100, long_lines=True)

    # reopening appends and counts what is already there
    d = tempfile.mkdtemp(prefix="edgeml-runlog-")
    path = os.path.join(d, "F.log")
    feed(path, b"a" * 50 + b"\n", 100, 2, 64)
    feed(path, b"b" * 60 + b"\n", 100, 2, 64)
    check("reopen: an existing file's size counts", read(path) == b"b" * 60 + b"\n" and
          read(path + ".1") == b"a" * 50 + b"\n", (read(path), os.listdir(d)))
    # a partial last line in the old file: the continuation is not split off needlessly
    with open(path, "wb") as f:
        f.write(b"part")
    feed(path, b"ial\nnext\n", 100, 2, 3)
    check("reopen: a partial line continues", read(path) == b"partial\nnext\n", read(path))
    subprocess.run(["rm", "-rf", d])

    rc, out = feed("/nonexistent-dir/x.log", b"", 100, 1, 10)
    check("open error: one line naming the file", rc == 3 and out.count("\n") == 1 and
          "/nonexistent-dir/x.log" in out and "No such file" in out, out)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
