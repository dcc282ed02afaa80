"""Helpers of the core behaviour tests (tests/core/test_*.py): a PASS/FAIL
tally, group documents, a deployed root with a running `edgeml core` that is
always stopped on exit, `edgeml publish/subscribe/invoke/status` wrappers.

Every test script takes: EDGEML FN_TEST FN_MODEL WORKDIR (absolute paths),
and exits 0 (all passed), 1 (a failure), 77 (cannot run here)."""
import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import ipcraw  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import etest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}:1"
SKIP = etest.SKIP


_tally = None


class Tally(etest.Tally):
    """etest's tally; finish() fails a script where no check passed, and
    run() closes the tally of a script that raised."""

    def __init__(self, name):
        global _tally
        super().__init__(name)
        _tally = self

    def finish(self):
        return super().finish(need_pass=True)


def run(main):
    """main() -> exit status; an unexpected exception is a failure that
    still ends with the tally line."""
    try:
        return main()
    except SystemExit:
        raise
    except BaseException:
        import traceback
        traceback.print_exc()
        if _tally is None:
            return 1
        _tally.check("the test script runs to its end", False, "unexpected exception above")
        return _tally.finish()


def args():
    if len(sys.argv) != 5:
        print(f"usage: {sys.argv[0]} EDGEML FN_TEST FN_MODEL WORKDIR", file=sys.stderr)
        sys.exit(2)
    return [os.path.abspath(a) for a in sys.argv[1:]]


def run_as():
    """RunAs of the test functions: our own ids; as root (ids 0 need
    --allow-run-as-root, which deploy's validation refuses) nobody:nogroup."""
    if os.geteuid() == 0:
        return 65534, 65534
    return os.geteuid(), os.getegid()


wait_until = etest.wait_until


# ---- group documents ----------------------------------------------------

def function(fid, exe, pinned=True, timeout=10, env=None, exec_args=None, policies=None):
    uid, gid = run_as()
    fc = {"Executable": exe, "Pinned": pinned, "Timeout": timeout, "EncodingType": "binary",
          "Environment": {"Variables": dict(env or {}),
                          "Execution": {"IsolationMode": "NoContainer",
                                        "RunAs": {"Uid": uid, "Gid": gid}}}}
    if exec_args:
        fc["ExecArgs"] = exec_args
    if policies:
        fc["Environment"]["ResourceAccessPolicies"] = policies
    return {"Id": fid, "FunctionArn": ARN.format(fid), "FunctionConfiguration": fc}


def endpoint(x):
    """"cloud", an ARN, "id:F" (the function Id itself, edgeml's shorthand) or F (its ARN)."""
    if x.startswith("id:"):
        return x[3:]
    return x if x == "cloud" or x.startswith("arn:") else ARN.format(x)


def group(functions, subs, resources=None):
    """subs: (source, subject, target) with function ids or "cloud"."""
    return {
        "Core": {"Cores": [{"Id": "test-core",
                            "ThingArn": "arn:aws:iot:us-east-1:123456789012:thing/edgeml-test",
                            "CertificateArn": "arn:aws:iot:us-east-1:123456789012:cert/"
                                              + "ab" * 32,
                            "SyncShadow": False}]},
        "Functions": {"Functions": functions},
        "Resources": {"Resources": resources or []},
        "Subscriptions": {"Subscriptions": [
            {"Id": f"sub-{i}", "Source": endpoint(s), "Subject": subj, "Target": endpoint(t)}
            for i, (s, subj, t) in enumerate(subs)]},
    }


def model_resource(rid, uri):
    _, gid = run_as()
    return {"Id": rid, "Name": rid + "-name", "ResourceDataContainer": {
        "S3MachineLearningModelResourceData": {
            "DestinationPath": "/" + rid, "S3Uri": uri,
            "OwnerSetting": {"GroupOwner": str(gid), "GroupPermission": "ro"}}}}


# ---- results ------------------------------------------------------------

def parse_result(line):
    """A result object (dict with "fnres") from a line of `edgeml subscribe
    --json` ({"topic", "payload"}), or of the plain form `TOPIC PAYLOAD`."""
    line = line.strip()
    if not line:
        return None
    try:
        o = json.loads(line)
    except ValueError:
        o = None
    if isinstance(o, dict):
        if "fnres" in o:
            return o
        p = o.get("payload")
        if isinstance(p, str):
            try:
                r = json.loads(p)
                if isinstance(r, dict) and "fnres" in r:
                    r.setdefault("_topic", o.get("topic"))
                    return r
            except ValueError:
                pass
    i, j = line.find("{"), line.rfind("}")
    if 0 <= i < j:
        try:
            r = json.loads(line[i:j + 1])
            if isinstance(r, dict) and "fnres" in r:
                r.setdefault("_topic", line[:i].strip())
                return r
        except ValueError:
            pass
    return None


