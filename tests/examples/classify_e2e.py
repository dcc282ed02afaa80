#!/usr/bin/python3
"""The classify example end to end, the README's way (issue 5, test 6): make the packages and
the group, `edgeml deploy` to a temporary root, `edgeml core`, `edgeml subscribe 'inference/#'`,
`edgeml publish camera/<name>/frames IMAGE`.

Usage: classify_e2e.py EDGEML_BIN CLASSIFY_BIN [--isolation NoContainer|GreengrassContainer]

Checks: the result's JSON shape, camera name, 5 labels, scores descending summing to <= 1, the
top-1 equal to PyTorch's on the same preprocessed tensor; corrupt JPEG, corrupt PNG and a
non-image payload produce no result and do not restart the function, which answers the next
good frame; `edgeml invoke classify FRAME` replies with the same JSON; SIGTERM stops the core with status 0. Needs root (exit 77 otherwise).
"""
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MK = os.path.join(REPO, "tools", "mk_classifier_pkg.py")
PY = "/usr/bin/python3"
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import etest  # noqa: E402


T = etest.Tally()


def results_reader(stream, q):
    """edgeml subscribe prints each message on a line; the JSON starts at the first '{'."""
    for line in stream:
        i = line.find("{")
        if i < 0:
            continue
        try:
            q.put(json.loads(line[i:]))
        except ValueError:
            q.put({"unparsed": line})
    q.put(None)


