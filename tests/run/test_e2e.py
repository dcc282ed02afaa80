#!/usr/bin/python3
"""Issue 5 "what it must show" 1 and 2 end to end: `edgeml deploy` of a group
with model resources from file:// packages, `edgeml core` running the test
function (tests/run/probe.c) in a GreengrassContainer and as NoContainer; the
findings are read from ROOT/logs/functions/<Id>.log, the memory kill reason
from `edgeml status --json` and core.log.
usage: test_e2e.py EDGEML PROBE WORKDIR    (needs root: exit 77 otherwise)"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import etest  # noqa: E402

EDGEML, PROBE, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
UID, GID, GROUP = 4000, 4000, 4321
SFX = str(os.getpid())  # function ids unique to this run (their cgroups are named after them)
FC, FM, FN = "Fc" + SFX, "Fm" + SFX, "Fn" + SFX
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}:1"
T = etest.Tally()
check = T.check


def package(path, files):
    src = tempfile.mkdtemp(dir=WORK)
    for n, text in files.items():
        with open(os.path.join(src, n), "w") as f:
            f.write(text)
    with tarfile.open(path, "w:gz") as t:
        for n in files:
            t.add(os.path.join(src, n), arcname=n)
    shutil.rmtree(src)


def resource(rid, uri, dest, perm):
    return {"Id": rid, "Name": rid, "ResourceDataContainer": {"S3MachineLearningModelResourceData": {
        "DestinationPath": dest, "S3Uri": uri,
        "OwnerSetting": {"GroupOwner": str(GROUP), "GroupPermission": perm}}}}


def function(fid, exe, args, container, policies, memory_kb=None):
    fc = {"Executable": exe, "ExecArgs": " ".join(args), "Pinned": True, "Timeout": 10,
          "EncodingType": "binary",
          "Environment": {"Variables": {"PROBE_ID": fid},
                          "ResourceAccessPolicies": [dict({"ResourceId": r}, **({"Permission": p} if container else {}))
                                                     for r, p in policies],
                          "Execution": {"IsolationMode": "GreengrassContainer" if container else "NoContainer",
                                        "RunAs": {"Uid": UID, "Gid": GID}}}}
    if memory_kb:
        fc["MemorySize"] = memory_kb
    return {"Id": fid, "FunctionArn": ARN.format(fid), "FunctionConfiguration": fc}


def read(p):
    try:
        with open(p, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def main():
    etest.need_root("GreengrassContainer, RunAs")
    os.makedirs(WORK, exist_ok=True)
    global WORK_DIR
    work = tempfile.mkdtemp(prefix="e2e-", dir=WORK)
    os.chmod(work, 0o755)
    root = os.path.join(work, "root")
    fn_dir = os.path.join(work, "fn")
    os.makedirs(fn_dir)
    shutil.copy(PROBE, os.path.join(fn_dir, "probe"))
    os.chmod(os.path.join(fn_dir, "probe"), 0o755)
    package(os.path.join(work, "m1.tar.gz"), {"model.bin": "model-one\n"})
    package(os.path.join(work, "m2.tar.gz"), {"scratch.txt": "scratch\n"})
    package(os.path.join(work, "m3.tar.gz"), {"secret.txt": "secret\n"})
    res = [resource("M1", f"file://{work}/m1.tar.gz", "/models/m1", "ro"),
           resource("M2", f"file://{work}/m2.tar.gz", "/scratch", "rw"),
           resource("M3", f"file://{work}/m3.tar.gz", "/secret", "ro")]
    probe = os.path.join(fn_dir, "probe")
    c_args = ["read=/models/m1/model.bin", "write=/models/m1/x", "write=/scratch/out.txt",
              "exists=/secret", f"exists={root}", "exists=/root", "ids", "hostname", "pids", "devs",
              "env=EDGEML_CORE_SOCKET", "connect=/run/edgeml/core.sock", "sleep"]
    n_args = ["read=@/models/m1/model.bin", "exists=@/secret", "cwd", "ids", "sleep"]
    doc = {
        "Core": {"Cores": [{"Id": "c", "ThingArn": "arn:aws:iot:us-east-1:123456789012:thing/t",
                            "CertificateArn": "arn:aws:iot:us-east-1:123456789012:cert/" + "ab" * 32,
                            "SyncShadow": False}]},
        "Resources": {"Resources": res},
        "Functions": {"Functions": [
            function(FC, probe, c_args, True, [("M1", "ro"), ("M2", "rw")], memory_kb=65536),
            function(FM, probe, ["alloc=256", "sleep"], True, [("M1", "ro")], memory_kb=16384),
            function(FN, probe, n_args, False, [("M1", "ro")]),
        ]},
        "Subscriptions": {"Subscriptions": []},
    }
    gpath = os.path.join(work, "group.json")
    with open(gpath, "w") as f:
        json.dump(doc, f, indent=1)
    r = subprocess.run([EDGEML, "deploy", gpath, "--root", root], capture_output=True, text=True)
    check("deploy succeeds", r.returncode == 0, r.stderr)
    if r.returncode != 0:
        print(T.summary())
        return 1
    os.chmod(root, 0o755)  # NoContainer functions run as 4000 and walk ROOT
    # what a killed core leaves: an empty memory cgroup of a dead pid (removed at start) and,
    # for contrast, an empty one named after a live pid (kept)
    cg_base = None
    for line in open("/proc/self/cgroup"):
        parts = line.rstrip("\n").split(":", 2)
        if len(parts) == 3 and "memory" in parts[1].split(","):
            cg_base = "/sys/fs/cgroup/memory" + (parts[2] if parts[2] != "/" else "")
    stale = live = None
    if cg_base and os.path.isdir(cg_base):
        dead_pid = 4194303  # the largest possible pid; walk down to one that is not alive
        while dead_pid > 2:
            try:
                os.kill(dead_pid, 0)
            except ProcessLookupError:
                break
            except OSError:
                pass
            dead_pid -= 1
        stale = os.path.join(cg_base, f"edgeml-{dead_pid}-stale{SFX}")
        live = os.path.join(cg_base, f"edgeml-{os.getpid()}-live{SFX}")
        for d in (stale, live):
            if not os.path.isdir(d):
                os.mkdir(d)
    core = subprocess.Popen([EDGEML, "core", "--root", root, "--quiet", "--backoff-ms", "200"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "core.err"), "w"))
    logs = os.path.join(root, "logs", "functions")
    try:
        fc = etest.wait_until(lambda: "env EDGEML_CORE_SOCKET" in read(f"{logs}/{FC}.log") and read(f"{logs}/{FC}.log"), 20)
        lines = fc.splitlines()
        check("container: reads its ro resource", "read /models/m1/model.bin: ok model-one" in lines, fc)
        l = [x for x in lines if x.startswith("write /models/m1/x:")]
        check("container: cannot write it", l and (l[0].endswith("EROFS") or l[0].endswith("EACCES")), l)
        check("container: rw resource writable", "write /scratch/out.txt: ok" in lines, fc)
        check("container: unattached resource not visible", "exists /secret: ERR ENOENT" in lines, fc)
        check("container: ROOT and /root not visible",
              f"exists {root}: ERR ENOENT" in lines and "exists /root: ERR ENOENT" in lines, fc)
        check("container: RunAs uid/gid + GroupOwner", f"ids: uid={UID} gid={GID} groups={GROUP}" in lines, fc)
        check("container: hostname, pid namespace", f"hostname: {FC}" in lines and "pids: pid=2 ppid=1" in lines, fc)
        check("container: /dev minimal", "devs /dev: full null random urandom zero" in lines, fc)
        check("container: core socket reachable",
              "env EDGEML_CORE_SOCKET: /run/edgeml/core.sock" in lines and
              "connect /run/edgeml/core.sock: ok" in lines, fc)

        fn = etest.wait_until(lambda: "cwd:" in read(f"{logs}/{FN}.log") and read(f"{logs}/{FN}.log"), 20)
        lines = fn.splitlines()
        check("nocontainer: resource through AWS_GG_RESOURCE_PREFIX + DestinationPath",
              "read @/models/m1/model.bin: ok model-one" in lines, fn)
        check("nocontainer: unattached resource has no link", "exists @/secret: ERR ENOENT" in lines, fn)
        check("nocontainer: runs in ROOT/functions/<Id> as RunAs",
              f"cwd: {root}/functions/{FN}" in lines and f"ids: uid={UID} gid={GID} groups={GROUP}" in lines, fn)

        reason = "over its MemorySize of 16384 KB"

        def status_has():
            r = subprocess.run([EDGEML, "status", "--root", root, "--json"], capture_output=True, text=True)
            return reason in r.stdout and r.stdout
        st = etest.wait_until(status_has, 20)
        check("memory: the kill reason shows in `edgeml status --json`", bool(st), st)
        try:
            o = json.loads(st) if st else {}
        except ValueError:
            o = {}
        check("memory: status JSON parses", bool(o), st)
        clog = read(os.path.join(root, "logs", "core.log"))
        check("memory: the kill reason shows in core.log",
              any(FM in l and reason in l for l in clog.splitlines()),
              [l for l in clog.splitlines() if FM in l][-5:])
        check("memory: the allocation never completed", "alloc 256: ok" not in read(f"{logs}/{FM}.log"))
        if stale:
            check("start: an empty cgroup of a dead pid (a killed core's) is removed, and said",
                  not os.path.exists(stale) and "left by a killed core" in clog, stale)
            check("start: an empty cgroup named after a live pid is kept", os.path.isdir(live), live)
    finally:
        rc = etest.stop(core, 20)
        if live and os.path.isdir(live):
            os.rmdir(live)
    check("core stops cleanly on SIGTERM", rc == 0, rc)
    left = []
    for base in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup"):
        for dirpath, dirnames, _ in os.walk(base):
            left += [d for d in dirnames if d.startswith("edgeml-") and d.endswith(SFX)]
            if dirpath.count("/") > 8:
                dirnames[:] = []
    check("no function cgroup left", not left, left)
    if not T.failed:
        subprocess.run(["rm", "-rf", work])
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
