#!/usr/bin/python3
"""End-to-end tests of `edgeml deploy` / `edgeml status` against the loopback
S3 harness (tests/deploy/s3: s3rver behind a SigV4-checking proxy) and local
file sources. Usage: deploy_test.py EDGEML HARNESS_DIR WORK_DIR
Exit 77 when node/s3rver is missing (the file:// tests still run first)."""
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dtest import Harness, Tally, start_harness, stop_harness, targz  # noqa: E402
from dtest import status_json as dtest_status_json  # noqa: E402

EDGEML, HARNESS, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
T = Tally()
ok, bad, check = T.ok, T.bad, T.check


def group(resources):
    res = []
    for rid, uri, kind in resources:
        if kind == "sm":
            data = {"SageMakerMachineLearningModelResourceData": {
                "DestinationPath": f"/ml/{rid}", "SageMakerJobArn": uri}}
        else:
            data = {"S3MachineLearningModelResourceData": {
                "DestinationPath": f"/ml/{rid}", "S3Uri": uri}}
        res.append({"Id": rid, "Name": rid, "ResourceDataContainer": data})
    return {"Core": {"Cores": [{"Id": "core",
                                "ThingArn": "arn:aws:iot:us-east-1:123456789012:thing/C",
                                "CertificateArn": "arn:aws:iot:us-east-1:123456789012:cert/abc",
                                "SyncShadow": False}]},
            "Resources": {"Resources": res}}


def write_group(path, resources):
    with open(path, "w") as f:
        json.dump(group(resources), f)
    return path


ENV = dict(os.environ)
for k in list(ENV):
    if k.startswith("AWS_"):
        del ENV[k]
ENV.update(AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER", AWS_REGION="us-east-1",
           HOME=WORK)


def deploy(g, root, env=None, **kw):
    return subprocess.run([EDGEML, "deploy", g, "--root", root], env=env or ENV,
                          capture_output=True, text=True, timeout=120, **kw)


def status_json(root):
    return dtest_status_json(EDGEML, root, ENV)


def tree(d):
    """{relative path: bytes} of the regular files under d (following the top link)."""
    out = {}
    for r, ds, fs in os.walk(d):
        for n in fs:
            p = os.path.join(r, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = f.read()
    return out


def store_entries(root):
    s = os.path.join(root, "store")
    return sorted(os.listdir(s)) if os.path.isdir(s) else []


def active(root, rid):
    try:
        return os.readlink(os.path.join(root, "resources", rid))
    except OSError:
        return None


rnd = random.Random(44)
V1 = {"model.onnx": bytes(rnd.getrandbits(8) for _ in range(200000)), "labels.txt": b"cat\ndog\n",
      "sub/deeper/w.bin": bytes(rnd.getrandbits(8) for _ in range(5000))}
V2 = dict(V1, **{"labels.txt": b"cat\ndog\nbird\n", "new.txt": b"v2"})
V3 = {"big.bin": bytes(rnd.getrandbits(8) for _ in range(6 << 20))}

shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)

# ---------------- file sources ----------------
def test_files():
    root = os.path.join(WORK, "froot")
    pkg = os.path.join(WORK, "m.tar.gz")
    with open(pkg, "wb") as f:
        f.write(targz(V1))
    g = write_group(os.path.join(WORK, "fg.json"), [("F1", "file://" + pkg, "s3"),
                                                     ("F2", pkg, "s3")])
    p = deploy(g, root)
    if not check("file: deploy", p.returncode == 0, p.stderr.strip()):
        return
    check("file: content byte for byte", tree(os.path.join(root, "resources/F1")) == V1 and
          tree(os.path.join(root, "resources/F2")) == V1, "content differs")
    before = store_entries(root)
    p = deploy(g, root)
    check("file: redeploy unchanged", p.returncode == 0 and "(2 unchanged)" in p.stdout and
          store_entries(root) == before, p.stdout + p.stderr)
    with open(pkg, "wb") as f:
        f.write(targz(V2))
    p = deploy(g, root)
    check("file: changed file -> new version", p.returncode == 0 and
          tree(os.path.join(root, "resources/F1")) == V2, p.stderr.strip())
    # invalid document: nothing changed, exit 1, violations named
    bad_g = os.path.join(WORK, "bad.json")
    d = group([("F1", "relative/path.tar.gz", "s3")])
    d["Resources"]["Resources"][0]["Id"] = "bad id!"
    with open(bad_g, "w") as f:
        json.dump(d, f)
    fresh = os.path.join(WORK, "fresh")
    p = deploy(bad_g, fresh)
    check("invalid group: exit 1, nothing created", p.returncode == 1 and
          not os.path.exists(fresh) and "Resources.Resources[0].Id" in p.stderr, p.stderr)
    # a missing file -> Failure, previous stays
    g2 = write_group(os.path.join(WORK, "fg2.json"),
                     [("F1", "file://" + pkg, "s3"), ("F2", pkg + ".missing", "s3")])
    was = active(root, "F1"), active(root, "F2")
    p = deploy(g2, root)
    st = status_json(root)
    check("file: missing source -> Failure, nothing switched",
          p.returncode == 1 and "F2:" in p.stderr and (active(root, "F1"), active(root, "F2")) == was
          and st and st["deployments"][0]["status"] == "Failure" and
          "F2:" in (st["deployments"][0]["error"] or ""), p.stderr)
    # usage
    p = subprocess.run([EDGEML, "deploy"], capture_output=True, text=True)
    check("usage: exit 2", p.returncode == 2, p.stderr)