def wait_result(q, deadline, want_camera=None, publish=None):
    """Next result (for want_camera if given; others are returned in skipped)."""
    skipped = []
    next_publish = time.time() + 3
    while time.time() < deadline:
        if publish and time.time() >= next_publish:
            publish()
            next_publish = time.time() + 3
        try:
            doc = q.get(timeout=0.2)
        except queue.Empty:
            continue
        if doc is None:
            return None, skipped
        if want_camera is None or doc.get("camera") == want_camera:
            return doc, skipped
        skipped.append(doc)
    return None, skipped


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return str(e)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    edgeml, classify = os.path.abspath(argv[0]), os.path.abspath(argv[1])
    isolation = argv[argv.index("--isolation") + 1] if "--isolation" in argv else "NoContainer"
    if os.geteuid() != 0:
        print("SKIP: needs root (the core runs the function as another user)")
        print("0 passed, 0 failed, 1 skipped")
        return 77
    # /tmp, not the build tree: the function (uid 65534) must be able to reach the root
    work = tempfile.mkdtemp(prefix="edgeml-example-")
    os.chmod(work, 0o755)
    root = os.path.join(work, "root")
    os.makedirs(root)
    pkg = os.path.join(work, "pkg")
    core = sub = None
    try:
        p = subprocess.run([PY, MK, "all", pkg, "--classify", classify, "--isolation", isolation],
                           capture_output=True, text=True, timeout=600)
        if not T.check("packages and group made", p.returncode == 0, p.stderr[-800:]):
            return 1
        # the reference: PyTorch on the tensor classify makes of the same frame
        model = os.path.join(work, "model")
        with tarfile.open(os.path.join(pkg, "squeezenet1_1.tar.gz")) as tf:
            tf.extractall(model)
        dump = os.path.join(work, "frame.f32")
        p = subprocess.run([classify, "--selftest", os.path.join(pkg, "frame.jpg"), "--model", model,
                            "--camera", "cam1", "--dump-input", dump], capture_output=True,
                           text=True, timeout=120)
        if not T.check("selftest on the frame", p.returncode == 0, p.stderr[-500:]):
            return 1
        p = subprocess.run([PY, MK, "reference", dump], capture_output=True, text=True, timeout=300)
        if not T.check("PyTorch reference", p.returncode == 0, p.stderr[-500:]):
            return 1
        ref_top1 = json.loads(p.stdout)["top5"][0]["index"]
        with open(os.path.join(model, "labels.txt")) as f:
            labels = f.read().split("\n")[:-1]
        with open(os.path.join(model, "preprocess.json")) as f:
            version = json.load(f)["version"]

        p = subprocess.run([edgeml, "deploy", os.path.join(pkg, "group.json"), "--root", root],
                           capture_output=True, text=True, timeout=300)
        if not T.check("edgeml deploy", p.returncode == 0, (p.stdout + p.stderr)[-800:]):
            return 1

        core_log = os.path.join(work, "core.out")
        with open(core_log, "w") as out:
            core = subprocess.Popen([edgeml, "core", "--root", root], stdout=out,
                                    stderr=subprocess.STDOUT)
        sock = os.path.join(root, "run", "core.sock")
        deadline = time.time() + 15
        while time.time() < deadline and not os.path.exists(sock) and core.poll() is None:
            time.sleep(0.1)
        if not T.check("edgeml core: socket", os.path.exists(sock),
                       "exit %r: %s" % (core.poll(), tail(core_log))):
            return 1

        sub = subprocess.Popen([edgeml, "subscribe", "--root", root, "inference/#"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        q = queue.Queue()
        threading.Thread(target=results_reader, args=(sub.stdout, q), daemon=True).start()
        time.sleep(0.5)

        def publish(camera, path):
            r = subprocess.run([edgeml, "publish", "--root", root, "camera/%s/frames" % camera,
                                path], capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                print("note: publish %s: %s" % (camera, (r.stdout + r.stderr).strip()), flush=True)
            return r.returncode

        frame_jpg = os.path.join(pkg, "frame.jpg")
        t0 = time.time()
        rc = publish("cam1", frame_jpg)
        T.check("edgeml publish", rc == 0, "exit %d" % rc)
        doc, _ = wait_result(q, time.time() + 60, "cam1", lambda: publish("cam1", frame_jpg))
        if not T.check("result for cam1", doc is not None,
                       "none in 60 s; core: %s\nfunction log: %s\nsubscribe: %s" % (
                           tail(core_log), tail(os.path.join(root, "logs", "functions", "classify.log")),
                           sub.stderr.read() if sub.poll() is not None else "(running)")):
            return 1
        print("result after %.2f s: %s" % (time.time() - t0, json.dumps(doc)), flush=True)
        ok = set(doc) == {"camera", "model", "top5", "ms"}
        T.check("JSON keys", ok, "%r" % doc)
        if ok:
            top = doc["top5"]
            T.check("camera name", doc["camera"] == "cam1", doc["camera"])
            T.check("model version", doc["model"] == version, "%r vs %r" % (doc["model"], version))
            ok = isinstance(top, list) and len(top) == 5 and all(
                isinstance(e, dict) and isinstance(e.get("label"), str) and e["label"] and
                isinstance(e.get("index"), int) and isinstance(e.get("score"), float) for e in top)
            if T.check("5 labels with index and score", ok, "%r" % top):
                s = [e["score"] for e in top]
                T.check("scores descending", all(a >= b for a, b in zip(s, s[1:])), "%r" % s)
                T.check("scores sum <= 1", 0 < sum(s) <= 1 + 1e-6, "%r" % sum(s))
                T.check("labels are the package's", all(labels[e["index"]] == e["label"] for e in top),
                        "%r" % top)
                T.check("top-1 = PyTorch's", top[0]["index"] == ref_top1,
                        "edgeml %d, torch %d" % (top[0]["index"], ref_top1))

        # hostile payloads, then a good frame from another camera
        with open(frame_jpg, "rb") as f:
            jpg = f.read()
        with open(os.path.join(pkg, "frame.png"), "rb") as f:
            png = f.read()
        bad = {"badjpeg": jpg[:len(jpg) // 2], "badpng": png[:len(png) // 3],
               "text": b"this is not an image\n"}
        for cam, data in bad.items():
            path = os.path.join(work, cam + ".bin")
            with open(path, "wb") as f:
                f.write(data)
            T.check("publish " + cam, publish(cam, path) == 0)
        frame_png = os.path.join(pkg, "frame.png")
        publish("cam2", frame_png)
        doc, skipped = wait_result(q, time.time() + 30, "cam2", None)
        T.check("the function answers after bad frames", doc is not None and doc.get("camera") == "cam2",
                "got %r; function log: %s" % (doc, tail(os.path.join(root, "logs", "functions", "classify.log"))))
        T.check("no result for bad frames",
                not any(d.get("camera") in bad for d in skipped), "%r" % skipped)
        flog = tail(os.path.join(root, "logs", "functions", "classify.log"), 10000)
        T.check("function not restarted (one 'ready' line)", flog.count("classify: ready") == 1, flog[-1500:])
        where = ("/models/squeezenet" if isolation == "GreengrassContainer"
                 else os.path.join(root, "functions", "classify", "models", "squeezenet"))
        T.check("model read from its %s path" % isolation, ("from %s (" % where) in flog,
                "no 'from %s' in: %s" % (where, flog[-800:]))
        T.check("no sanitizer report in the function log",
                not any(k in flog for k in ("AddressSanitizer", "runtime error:", "LeakSanitizer")),
                flog[-1500:])
        T.check("bad frames logged", all(("classify: %s:" % c) in flog for c in bad), flog[-1500:])

        # request-response invoke: the same JSON as the reply, camera "invoke"
        r = subprocess.run([edgeml, "invoke", "--root", root, "classify", frame_jpg],
                           capture_output=True, text=True, timeout=60)
        try:
            doc = json.loads(r.stdout[r.stdout.find("{"):]) if r.returncode == 0 else None
        except ValueError:
            doc = None
        T.check("edgeml invoke classify FRAME", doc is not None and doc.get("camera") == "invoke"
                and doc["top5"][0]["index"] == ref_top1, "exit %d: %s%s" % (r.returncode, r.stdout, r.stderr))
        r = subprocess.run([edgeml, "invoke", "--root", root, "classify", "--data", "not an image"],
                           capture_output=True, text=True, timeout=60)
        T.check("edgeml invoke with a non-image fails", r.returncode != 0 and "failed" in r.stderr,
                "exit %d: %s%s" % (r.returncode, r.stdout, r.stderr))

        core.send_signal(signal.SIGTERM)
        try:
            rc = core.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = "still running after 30 s"
        T.check("SIGTERM: the core exits 0", rc == 0, "%r: %s" % (rc, tail(core_log)))
    finally:
        for proc in (sub, core):
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()
        if T.failed:
            print("core log:\n" + tail(os.path.join(work, "core.out"), 30))
        shutil.rmtree(work, ignore_errors=True)
        return T.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
