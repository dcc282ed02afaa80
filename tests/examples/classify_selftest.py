#!/usr/bin/python3
"""The classify example without a core: `classify --selftest` on good and hostile images and
hostile model packages.

Usage: classify_selftest.py CLASSIFY_BIN WORKDIR [--mutations N]

- JPEG and PNG frames: the result JSON's shape, top-5 indices equal to PyTorch's on the same
  preprocessed tensor (--dump-input), scores within 1e-6 + 1e-4 relative; the preprocessing itself against a
  numpy reimplementation on PIL's decode (bilinear, half-pixel centres, ImageNet mean/std);
- edge images that must work: 1x1, grey, RGBA, 16-bit PNG, grey and progressive JPEG;
- hostile payloads (truncated, bad CRC, huge or zero dimensions, CMYK, text, empty, seeded
  random mutations): exit status 1 with one line on stderr, never a signal or a sanitizer report;
- hostile packages (bad preprocess.json, path escapes, labels with control bytes): one line, 1.
"""
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tarfile
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MK = os.path.join(REPO, "tools", "mk_classifier_pkg.py")
PY = "/usr/bin/python3"
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import etest  # noqa: E402
SAN = ("AddressSanitizer", "runtime error:", "LeakSanitizer", "UndefinedBehaviorSanitizer")


T = etest.Tally()


def run_classify(binary, model, image, camera="cam1", dump=None, timeout=120):
    cmd = [binary, "--selftest", image, "--model", model, "--camera", camera]
    if dump:
        cmd += ["--dump-input", dump]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def sanitizer_clean(err):
    return not any(s in err for s in SAN)


def check_result(name, doc, camera, labels, version):
    ok = isinstance(doc, dict) and set(doc) == {"camera", "model", "top5", "ms"}
    ok = T.check(name + ": keys", ok, "got %r" % (list(doc) if isinstance(doc, dict) else doc))
    if not ok:
        return False
    T.check(name + ": camera", doc["camera"] == camera, "got %r" % doc["camera"])
    T.check(name + ": model", doc["model"] == version, "got %r, want %r" % (doc["model"], version))
    top = doc["top5"]
    ok = isinstance(top, list) and len(top) == 5 and all(
        isinstance(e, dict) and set(e) == {"label", "index", "score"} for e in top)
    if not T.check(name + ": 5 entries", ok, "got %r" % top):
        return False
    scores = [e["score"] for e in top]
    T.check(name + ": scores descending", all(a >= b for a, b in zip(scores, scores[1:])),
            "%r" % scores)
    T.check(name + ": 0 < sum <= 1", 0 < sum(scores) <= 1 + 1e-6, "sum %r" % sum(scores))
    T.check(name + ": labels match indices",
            all(labels[e["index"]] == e["label"] for e in top), "%r" % top)
    T.check(name + ": ms", isinstance(doc["ms"], (int, float)) and doc["ms"] >= 0, "%r" % doc["ms"])
    return True


