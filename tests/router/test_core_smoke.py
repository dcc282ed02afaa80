#!/usr/bin/python3
"""Smoke test of `edgeml core` with real processes: a pinned and an on-demand
NoContainer function (fn_peer.py, the raw protocol), cloud publish/subscribe,
request-response invoke, refusals, status JSON, crash restart, handler
timeout, idle stop, a second core refused, SIGTERM exits cleanly.
usage: test_core_smoke.py EDGEML_BINARY"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ipcpy  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import etest  # noqa: E402

EDGEML = os.path.abspath(sys.argv[1])
T = etest.Tally()


def check(cond, what, detail=""):
    return T.check(what, cond, detail)


def wait_for(pred, timeout=10.0):
    return etest.wait_until(pred, timeout)


def group(fn_peer):
    def fn(fid, pinned, timeout=2):
        return {"Id": fid, "FunctionArn": "arn:aws:lambda:eu-west-1:1:function:%s:1" % fid,
                "FunctionConfiguration": {
                    "Executable": "/usr/bin/python3", "ExecArgs": fn_peer,
                    "Pinned": pinned, "Timeout": timeout,
                    "Environment": {"Variables": {"FN_MODE": "test"},
                                    "Execution": {"IsolationMode": "NoContainer"}}}}
    arn = "arn:aws:lambda:eu-west-1:1:function:%s:1"
    return {
        "Core": {"Cores": [{"Id": "core1", "ThingArn": "arn:aws:iot:eu-west-1:1:thing/c1",
                            "CertificateArn": "arn:aws:iot:eu-west-1:1:cert/abc",
                            "SyncShadow": False}]},
        "Functions": {"Functions": [fn("echo", True), fn("od", False)]},
        "Subscriptions": {"Subscriptions": [
            {"Id": "s1", "Source": "cloud", "Subject": "in/#", "Target": arn % "echo"},
            {"Id": "s2", "Source": arn % "echo", "Subject": "out/#", "Target": "cloud"},
            {"Id": "s3", "Source": "cloud", "Subject": "od/+", "Target": arn % "od"},
        ]},
    }


def status(sock):
    c = ipcpy.Conn(sock)
    try:
        t, fl, _, f = c.request(ipcpy.CTL_STATUS, [])
        return json.loads(f[0])
    finally:
        c.close()


def fn_status(sock, fid):
    for f in status(sock)["functions"]:
        if f["id"] == fid:
            return f
    return None


def raw_peer(sock, data, expect_text=None):
    """Sends raw bytes; returns (closed by the core, ERROR text or None)."""
    c = ipcpy.Conn(sock, timeout=5)
    text = None
    try:
        c.s.sendall(data)
        try:
            t, fl, _, f = c.recv()
            if t == ipcpy.ERROR:
                text = f[0].decode()
            c.recv()
            closed = False
        except EOFError:
            closed = True
        except OSError:
            closed = True
    finally:
        c.close()
    return closed, text


def hostile(sock):
    H = ipcpy.HDR
    closed, t = raw_peer(sock, H.pack((16 << 20) + 1, ipcpy.HELLO, 0, 2, 0))
    check(closed and t and "protocol error" in t, "body over 16 MiB refused: %s" % t)
    closed, t = raw_peer(sock, H.pack(0, 200, 0, 0, 0))
    check(closed and t and "protocol error" in t, "unknown type refused: %s" % t)
    closed, t = raw_peer(sock, H.pack(0, ipcpy.HELLO, 0, 1, 0))
    check(closed and t and "protocol error" in t, "wrong field count refused: %s" % t)
    closed, t = raw_peer(sock, H.pack(8, ipcpy.HELLO, 0, 2, 0) + b"\xff\xff\x00\x00abcd")
    check(closed and t and "protocol error" in t, "overrunning field refused: %s" % t)
    closed, t = raw_peer(sock, ipcpy.encode(ipcpy.HELLO, [b"0" * 32, b"1"]))
    check(closed and t and "unknown token" in t, "HELLO with a made-up token refused: %s" % t)
    closed, t = raw_peer(sock, ipcpy.encode(ipcpy.PUBLISH, [b"in/a", b"x"]))
    check(closed and t and "first frame" in t, "PUBLISH before HELLO refused: %s" % t)
    closed, t = raw_peer(sock, H.pack(100, ipcpy.HELLO, 0, 2, 0)[:9])
    check(closed, "half a header then hang-up")
    # a peer that floods requests and never reads the answers does not grow the core
    rss0 = status(sock)["core"]["rss_kb"]
    log = os.path.join(os.path.dirname(os.path.dirname(sock)), "logs", "core.log")
    flood = ipcpy.Conn(sock, timeout=60)
    flood.s.sendall(ipcpy.encode(ipcpy.CTL_STATUS, []) * 40000)  # ~40000 answers of ~1 KB

    def said():
        with open(log, errors="replace") as f:
            return "is not reading its answers" in f.read()
    warned = etest.wait_until(said, 30)
    time.sleep(1.0)
    rss1 = status(sock)["core"]["rss_kb"]
    flood.close()
    check(warned and rss1 - rss0 < 24576,
          "unread answers are capped, not buffered without bound (RSS %d -> %d KB)" % (rss0, rss1))
    # a control request from an unprivileged uid
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            closed, t = raw_peer(sock, ipcpy.encode(ipcpy.CTL_STATUS, []))
            os._exit(0 if closed and t and "not authorised" in t else 1)
        except BaseException:
            os._exit(2)
    _, ws = os.waitpid(pid, 0)
    check(os.WIFEXITED(ws) and os.WEXITSTATUS(ws) == 0, "control request from uid 65534 refused")


def main():
    root = tempfile.mkdtemp(prefix="edgeml-router-smoke-")
    os.chmod(root, 0o755)
    with open(os.path.join(root, "group.json"), "w") as f:
        json.dump(group(os.path.join(HERE, "fn_peer.py")), f)
    sock = os.path.join(root, "run", "core.sock")
    # Under AddressSanitizer freed memory sits in a 256 MB quarantine, which would hide what
    # the flood check below measures (memory held, not memory churned): keep it small.
    # Ignored by builds without ASan.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=2"
                           ":thread_local_quarantine_size_kb=64").lstrip(":")
    core = subprocess.Popen([EDGEML, "core", "--root", root, "--backoff-ms", "200",
                             "--grace-ms", "1500", "--idle-timeout-ms", "1500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        check(wait_for(lambda: os.path.exists(sock)), "core creates run/core.sock")
        check(oct(os.stat(sock).st_mode & 0o777) == "0o666", "socket is 0666")
        check(wait_for(lambda: fn_status(sock, "echo")["state"] == "running"),
              "pinned function connects (state running)", fn_status(sock, "echo"))
        st = status(sock)
        check(st["core"]["pid"] == core.pid and st["core"]["group"]["functions"] == 2,
              "status: core pid and group", st["core"])
        check(fn_status(sock, "od")["state"] == "stopped", "on-demand function not started yet")

        # a second core on the same root is refused
        r = subprocess.run([EDGEML, "core", "--root", root], capture_output=True, text=True,
                           timeout=10)
        check(r.returncode == 1 and "core already running (pid %d)" % core.pid in r.stderr,
              "second core refused with the first one's pid", r.stderr)

        # cloud -> echo -> cloud
        sub = ipcpy.Conn(sock)
        t, fl, _, f = sub.request(ipcpy.CTL_SUBSCRIBE, ["out/#"])
        check(t == ipcpy.CTL_REPLY and f[0] == b"ok", "subscribe out/#")
        c = ipcpy.Conn(sock)
        t, fl, _, f = c.request(ipcpy.CTL_PUBLISH, ["in/a", b"hello"], ident=7)
        check(f[0] == b"routed to 1" and not fl & ipcpy.F_ERROR, "cloud publish routed to 1", f)
        t, fl, _, f = sub.recv()
        check(t == ipcpy.MSG and f[0] == b"out/in/a" and f[1] == b"out/#" and f[2] == b"echo"
              and f[3] == b"hello", "function's publish reaches the cloud subscriber", f)

        t, fl, _, f = c.request(ipcpy.CTL_PUBLISH, ["nowhere/x", b"x"])
        check(f[0] == b"no route (dropped)", "no route counted", f)
        t, fl, _, f = c.request(ipcpy.CTL_PUBLISH, ["in/+", b"x"])
        check(fl & ipcpy.F_ERROR and b"wildcard" in f[0], "wildcard topic refused", f)

        t, fl, i, f = c.request(ipcpy.CTL_INVOKE, ["echo", b"ping"], flags=ipcpy.F_REPLY, ident=42)
        check(t == ipcpy.RESULT and i == 42 and f == [b"", b"echo:ping"],
              "request-response invoke gets the handler's result", (t, i, f))
        t, fl, i, f = c.request(ipcpy.CTL_INVOKE, ["nosuch", b"x"], flags=ipcpy.F_REPLY, ident=43)
        check(t == ipcpy.RESULT and f[0] == b"no such function", "invoke of an unknown function")
        sub.recv()  # the invoke's publish on out/invoke

        # on-demand: started for the message; its publish is refused (no subscription)
        t, fl, _, f = c.request(ipcpy.CTL_PUBLISH, ["od/1", b"work"])
        check(f[0] == b"routed to 1", "publish to the on-demand function", f)
        check(wait_for(lambda: fn_status(sock, "od")["done"] == 1), "on-demand process handles it",
              fn_status(sock, "od"))
        check(wait_for(lambda: fn_status(sock, "od")["denied"] == 1),
              "its unauthorised publish is refused and counted", fn_status(sock, "od"))
        check(wait_for(lambda: fn_status(sock, "od")["state"] == "stopped", timeout=8),
              "idle on-demand process stopped after --idle-timeout-ms", fn_status(sock, "od"))

        # crash -> restart with backoff
        pid0 = fn_status(sock, "echo")["pids"]
        c.request(ipcpy.CTL_PUBLISH, ["in/a", b"crash"])
        check(wait_for(lambda: fn_status(sock, "echo")["restarts"] == 1 and
                       fn_status(sock, "echo")["state"] == "running"),
              "crashed pinned function restarted", fn_status(sock, "echo"))
        fs = fn_status(sock, "echo")
        check(fs["pids"] != pid0 and fs["failed"] == 1 and fs["last_exit"] == "exited with status 3",
              "crash counted failed, last_exit says why", fs)

        # handler past Timeout (2 s): killed, invoker told, restarted
        t0 = time.time()
        t, fl, i, f = c.request(ipcpy.CTL_INVOKE, ["echo", b"hang"], flags=ipcpy.F_REPLY, ident=44)
        dt = time.time() - t0
        check(t == ipcpy.RESULT and f[0].startswith(b"failed:") and b"Timeout" in f[0] and
              1.5 < dt < 5, "handler past Timeout killed; invoker gets failed (%.1fs)" % dt, f)
        check(wait_for(lambda: fn_status(sock, "echo")["restarts"] == 2 and
                       fn_status(sock, "echo")["state"] == "running"),
              "restarted after the timeout", fn_status(sock, "echo"))

        st = status(sock)
        check(st["routing"]["no_route"] == 1 and st["routing"]["denied"] == 1 and
              st["routing"]["bad_topic"] == 1, "routing counters", st["routing"])
        check(st["core"]["rss_kb"] > 0, "status reports the core's RSS (%s kB)" % st["core"]["rss_kb"])
        sub.close()
        c.close()

        hostile(sock)

        # redeploy: echo changed (restarted), od removed, od2 new
        doc = group(os.path.join(HERE, "fn_peer.py"))
        fns = doc["Functions"]["Functions"]
        fns[0]["FunctionConfiguration"]["Environment"]["Variables"]["FN_MODE"] = "v2"
        fns[1]["Id"] = "od2"
        fns[1]["FunctionArn"] = fns[1]["FunctionArn"].replace(":od:", ":od2:")
        doc["Subscriptions"]["Subscriptions"][2]["Target"] = fns[1]["FunctionArn"]
        with open(os.path.join(root, "group.json"), "w") as f:
            json.dump(doc, f)
        old_pids = fn_status(sock, "echo")["pids"]
        c = ipcpy.Conn(sock)
        t, fl, _, f = c.request(ipcpy.CTL_DEPLOY, [os.path.join(root, "group.json")])
        check(f[0] == b"applied: 1 started, 1 restarted, 1 stopped, 0 unchanged",
              "CTL_DEPLOY applies and says what changed", f)
        check(wait_for(lambda: fn_status(sock, "echo")["state"] == "running" and
                       fn_status(sock, "echo")["pids"] != old_pids),
              "changed pinned function restarted", fn_status(sock, "echo"))
        ids = [x["id"] for x in status(sock)["functions"]]
        check(ids == ["echo", "od2"], "removed function gone, new one listed", ids)
        t, fl, _, f = c.request(ipcpy.CTL_DEPLOY, [""])
        check(f[0] == b"applied: 0 started, 0 restarted, 0 stopped, 2 unchanged",
              "unchanged redeploy restarts nothing", f)
        with open(os.path.join(root, "group.json"), "w") as f:
            f.write("{broken")
        t, fl, _, f = c.request(ipcpy.CTL_DEPLOY, [""])
        check(fl & ipcpy.F_ERROR and b"previous deployment stays" in f[0] and
              fn_status(sock, "echo")["state"] == "running", "a broken document is refused", f)
        c.close()
        check(status(sock)["core"]["pid"] == core.pid, "core still serves after hostile peers")

        # SIGTERM: functions get SIGTERM (BYE), core exits 0
        core.send_signal(signal.SIGTERM)
        try:
            out, err = core.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            core.kill()
            out, err = core.communicate()
        check(core.returncode == 0, "SIGTERM: core exits 0", err[-2000:])
        check(not os.path.exists(sock), "socket removed on exit")
        with open(os.path.join(root, "logs", "functions", "echo.log")) as f:
            log = f.read()
        check("fn_peer: bye after" in log, "the function said BYE (its log)", log[-500:])
        with open(os.path.join(root, "logs", "core.log")) as f:
            clog = f.read()
        check("edgeml core stopped" in clog and "ran past its Timeout" in clog,
              "core.log has the events")
    finally:
        etest.kill(core)
        shutil.rmtree(root, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    etest.need_root("functions run as 65534:65534")
    sys.exit(main())
