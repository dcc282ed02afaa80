"""Helpers shared by the python test scripts (tests/deploy, tests/core,
tests/router, tests/run, tests/examples): the PASS/FAIL tally with its closing
"N passed, N failed" line, the root-or-skip rule, waiting, stopping a process.

Import it with
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
    import etest"""
import os
import signal
import subprocess
import sys
import time

SKIP = 77  # ctest SKIP_RETURN_CODE of every script


def rmtree(path):
    """shutil.rmtree that also removes what a deployment left read-only (store
    views are 0550/0555 directories: not even their owner may unlink inside
    them until they are made writable). Missing is fine."""
    import shutil

    def retry(func, p, exc):
        parent = os.path.dirname(p)
        try:
            os.chmod(parent, 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
        except OSError:
            pass
        try:
            func(p)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            shutil.rmtree(p, onerror=retry)
    if os.path.lexists(path):
        shutil.rmtree(path, onerror=retry)


class Tally:
    """One line per check ("PASS what" / "FAIL what: why") and a closing
    "[NAME: ]N passed, N failed" line (summary(), finish())."""

    def __init__(self, name=None):
        self.name = name
        self.passed = self.failed = self.skipped = 0

    def ok(self, what):
        self.passed += 1
        print(f"PASS {what}", flush=True)

    def bad(self, what, why=""):
        self.failed += 1
        print(f"FAIL {what}" + (f": {why}" if why != "" else ""), flush=True)

    def skip(self, what, why):
        self.skipped += 1
        print(f"SKIP {what}: {why}", flush=True)

    def check(self, what, cond, why=""):
        """Counts one check; returns cond."""
        if cond:
            self.ok(what)
        else:
            self.bad(what, why)
        return cond

    def info(self, what):
        print(f"  .. {what}", flush=True)

    def summary(self):
        s = f"{self.passed} passed, {self.failed} failed"
        return f"{self.name}: {s}" if self.name else s

    def finish(self, need_pass=False):
        """Prints the summary; the exit status: 1 when a check failed (or,
        with need_pass, when none passed), else 0."""
        print(self.summary(), flush=True)
        return 1 if self.failed or (need_pass and not self.passed) else 0


def need_root(why):
    """Exits 77 (skipped) with a line saying so unless running as root."""
    if os.geteuid() != 0:
        print(f"skipped: needs root ({why})", flush=True)
        sys.exit(SKIP)


def wait_until(pred, timeout, step=0.05):
    """pred() until truthy or timeout s (a generous deadline against hangs,
    never a pass/fail threshold); returns the last value."""
    end = time.monotonic() + timeout
    v = pred()
    while not v and time.monotonic() < end:
        time.sleep(step)
        v = pred()
    return v


def stop(proc, timeout=15, sig=signal.SIGTERM):
    """Sends sig to a running proc and waits up to timeout s; kills it past
    that. Returns its exit status, or None when it had to be killed."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def kill(proc):
    """SIGKILL proc if it still runs, and reap it (a finally: clause)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
