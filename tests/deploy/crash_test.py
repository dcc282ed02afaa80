#!/usr/bin/python3
"""Failure and crash safety of `edgeml deploy` (issue 4, "What it must show"
items 3-5), end to end with the real CLI, file:// sources and the loopback S3
harness (tests/deploy/s3). Usage: crash_test.py EDGEML HARNESS_DIR WORK_DIR

 3. a failure leaves the previous version active: EdgemlSha256 mismatch, a
    full disk (a small tmpfs as the root, then as the store; needs root, else
    those cases are skipped and said so), the server cutting the connection
    mid-download (the fetcher's own retry resumes with a Range request; when
    the server stays down the deployment fails, and the next one resumes).
 4. kill -9 at each phase (the CLI stops itself there with
    EDGEML_DEPLOY_STOP_AT=<phase>, see src/deploy/dep_deploy.c): after the
    download started, mid-unpack, before activation, between two resources'
    activations, after activation. While stopped, after the kill and after
    the next `edgeml deploy` (which must succeed), resources/R is the
    complete old or the complete new version (every file's SHA-256 against a
    manifest); a reader thread checks the same all along.
 5. a reader process reads every file of resources/R in a loop during 20
    redeploys alternating two versions and never sees a mix or nothing.

A reader sees one version by resolving resources/R once (an open directory
fd) and reading every file relative to it; re-resolving the link per file
could of course straddle a switch, and that is not what activation promises.
Exit 77 when node/s3rver is missing (the file:// cases still run first)."""
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dtest import Harness, Tally, start_harness, stop_harness  # noqa: E402
from dtest import status_json as dtest_status_json, targz as dtest_targz  # noqa: E402

EDGEML, HARNESS, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
T = Tally()
ok, bad, check = T.ok, T.bad, T.check
skip = T.skip


def targz(files):
    return dtest_targz(files, level=1)


def manifest(files):
    return {p: hashlib.sha256(d).hexdigest() for p, d in files.items()}


rnd = random.Random(4)


def rand(n):
    return rnd.getrandbits(8 * n).to_bytes(n, "little")


# Two versions with the same file names (a mix would go unnoticed by names
# alone) and one file only in each; several entries so that "mid-unpack" is
# between entries; incompressible so the download takes a while.
VA = {f"w/part{i}.bin": rand(512 * 1024) for i in range(8)}
VA.update({"labels.txt": b"A\n", "only-a.txt": b"a"})
VB = {f"w/part{i}.bin": rand(512 * 1024) for i in range(8)}
VB.update({"labels.txt": b"B\n", "only-b.txt": b"b"})
PA, PB = targz(VA), targz(VB)
MA, MB = manifest(VA), manifest(VB)
SMALL = {"a.txt": b"small v1\n", "b.txt": b"x" * 1000}
PS, MS = targz(SMALL), manifest(SMALL)


def snapshot(root, rid):
    """Manifest of resources/<rid> read through one directory fd, or a string
    saying what went wrong (missing, unreadable)."""
    try:
        fd = os.open(os.path.join(root, "resources", rid), os.O_RDONLY | os.O_DIRECTORY)
    except OSError as ex:
        return f"open: {ex.strerror}"
    try:
        out = {}
        for top, _dirs, files, dfd in os.fwalk(".", dir_fd=fd):
            for n in files:
                with open(n, "rb", opener=lambda p, fl: os.open(p, fl, dir_fd=dfd)) as f:
                    out[os.path.normpath(os.path.join(top, n))] = hashlib.sha256(
                        f.read()).hexdigest()
        return out
    except OSError as ex:
        return f"read: {ex}"
    finally:
        os.close(fd)


def which(m):
    for name, want in (("A", MA), ("B", MB), ("S", MS)):
        if m == want:
            return name
    return "mix" if isinstance(m, dict) else m


