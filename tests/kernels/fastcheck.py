"""Shared driver of the fast-path tests (test_conv_fast.py, test_matmul_fast.py,
test_pool_fast.py, test_rnn_fast.py, test_convt_fast.py, test_norm_resize_fast.py): runs a model through `edgeml infer` with the CPU's
fast paths (default and EDGEML_CPU=avx2) at 1 and 2 threads and with
EDGEML_CPU=reference, and compares every output."""
import glob
import os
import subprocess

import numpy as np

LEVELS = [None, "avx2"]


def run(binary, model, inputs, cpu, threads, out):
    cmd = [binary, "infer", model, "--output-dir", out, "--threads", str(threads)]
    for k, f in inputs.items():
        cmd += ["--input", "%s=%s" % (k, f)]
    env = dict(os.environ)
    env.pop("EDGEML_CPU", None)
    if cpu:
        env["EDGEML_CPU"] = cpu
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip()
    res = {}
    for f in sorted(glob.glob(os.path.join(out, "*.npy"))):
        res[os.path.basename(f)[:-4]] = np.load(f)
    return res, ""


def check(binary, model, inputs, tmp, tag, desc, rtol=1e-4, atol=1e-4):
    """Returns None when the fast paths agree with the reference, else a message."""
    ref, err = run(binary, model, inputs, "reference", 1, os.path.join(tmp, tag + "_ref"))
    if ref is None:
        fast, _ = run(binary, model, inputs, None, 1, os.path.join(tmp, tag + "_f"))
        return None if fast is None else "%s: reference refused (%s) but the fast path ran" % (desc, err)
    outs = {}
    for lv in LEVELS:
        for th in (1, 2):
            y, err = run(binary, model, inputs, lv, th, os.path.join(tmp, "%s_%s_%d" % (tag, lv, th)))
            if y is None:
                return "%s cpu=%s threads=%d: %s" % (desc, lv, th, err)
            if sorted(y) != sorted(ref):
                return "%s cpu=%s threads=%d: outputs %s, reference %s" % (desc, lv, th, sorted(y), sorted(ref))
            for name, r in ref.items():
                v = y[name]
                if v.shape != r.shape:
                    return "%s cpu=%s threads=%d: %s shape %s, reference %s" % (desc, lv, th, name, v.shape, r.shape)
                rf = r.astype(np.float64)
                vf = v.astype(np.float64)
                fin = np.isfinite(rf)
                if not np.array_equal(np.isfinite(vf), fin) or not np.array_equal(vf[~fin], rf[~fin], equal_nan=True):
                    return "%s cpu=%s threads=%d: %s: non-finite values differ" % (desc, lv, th, name)
                rf, vf = rf[fin], vf[fin]
                tol = atol * max(1.0, float(np.abs(rf).max(initial=0))) + rtol * np.abs(rf)
                d = np.abs(vf - rf)
                if not np.all(d <= tol):
                    return "%s cpu=%s threads=%d: %s max err %g (at |ref| %g)" % (
                        desc, lv, th, name, float(d.max()), float(np.abs(rf[np.argmax(d)])))
            outs[(lv, th)] = y
    for lv in LEVELS:
        for name in ref:
            if not np.array_equal(outs[(lv, 1)][name], outs[(lv, 2)][name], equal_nan=True):
                return "%s cpu=%s: %s at 2 threads differs from 1" % (desc, lv, name)
    return None