test_files()


# ---------------- function code packages (EdgemlCode) ----------------
def with_function(doc, fid, uri, sha=None):
    code = {"Uri": uri}
    if sha:
        code["Sha256"] = sha
    doc["Functions"] = {"Functions": [{
        "Id": fid, "FunctionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{fid}:1",
        "FunctionConfiguration": {
            "Executable": "bin/run", "Pinned": True, "Timeout": 3, "EdgemlCode": code,
            "Environment": {"Execution": {"IsolationMode": "NoContainer"}}}}]}
    return doc


def test_code():
    root = os.path.join(WORK, "croot")
    pkg = os.path.join(WORK, "code.tar.gz")

    def exe(t):
        ti = tarfile.TarInfo("bin/run")
        body = b"#!/bin/sh\necho run\n"
        ti.size = len(body)
        ti.mode = 0o755
        t.addfile(ti, io.BytesIO(body))
    with open(pkg, "wb") as f:
        f.write(targz({"lib/data.txt": b"data"}, exe))
    mpkg = os.path.join(WORK, "cm.tar.gz")
    with open(mpkg, "wb") as f:
        f.write(targz(V1))
    g = os.path.join(WORK, "cg.json")
    doc = with_function(group([("M1", "file://" + mpkg, "s3")]), "fn1", "file://" + pkg)
    raw = json.dumps(doc, indent=1).encode()
    with open(g, "wb") as f:
        f.write(raw)
    p = deploy(g, root)
    if not check("code: deploy with a code package", p.returncode == 0 and
                 "1 code package" in p.stdout, p.stdout + p.stderr):
        return
    code = os.path.join(root, "code", "fn1")
    link = os.readlink(code) if os.path.islink(code) else ""
    run = os.path.join(code, "bin", "run")
    check("code: code/<Id> -> a public store view, executable kept",
          link.startswith("../store/") and link.endswith(".pub") and
          os.stat(run).st_mode & 0o777 == 0o555 and
          os.stat(os.path.join(code, "lib/data.txt")).st_mode & 0o777 == 0o444 and
          subprocess.run([run], capture_output=True).stdout == b"run\n", link)
    with open(os.path.join(root, "group.json"), "rb") as f:
        check("code: group.json holds the document byte for byte", f.read() == raw)
    # a broken code source fails the whole deployment; code, model and group.json stay
    bad_doc = with_function(group([("M1", "file://" + mpkg, "s3")]), "fn1",
                            "file://" + pkg + ".missing")
    bg = os.path.join(WORK, "cg-bad.json")
    with open(bg, "w") as f:
        json.dump(bad_doc, f)
    p = deploy(bg, root)
    with open(os.path.join(root, "group.json"), "rb") as f:
        same = f.read() == raw
    check("code: missing code package -> Failure naming code/fn1, previous intact",
          p.returncode == 1 and "code/fn1" in p.stderr and os.readlink(code) == link and same,
          p.stderr)
    # wrong Sha256 of the code package
    bad_doc = with_function(group([("M1", "file://" + mpkg, "s3")]), "fn1", "file://" + pkg,
                            "0" * 64)
    with open(bg, "w") as f:
        json.dump(bad_doc, f)
    p = deploy(bg, root)
    check("code: Sha256 mismatch -> Failure, previous intact",
          p.returncode == 1 and "does not match" in p.stderr and os.readlink(code) == link,
          p.stderr)
    # the function leaves the document: its code link goes, the store entry is collected
    g3 = write_group(os.path.join(WORK, "cg3.json"), [("M1", "file://" + mpkg, "s3")])
    p = deploy(g3, root)
    p = deploy(g3, root)  # a second deployment pushes the code out of the kept history
    check("code: function removed -> code link removed, store collected",
          p.returncode == 0 and not os.path.lexists(code) and
          not any(e.endswith(".pub") for e in store_entries(root)),
          p.stderr + str(store_entries(root)))