class Reader(threading.Thread):
    """Reads resources/<rid> in a loop; records whatever is not in allowed."""

    def __init__(self, root, rid, allowed):
        super().__init__(daemon=True)
        self.root, self.rid, self.allowed = root, rid, set(allowed)
        self.stop = threading.Event()
        self.reads, self.seen, self.wrong = 0, set(), []

    def run(self):
        while not self.stop.is_set():
            w = which(snapshot(self.root, self.rid))
            self.reads += 1
            self.seen.add(w)
            if w not in self.allowed and len(self.wrong) < 5:
                self.wrong.append(w)

    def finish(self):
        self.stop.set()
        self.join(30)
        return self.wrong


ENV = dict(os.environ)
for k in list(ENV):
    if k.startswith("AWS_") or k == "EDGEML_DEPLOY_STOP_AT":
        del ENV[k]
ENV.update(AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER", AWS_REGION="us-east-1",
           HOME=WORK)


def group(resources):
    res = []
    for rid, uri, sha in resources:
        data = {"DestinationPath": f"/ml/{rid}", "S3Uri": uri}
        if sha:
            data["EdgemlSha256"] = sha
        res.append({"Id": rid, "Name": rid,
                    "ResourceDataContainer": {"S3MachineLearningModelResourceData": data}})
    return {"Core": {"Cores": [{"Id": "core",
                                "ThingArn": "arn:aws:iot:us-east-1:123456789012:thing/C",
                                "CertificateArn": "arn:aws:iot:us-east-1:123456789012:cert/abc",
                                "SyncShadow": False}]},
            "Resources": {"Resources": res}}


def write_group(name, resources):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        json.dump(group(resources), f)
    return path


def deploy(g, root, env=None):
    return subprocess.run([EDGEML, "deploy", g, "--root", root], env=env or ENV,
                          capture_output=True, text=True, timeout=120)


def status_json(root):
    return dtest_status_json(EDGEML, root, ENV)


def last_status(root):
    st = status_json(root)
    return (st["deployments"][0]["status"], st["deployments"][0]["error"] or "") if st and \
        st["deployments"] else (None, "")


def tmp_left(root):
    s = os.path.join(root, "store")
    return [n for n in os.listdir(s) if n.startswith(".tmp-")] if os.path.isdir(s) else []


def write_file(path, data):
    """Replaces a file source atomically (a half-written source is another test)."""
    with open(path + ".new", "wb") as f:
        f.write(data)
    os.replace(path + ".new", path)


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def wait_stopped(proc, timeout=60):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            return False
        if proc_state(proc.pid) == "T":
            return True
        time.sleep(0.01)
    return False


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)


# ---------------- item 4: kill -9 at each phase ----------------
PHASES = ["after-download-start", "mid-unpack", "before-activate", "after-activate"]


