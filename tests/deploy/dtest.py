"""Helpers shared by the deploy tests: a PASS/FAIL tally, packages, `edgeml
status --json`, and the loopback S3 harness (tests/deploy/s3/: start/stop and
its control endpoints)."""
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from etest import Tally  # noqa: E402,F401  (re-exported: the deploy tests import it from here)


class Harness:
    """The s3rver harness at base (http://127.0.0.1:PORT): unsigned /__ctl/ calls."""

    def __init__(self, base):
        self.base = base

    def ctl(self, method, path, data=None):
        req = urllib.request.Request(self.base + "/__ctl/" + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()

    def put(self, key, data):
        self.ctl("PUT", "object/bucket/" + key, data)

    def stats(self):
        return json.loads(self.ctl("GET", "stats"))


def targz(files, extra=None, level=9):
    """tar.gz bytes of {path: bytes} (mode 0644); extra(tarfile) may add raw members."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w:gz", compresslevel=level) as t:
        for p, data in sorted(files.items()):
            ti = tarfile.TarInfo(p)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
        if extra:
            extra(t)
    return b.getvalue()


def status_json(edgeml, root, env):
    """`edgeml status --root ROOT --json`, parsed; None if it is not JSON."""
    p = subprocess.run([edgeml, "status", "--root", root, "--json"], env=env,
                       capture_output=True, text=True, timeout=30)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return None


def start_harness(harness, work, tally):
    """Starts the S3 harness under WORK/h; its base URL. Exits with the tally's
    summary when it cannot: 77 (skip) without node/s3rver unless something
    already failed, 1 on any other failure."""
    sp = subprocess.run(["/bin/sh", os.path.join(harness, "start.sh"), os.path.join(work, "h")],
                        capture_output=True, text=True)
    if sp.returncode == 77:
        print("SKIP s3 tests: node or s3rver missing")
        print(tally.summary())
        sys.exit(1 if tally.failed else 77)
    if sp.returncode != 0:
        tally.bad("harness", sp.stderr.strip())
        print(tally.summary())
        sys.exit(1)
    return f"http://127.0.0.1:{sp.stdout.strip()}"


def stop_harness(harness, work):
    subprocess.run(["/bin/sh", os.path.join(harness, "stop.sh"), os.path.join(work, "h")])
