"""Helpers shared by the deploy tests: a PASS/FAIL tally and the loopback S3
harness's control endpoints (tests/deploy/s3/harness.js)."""
import json
import urllib.request


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def ok(self, name):
        self.passed += 1
        print(f"PASS {name}", flush=True)

    def bad(self, name, why):
        self.failed += 1
        print(f"FAIL {name}: {why}", flush=True)

    def skip(self, name, why):
        self.skipped += 1
        print(f"SKIP {name}: {why}", flush=True)

    def check(self, name, cond, why=""):
        if cond:
            self.ok(name)
        else:
            self.bad(name, why)
        return cond

    def summary(self):
        return f"{self.passed} passed, {self.failed} failed"


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