def crash_case(tag, phase, root, g_new, set_new, set_old, g_old, extra_rid=None):
    """Deploys the old version, sets the source to the new one, runs deploy
    stopped at phase, checks, kill -9, checks, deploys again."""
    name = f"{tag}: kill -9 at {phase}"
    set_old()
    p = deploy(g_old, root)
    if p.returncode != 0 or which(snapshot(root, "R")) != "A":
        return bad(name, f"could not deploy the old version: {p.stderr.strip()}")
    set_new()
    rids = ["R"] + ([extra_rid] if extra_rid else [])
    readers = [Reader(root, r, {"A", "B"}) for r in rids]
    for r in readers:
        r.start()
    proc = subprocess.Popen([EDGEML, "deploy", g_new, "--root", root],
                            env=dict(ENV, EDGEML_DEPLOY_STOP_AT=phase),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    why = []
    if not wait_stopped(proc):
        proc.kill()
        out = proc.communicate()
        why.append(f"never stopped at {phase} (rc={proc.returncode}, {out[1].decode().strip()})")
    else:
        # activation goes in document order: at mid-activate R is switched, R2 not
        want = "B" if phase in ("after-activate", "mid-activate") else "A"
        got = which(snapshot(root, "R"))
        if got != want:
            why.append(f"while stopped: R is {got}, want {want}")
        if phase == "mid-activate":
            got2 = which(snapshot(root, extra_rid))
            if got2 != "A":
                why.append(f"while stopped: {extra_rid} is {got2}, want A (not yet switched)")
        dl = os.path.join(root, "downloads")
        if phase == "after-download-start" and not any(
                os.path.getsize(os.path.join(dl, n)) > 0 for n in os.listdir(dl)):
            why.append("no bytes in downloads/ at after-download-start")
        if phase == "mid-unpack" and not tmp_left(root):
            why.append("no store/.tmp-* at mid-unpack")
        time.sleep(0.05)
        proc.kill()  # SIGKILL: no handler, no cleanup
        proc.communicate()
        if proc.returncode != -9:
            why.append(f"rc after kill -9: {proc.returncode}")
        got = which(snapshot(root, "R"))
        if got not in ("A", "B"):
            why.append(f"after kill -9: R is {got}")
    p = deploy(g_new, root)
    if p.returncode != 0:
        why.append(f"next deploy failed: {p.stderr.strip()}")
    for r in rids:
        got = which(snapshot(root, r))
        if got != "B":
            why.append(f"after the next deploy: {r} is {got}, want B")
    if tmp_left(root):
        why.append(f"store/.tmp-* left: {tmp_left(root)}")
    st = status_json(root)
    if not st or not any(d["status"] == "Failure" and "interrupted" in (d["error"] or "")
                         for d in st["deployments"][:2]):
        why.append("the killed deployment is not recorded as an interrupted Failure: " +
                   str(st and st["deployments"][:2]))
    for r in readers:
        w = r.finish()
        if w:
            why.append(f"reader of {r.rid} saw {w} ({r.reads} reads)")
    check(name + f" ({sum(r.reads for r in readers)} concurrent reads)", not why, "; ".join(why))


def crash_file():
    src = os.path.join(WORK, "pkg.tar.gz")
    g = write_group("f.json", [("R", "file://" + src, None)])
    for ph in PHASES:
        # a fresh root each: B must be new to the store (else nothing unpacks)
        root = os.path.join(WORK, "froot-" + ph)
        crash_case("file", ph, root, g, lambda: write_file(src, PB), lambda: write_file(src, PA),
                   g)
    # two resources: killed between their activations
    src2 = os.path.join(WORK, "pkg2.tar.gz")
    g2 = write_group("f2.json", [("R", "file://" + src, None), ("R2", "file://" + src2, None)])

    def both(d):
        return lambda: (write_file(src, d), write_file(src2, d))
    root = os.path.join(WORK, "froot-two")
    crash_case("file, two resources", "mid-activate", root, g2, both(PB), both(PA), g2, "R2")


# ---------------- item 3: failures leave the previous version ----------------
def fail_digest():
    root = os.path.join(WORK, "droot")
    src = os.path.join(WORK, "dig.tar.gz")
    write_file(src, PA)
    g = write_group("d.json", [("R", "file://" + src, hashlib.sha256(PA).hexdigest())])
    p = deploy(g, root)
    if not check("digest: matching EdgemlSha256 deploys", p.returncode == 0 and
                 which(snapshot(root, "R")) == "A", p.stderr.strip()):
        return
    write_file(src, PB)  # the bytes change, the document still names A's digest
    p = deploy(g, root)
    s, err = last_status(root)
    check("digest: EdgemlSha256 mismatch -> Failure, A still active, nothing new in store",
          p.returncode == 1 and "does not match EdgemlSha256" in p.stderr and
          which(snapshot(root, "R")) == "A" and s == "Failure" and "EdgemlSha256" in err and
          not tmp_left(root) and
          not any(n.startswith(hashlib.sha256(PB).hexdigest())
                  for n in os.listdir(os.path.join(root, "store"))) and
          not os.listdir(os.path.join(root, "downloads")),
          f"rc={p.returncode} {p.stderr.strip()} status={s} {err}")


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                       capture_output=True, text=True)
    return r.returncode == 0, r.stderr.strip()