def reference_top5(tensor):
    p = subprocess.run([PY, MK, "reference", tensor], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("reference failed: %s" % p.stderr.strip()[-300:])
    return json.loads(p.stdout)["top5"]


def numpy_preprocess(path, size=224):
    """The same math as image.c, in float64 on PIL's decode."""
    im = Image.open(path)
    im.draft(None, None)
    rgb = np.asarray(im.convert("RGB"), dtype=np.float64)
    h, w, _ = rgb.shape

    def taps(src, dst):
        s = (np.arange(dst) + 0.5) * (src / dst) - 0.5
        s = np.maximum(s, 0)
        i0 = np.minimum(np.floor(s).astype(int), src - 1)
        i1 = np.minimum(i0 + 1, src - 1)
        f = np.where(i0 == i1, 0.0, s - i0)
        return i0, i1, f

    y0, y1, fy = taps(h, size)
    x0, x1, fx = taps(w, size)
    top = rgb[y0][:, x0] + (rgb[y0][:, x1] - rgb[y0][:, x0]) * fx[None, :, None]
    bot = rgb[y1][:, x0] + (rgb[y1][:, x1] - rgb[y1][:, x0]) * fx[None, :, None]
    v = top + (bot - top) * fy[:, None, None]
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    x = (v / 255.0 - mean) / std
    return x.transpose(2, 0, 1).astype(np.float32)


def good_images(work, img):
    """Edge cases that must decode: (name, path)."""
    out = []
    def save(name, im, **kw):
        p = os.path.join(work, name)
        im.save(p, **kw)
        out.append((name, p))
    save("tiny.png", img.resize((1, 1)))
    save("tiny.jpg", img.resize((1, 1)))
    save("grey.png", img.convert("L"))
    save("grey.jpg", img.convert("L"))
    save("rgba.png", img.convert("RGBA"))
    save("progressive.jpg", img, progressive=True, quality=80)
    save("tall.png", img.resize((7, 900)))
    arr = (np.asarray(img.convert("L"), dtype=np.uint16) * 257)
    save("sixteen.png", Image.fromarray(arr.astype(np.uint16)))
    return out


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def hostile_payloads(jpg, png, img):
    """(name, bytes) that must be refused with exit status 1."""
    out = [("empty", b""), ("three-bytes", b"\xff\xd8\xff"), ("text", b"hello, this is not a picture\n"),
           ("jpeg-magic-only", b"\xff\xd8\xff\xe0" + b"\0" * 12),
           ("png-magic-only", png[:8]),
           ("jpeg-truncated-half", jpg[:len(jpg) // 2]),
           ("jpeg-truncated-header", jpg[:300]),
           ("png-truncated-half", png[:len(png) // 2]),
           ("png-truncated-ihdr", png[:20])]
    # JPEG: SOF0 dimensions 65000 x 65000, then 0 x 0
    i = jpg.find(b"\xff\xc0")
    assert i > 0, "no SOF0 in the test JPEG"
    for name, dims in (("jpeg-huge-dims", (65000, 65000)), ("jpeg-zero-dims", (0, 0)),
                       ("jpeg-over-pixel-limit", (8000, 8000))):
        b = bytearray(jpg)
        struct.pack_into(">HH", b, i + 5, *dims)
        out.append((name, bytes(b)))
    # PNG: IHDR with huge / zero dimensions (valid CRC), then an IDAT with a bad CRC
    ihdr_at = 8
    ln = struct.unpack(">I", png[ihdr_at:ihdr_at + 4])[0]
    ihdr = png[ihdr_at + 8:ihdr_at + 8 + ln]
    rest = png[ihdr_at + 12 + ln:]
    for name, dims in (("png-huge-dims", (100000, 100000)), ("png-zero-dims", (0, 0)),
                       ("png-over-pixel-limit", (8000, 8000))):
        out.append((name, png[:8] + png_chunk(b"IHDR", struct.pack(">II", *dims) + ihdr[8:]) + rest))
    b = bytearray(png)
    j = png.find(b"IDAT")
    b[j + 40] ^= 0x55
    out.append(("png-bad-idat-crc", bytes(b)))
    # a JPEG whose entropy-coded data is garbage
    k = jpg.find(b"\xff\xda")
    b = bytearray(jpg)
    rng = random.Random(5)
    for q in range(k + 20, len(b) - 2):
        b[q] = rng.randrange(256) & 0x7f  # no 0xff: no markers, just wrong data
    out.append(("jpeg-garbage-scan", bytes(b)))
    # CMYK JPEG: libjpeg cannot convert it to RGB
    cm = io.BytesIO()
    img.convert("CMYK").save(cm, "JPEG")
    out.append(("jpeg-cmyk", cm.getvalue()))
    return out


def mutate(data, rng):
    b = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        op = rng.randrange(4)
        pos = rng.randrange(len(b))
        if op == 0:
            b[pos] = rng.randrange(256)
        elif op == 1:
            b[pos] ^= 1 << rng.randrange(8)
        elif op == 2:
            del b[pos:pos + rng.randint(1, 64)]
        else:
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        if not b:
            b = bytearray(data[:16])
    return bytes(b)


def make_bad_pkg(base, work, name, edit):
    d = os.path.join(work, "badpkg-" + name)
    shutil.copytree(base, d)
    edit(d)
    return d


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary, work = os.path.abspath(argv[0]), os.path.abspath(argv[1])
    mutations = int(argv[argv.index("--mutations") + 1]) if "--mutations" in argv else 40
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    pkgdir = os.path.join(work, "pkg")
    p = subprocess.run([PY, MK, "model", pkgdir], capture_output=True, text=True, timeout=600)
    p2 = subprocess.run([PY, MK, "images", pkgdir], capture_output=True, text=True, timeout=120)
    if p.returncode or p2.returncode:
        print("FAIL making the package: %s%s" % (p.stderr[-500:], p2.stderr[-500:]))
        print("0 passed, 1 failed")
        return 1
    model = os.path.join(work, "model")
    os.makedirs(model)
    with tarfile.open(os.path.join(pkgdir, "squeezenet1_1.tar.gz")) as tf:
        tf.extractall(model)
    with open(os.path.join(model, "labels.txt")) as f:
        labels = f.read().split("\n")[:-1]
    with open(os.path.join(model, "preprocess.json")) as f:
        version = json.load(f)["version"]
    T.check("package: 1000 labels", len(labels) == 1000, "%d" % len(labels))

    # 1. the frames: shape, reference top-5, preprocessing
    for ext in ("jpg", "png"):
        name = "frame." + ext
        img_path = os.path.join(pkgdir, name)
        dump = os.path.join(work, name + ".f32")
        rc, out, err = run_classify(binary, model, img_path, "cam1", dump)
        if not T.check(name + ": exit 0", rc == 0 and sanitizer_clean(err), "rc %d: %s" % (rc, err[-800:])):
            continue
        doc = json.loads(out)
        check_result(name, doc, "cam1", labels, version)
        ref = reference_top5(dump)
        T.check(name + ": top-5 indices = PyTorch's", [e["index"] for e in doc["top5"]] ==
                [e["index"] for e in ref], "edgeml %r, torch %r" % (doc["top5"], ref))
        T.check(name + ": scores = PyTorch's (1e-6 + 1e-4 relative)",
                all(abs(a["score"] - b["score"]) <= 1e-6 + 1e-4 * b["score"]
                    for a, b in zip(doc["top5"], ref)), "edgeml %r, torch %r" % (doc["top5"], ref))
        x = np.fromfile(dump, dtype=np.float32).reshape(3, 224, 224)
        want = numpy_preprocess(img_path)
        diff = float(np.abs(x - want).max())
        T.check(name + ": preprocessing = numpy's (max diff %.2g)" % diff, diff < 1e-4,
                "max |diff| %g" % diff)

    # 2. a camera name that needs JSON escaping
    rc, out, err = run_classify(binary, model, os.path.join(pkgdir, "frame.png"), 'a"b\\c')
    T.check("camera name escaped", rc == 0 and json.loads(out)["camera"] == 'a"b\\c', out + err)

    img = Image.open(os.path.join(pkgdir, "frame.png")).convert("RGB")
    # 3. unusual but valid images
    for name, path in good_images(work, img):
        rc, out, err = run_classify(binary, model, path)
        ok = rc == 0 and sanitizer_clean(err)
        if ok:
            try:
                ok = len(json.loads(out)["top5"]) == 5
            except ValueError:
                ok = False
        T.check("valid " + name, ok, "rc %d: %s%s" % (rc, out[-300:], err[-500:]))

    # 4. hostile payloads
    with open(os.path.join(pkgdir, "frame.jpg"), "rb") as f:
        jpg = f.read()
    with open(os.path.join(pkgdir, "frame.png"), "rb") as f:
        png = f.read()
    bad = os.path.join(work, "bad.bin")
    for name, data in hostile_payloads(jpg, png, img):
        with open(bad, "wb") as f:
            f.write(data)
        rc, out, err = run_classify(binary, model, bad)
        lines = err.strip().split("\n")
        T.check("refused " + name, rc == 1 and len(lines) == 1 and lines[0].startswith("classify: ")
                and sanitizer_clean(err) and not out,
                "rc %d, stdout %r, stderr %r" % (rc, out[:200], err[-600:]))

    # 5. seeded random mutations: decoded or refused, never a crash
    rng = random.Random(20240601)
    crashes = []
    for i in range(mutations):
        src = jpg if i % 2 == 0 else png
        with open(bad, "wb") as f:
            f.write(mutate(src, rng))
        rc, out, err = run_classify(binary, model, bad)
        if rc not in (0, 1) or not sanitizer_clean(err):
            keep = os.path.join(work, "crash-%d.bin" % i)
            shutil.copy(bad, keep)
            crashes.append("%s: rc %d %s" % (keep, rc, err[-300:]))
    T.check("%d mutated images: no crash" % mutations, not crashes, "; ".join(crashes[:3]))

    # 6. hostile packages
    def meta_edit(change):
        def edit(d):
            p = os.path.join(d, "preprocess.json")
            with open(p) as f:
                m = json.load(f)
            change(m)
            with open(p, "w") as f:
                json.dump(m, f)
        return edit

    def write(name, data):
        def edit(d):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        return edit

    cases = [
        ("no preprocess.json", lambda d: os.unlink(os.path.join(d, "preprocess.json"))),
        ("preprocess.json not JSON", write("preprocess.json", b"{\"format\": ")),
        ("preprocess.json duplicate key", write("preprocess.json", b'{"format":"x","format":"y"}')),
        ("wrong format", meta_edit(lambda m: m.update(format="something/2"))),
        ("width 0", meta_edit(lambda m: m.update(width=0))),
        ("width huge", meta_edit(lambda m: m.update(width=1 << 40))),
        ("width != model", meta_edit(lambda m: m.update(width=100))),
        ("std 0", meta_edit(lambda m: m.update(std=[0.2, 0, 0.2]))),
        ("mean 2 values", meta_edit(lambda m: m.update(mean=[0.1, 0.2]))),
        ("model path escape", meta_edit(lambda m: m.update(model="../pkg/squeezenet1_1.tar.gz"))),
        ("labels path escape", meta_edit(lambda m: m.update(labels="/etc/passwd"))),
        ("missing model", lambda d: os.unlink(os.path.join(d, "model.onnx"))),
        ("model not ONNX", write("model.onnx", b"\x08\x07garbage" * 100)),
        ("labels control byte", write("labels.txt", b"cat\ndo\x01g\n")),
        ("labels empty line", write("labels.txt", b"cat\n\ndog\n")),
        ("labels not UTF-8", write("labels.txt", b"cat\n\xff\xfe\n")),
        ("no input name", meta_edit(lambda m: m.update(input="nope"))),
    ]
    frame = os.path.join(pkgdir, "frame.png")
    for name, edit in cases:
        d = make_bad_pkg(model, work, str(abs(hash(name))), edit)
        rc, out, err = run_classify(binary, d, frame)
        lines = err.strip().split("\n")
        T.check("package refused: " + name,
                rc == 1 and len(lines) == 1 and lines[0].startswith("classify: model ")
                and sanitizer_clean(err) and not out,
                "rc %d, stdout %r, stderr %r" % (rc, out[:200], err[-600:]))
        shutil.rmtree(d, ignore_errors=True)

    # fewer labels than classes: class_N for the rest
    d = make_bad_pkg(model, work, "fewlabels", write("labels.txt", b"only\n"))
    rc, out, err = run_classify(binary, d, frame)
    ok = rc == 0 and all(e["label"] == ("only" if e["index"] == 0 else "class_%d" % e["index"])
                         for e in json.loads(out)["top5"]) if rc == 0 else False
    T.check("short labels file: class_N", ok, "rc %d %s %s" % (rc, out, err))

    return T.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
