#!/usr/bin/python3
"""Make the classify example's model package, code package, group definition and test images.

Usage:
  mk_classifier_pkg.py all OUTDIR --classify BIN [--isolation NoContainer|GreengrassContainer]
                                  [--group-owner NAME]
      = model + group + images, into OUTDIR
  mk_classifier_pkg.py model OUTDIR
      OUTDIR/squeezenet1_1.tar.gz: model.onnx, labels.txt, preprocess.json
  mk_classifier_pkg.py group OUTDIR --classify BIN [--isolation ...] [--group-owner NAME]
      OUTDIR/classify-code.tar.gz (the classify binary) and OUTDIR/group.json, filled in from
      examples/classify/group.json.in with file:// URIs and the sha256 of both packages
  mk_classifier_pkg.py images OUTDIR
      OUTDIR/frame.jpg, OUTDIR/frame.png: a deterministic 320x240 synthetic picture
  mk_classifier_pkg.py reference TENSOR.f32
      PyTorch's top-5 on a preprocessed tensor written by `classify --selftest IMG --dump-input`
      (float32 1x3x224x224), as JSON {"top5": [{"index", "score"}...]}

The model is torchvision's SqueezeNet 1.1 with seeded random weights (tools/export_models.py,
opset 17, cached under $EDGEML_CACHE): no pretrained ImageNet weights ship in Debian or in an npm
package we found, and nothing is downloaded. So its labels are ImageNet's class names
(torchvision's list, from python3-torchvision) but its answers are arbitrary, though
deterministic. Archives are reproducible (sorted, mtime 0, owner 0). Uses Debian's python3-torch,
python3-torchvision, python3-onnx, python3-numpy, python3-pil.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MODEL_NAME = "squeezenet1_1"
MODEL_TGZ = "squeezenet1_1.tar.gz"
CODE_TGZ = "classify-code.tar.gz"
SIZE = 224
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
OPSET = 17


def log(msg):
    print("mk_classifier_pkg: " + msg, file=sys.stderr, flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_tgz(path, members):
    """members: list of (name, bytes, mode). Reproducible: fixed order, times, owners."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data, mode in sorted(members):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = mode
            ti.mtime = 0
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            tf.addfile(ti, io.BytesIO(data))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as gz:
            gz.write(raw.getvalue())
    os.replace(tmp, path)


def cache_dir():
    env = os.environ.get("EDGEML_CACHE")
    return env or os.path.join(os.path.expanduser("~"), ".cache", "edgeml", "models")


def imagenet_labels():
    from torchvision.models._meta import _IMAGENET_CATEGORIES
    labels = list(_IMAGENET_CATEGORIES)
    if len(labels) != 1000:
        raise RuntimeError("torchvision's ImageNet list has %d names, not 1000" % len(labels))
    return labels


def make_model(outdir):
    sys.path.insert(0, HERE)
    import export_models
    import torch
    import torchvision as tv
    cache = cache_dir()
    if not export_models.export_one(torch, tv, MODEL_NAME, cache, [OPSET]):
        raise RuntimeError("exporting %s failed" % MODEL_NAME)
    with open(os.path.join(cache, MODEL_NAME, "opset%d" % OPSET, "model.onnx"), "rb") as f:
        onnx_bytes = f.read()
    onnx_sha = hashlib.sha256(onnx_bytes).hexdigest()
    labels = imagenet_labels()
    meta = {
        "format": "edgeml-classifier/1",
        "name": MODEL_NAME,
        "version": "%s-%s" % (MODEL_NAME, onnx_sha[:12]),
        "model_sha256": onnx_sha,
        "weights": "random, seed %d (tools/export_models.py): labels are arbitrary" % export_models.SEED,
        "model": "model.onnx",
        "labels": "labels.txt",
        "input": "input",
        "output": "logits",
        "layout": "NCHW",
        "width": SIZE,
        "height": SIZE,
        "resize": "bilinear, half-pixel centres, stretched to width x height",
        "scale": "1/255",
        "mean": MEAN,
        "std": STD,
    }
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, MODEL_TGZ)
    write_tgz(path, [
        ("model.onnx", onnx_bytes, 0o644),
        ("labels.txt", ("\n".join(labels) + "\n").encode("utf-8"), 0o644),
        ("preprocess.json", (json.dumps(meta, indent=1) + "\n").encode("utf-8"), 0o644),
    ])
    log("%s (sha256 %s; model.onnx sha256 %s)" % (path, sha256_file(path), onnx_sha))
    return path