class Subscriber:
    """`edgeml subscribe --root R FILTER --json` in the background; results
    collected in order of arrival."""

    def __init__(self, env, filt="#"):
        self.env, self.results, self.other = env, [], []
        self.lock = threading.Lock()
        self.p = subprocess.Popen([env.edgeml, "subscribe", "--root", env.root, filt, "--json"],
                                  stdout=subprocess.PIPE, stderr=open(env.path("subscribe.err"), "ab"),
                                  text=True, errors="replace")
        env.children.append(self.p)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            r = parse_result(line)
            with self.lock:
                (self.results if r else self.other).append(r or line.rstrip("\n"))

    def alive(self):
        return self.p.poll() is None

    def get(self, fn=None, phase="done", pred=None):
        with self.lock:
            rs = list(self.results)
        return [r for r in rs if (fn is None or r.get("fn") == fn)
                and (phase is None or r.get("phase", "done") == phase)
                and (pred is None or pred(r))]

    def wait(self, n, timeout=30, **kw):
        """At least n results matching kw within timeout s; returns them."""
        wait_until(lambda: len(self.get(**kw)) >= n, timeout)
        return self.get(**kw)

    def sync(self, fid, topic=None, payload="probe"):
        """Publishes "PAYLOAD-k" to topic (default FID/in) until fid's result
        for one comes back (the function is up and this subscriber listens);
        returns the latest such result, or None after 30 tries."""
        for k in range(30):
            self.env.publish(topic or f"{fid}/in", f"{payload}-{k}")
            r = self.wait(1, 1.0, fn=fid, pred=lambda r: r.get("payload", "").startswith(payload))
            if r:
                return r[-1]
        return None

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()


# ---- a root with a running core -----------------------------------------

