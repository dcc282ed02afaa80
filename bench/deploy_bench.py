#!/usr/bin/python3
"""Issue-4 deployment benchmark (not a test; see bench/README.md).

    deploy_bench.py EDGEML [--mib N] [--reps N] [--redeploys N] [--seed N] [--keep-work]

Generates a seeded ~200 MB tar.gz (random binary files + pseudo-text files) in a
temporary directory, puts it into the loopback S3 harness (tests/deploy/s3:
s3rver behind a proxy that checks SigV4 itself), then in the same run, alternating:
  (a) edgeml deploy GROUP.json --root FRESH      cold: download, unpack, activate
  (b) curl -o (SigV4-signed, same proxy) + tar xzf into a fresh directory
and finally (c) the unchanged redeploy time (median of --redeploys runs).
Prints a table, the ratio edgeml/peer (target <= 1.1) and the redeploy median
(target <= 50 ms). Exit 0 when the runs worked (targets missed still exit 0,
the lines say MISSED), 1 when something failed, 77 when node/s3rver/curl lacks."""
import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.join(HERE, "..", "tests", "deploy", "s3")
KEY, SECRET, REGION = "S3RVER", "S3RVER", "us-east-1"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
OBJ = "models/bench.tar.gz"


def die(msg, code=1):
    print(f"deploy_bench: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def rmtree(p):
    """rm -rf that also gets through the store's read-only directories."""
    def fix(func, path, _exc):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            os.chmod(path, 0o700)
        except OSError:
            pass
        func(path)
    if os.path.lexists(p):
        shutil.rmtree(p, onerror=fix)


# ---------------- the package ----------------
def make_tree(src, mib, seed):
    """About mib MiB of compressed package: ~88% of it random binary files
    (incompressible), the rest pseudo-text files (gzip -6 packs them ~2.1x).
    Returns (files, raw bytes)."""
    rnd = random.Random(seed)
    os.makedirs(src)
    bin_total = int(mib * 0.88) << 20
    text_total = int(mib * 0.12 * 2.1) << 20
    files = raw = 0
    i = 0
    left = bin_total
    while left > 0:  # 2..32 MiB each, some nested
        n = min(left, rnd.randint(2 << 20, 32 << 20))
        d = os.path.join(src, "weights" if i % 3 else "weights/shard%d" % (i // 3))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "w%03d.bin" % i), "wb") as f:
            f.write(rnd.randbytes(n))
        left -= n
        raw += n
        files += 1
        i += 1
    alpha = "etaoinshrdlucmfwypvbgkjqxz"
    words = ["".join(rnd.choice(alpha) for _ in range(rnd.randint(2, 11))) for _ in range(5000)]
    lines = [(" ".join(rnd.choice(words) for _ in range(rnd.randint(4, 16))) + "\n").encode()
             for _ in range(30000)]
    left, j = text_total, 0
    while left > 0:  # 16 KiB .. 2 MiB each
        n = min(left, rnd.randint(16 << 10, 2 << 20))
        d = os.path.join(src, "text", "d%02d" % (j % 16))
        os.makedirs(d, exist_ok=True)
        buf = bytearray()
        while len(buf) < n:
            buf += b"".join(rnd.choices(lines, k=256))
        with open(os.path.join(d, "t%04d.txt" % j), "wb") as f:
            f.write(buf[:n])
        left -= n
        raw += n
        files += 1
        j += 1
    return files, raw


def tree_digest(d):
    """sha256 over (relative path, content) of the regular files under d."""
    h = hashlib.sha256()
    for r, ds, fs in os.walk(d):
        ds.sort()
        for n in sorted(fs):
            p = os.path.join(r, n)
            h.update(os.path.relpath(p, d).encode() + b"\0")
            with open(p, "rb") as f:
                while True:
                    b = f.read(1 << 20)
                    if not b:
                        break
                    h.update(b)
    return h.hexdigest()


# ---------------- measuring ----------------
def timed(argv, env, cwd=None):
    """(wall seconds, child CPU seconds user+sys) of one run; dies if it fails."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    t = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        die(f"{argv[0]} {argv[1] if len(argv) > 1 else ''} failed (exit {p.returncode}): "
            f"{(p.stderr or p.stdout).strip()[:500]}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return t, cpu


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("edgeml")
    ap.add_argument("--mib", type=int, default=191,
                    help="package size target, MiB (default 191 MiB = 200 MB)")
    ap.add_argument("--reps", type=int, default=3, help="cold runs of each side (default 3)")
    ap.add_argument("--redeploys", type=int, default=10, help="unchanged redeploys (default 10)")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--keep-work", action="store_true", help="leave the temp dir (for looking)")
    a = ap.parse_args()
    edgeml = os.path.abspath(a.edgeml)
    if not os.access(edgeml, os.X_OK):
        die(f"{edgeml}: not an executable")
    curl = shutil.which("curl")
    if not curl:
        die("curl not found", 77)

    work = tempfile.mkdtemp(prefix="edgeml-bench-")
    hdir = os.path.join(work, "h")
    started = False
    try:
        print(f"# edgeml deploy benchmark  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
        print(f"# edgeml: {edgeml}")
        print(f"# {subprocess.run([curl, '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")
        print(f"# cpus: {os.cpu_count()}  load (1/5/15 min) at start: {load()}")
        print(f"# work dir: {work}", flush=True)

        t0 = time.perf_counter()
        src = os.path.join(work, "src")
        nfiles, raw = make_tree(src, a.mib, a.seed)
        pkg = os.path.join(work, "bench.tar.gz")
        subprocess.run(["tar", "-C", src, "-czf", pkg, "."], check=True)
        want = tree_digest(src)
        rmtree(src)
        size = os.path.getsize(pkg)
        print(f"# package: {size} bytes ({size / (1 << 20):.1f} MiB) tar.gz, {nfiles} files, "
              f"{raw / (1 << 20):.1f} MiB unpacked, seed {a.seed} (made in {time.perf_counter() - t0:.1f} s)")

        sp = subprocess.run(["/bin/sh", os.path.join(HARNESS, "start.sh"), hdir],
                            capture_output=True, text=True)
        if sp.returncode == 77:
            die("node or the npm package s3rver is missing: " + sp.stderr.strip(), 77)
        if sp.returncode != 0:
            die("harness did not start: " + sp.stderr.strip())
        started = True
        base = f"http://127.0.0.1:{sp.stdout.strip()}"

        def ctl(method, path, data=None):
            req = urllib.request.Request(base + "/__ctl/" + path, data=data, method=method)
            with urllib.request.urlopen(req, timeout=300) as r:
                return r.read()

        with open(pkg, "rb") as f:
            req = urllib.request.Request(base + "/__ctl/object/bucket/" + OBJ, data=f,
                                         method="PUT", headers={"Content-Length": str(size)})
            with urllib.request.urlopen(req, timeout=300) as r:
                r.read()
        os.unlink(pkg)

        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION=REGION,
                   AWS_ENDPOINT_URL_S3=base, HOME=work)
        group = os.path.join(work, "group.json")
        with open(group, "w") as f:
            json.dump({"Core": {"Cores": [{
                "Id": "core", "ThingArn": "arn:aws:iot:us-east-1:123456789012:thing/Bench",
                "CertificateArn": "arn:aws:iot:us-east-1:123456789012:cert/bench",
                "SyncShadow": False}]},
                "Resources": {"Resources": [{
                    "Id": "Model", "Name": "Model", "ResourceDataContainer": {
                        "S3MachineLearningModelResourceData": {
                            "DestinationPath": "/ml/model", "S3Uri": "s3://bucket/" + OBJ}}}]}}, f)

        # The peer: curl 7.88 signs SigV4 itself but sends no x-amz-content-sha256,
        # which S3 (and the harness) require; given as a header, curl signs it and
        # uses its value as the payload hash (checked below: wrong secret -> 403).
        url = f"{base}/bucket/{OBJ}"

        def curl_argv(out, secret=SECRET):
            return [curl, "-sS", "-f", "-o", out, "--aws-sigv4", f"aws:amz:{REGION}:s3",
                    "--user", f"{KEY}:{secret}", "-H", f"x-amz-content-sha256: {EMPTY_SHA256}", url]

        probe = subprocess.run(curl_argv(os.devnull, "wrong-secret")[:-1] + ["-w", "%{http_code}", url],
                               capture_output=True, text=True)
        if probe.stdout.strip() != "403":
            die(f"harness did not refuse curl with a wrong secret (got {probe.stdout.strip()!r})")
        print("# peer signing: curl --aws-sigv4 'aws:amz:us-east-1:s3' --user KEY:SECRET "
              "-H 'x-amz-content-sha256: <sha256 of empty body>' (harness checks it; wrong secret -> 403)")

        def peer(d):
            """curl -o, then tar xzf into a fresh directory: (wall, cpu, detail)."""
            os.makedirs(os.path.join(d, "out"))
            t1, c1 = timed(curl_argv(os.path.join(d, "pkg.tar.gz")), env)
            t2, c2 = timed(["tar", "-xzf", os.path.join(d, "pkg.tar.gz"), "-C", os.path.join(d, "out")], env)
            return t1 + t2, c1 + c2, f"curl {t1:.3f} + tar {t2:.3f}"

        rows = []  # (side, rep, wall, cpu, load)
        ed, pe = [], []
        for rep in range(1, a.reps + 1):
            # alternate which side goes first, so neither always follows the other
            order = ("edgeml", "peer") if rep % 2 else ("peer", "edgeml")
            for side in order:
                ctl("POST", "reset")
                if side == "edgeml":
                    root = os.path.join(work, f"root{rep}")
                    t, cpu = timed([edgeml, "deploy", group, "--root", root], env)
                    detail = ""
                    ed.append(t)
                    if rep == 1 and tree_digest(os.path.join(root, "resources", "Model")) != want:
                        die("edgeml: deployed content differs from the package")
                    if rep < a.reps:
                        rmtree(root)
                    else:
                        last_root = root
                else:
                    d = os.path.join(work, f"peer{rep}")
                    t, cpu, detail = peer(d)
                    pe.append(t)
                    if rep == 1 and tree_digest(os.path.join(d, "out")) != want:
                        die("peer: unpacked content differs from the package")
                    rmtree(d)
                body = json.loads(ctl("GET", "stats"))["bodyBytes"]
                rows.append((side, rep, t, cpu, body, load(), detail))

        # (c) unchanged redeploys on the last cold root
        ctl("POST", "reset")
        rd, rdcpu = [], []
        for _ in range(a.redeploys):
            t, cpu = timed([edgeml, "deploy", group, "--root", last_root], env)
            rd.append(t)
            rdcpu.append(cpu)
        st = json.loads(ctl("GET", "stats"))
        st_body, st_req, st_codes = st["bodyBytes"], st["requests"], sorted(set(st["statuses"]))

        print()
        print(f"{'run':<16}{'wall s':>9}{'cpu s':>8}{'MiB/s':>8}{'body bytes':>12}   load 1/5/15")
        for side, rep, t, cpu, body, ld, detail in rows:
            print(f"{side + ' cold #' + str(rep):<16}{t:>9.3f}{cpu:>8.2f}{size / (1 << 20) / t:>8.1f}"
                  f"{body:>12}   {ld}" + (f"   ({detail})" if detail else ""))
        print(f"{'redeploy x' + str(a.redeploys):<16}{statistics.median(rd):>9.4f}"
              f"{statistics.median(rdcpu):>8.3f}{'':>8}{st_body:>12}   {load()}"
              f"   (min {min(rd) * 1000:.1f} ms, max {max(rd) * 1000:.1f} ms; "
              f"{st_req} requests, statuses {st_codes})")
        print()
        me, mp, mr = statistics.median(ed), statistics.median(pe), statistics.median(rd)
        ratio = me / mp
        print(f"median cold: edgeml {me:.3f} s, peer (curl -o + tar xzf) {mp:.3f} s")
        print(f"ratio edgeml/peer = {ratio:.3f}  (target <= 1.1: {'met' if ratio <= 1.1 else 'MISSED'})")
        print(f"unchanged redeploy median = {mr * 1000:.1f} ms over {a.redeploys}, "
              f"{st_body} body bytes served  (target <= 50 ms: {'met' if mr <= 0.050 else 'MISSED'})")
        print(f"# load (1/5/15 min) at end: {load()}")
        return 0
    finally:
        if started:
            subprocess.run(["/bin/sh", os.path.join(HARNESS, "stop.sh"), hdir])
        if a.keep_work:
            print(f"# kept {work}")
        else:
            rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