test_code()

# ---------------- S3 ----------------
BASE = start_harness(HARNESS, WORK, T)
ENV["AWS_ENDPOINT_URL_S3"] = BASE
ENV["AWS_ENDPOINT_URL_SAGEMAKER"] = BASE


H = Harness(BASE)
ctl, put, stats = H.ctl, H.put, H.stats


def test_s3():
    root = os.path.join(WORK, "root")
    R = os.path.join(root, "resources/R1")
    put("models/m.tar.gz", targz(V1))
    g = write_group(os.path.join(WORK, "g.json"), [("R1", "s3://bucket/models/m.tar.gz", "s3")])
    p = deploy(g, root)
    if not check("s3: deploy tar.gz", p.returncode == 0, p.stderr.strip()):
        return
    check("s3: content byte for byte", tree(R) == V1, "content differs")
    st = status_json(root)
    check("status --json: Success, resource listed", st and st["deployments"][0]["status"] ==
          "Success" and st["resources"][0]["id"] == "R1" and st["resources"][0]["etag"] and
          st["resources"][0]["store_path"] == os.path.basename(active(root, "R1")), str(st))
    p = subprocess.run([EDGEML, "status", "--root", root], capture_output=True, text=True)
    check("status text", p.returncode == 0 and "Success" in p.stdout and
          "s3://bucket/models/m.tar.gz" in p.stdout, p.stdout + p.stderr)

    # unchanged: zero body bytes, no new store entry
    before = store_entries(root)
    ctl("POST", "reset")
    t0 = time.monotonic()
    p = deploy(g, root)
    dt = time.monotonic() - t0
    s = stats()
    check("s3: redeploy unchanged: 0 body bytes, no new store entry",
          p.returncode == 0 and s["bodyBytes"] == 0 and 304 in s["statuses"] and
          store_entries(root) == before, f"{p.stderr} {s} {store_entries(root)} vs {before}")
    print(f"  (unchanged redeploy took {dt * 1000:.0f} ms)")

    # change: new version active, the previous one kept
    v1 = active(root, "R1")
    put("models/m.tar.gz", targz(V2))
    p = deploy(g, root)
    v2 = active(root, "R1")
    check("s3: changed object -> new version, previous kept",
          p.returncode == 0 and tree(R) == V2 and v2 != v1 and
          os.path.isdir(os.path.join(root, "store", os.path.basename(v1))), p.stderr.strip())

    def still_v2(name, p, want):
        st = status_json(root)
        err = st["deployments"][0]["error"] if st else None
        check(name, p.returncode == 1 and want in p.stderr and active(root, "R1") == v2 and
              tree(R) == V2 and st["deployments"][0]["status"] == "Failure" and
              want in (err or "") and p.stderr.count("\n") == 1,
              f"rc={p.returncode} stderr={p.stderr!r} err={err!r}")

    # wrong secret -> 403, previous active
    put("models/m.tar.gz", targz(V1 | {"x": b"3"}))
    env = dict(ENV, AWS_SECRET_ACCESS_KEY="wrong")
    still_v2("s3: wrong secret -> Failure naming 403, previous active", deploy(g, root, env=env),
             "HTTP 403")
    # missing key -> 404
    g404 = write_group(os.path.join(WORK, "g404.json"), [("R1", "s3://bucket/models/none.tar.gz",
                                                          "s3")])
    still_v2("s3: missing key -> Failure naming 404", deploy(g404, root), "404")
    # corrupt archive
    gz = targz(V1)
    put("models/corrupt.tar.gz", gz[:100] + bytes(200) + gz[300:])
    gc = write_group(os.path.join(WORK, "gc.json"), [("R1", "s3://bucket/models/corrupt.tar.gz",
                                                       "s3")])
    still_v2("s3: corrupt archive -> Failure, previous active", deploy(gc, root), "R1:")

    def evil(t):
        ti = tarfile.TarInfo("../../evil.txt")
        ti.size = 4
        t.addfile(ti, io.BytesIO(b"evil"))
    put("models/evil.tar.gz", targz({"ok.txt": b"ok"}, evil))
    ge = write_group(os.path.join(WORK, "ge.json"), [("R1", "s3://bucket/models/evil.tar.gz",
                                                       "s3")])
    still_v2("s3: path-traversal archive -> Failure naming the entry", deploy(ge, root),
             "evil.txt")
    check("s3: traversal left nothing outside", not os.path.exists(os.path.join(WORK,
                                                                                "evil.txt")))
    # two resources, the second fails: the first is not switched
    put("models/r2.tar.gz", targz({"r2": b"r2"}))
    g2 = write_group(os.path.join(WORK, "g2.json"), [("R1", "s3://bucket/models/m.tar.gz", "s3"),
                                                     ("R2", "s3://bucket/models/none.tar.gz",
                                                      "s3")])
    p = deploy(g2, root)
    check("s3: all or nothing (R2 fails, R1 not switched)", p.returncode == 1 and
          "R2:" in p.stderr and active(root, "R1") == v2 and active(root, "R2") is None, p.stderr)

    # kill -9 mid-download, concurrent deploy refused, then a new deploy resumes and succeeds
    big = targz(V3)
    put("models/big.tar.gz", big)
    gb = write_group(os.path.join(WORK, "gb.json"), [("R1", "s3://bucket/models/big.tar.gz",
                                                       "s3")])
    ctl("POST", "reset")
    ctl("POST", "cut?after=1000000")
    proc = subprocess.Popen([EDGEML, "deploy", gb, "--root", root], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dl = os.path.join(root, "downloads")

    # downloads/<Id>.<first 16 hex of sha256(source)>.part (+ .etag when kept)
    want = os.path.join(dl, "R1." + hashlib.sha256(b"s3://bucket/models/big.tar.gz")
                        .hexdigest()[:16] + ".part")

    def find_part():
        return want if os.path.exists(want + ".etag") else None
    part = None
    t_end = time.monotonic() + 20
    # after the cut the fetcher keeps the partial file and its validator, then
    # waits 0.5 s before it retries
    while time.monotonic() < t_end and not part:
        part = find_part()
        time.sleep(0.005)
    have_part = part is not None and os.path.getsize(part) > 0
    ctl("POST", "fail?status=503&count=50")  # the retries (after >= 0.5 s) get 503s
    time.sleep(0.2)
    p = deploy(gb, root)
    check("concurrent deploy refused naming the pid", p.returncode == 1 and
          f"another deployment is in progress (pid {proc.pid})" in p.stderr, p.stderr)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    check("kill -9 mid-download: partial download left", have_part and active(root, "R1") == v2
          and tree(R) == V2, "no partial file seen")
    kept = os.path.getsize(part) if part and os.path.exists(part) else -1
    ctl("POST", "reset")
    p = deploy(gb, root)
    s = stats()
    print(f"  (kept {kept} bytes of {len(big)}; then transferred {s['bodyBytes']})")
    st = status_json(root)
    check("after kill -9: next deploy succeeds (resumed)", p.returncode == 0 and
          tree(R) == V3 and s["bodyBytes"] == len(big) - kept and
          any(d["status"] == "Failure" and "interrupted" in (d["error"] or "")
              for d in st["deployments"]), f"{p.stderr} {s}")
    # GC: keep 1 previous: v1 is gone now, v2 kept
    check("gc keeps one previous version", not os.path.exists(os.path.join(
        root, "store", os.path.basename(v1))) and os.path.exists(os.path.join(
            root, "store", os.path.basename(v2))), str(store_entries(root)))
    # SageMaker training job -> its model artifacts
    ctl("PUT", "job/job-1", b"s3://bucket/models/r2.tar.gz")
    gs = write_group(os.path.join(WORK, "gs.json"), [
        ("R1", "s3://bucket/models/big.tar.gz", "s3"),
        ("SM", "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1", "sm")])
    p = deploy(gs, root)
    check("sagemaker job resource", p.returncode == 0 and
          tree(os.path.join(root, "resources/SM")) == {"r2": b"r2"} and tree(R) == V3, p.stderr)
    st = status_json(root)
    check("status --json parses, newest first", st is not None and
          [d["id"] for d in st["deployments"]] == sorted((d["id"] for d in st["deployments"]),
                                                           reverse=True) and
          {r["id"] for r in st["resources"]} == {"R1", "SM"}, str(st))


try:
    test_s3()
except Exception as ex:  # a crash of the test is a failure, not a pass
    bad("s3 tests", repr(ex))
finally:
    stop_harness(HARNESS, WORK)
if not T.failed:
    shutil.rmtree(WORK, ignore_errors=True)
print(T.summary())
sys.exit(1 if T.failed else 0)
