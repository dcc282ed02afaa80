"""Helpers shared by the deploy tests: a PASS/FAIL tally and the loopback S3
harness's control endpoints (tests/deploy/s3/harness.js)."""
import json
import os
import sys
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
