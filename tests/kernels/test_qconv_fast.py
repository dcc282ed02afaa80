#!/usr/bin/python3
"""int8 convolution fast paths (src/infer/ops/nn_qconv_fast.c, cpu/qgemm*.c) vs the reference.

Usage: test_qconv_fast.py EDGEML_BIN

Random QLinearConv models (1-D and 2-D, odd sizes, strides, padding incl. asymmetric,
dilations, groups incl. depthwise, with and without int32 bias, per-tensor and per-channel
weight scales, uint8 and int8 activations and outputs, int8 weights and uint8 weights with
zero point 128, batch > 1), and QDQ-form models DQ -> Conv -> [Relu|Clip] -> Q that the
graph pass (opt/qdq.c) rewrites into QLinearConv with a fused clamp. Each runs with the
CPU's fast kernels, with EDGEML_CPU=avx2 and sse2 (the AVX2 and portable kernels), and with
EDGEML_CPU=reference (nn_conv.c's exact integer im2col + GEMM, double requantisation), at 1
and 2 threads (QDQ models also with EDGEML_OPT=0: the float graph).
Checks: every fast variant and thread count gives the same bytes (one requantisation
formula: float acc * mult, round half to even); the reference differs by at most 1 LSB and
rarely (the product rounded in float vs double); the QDQ float graph by at most 1 LSB in
under 2% of the outputs (float accumulation rounding before Q). Prints 'N passed, N failed'.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    print("test_qconv_fast: python3-onnx is not installed: skipped")
    sys.exit(77)

BIN = sys.argv[1]
rng = np.random.default_rng(20261204)
passed = failed = 0
TD = {np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8}


def run(model, xfile, env_extra, threads, tmp, tag):
    out = os.path.join(tmp, tag)
    cmd = [BIN, "infer", model, "--output-dir", out, "--threads", str(threads), "--input", "x=" + xfile]
    env = dict(os.environ)
    env.pop("EDGEML_CPU", None)
    env.pop("EDGEML_OPT", None)
    env.update(env_extra)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip()
    return np.load(os.path.join(out, "y.npy")), ""


def geometry():
    ns = 2 if rng.random() < 0.85 else 1
    dw = rng.random() < 0.35
    if dw:
        C = int(rng.integers(1, 48))
        group, M = C, C
    else:
        group = int(rng.choice([1, 1, 1, 1, 2, 3]))
        C = group * int(rng.integers(1, 24))
        M = group * int(rng.integers(1, 40))
    k = [int(rng.choice([1, 1, 3, 3, 5, 2])) for _ in range(ns)]
    s = [int(rng.choice([1, 1, 2, 3])) for _ in range(ns)]
    d = [int(rng.choice([1, 1, 1, 2])) for _ in range(ns)]
    size = [int(rng.integers(max(1, (k[j] - 1) * d[j] + 1), 30)) for j in range(ns)]
    pads = [int(rng.integers(0, k[j])) for j in range(ns)] + [int(rng.integers(0, k[j])) for j in range(ns)]
    N = int(rng.choice([1, 1, 1, 2]))
    return ns, C, M, group, k, s, d, size, pads, N


def qlinear_model(path):
    ns, C, M, group, k, s, d, size, pads, N = geometry()
    xt = np.uint8 if rng.random() < 0.6 else np.int8
    yt = np.uint8 if rng.random() < 0.6 else np.int8
    wu8 = rng.random() < 0.2
    per = rng.random() < 0.6
    lo, hi = (0, 256) if xt == np.uint8 else (-128, 128)
    x = rng.integers(lo, hi, [N, C] + size).astype(xt)
    xz = np.array(rng.integers(lo, hi), xt)
    if wu8:
        w = rng.integers(0, 256, [M, C // group] + k).astype(np.uint8)
        wz = np.full([M] if per else [], 128, np.uint8)
    else:
        w = rng.integers(-127, 128, [M, C // group] + k).astype(np.int8)
        wz = np.zeros([M] if per else [], np.int8)
    K = (C // group) * int(np.prod(k))
    xs = np.array(rng.uniform(0.005, 0.05), np.float32)
    ws = (rng.uniform(0.002, 0.02, [M]) if per else np.array(rng.uniform(0.002, 0.02))).astype(np.float32)
    ys = np.array(float(xs) * float(np.mean(ws)) * 128 * np.sqrt(K) / 8, np.float32)
    yz = np.array(rng.integers(0, 256) if yt == np.uint8 else rng.integers(-128, 128), yt)
    b = rng.integers(-20000, 20000, [M]).astype(np.int32) if rng.random() < 0.7 else None
    inits = [numpy_helper.from_array(v, n) for v, n in
             [(xs, "xs"), (xz, "xz"), (w, "w"), (ws, "ws"), (wz, "wz"), (ys, "ys"), (yz, "yz")]]
    ins = ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"]
    if b is not None:
        inits.append(numpy_helper.from_array(b, "b"))
        ins.append("b")
    node = helper.make_node("QLinearConv", ins, ["y"], strides=s, dilations=d, group=group, pads=pads)
    g = helper.make_graph([node], "q", [helper.make_tensor_value_info("x", TD[xt], list(x.shape))],
                          [helper.make_tensor_value_info("y", TD[yt], None)], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    desc = "QLinearConv x%s w%s y%s %s N%d C%d M%d g%d k%s s%s d%s in%s p%s%s" % (
        np.dtype(xt).name, "u8" if wu8 else "s8", np.dtype(yt).name, "perch" if per else "tensor",
        N, C, M, group, k, s, d, size, pads, " bias" if b is not None else "")
    return x, desc


def qdq_model(path):
    ns, C, M, group, k, s, d, size, pads, N = geometry()
    xt = np.uint8 if rng.random() < 0.7 else np.int8
    lo, hi = (0, 256) if xt == np.uint8 else (-128, 128)
    x = rng.integers(lo, hi, [N, C] + size).astype(xt)
    xs, xz = np.array(0.02, np.float32), np.array(int(rng.integers(lo, hi)), xt)
    wf = rng.standard_normal([M, C // group] + k).astype(np.float32) * 0.3
    ws = (np.abs(wf.reshape(M, -1)).max(1) / 127).astype(np.float32)
    wq = np.clip(np.round(wf / ws.reshape([M] + [1] * (ns + 1))), -127, 127).astype(np.int8)
    bf = rng.standard_normal([M]).astype(np.float32)
    act = rng.choice(["none", "relu", "clip"])
    ys = np.array(0.05 * np.sqrt((C // group) * np.prod(k)), np.float32)
    yz = np.array(128 if act == "none" else 10, np.uint8)
    inits = [numpy_helper.from_array(v, n) for v, n in
             [(xs, "xs"), (xz, "xz"), (wq, "wq"), (ws, "ws"), (np.zeros([M], np.int8), "wz"), (bf, "b"),
              (ys, "ys"), (yz, "yz"), (np.array(-0.5, np.float32), "cmin"), (np.array(3.0, np.float32), "cmax")]]
    nodes = [helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"]),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wf"], axis=0),
             helper.make_node("Conv", ["xf", "wf", "b"], ["c"], strides=s, dilations=d, group=group, pads=pads)]
    last = "c"
    if act == "relu":
        nodes.append(helper.make_node("Relu", ["c"], ["a"]))
        last = "a"
    elif act == "clip":
        nodes.append(helper.make_node("Clip", ["c", "cmin", "cmax"], ["a"]))
        last = "a"
    nodes.append(helper.make_node("QuantizeLinear", [last, "ys", "yz"], ["y"]))
    g = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TD[xt], list(x.shape))],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    return x, "QDQ %s x%s N%d C%d M%d g%d k%s s%s d%s in%s p%s" % (act, np.dtype(xt).name, N, C, M, group, k, s, d,
                                                                  size, pads)


def case(i, tmp):
    global passed, failed
    path = os.path.join(tmp, "m%d.onnx" % i)
    qdq = i % 3 == 2
    x, desc = qdq_model(path) if qdq else qlinear_model(path)
    xf = os.path.join(tmp, "x%d.npy" % i)
    np.save(xf, x)
    outs = {}
    variants = [("fast", {}), ("avx2", {"EDGEML_CPU": "avx2"}), ("sse2", {"EDGEML_CPU": "sse2"})]
    for tag, env in variants:
        for t in (1, 2):
            y, e = run(path, xf, env, t, tmp, "%d_%s_%d" % (i, tag, t))
            if y is None:
                failed += 1
                print("FAIL %s: %s t%d: %s" % (desc, tag, t, e))
                return
            outs[(tag, t)] = y
    ref, e = run(path, xf, {"EDGEML_CPU": "reference"}, 1, tmp, "%d_ref" % i)
    if ref is None:
        failed += 1
        print("FAIL %s: reference: %s" % (desc, e))
        return
    base = outs[("fast", 1)]
    for key, y in outs.items():
        if y.shape != base.shape or not np.array_equal(y, base):
            failed += 1
            print("FAIL %s: %s t%d differs from fast t1 (%d elements)" % (desc, key[0], key[1],
                  int(np.sum(y != base)) if y.shape == base.shape else -1))
            return
    diff = np.abs(base.astype(np.int32) - ref.astype(np.int32)) if base.shape == ref.shape else None
    if diff is None or diff.max(initial=0) > 1 or np.mean(diff) > 0.01:
        failed += 1
        print("FAIL %s: vs reference max %s mean %s" % (desc, None if diff is None else diff.max(initial=0),
                                                       None if diff is None else diff.mean()))
        return
    if qdq:
        r = subprocess.run([BIN, "inspect", "--optimized", path], capture_output=True, text=True)
        if "QLinearConv" not in r.stdout:
            failed += 1
            print("FAIL %s: the QDQ pattern was not rewritten into QLinearConv" % desc)
            return
        fl, e = run(path, xf, {"EDGEML_OPT": "0"}, 1, tmp, "%d_opt0" % i)
        df = np.abs(base.astype(np.int32) - fl.astype(np.int32)) if fl is not None and fl.shape == base.shape else None
        if df is None or df.max(initial=0) > 1 or np.mean(df > 0) > 0.02:
            failed += 1
            print("FAIL %s: vs the float QDQ graph: %s" % (desc, e if fl is None else
                                                           "max %s frac %s" % (df.max(initial=0) if df is not None else "shape", None if df is None else np.mean(df > 0))))
            return
    passed += 1


with tempfile.TemporaryDirectory() as tmp:
    for i in range(int(os.environ.get("QCONV_CASES", "60"))):
        case(i, tmp)
print("test_qconv_fast: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