def fail_fulldisk():
    if os.geteuid() != 0:
        skip("full disk", "needs root to mount a small tmpfs")
        return
    src = os.path.join(WORK, "full.tar.gz")
    g = write_group("full.json", [("R", "file://" + src, None)])
    for where, size in (("root", "3m"), ("store", "1m")):
        name = f"full disk ({where} on a {size[0]} MiB tmpfs)"
        root = os.path.join(WORK, "fullroot-" + where)
        mnt = root if where == "root" else os.path.join(root, "store")
        good, err = mount_tmpfs(mnt, size)
        if not good:
            skip(name, f"cannot mount tmpfs: {err}")
            continue
        try:
            write_file(src, PS)
            p = deploy(g, root)
            if not check(name + ": small version deploys", p.returncode == 0 and
                         which(snapshot(root, "R")) == "S", p.stderr.strip()):
                continue
            write_file(src, PA)  # 4 MiB, incompressible
            p = deploy(g, root)
            s, e = last_status(root)
            check(name + ": 4 MiB package -> Failure naming the space, previous active",
                  p.returncode == 1 and "space" in p.stderr.lower() and
                  which(snapshot(root, "R")) == "S" and not tmp_left(root) and
                  p.stderr.count("\n") == 1 and (s == "Failure" or where == "root"),
                  f"rc={p.returncode} stderr={p.stderr!r} R={which(snapshot(root, 'R'))} "
                  f"status={s} {e}")
            # the space comes back: the same document deploys again
            write_file(src, PS)
            p = deploy(g, root)
            check(name + ": afterwards a deployment that fits succeeds",
                  p.returncode == 0 and which(snapshot(root, "R")) == "S" and
                  last_status(root)[0] == "Success", p.stderr.strip())
        finally:
            subprocess.run(["umount", mnt])


# ---------------- item 5: a reader during 20 redeploys ----------------
READER = r'''
import hashlib, json, os, sys
root, rid, mf, stopf = sys.argv[1:5]
with open(mf) as f:
    m = json.load(f)
a, b = m["A"], m["B"]
reads = na = nb = 0
bad = []
while not os.path.exists(stopf) or reads == 0:
    try:
        fd = os.open(os.path.join(root, "resources", rid), os.O_RDONLY | os.O_DIRECTORY)
    except OSError as ex:
        bad.append("open: " + ex.strerror)
        continue
    got = {}
    try:
        for top, _d, files, dfd in os.fwalk(".", dir_fd=fd):
            for n in files:
                x = os.open(n, os.O_RDONLY, dir_fd=dfd)
                with os.fdopen(x, "rb") as f:
                    got[os.path.normpath(os.path.join(top, n))] = hashlib.sha256(f.read()).hexdigest()
    except OSError as ex:
        bad.append("read: " + str(ex))
    finally:
        os.close(fd)
    reads += 1
    if got == a:
        na += 1
    elif got == b:
        nb += 1
    else:
        la = sorted(k for k in got if got[k] == a.get(k) and got[k] != b.get(k))
        lb = sorted(k for k in got if got[k] == b.get(k) and got[k] != a.get(k))
        bad.append("mix: %d files as A, %d as B (%s), %d missing/other" % (
            len(la), len(lb), ", ".join((la if len(la) < len(lb) else lb)[:3]),
            len(set(a) | set(b)) - len(la) - len(lb)))
    if len(bad) > 20:
        break
print(json.dumps({"reads": reads, "A": na, "B": nb, "bad": bad[:5], "nbad": len(bad)}))
'''


