#!/usr/bin/python3
"""A QDQ-quantised MobileNetV2 (tools/quantize_qdq.py on tools/export_models.py's model) with
edgeml vs ONNX Runtime (onnxruntime-node via tools/ort_run.js, optimisation all: ORT fuses the
QDQ groups into its own QLinearConv kernels) and vs the float model.

Usage: test_qdq_model.py EDGEML_BIN   (exports the model when missing; exit 77 when python3-onnx or node is missing)

Runs edgeml with the int8 fast paths (1 and 2 threads: identical bytes), with EDGEML_CPU=avx2,
with EDGEML_CPU=reference (integer reference kernels) and with EDGEML_OPT=0 (the QDQ graph in
float, as written). Tolerance, from the quantisation itself: every runtime rounds each of the
~60 requantisations once, differently (float vs double products, float conv then Q), and a
1-LSB difference early on propagates; so the check is relative to the quantisation error e_q =
max |ORT int8 - float logits| (how far int8 is from the float model, ~0.17 here): edgeml must
be within 0.35 * e_q of ORT (the fast kernels are at ~0.008-0.025 = 0.05-0.15 e_q; the
integer reference, whose double-precision requantisation departs most from ORT's float one,
at ~0.04 = 0.23 e_q), agree on the top-1 class with ORT, and
its logits must correlate > 0.95 with the float model's.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = sys.argv[1]
CACHE = os.environ.get("EDGEML_CACHE", os.path.expanduser("~/.cache/edgeml/models"))
MD = os.path.join(CACHE, "mobilenet_v2")
MODEL = os.path.join(MD, "opset17", "model.onnx")
INP = os.path.join(MD, "inputs", "input.npy")
try:
    import onnx  # noqa: F401
except ImportError:
    print("test_qdq_model: python3-onnx missing: skipped")
    sys.exit(77)
if not os.path.exists(MODEL) or not os.path.exists(INP):
    # a fresh clone: export it here (the models test does the same, maybe later in the run)
    import subprocess
    subprocess.call([sys.executable, os.path.join(ROOT, "tools", "export_models.py"), CACHE,
                     "--only", "mobilenet_v2"], stdout=sys.stderr)
if not os.path.exists(MODEL) or not os.path.exists(INP):
    print("test_qdq_model: %s missing and tools/export_models.py could not make it" % MODEL)
    sys.exit(1)
if not shutil.which("node") or not os.path.isdir(os.path.join(ROOT, "node_modules", "onnxruntime-node")):
    print("test_qdq_model: node / onnxruntime-node missing: skipped")
    sys.exit(77)

failed = 0


def check(cond, msg):
    global failed
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        failed += 1


def em(model, tmp, tag, threads=1, env_extra=None):
    env = dict(os.environ)
    env.pop("EDGEML_CPU", None)
    env.pop("EDGEML_OPT", None)
    env.update(env_extra or {})
    out = os.path.join(tmp, tag)
    r = subprocess.run([BIN, "infer", model, "--input", "input=" + INP, "--output-dir", out,
                        "--threads", str(threads)], env=env, capture_output=True, text=True)
    if r.returncode:
        sys.exit("test_qdq_model: edgeml %s failed: %s" % (tag, r.stderr.strip()))
    return np.load(os.path.join(out, "logits.npy"))


with tempfile.TemporaryDirectory() as tmp:
    for act in ("uint8", "int8"):
        q = os.path.join(tmp, "mbv2_qdq_%s.onnx" % act)
        r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "quantize_qdq.py"), MODEL, q,
                            "--input", "input=" + INP, "--activations", act], capture_output=True, text=True)
        if r.returncode:
            sys.exit("test_qdq_model: quantize_qdq.py failed: " + r.stderr.strip())
        od = os.path.join(tmp, "ort_" + act)
        r = subprocess.run(["node", os.path.join(ROOT, "tools", "ort_run.js"), "--opt=all", q, od,
                            "input=" + INP], capture_output=True, text=True)
        if r.returncode:
            sys.exit("test_qdq_model: ort_run.js failed: " + r.stderr.strip())
        ort = np.load(os.path.join(od, "logits.npy"))
        fl = em(MODEL, tmp, "float_" + act)
        eq = float(np.abs(ort - fl).max())
        tol = 0.35 * eq
        ins = subprocess.run([BIN, "inspect", "--optimized", q], capture_output=True, text=True).stdout
        nq = sum(1 for line in ins.splitlines() if line.strip().startswith("QLinearConv") and "->" in line)
        check(nq == 52, "%s: %d of 52 convolutions run as QLinearConv" % (act, nq))
        y1 = em(q, tmp, "fast1_" + act, 1)
        y2 = em(q, tmp, "fast2_" + act, 2)
        check(np.array_equal(y1, y2), "%s: 1 and 2 threads identical" % act)
        runs = {"fast": y1, "avx2": em(q, tmp, "avx2_" + act, 1, {"EDGEML_CPU": "avx2"}),
                "reference": em(q, tmp, "ref_" + act, 1, {"EDGEML_CPU": "reference"}),
                "opt0": em(q, tmp, "opt0_" + act, 1, {"EDGEML_OPT": "0"})}
        for tag, y in runs.items():
            d = float(np.abs(y - ort).max())
            check(d <= tol, "%s %s: max |edgeml - ORT| = %.4g <= %.4g (0.35 x quantisation error %.4g)" %
                  (act, tag, d, tol, eq))
            check(int(y.argmax()) == int(ort.argmax()), "%s %s: top-1 %d, ORT %d" % (act, tag, y.argmax(), ort.argmax()))
            c = float(np.corrcoef(y.ravel(), fl.ravel())[0, 1])
            check(c > 0.95, "%s %s: correlation with the float logits %.4f > 0.95" % (act, tag, c))
print("test_qdq_model: %s" % ("passed" if not failed else "%d failed" % failed))
sys.exit(1 if failed else 0)