def make_group(outdir, classify_bin, isolation, group_owner):
    model_tgz = os.path.join(outdir, MODEL_TGZ)
    if not os.path.isfile(model_tgz):
        raise RuntimeError("%s is missing (run the 'model' step first)" % model_tgz)
    if not os.access(classify_bin, os.X_OK):
        raise RuntimeError("%s is not an executable" % classify_bin)
    with open(classify_bin, "rb") as f:
        code = f.read()
    code_tgz = os.path.join(outdir, CODE_TGZ)
    write_tgz(code_tgz, [("classify", code, 0o755)])
    with open(os.path.join(REPO, "examples", "classify", "group.json.in")) as f:
        text = f.read()
    subst = {
        "@CODE_URI@": "file://" + os.path.abspath(code_tgz),
        "@CODE_SHA256@": sha256_file(code_tgz),
        "@MODEL_URI@": "file://" + os.path.abspath(model_tgz),
        "@MODEL_SHA256@": sha256_file(model_tgz),
        "@GROUP_OWNER@": group_owner,
    }
    for k, v in subst.items():
        text = text.replace(k, json.dumps(v)[1:-1])
    doc = json.loads(text)
    fn = doc["Functions"]["Functions"][0]["FunctionConfiguration"]
    if isolation == "GreengrassContainer":
        doc["Functions"]["DefaultConfig"]["Execution"]["IsolationMode"] = isolation
        fn["Environment"]["Execution"]["IsolationMode"] = isolation
        fn["MemorySize"] = 262144  # KB: the model (5 MB), an image of up to 24 Mpx, the arena
        for p in fn["Environment"]["ResourceAccessPolicies"]:
            p["Permission"] = "ro"
    path = os.path.join(outdir, "group.json")
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
    log("%s (%s; code %s)" % (path, isolation, code_tgz))
    return path


def make_images(outdir):
    import numpy as np
    from PIL import Image
    sys.path.insert(0, os.path.join(REPO, "tests", "models"))
    from make_inputs import synthetic_image
    rgb = synthetic_image(240, 320, 3, np.random.default_rng(11))
    img = Image.fromarray((rgb * 255 + 0.5).astype(np.uint8), "RGB")
    os.makedirs(outdir, exist_ok=True)
    img.save(os.path.join(outdir, "frame.jpg"), quality=92)
    img.save(os.path.join(outdir, "frame.png"))
    log("%s/frame.jpg, frame.png (320x240)" % outdir)


def reference(tensor_path):
    import numpy as np
    sys.path.insert(0, HERE)
    import export_models
    import torch
    import torchvision as tv
    x = np.fromfile(tensor_path, dtype=np.float32)
    if x.size != 3 * SIZE * SIZE:
        raise RuntimeError("%s: %d floats, expected %d" % (tensor_path, x.size, 3 * SIZE * SIZE))
    model, _, _ = export_models.MODELS[MODEL_NAME](torch, tv, np.random.default_rng(0))
    with torch.no_grad():
        y = model(torch.from_numpy(x.reshape(1, 3, SIZE, SIZE))).numpy().reshape(-1).astype(np.float64)
    p = np.exp(y - y.max())
    p /= p.sum()
    top = np.argsort(-p, kind="stable")[:5]
    print(json.dumps({"top5": [{"index": int(i), "score": float(p[i])} for i in top]}))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("step", choices=["all", "model", "group", "images", "reference"])
    ap.add_argument("path", help="OUTDIR, or the tensor file for 'reference'")
    ap.add_argument("--classify", help="the built classify binary")
    ap.add_argument("--isolation", default="NoContainer",
                    choices=["NoContainer", "GreengrassContainer"])
    ap.add_argument("--group-owner", default="nogroup",
                    help="OwnerSetting.GroupOwner of the model resource (default nogroup)")
    a = ap.parse_args(argv)
    try:
        if a.step == "reference":
            reference(a.path)
            return 0
        if a.step in ("group", "all") and not a.classify:
            ap.error("--classify BIN is required for '%s'" % a.step)
        if a.step in ("model", "all"):
            make_model(a.path)
        if a.step in ("group", "all"):
            make_group(a.path, a.classify, a.isolation, a.group_owner)
        if a.step in ("images", "all"):
            make_images(a.path)
    except (OSError, RuntimeError, KeyError, ValueError) as e:
        log("error: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