class Env:
    def __init__(self, edgeml, work, name):
        self.edgeml = edgeml
        self.dir = os.path.join(work, name)
        etest.rmtree(self.dir)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.root = os.path.join(self.dir, "root")
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.state)
        os.chmod(self.state, 0o777)
        self.sock = os.path.join(self.root, "run", "core.sock")
        self.core = None
        self.children = []
        atexit.register(self.cleanup)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, self._on_signal)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def _on_signal(self, sig, frame):
        self.cleanup()
        os._exit(128 + sig)

    def cli(self, *a, timeout=60, input=None):
        """(rc, stdout, stderr) of `edgeml A...`."""
        try:
            p = subprocess.run([self.edgeml, *a], capture_output=True, text=True,
                               errors="replace", timeout=timeout, input=input)
            return p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired:
            return -1, "", f"edgeml {' '.join(a)}: no answer in {timeout} s"

    def has_cmd(self, cmd):
        rc, out, err = self.cli(cmd, "--help", timeout=20)
        return rc == 0 and "unknown command" not in (out + err).lower()

    def write_group(self, name, doc):
        p = self.path(name)
        with open(p, "w") as f:
            json.dump(doc, f, indent=1)
        return p

    def deploy(self, gpath):
        return self.cli("deploy", gpath, "--root", self.root, timeout=120)

    def start_core(self, *opts):
        self.core_log = open(self.path("core.stderr"), "ab")
        self.core = subprocess.Popen([self.edgeml, "core", "--root", self.root, *opts],
                                     stdout=self.core_log, stderr=subprocess.STDOUT)
        ok = wait_until(lambda: self.core.poll() is not None or self.ctl_status() is not None, 30)
        if self.core.poll() is not None:
            return False
        return bool(ok)

    def deploy_and_start(self, t, gpath, what, *opts, deploy_what="deploy the group"):
        """`edgeml deploy GPATH`, then `edgeml core OPTS`: one check each
        (deploy_what, what); False when either failed."""
        rc, out, err = self.deploy(gpath)
        if not t.check(deploy_what, rc == 0, err.strip()):
            return False
        return t.check(what, self.start_core(*opts),
                       open(self.path("core.stderr"), errors="replace").read()[-2000:])

    def ctl_status(self):
        """The core's status object through the raw CTL_STATUS call, or None."""
        try:
            f = ipcraw.ctl(self.sock, "CTL_STATUS", [], timeout=10)
            return json.loads(f.fields[0]) if f.name == "CTL_REPLY" and f.fields else None
        except (OSError, ValueError, TimeoutError, ConnectionError, IndexError):
            return None

    def status(self):
        """`edgeml status --root R --json`; when it does not carry the
        functions (the CLI not wired to the core yet), the raw CTL_STATUS."""
        rc, out, _ = self.cli("status", "--root", self.root, "--json", timeout=20)
        if rc == 0:
            try:
                o = json.loads(out)
                if isinstance(o, dict) and "functions" in o:
                    return o
            except ValueError:
                pass
        return self.ctl_status()

    def fn_status(self, fid, st=None):
        st = st if st is not None else self.status()
        fns = (st or {}).get("functions") or []
        if isinstance(fns, dict):
            return fns.get(fid)
        for f in fns:
            if isinstance(f, dict) and f.get("id") == fid:
                return f
        return None

    def routing(self, st=None):
        st = st if st is not None else self.status()
        return (st or {}).get("routing") or {}

    def publish(self, topic, payload):
        return self.cli("publish", "--root", self.root, topic, "--data", payload, timeout=30)

    def invoke(self, fid, payload, *extra):
        return self.cli("invoke", "--root", self.root, fid, "--data", payload, *extra, timeout=60)

    def starts(self, fid):
        """[(pid, ms)] from FN_STATE/<fid>.starts."""
        try:
            with open(os.path.join(self.state, fid + ".starts")) as f:
                return [(int(a[1]), float(a[2])) for a in (ln.split() for ln in f)
                        if len(a) == 3 and a[0] == "start"]
        except OSError:
            return []

    def records(self, fid, kind):
        """[(pid, ms, text)] from FN_STATE/<fid>.<kind>s (fn_common.h)."""
        try:
            with open(os.path.join(self.state, f"{fid}.{kind}s")) as f:
                out = []
                for ln in f:
                    a = ln.rstrip("\n").split(" ", 3)
                    if len(a) >= 3 and a[0] == kind:
                        out.append((int(a[1]), float(a[2]), a[3] if len(a) > 3 else ""))
                return out
        except (OSError, ValueError):
            return []

    def core_log_lines(self, pat=None):
        try:
            with open(os.path.join(self.root, "logs", "core.log"), errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        return [ln for ln in lines if pat is None or re.search(pat, ln, re.I)]

    def fn_log(self, fid):
        try:
            with open(os.path.join(self.root, "logs", "functions", fid + ".log"),
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop_core(self, timeout=30):
        """SIGTERM the core; its exit status or None if it had to be killed."""
        return etest.stop(self.core, timeout) if self.core else None

    def cleanup(self):
        for c in self.children:
            if c.poll() is None:
                c.kill()
                try:
                    c.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        if self.core and self.core.poll() is None:
            self.stop_core(15)
        # function processes our core started (their pids are recorded by
        # the functions themselves): none may outlive it
        for fn in os.listdir(self.state) if os.path.isdir(self.state) else []:
            if fn.endswith(".starts"):
                for pid, _ in self.starts(fn[:-7]):
                    if pid_alive_fn(pid):
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except OSError:
                            pass


def pid_alive_fn(pid):
    """True if pid is alive (not a zombie) and runs one of our test functions."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        if st[st.rfind(")") + 2:].startswith("Z"):
            return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
        return b"fn_test" in cmd or b"fn_model" in cmd or b"raw_fn" in cmd
    except OSError:
        return False


def preflight(t, env, need=("core", "publish", "subscribe", "status")):
    """77 unless every CLI command the test drives exists."""
    missing = [c for c in need if not env.has_cmd(c)]
    if missing:
        print(f"SKIP: edgeml has no {', '.join(missing)} command yet", flush=True)
        sys.exit(SKIP)
    if os.geteuid() == 0:
        # the functions run as nobody: their executables and the roots must
        # be reachable by others
        for p in [os.path.abspath(a) for a in sys.argv[2:4]] + [env.dir, HERE]:
            d = p if os.path.isdir(p) else os.path.dirname(p)
            while d and d != "/":
                if not os.stat(d).st_mode & 0o001:
                    print(f"SKIP: {d} is not searchable by others; the test functions run as "
                          f"uid 65534 and need to reach {p}", flush=True)
                    sys.exit(SKIP)
                d = os.path.dirname(d)


def final_stop(t, env, *subs):
    """Stops the subscribers subs, then SIGTERM the core: exits 0 and leaves
    no function process behind."""
    for sub in subs:
        sub.stop()
    pids = set()
    for fn in os.listdir(env.state):
        if fn.endswith(".starts"):
            pids |= {p for p, _ in env.starts(fn[:-7])}
    rc = env.stop_core()
    t.check("core exits 0 on SIGTERM", rc == 0, f"exit status {rc}")
    left = wait_until(lambda: not [p for p in pids if pid_alive_fn(p)], 10) or \
        [p for p in pids if pid_alive_fn(p)]
    t.check("no function process outlives the core", left is True or not left,
            f"still alive: {left}")
    # sanitizer builds: the core's and the functions' reports land in these
    reports = []
    logs = [env.path("core.stderr")]
    fdir = os.path.join(env.root, "logs", "functions")
    if os.path.isdir(fdir):
        logs += [os.path.join(fdir, n) for n in sorted(os.listdir(fdir))]
    for p in logs:
        try:
            with open(p, errors="replace") as f:
                for ln in f:
                    if re.search(r"Sanitizer|runtime error:", ln):
                        reports.append(f"{os.path.basename(p)}: {ln.strip()}")
                        break
        except OSError:
            pass
    t.check("no sanitizer report in core.stderr or the function logs", not reports,
            "; ".join(reports))
