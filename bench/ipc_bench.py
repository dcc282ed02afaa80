"""Issue-5 IPC benchmark (see ipc_bench.sh): function -> function publish
latency (p50/p99) and messages/s through `edgeml core`, against Mosquitto on
loopback with two libmosquitto clients doing the same, in the same run; then
the core's RSS idle with 10 pinned functions.

usage: ipc_bench.py BUILD_DIR [--lat-n N] [--gap-us US] [--tp-n N] [--reps R] [--keep-work]"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}:1"


def die(msg):
    print(f"ipc_bench: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def wait_for(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def run_as():
    return (65534, 65534) if os.geteuid() == 0 else (os.geteuid(), os.getegid())


def function(fid, exe, env):
    uid, gid = run_as()
    return {"Id": fid, "FunctionArn": ARN.format(fid), "FunctionConfiguration": {
        "Executable": exe, "Pinned": True, "Timeout": 300, "EncodingType": "binary",
        "Environment": {"Variables": env, "Execution": {
            "IsolationMode": "NoContainer", "RunAs": {"Uid": uid, "Gid": gid}}}}}


def group(functions, subs):
    ep = lambda x: x if x == "cloud" else ARN.format(x)  # noqa: E731
    return {
        "Core": {"Cores": [{"Id": "bench-core",
                            "ThingArn": "arn:aws:iot:us-east-1:123456789012:thing/edgeml-bench",
                            "CertificateArn": "arn:aws:iot:us-east-1:123456789012:cert/" + "ab" * 32,
                            "SyncShadow": False}]},
        "Functions": {"Functions": functions},
        "Resources": {"Resources": []},
        "Subscriptions": {"Subscriptions": [
            {"Id": f"sub-{i}", "Source": ep(s), "Subject": subj, "Target": ep(t)}
            for i, (s, subj, t) in enumerate(subs)]},
    }


def compile_all(build, work):
    cc = os.environ.get("CC", "cc")
    fn = os.path.join(work, "bench_fn")
    mq = os.path.join(work, "mosq_bench")
    sdk = os.path.join(build, "libedgeml-sdk.a")
    if not os.path.exists(sdk):
        die(f"{sdk}: not built (cmake --build {build} --target edgeml edgeml_sdk_static)")
    flags = ["-O2", "-D_GNU_SOURCE", "-Wall", "-Wextra"]
    for cmd in ([cc, *flags, "-I", os.path.join(REPO, "include"), os.path.join(HERE, "ipc", "bench_fn.c"),
                 sdk, "-lpthread", "-o", fn],
                [cc, *flags, os.path.join(HERE, "ipc", "mosq_bench.c"), "-lmosquitto", "-o", mq]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            die(f"compiling: {' '.join(cmd)}\n{r.stderr}")
    return fn, mq


def read_result(path):
    with open(path) as f:
        head = f.readline().split()
        lat = [int(x) for x in f]
    mode, got, want, first, last = head[0], int(head[1]), int(head[2]), int(head[3]), int(head[4])
    return {"mode": mode, "received": got, "sent": want, "first_send": first, "last_arrival": last,
            "lat_us": sorted(x / 1000.0 for x in lat)}


def pct(v, p):
    if not v:
        return float("nan")
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


def summarise(r):
    if r["mode"] == "l":
        return {"p50_us": pct(r["lat_us"], 50), "p99_us": pct(r["lat_us"], 99),
                "received": r["received"], "sent": r["sent"]}
    span = (r["last_arrival"] - r["first_send"]) / 1e9
    return {"msgs_per_s": r["received"] / span if span > 0 else float("nan"),
            "received": r["received"], "sent": r["sent"]}


class Core:
    def __init__(self, edgeml, work, name, doc, extra=()):
        Core.seq = getattr(Core, "seq", 0) + 1
        name = f"{name}{Core.seq}"
        self.edgeml, self.root = edgeml, os.path.join(work, name)
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        gpath = os.path.join(work, name + ".json")
        with open(gpath, "w") as f:
            json.dump(doc, f)
        r = subprocess.run([edgeml, "deploy", gpath, "--root", self.root], capture_output=True,
                           text=True)
        if r.returncode:
            die(f"edgeml deploy {gpath}: {r.stderr.strip()}")
        self.log = open(os.path.join(work, name + ".stderr"), "wb")
        self.p = subprocess.Popen([edgeml, "core", "--root", self.root, "--quiet", *extra],
                                  stdout=self.log, stderr=subprocess.STDOUT)
        sock = os.path.join(self.root, "run", "core.sock")
        if not wait_for(lambda: os.path.exists(sock) or self.p.poll() is not None, 30) or \
                self.p.poll() is not None:
            die(f"edgeml core did not start (see {work}/{name}.stderr)")

    def publish(self, topic, data):
        r = subprocess.run([self.edgeml, "publish", "--root", self.root, topic, "--data", data],
                           capture_output=True, text=True)
        if r.returncode:
            die(f"edgeml publish {topic}: {(r.stdout + r.stderr).strip()}")

    def rss_kb(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            d = dict(ln.split(":", 1) for ln in f if ":" in ln)
        return int(d["VmRSS"].split()[0]), int(d["VmHWM"].split()[0])

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def run_core(edgeml, fn, work, out, specs):
    doc = group([function("sender", fn, {"BENCH_ROLE": "sender", "BENCH_OUT": out}),
                 function("receiver", fn, {"BENCH_ROLE": "receiver", "BENCH_OUT": out})],
                [("cloud", "bench/go", "sender"), ("sender", "bench/msg", "receiver")])
    core = Core(edgeml, work, "core-io", doc, ["--max-work-items", "1000000"])
    res = []
    try:
        if not wait_for(lambda: all(os.path.exists(os.path.join(out, f + ".ready"))
                                    for f in ("sender", "receiver")), 30):
            die("the bench functions did not start (see the root's logs/functions/)")
        time.sleep(0.3)
        for spec in specs:
            path = os.path.join(out, f"core_{spec[0]}.txt")
            if os.path.exists(path):
                os.unlink(path)
            core.publish("bench/go", spec[1])
            if not wait_for(lambda: os.path.exists(path), 120):
                die(f"no result from the core run '{spec[1]}' (messages lost?)")
            res.append(summarise(read_result(path)))
    finally:
        core.stop()
    return res


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_mosq(mq, work, out, specs):
    port = free_port()
    conf = os.path.join(work, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "max_queued_messages 0\nmax_inflight_messages 0\nset_tcp_nodelay true\n"
                "log_type error\n")
    broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", conf],
                              stdout=open(os.path.join(work, "mosquitto.log"), "wb"),
                              stderr=subprocess.STDOUT)
    res = []
    recv = None
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return True
            except OSError:
                return False
        if not wait_for(up, 10):
            die("mosquitto did not start")
        ready = os.path.join(out, "mosq.ready")
        recv = subprocess.Popen([mq, "recv", str(port), out, ready])
        if not wait_for(lambda: os.path.exists(ready), 10):
            die("the mosquitto receiver did not subscribe")
        for spec in specs:
            path = os.path.join(out, f"mosq_{spec[0]}.txt")
            if os.path.exists(path):
                os.unlink(path)
            r = subprocess.run([mq, "send", str(port), spec[1]])
            if r.returncode:
                die(f"mosq_bench send '{spec[1]}' failed")
            if not wait_for(lambda: os.path.exists(path), 120):
                die(f"no result from the mosquitto run '{spec[1]}' (messages lost?)")
            res.append(summarise(read_result(path)))
    finally:
        subprocess.run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-t", "bench/ctl",
                        "-m", "quit"], capture_output=True)
        if recv:
            try:
                recv.wait(5)
            except subprocess.TimeoutExpired:
                recv.kill()
        broker.terminate()
        broker.wait()
    return res


def run_rss(edgeml, fn, work, out, nfn=10):
    ids = [f"idle{i}" for i in range(nfn)]
    doc = group([function(i, fn, {"BENCH_ROLE": "idle", "BENCH_OUT": out}) for i in ids],
                [("cloud", f"idle/{i}", i) for i in ids])
    core = Core(edgeml, work, "core-rss", doc)
    try:
        if not wait_for(lambda: all(os.path.exists(os.path.join(out, i + ".ready")) for i in ids), 30):
            die("the idle functions did not start")
        time.sleep(2.0)  # connected and settled
        return core.rss_kb()
    finally:
        core.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--lat-n", type=int, default=5000, help="paced messages for latency")
    ap.add_argument("--gap-us", type=int, default=200, help="pause between latency messages")
    ap.add_argument("--tp-n", type=int, default=100000, help="back-to-back messages for throughput")
    ap.add_argument("--reps", type=int, default=3, help="alternating repetitions per side")
    ap.add_argument("--keep-work", action="store_true")
    a = ap.parse_args()
    edgeml = os.path.join(os.path.abspath(a.build), "edgeml")
    if not os.access(edgeml, os.X_OK):
        die(f"{edgeml}: not built")
    r = subprocess.run([edgeml, "core", "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        die("this edgeml has no 'core' command yet")
    if not shutil.which("mosquitto") and not os.path.exists("/usr/sbin/mosquitto"):
        die("Debian's mosquitto broker is not installed")

    work = tempfile.mkdtemp(prefix="ipc_bench.")
    os.chmod(work, 0o755)  # the functions run as nobody when we are root
    out = os.path.join(work, "out")
    os.makedirs(out)
    os.chmod(out, 0o777)
    try:
        fn, mq = compile_all(os.path.abspath(a.build), work)
        specs = [("l", f"lat {a.lat_n} {a.gap_us}"), ("t", f"tp {a.tp_n}")]
        core_runs, mosq_runs = [], []
        for rep in range(a.reps):  # alternate which side goes first
            sides = [("core", run_core, core_runs), ("mosq", run_mosq, mosq_runs)]
            if rep % 2:
                sides.reverse()
            for name, f, acc in sides:
                args = (edgeml, fn, work, out, specs) if name == "core" else (mq, work, out, specs)
                acc.append(f(*args))
        rss, hwm = run_rss(edgeml, fn, work, out)
    finally:
        if not a.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work dir kept: {work}")

    def med(runs, i, k):
        v = sorted(r[i][k] for r in runs)
        return v[len(v) // 2]

    c50, c99, ctp = med(core_runs, 0, "p50_us"), med(core_runs, 0, "p99_us"), med(core_runs, 1, "msgs_per_s")
    m50, m99, mtp = med(mosq_runs, 0, "p50_us"), med(mosq_runs, 0, "p99_us"), med(mosq_runs, 1, "msgs_per_s")
    lost = lambda runs: sum(r[i]["sent"] - r[i]["received"] for r in runs for i in (0, 1))  # noqa: E731
    print(f"IPC benchmark: 64-byte messages, function -> function, QoS 0; median of {a.reps} "
          f"alternating runs per side")
    print(f"  latency: {a.lat_n} messages, one every {a.gap_us} us; throughput: {a.tp_n} back to back")
    print(f"  {'':22} {'edgeml core':>14} {'mosquitto':>14} {'ratio':>8}")
    print(f"  {'latency p50 (us)':22} {c50:14.1f} {m50:14.1f} {m50 / c50:7.2f}x")
    print(f"  {'latency p99 (us)':22} {c99:14.1f} {m99:14.1f} {m99 / c99:7.2f}x")
    print(f"  {'throughput (msg/s)':22} {ctp:14.0f} {mtp:14.0f} {ctp / mtp:7.2f}x")
    print(f"  {'messages lost':22} {lost(core_runs):14d} {lost(mosq_runs):14d}")
    print(f"  core RSS idle, 10 pinned functions: {rss} KB (peak {hwm} KB); target <= 5120 KB: "
          f"{'met' if rss <= 5120 else 'NOT met'}")
    print(f"  latency target (lower than mosquitto): {'met' if c50 < m50 and c99 < m99 else 'NOT met'}; "
          f"throughput target (higher): {'met' if ctp > mtp else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
