#!/usr/bin/python3
"""Core memory: VmRSS of `edgeml core` idle with 10 running (pinned) functions
must be <= 5 MB (issue 5). usage: test_core_rss.py EDGEML_BINARY"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ipcpy  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import etest  # noqa: E402

LIMIT_KB = 5 * 1024
T = etest.Tally()


def check(cond, what, detail=""):
    return T.check(what, cond, detail)


def main():
    edgeml = os.path.abspath(sys.argv[1])
    root = tempfile.mkdtemp(prefix="edgeml-router-rss-")
    os.chmod(root, 0o755)
    arn = "arn:aws:lambda:r:1:function:f%d:1"
    fns = [{"Id": "f%d" % i, "FunctionArn": arn % i, "FunctionConfiguration": {
        "Executable": "/usr/bin/python3", "ExecArgs": os.path.join(HERE, "fn_peer.py"),
        "Pinned": True, "Environment": {"Execution": {"IsolationMode": "NoContainer"}}}}
        for i in range(10)]
    subs = [{"Id": "s%d" % i, "Source": "cloud", "Subject": "t/%d" % i, "Target": arn % i}
            for i in range(10)]
    doc = {"Core": {"Cores": [{"Id": "c", "ThingArn": "arn:aws:iot:r:1:thing/c",
                               "CertificateArn": "arn:aws:iot:r:1:cert/c"}]},
           "Functions": {"Functions": fns}, "Subscriptions": {"Subscriptions": subs}}
    with open(os.path.join(root, "group.json"), "w") as f:
        json.dump(doc, f)
    core = subprocess.Popen([edgeml, "core", "--root", root, "--quiet"])
    sock = os.path.join(root, "run", "core.sock")
    try:
        st = None
        end = time.time() + 30
        while time.time() < end:
            time.sleep(0.2)
            if not os.path.exists(sock):
                continue
            c = ipcpy.Conn(sock)
            st = json.loads(c.request(ipcpy.CTL_STATUS, [])[3][0])
            c.close()
            if sum(f["state"] == "running" for f in st["functions"]) == 10:
                break
        check(st and sum(f["state"] == "running" for f in st["functions"]) == 10,
              "10 functions running")
        # one message each, then idle
        c = ipcpy.Conn(sock)
        for i in range(10):
            c.request(ipcpy.CTL_PUBLISH, ["t/%d" % i, b"x" * 1000])
        c.close()
        time.sleep(1.0)
        with open("/proc/%d/status" % core.pid) as f:
            rss = [int(line.split()[1]) for line in f if line.startswith("VmRSS:")][0]
        with open("/proc/%d/maps" % core.pid) as f:
            if "libasan" in f.read():
                print("skipped: sanitizer build (RSS not meaningful)")
                print(T.summary())
                etest.stop(core)
                return etest.SKIP
        with open("/proc/%d/cmdline" % core.pid) as f:
            exe = f.read().split("\0")[0]
        print("core (%s) VmRSS %d kB with 10 functions" % (exe, rss))
        check(rss <= LIMIT_KB, "core VmRSS %d kB <= %d kB" % (rss, LIMIT_KB))
        check(etest.stop(core) == 0, "clean exit")
    finally:
        etest.kill(core)
        shutil.rmtree(root, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    etest.need_root("functions run as 65534:65534")
    sys.exit(main())