def reader_redeploys(tag, root, g_a, g_b, set_a, set_b, n=20):
    set_a()
    p = deploy(g_a, root)
    if not check(f"{tag}: first deploy", p.returncode == 0 and which(snapshot(root, "R")) == "A",
                 p.stderr.strip()):
        return
    mf = os.path.join(WORK, "manifests.json")
    with open(mf, "w") as f:
        json.dump({"A": MA, "B": MB}, f)
    stopf = os.path.join(WORK, "reader.stop")
    if os.path.exists(stopf):
        os.unlink(stopf)
    rd = subprocess.Popen(["/usr/bin/python3", "-c", READER, root, "R", mf, stopf],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    why = []
    t0 = time.monotonic()
    for i in range(n):
        want = "B" if i % 2 == 0 else "A"
        (set_b if want == "B" else set_a)()
        p = deploy(g_b if want == "B" else g_a, root)
        got = which(snapshot(root, "R"))
        if p.returncode != 0 or got != want:
            why.append(f"deploy {i + 1}: rc={p.returncode} R={got} {p.stderr.strip()}")
            break
    dt = time.monotonic() - t0
    with open(stopf, "w"):
        pass
    out, err = rd.communicate(timeout=60)
    try:
        r = json.loads(out)
    except ValueError:
        r = None
        why.append(f"reader: {out!r} {err.strip()}")
    if r:
        if r["nbad"]:
            why.append(f"reader saw {r['nbad']} bad reads: {r['bad']}")
        if r["A"] == 0 or r["B"] == 0:
            why.append(f"reader did not see both versions: {r}")
    check(f"{tag}: reader never sees a mix during {n} redeploys" +
          (f" ({r['reads']} reads: {r['A']} A, {r['B']} B; {dt:.1f} s)" if r else ""),
          not why, "; ".join(why))


def reader_selfcheck():
    """The reader can fail: a tree with half of A and half of B is reported."""
    root = os.path.join(WORK, "mixroot")
    mix = dict(VA)
    mix["w/part3.bin"] = VB["w/part3.bin"]
    for rel, data in mix.items():
        os.makedirs(os.path.dirname(os.path.join(root, "t", rel)), exist_ok=True)
        with open(os.path.join(root, "t", rel), "wb") as f:
            f.write(data)
    os.makedirs(os.path.join(root, "resources"))
    os.symlink("../t", os.path.join(root, "resources", "R"))
    mf = os.path.join(WORK, "manifests.json")
    with open(mf, "w") as f:
        json.dump({"A": MA, "B": MB}, f)
    stopf = os.path.join(WORK, "mix.stop")
    with open(stopf, "w"):
        pass
    r = subprocess.run(["/usr/bin/python3", "-c", READER, root, "R", mf, stopf],
                       capture_output=True, text=True, timeout=60)
    check("reader self-check: a mixed tree is reported",
          which(snapshot(root, "R")) == "mix" and '"nbad": 1' in r.stdout and
          "w/part3.bin" in r.stdout, r.stdout + r.stderr)


def reader_file():
    root = os.path.join(WORK, "rroot")
    sa, sb = os.path.join(WORK, "ra.tar.gz"), os.path.join(WORK, "rb.tar.gz")
    write_file(sa, PA)
    write_file(sb, PB)
    # two sources, the document alternates between them
    ga = write_group("ra.json", [("R", "file://" + sa, None)])
    gb = write_group("rb.json", [("R", "file://" + sb, None)])
    reader_redeploys("file, two sources", root, ga, gb, lambda: None, lambda: None)


fail_digest()
fail_fulldisk()
crash_file()
reader_selfcheck()
reader_file()

# ---------------- S3 ----------------
BASE = start_harness(HARNESS, WORK, T)
ENV["AWS_ENDPOINT_URL_S3"] = BASE


H = Harness(BASE)
ctl, put, stats = H.ctl, H.put, H.stats


def s3_cut():
    root = os.path.join(WORK, "cutroot")
    g = write_group("cut.json", [("R", "s3://bucket/cut.tar.gz", None)])
    put("cut.tar.gz", PA)
    p = deploy(g, root)
    if not check("s3 cut: first deploy", p.returncode == 0 and which(snapshot(root, "R")) == "A",
                 p.stderr.strip()):
        return
    # the connection dies once mid-body: the fetcher's retry resumes
    put("cut.tar.gz", PB)
    ctl("POST", "reset")
    ctl("POST", "cut?after=1500000")
    rd = Reader(root, "R", {"A", "B"})
    rd.start()
    p = deploy(g, root)
    s = stats()
    w = rd.finish()
    # bodyBytes counts the cut response as 1500000 (what the harness wrote,
    # some of it lost with the socket): the 206 after it carried less than
    # the whole object, i.e. it resumed past what the client had kept
    check("s3 cut: connection cut mid-download -> retry resumes with a Range, B active",
          p.returncode == 0 and which(snapshot(root, "R")) == "B" and
          s["statuses"] == [200, 206] and len(PB) - 1500000 <= s["bodyBytes"] - 1500000 < len(PB)
          and not w,
          f"rc={p.returncode} {p.stderr.strip()} stats={s} (object {len(PB)}) reader={w}")
    # the server stays down after the cut: Failure, B active; then it comes
    # back and the next deployment resumes from the kept bytes
    put("cut.tar.gz", PA)
    ctl("POST", "reset")
    ctl("POST", "cut?after=1500000")
    rd = Reader(root, "R", {"A", "B"})
    rd.start()
    proc = subprocess.Popen([EDGEML, "deploy", g, "--root", root], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dl = os.path.join(root, "downloads")
    t_end = time.monotonic() + 20
    # the first GET is under way once its validator is kept next to the
    # partial file: every request after it (the retries) gets a 503
    while time.monotonic() < t_end and not any(n.endswith(".etag") for n in os.listdir(dl)):
        time.sleep(0.002)
    ctl("POST", "fail?status=503&count=1000")
    out, errout = proc.communicate(timeout=120)
    p = subprocess.CompletedProcess(proc.args, proc.returncode, out, errout)
    w = rd.finish()
    s, err = last_status(root)
    kept = sum(os.path.getsize(os.path.join(dl, n)) for n in os.listdir(dl)
               if n.endswith(".part"))
    check("s3 cut: server down after the cut -> Failure naming 503, B still active, bytes kept",
          p.returncode == 1 and "503" in p.stderr and which(snapshot(root, "R")) == "B" and
          s == "Failure" and "503" in err and 0 < kept <= 1500000 and not w,
          f"rc={p.returncode} {p.stderr.strip()} status={s} kept={kept} reader={w}")
    ctl("POST", "reset")
    p = deploy(g, root)
    s = stats()
    check("s3 cut: server back -> the next deploy resumes (transfers only the rest), A active",
          p.returncode == 0 and which(snapshot(root, "R")) == "A" and
          s["bodyBytes"] == len(PA) - kept,
          f"rc={p.returncode} {p.stderr.strip()} stats={s} (object {len(PA)}, kept {kept})")


def crash_s3():
    g = write_group("s3.json", [("R", "s3://bucket/crash.tar.gz", None)])
    for ph in PHASES:
        root = os.path.join(WORK, "s3root-" + ph)
        crash_case("s3", ph, root, g, lambda: put("crash.tar.gz", PB),
                   lambda: put("crash.tar.gz", PA), g)


def reader_s3():
    root = os.path.join(WORK, "rs3root")
    g = write_group("rs3.json", [("R", "s3://bucket/alt.tar.gz", None)])
    reader_redeploys("s3, one key rewritten", root, g, g, lambda: put("alt.tar.gz", PA),
                     lambda: put("alt.tar.gz", PB))


try:
    s3_cut()
    crash_s3()
    reader_s3()
except Exception as ex:  # a crash of the test is a failure, not a pass
    bad("s3 tests", repr(ex))
finally:
    stop_harness(HARNESS, WORK)
if not T.failed:
    shutil.rmtree(WORK, ignore_errors=True)
print(T.summary())
sys.exit(1 if T.failed else 0)
