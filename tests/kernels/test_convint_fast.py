#!/usr/bin/python3
"""ConvInteger fast path and the dynamic-quantisation fusion (src/infer/ops/nn_convint_fast.c,
src/infer/opt/convint.c, cpu/qgemm.c's column-sum correction) vs the reference.

Usage: test_convint_fast.py EDGEML_BIN

1. Random ConvInteger models (1-D and 2-D, odd sizes, strides, padding incl. asymmetric,
   dilations, groups incl. depthwise, batch > 1; uint8 and int8 activations and weights;
   weight zero points of any value, per tensor or per output channel, or absent; the
   activation zero point a graph input (changing per run, as DynamicQuantizeLinear makes it),
   a constant, or absent). The int32 result must be bit-identical to the reference
   (EDGEML_CPU=reference: nn_conv.c's exact integer im2col + GEMM) for the CPU's kernels,
   EDGEML_CPU=avx2 and sse2, at 1 and 2 threads, and to numpy's exact sum.
2. Dynamic-quantisation chains as onnxruntime's quantize_dynamic writes them:
   DynamicQuantizeLinear -> ConvInteger -> Cast -> Mul(x_scale * w_scale) -> Add(bias)
   -> [Relu] [-> Add(residual)], which the graph pass rewrites into edgeml:ConvIntegerScaled
   (checked with `edgeml inspect --optimized`). Every fast variant and thread count must give
   the same bytes as the unfused graph (EDGEML_OPT=0) at the same CPU level (the same float
   operations in the same order), and agree with the reference within float tolerance.
3. DynamicQuantizeLinear alone (its vectorised, threaded path in nn_qdq_fast.c): every
   output bit-identical to the reference at 1 and 2 threads.
4. MatMulInteger with constant weights (nn_matmulint_fast.c): A of rank 2..4 (leading dims
   folded), uint8/int8 A and B, B's zero point per tensor, per column or absent, A's a graph
   input, a constant or absent: bit-identical to numpy for every variant and thread count.
Prints 'N passed, N failed'.
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
    print("test_convint_fast: python3-onnx is not installed: skipped")
    sys.exit(77)

BIN = sys.argv[1]
rng = np.random.default_rng(20261205)
passed = failed = 0
TD = {np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8}
VARIANTS = [("fast", {}), ("avx2", {"EDGEML_CPU": "avx2"}), ("sse2", {"EDGEML_CPU": "sse2"})]


def run(model, inputs, env_extra, threads, tmp, tag):
    out = os.path.join(tmp, tag)
    cmd = [BIN, "infer", model, "--output-dir", out, "--threads", str(threads)]
    for k, f in inputs.items():
        cmd += ["--input", "%s=%s" % (k, f)]
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
    if rng.random() < 0.25:
        C = int(rng.integers(1, 40))
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


def exact_conv(x, xz, w, wz, group, s, d, pads):
    """numpy int64 ConvInteger (x: [N, C, ...], w: [M, C/g, ...]) for 1-D or 2-D."""
    ns = x.ndim - 2
    if ns == 1:
        x, w = x[:, :, None, :], w[:, :, None, :]
        s, d, pads = [1] + s, [1] + d, [0, pads[0], 0, pads[1]]
    N, C, H, W = x.shape
    M, Cg, kh, kw = w.shape
    xi = x.astype(np.int64) - int(xz)
    wi = w.astype(np.int64) - np.asarray(wz, np.int64).reshape(-1, 1, 1, 1)
    xp = np.zeros((N, C, H + pads[0] + pads[2], W + pads[1] + pads[3]), np.int64)
    xp[:, :, pads[0]:pads[0] + H, pads[1]:pads[1] + W] = xi
    OH = (xp.shape[2] - ((kh - 1) * d[0] + 1)) // s[0] + 1
    OW = (xp.shape[3] - ((kw - 1) * d[1] + 1)) // s[1] + 1
    y = np.zeros((N, M, OH, OW), np.int64)
    Mg = M // group
    for g in range(group):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * Cg:(g + 1) * Cg, i * d[0]:i * d[0] + s[0] * (OH - 1) + 1:s[0],
                           j * d[1]:j * d[1] + s[1] * (OW - 1) + 1:s[1]]
                y[:, g * Mg:(g + 1) * Mg] += np.einsum("nchw,mc->nmhw", patch, wi[g * Mg:(g + 1) * Mg, :, i, j])
    y = y.astype(np.int32)
    return y[:, :, 0, :] if ns == 1 else y


def convint_model(path):
    ns, C, M, group, k, s, d, size, pads, N = geometry()
    xt = np.uint8 if rng.random() < 0.6 else np.int8
    wt = np.uint8 if rng.random() < 0.6 else np.int8
    lo, hi = (0, 256) if xt == np.uint8 else (-128, 128)
    wlo, whi = (0, 256) if wt == np.uint8 else (-128, 128)
    x = rng.integers(lo, hi, [N, C] + size).astype(xt)
    w = rng.integers(wlo, whi, [M, C // group] + k).astype(wt)
    wzmode = rng.choice(["tensor", "channel", "absent"])
    wz = (rng.integers(wlo, whi, [M]) if wzmode == "channel" else np.array(rng.integers(wlo, whi))).astype(wt)
    xzmode = rng.choice(["input", "input", "const", "absent"])
    xz = np.array(rng.integers(lo, hi), xt)
    inits = [numpy_helper.from_array(w, "w")]
    ins = ["x", "w"]
    graph_in = [helper.make_tensor_value_info("x", TD[xt], list(x.shape))]
    feeds = {"x": x}
    if xzmode == "absent" and wzmode == "absent":
        pass
    else:
        if xzmode == "input":
            graph_in.append(helper.make_tensor_value_info("xz", TD[xt], []))
            feeds["xz"] = xz
            ins.append("xz")
        elif xzmode == "const":
            inits.append(numpy_helper.from_array(xz, "xz"))
            ins.append("xz")
        else:
            ins.append("")
        if wzmode != "absent":
            inits.append(numpy_helper.from_array(wz, "wz"))
            ins.append("wz")
    node = helper.make_node("ConvInteger", ins, ["y"], strides=s, dilations=d, group=group, pads=pads)
    g = helper.make_graph([node], "ci", graph_in, [helper.make_tensor_value_info("y", TensorProto.INT32, None)], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    ex = exact_conv(x, xz if xzmode != "absent" else 0, w, wz if wzmode != "absent" else 0, group, s, d, pads)
    desc = "ConvInteger x%s w%s xz=%s wz=%s N%d C%d M%d g%d k%s s%s d%s in%s p%s" % (
        np.dtype(xt).name, np.dtype(wt).name, xzmode, wzmode, N, C, M, group, k, s, d, size, pads)
    return feeds, ex, desc


def chain_model(path):
    ns, C, M, group, k, s, d, size, pads, N = geometry()
    if ns == 1:
        k, s, d, pads = k + [1], s + [1], d + [1], [pads[0], 0, pads[1], 0]
        size = size + [1]
    # same padding so that a residual of the input's shape fits when C == M and stride 1
    x = rng.standard_normal([N, C] + size).astype(np.float32)
    wt = np.uint8
    w = rng.integers(0, 256, [M, C // group] + k).astype(wt)
    wz = np.array(rng.integers(100, 160), wt)
    wsc = np.array(rng.uniform(0.001, 0.01), np.float32)
    bias = rng.standard_normal([1, M, 1, 1]).astype(np.float32)
    relu = rng.random() < 0.6
    inits = [numpy_helper.from_array(v, n) for v, n in
             [(w, "w"), (wz, "wz"), (wsc, "wsc"), (bias, "b")]]
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xzp"]),
             helper.make_node("Mul", ["xs", "wsc"], ["sc"]),
             helper.make_node("ConvInteger", ["xq", "w", "xzp", "wz"], ["ci"], strides=s, dilations=d,
                              group=group, pads=pads),
             helper.make_node("Cast", ["ci"], ["cf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["cf", "sc"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["a"])]
    last = "a"
    if relu:
        nodes.append(helper.make_node("Relu", ["a"], ["r"]))
        last = "r"
    nodes.append(helper.make_node("Sigmoid", [last], ["y"]))
    g = helper.make_graph(nodes, "dq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    return {"x": x}, "chain%s N%d C%d M%d g%d k%s s%s d%s in%s p%s" % (" relu" if relu else "", N, C, M, group, k, s,
                                                                       d, size, pads)


def fail(msg):
    global failed
    failed += 1
    print("FAIL " + msg)


def case(i, tmp):
    global passed
    path = os.path.join(tmp, "m%d.onnx" % i)
    chain = i % 3 == 2
    if chain:
        feeds, desc = chain_model(path)
        ex = None
    else:
        feeds, ex, desc = convint_model(path)
    files = {}
    for name, v in feeds.items():
        files[name] = os.path.join(tmp, "%s%d.npy" % (name, i))
        np.save(files[name], v)
    outs = {}
    for tag, env in VARIANTS:
        for t in (1, 2):
            y, e = run(path, files, env, t, tmp, "%d_%s_%d" % (i, tag, t))
            if y is None:
                return fail("%s: %s t%d: %s" % (desc, tag, t, e))
            outs[(tag, t)] = y
    ref, e = run(path, files, {"EDGEML_CPU": "reference"}, 1, tmp, "%d_ref" % i)
    if ref is None:
        return fail("%s: reference: %s" % (desc, e))
    if not chain:
        if ref.shape != ex.shape or not np.array_equal(ref, ex):
            return fail("%s: reference differs from numpy" % desc)
        for key, y in outs.items():
            if y.shape != ex.shape or not np.array_equal(y, ex):
                return fail("%s: %s t%d differs from the exact result (%s elements)" % (
                    desc, key[0], key[1], int(np.sum(y != ex)) if y.shape == ex.shape else "shape"))
        passed += 1
        return
    r = subprocess.run([BIN, "inspect", "--optimized", path], capture_output=True, text=True)
    if "ConvIntegerScaled" not in r.stdout:
        return fail("%s: the chain was not rewritten into edgeml:ConvIntegerScaled" % desc)
    for tag, env in VARIANTS:
        unf, e = run(path, files, dict(env, EDGEML_OPT="0"), 1, tmp, "%d_%s_opt0" % (i, tag))
        if unf is None:
            return fail("%s: %s EDGEML_OPT=0: %s" % (desc, tag, e))
        for t in (1, 2):
            y = outs[(tag, t)]
            if y.shape != unf.shape or not np.array_equal(y, unf):
                return fail("%s: %s t%d differs from the unfused graph (max %s)" % (
                    desc, tag, t, float(np.abs(y - unf).max()) if y.shape == unf.shape else "shape"))
    err = float(np.abs(outs[("fast", 1)] - ref).max()) if ref.shape == outs[("fast", 1)].shape else None
    if err is None or err > 1e-5:
        return fail("%s: vs reference max err %s" % (desc, err))
    passed += 1


def matmulint_case(i, tmp):
    """MatMulInteger with constant weights (nn_matmulint_fast.c): bit-identical to numpy and the reference."""
    global passed
    at = np.uint8 if rng.random() < 0.6 else np.int8
    bt = np.uint8 if rng.random() < 0.6 else np.int8
    lo, hi = (0, 256) if at == np.uint8 else (-128, 128)
    blo, bhi = (0, 256) if bt == np.uint8 else (-128, 128)
    K, N = int(rng.integers(1, 200)), int(rng.integers(1, 130))
    lead = [int(rng.integers(1, 5)) for _ in range(int(rng.integers(0, 3)))] + [int(rng.integers(1, 70))]
    a = rng.integers(lo, hi, lead + [K]).astype(at)
    b = rng.integers(blo, bhi, [K, N]).astype(bt)
    az = np.array(rng.integers(lo, hi), at)
    bzmode = rng.choice(["tensor", "column", "absent"])
    bz = (rng.integers(blo, bhi, [N]) if bzmode == "column" else np.array(rng.integers(blo, bhi))).astype(bt)
    azmode = rng.choice(["input", "const", "absent"])
    inits = [numpy_helper.from_array(b, "b")]
    graph_in = [helper.make_tensor_value_info("x", TD[at], list(a.shape))]
    feeds = {"x": a}
    ins = ["x", "b"]
    if not (azmode == "absent" and bzmode == "absent"):
        if azmode == "input":
            graph_in.append(helper.make_tensor_value_info("az", TD[at], []))
            feeds["az"] = az
            ins.append("az")
        elif azmode == "const":
            inits.append(numpy_helper.from_array(az, "az"))
            ins.append("az")
        else:
            ins.append("")
        if bzmode != "absent":
            inits.append(numpy_helper.from_array(bz, "bz"))
            ins.append("bz")
    node = helper.make_node("MatMulInteger", ins, ["y"])
    g = helper.make_graph([node], "mi", graph_in, [helper.make_tensor_value_info("y", TensorProto.INT32, None)], inits)
    path = os.path.join(tmp, "mi%d.onnx" % i)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    azv = int(az) if azmode != "absent" else 0
    bzv = bz.astype(np.int64) if bzmode != "absent" else 0
    ex = ((a.astype(np.int64) - azv) @ (b.astype(np.int64) - bzv)).astype(np.int32)
    desc = "MatMulInteger a%s%s b%s[%d,%d] az=%s bz=%s" % (np.dtype(at).name, list(a.shape), np.dtype(bt).name, K, N,
                                                          azmode, bzmode)
    files = {}
    for name, v in feeds.items():
        files[name] = os.path.join(tmp, "mi%s%d.npy" % (name, i))
        np.save(files[name], v)
    for tag, env in VARIANTS + [("reference", {"EDGEML_CPU": "reference"})]:
        for t in (1, 2):
            y, e = run(path, files, env, t, tmp, "mi%d_%s_%d" % (i, tag, t))
            if y is None:
                return fail("%s: %s t%d: %s" % (desc, tag, t, e))
            if y.shape != ex.shape or not np.array_equal(y, ex):
                return fail("%s: %s t%d differs from the exact result (%s elements)" % (
                    desc, tag, t, int(np.sum(y != ex)) if y.shape == ex.shape else "shape"))
    passed += 1


def dql_case(i, tmp):
    """DynamicQuantizeLinear alone (nn_qdq_fast.c): every output bit-identical to the reference."""
    global passed
    n = int(rng.choice([1, 7, 100, 4099, 70000, 300001]))
    kind = rng.choice(["normal", "positive", "negative", "constant", "zero"])
    x = rng.standard_normal(n).astype(np.float32) * np.float32(rng.uniform(0.01, 100))
    if kind == "positive":
        x = np.abs(x) + 1
    elif kind == "negative":
        x = -np.abs(x) - 1
    elif kind == "constant":
        x[:] = x[0]
    elif kind == "zero":
        x[:] = 0
    path = os.path.join(tmp, "d%d.onnx" % i)
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "ys", "yz"])
    g = helper.make_graph([node], "dq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
                          [helper.make_tensor_value_info(v, t, None) for v, t in
                           [("y", TensorProto.UINT8), ("ys", TensorProto.FLOAT), ("yz", TensorProto.UINT8)]])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    xf = os.path.join(tmp, "dx%d.npy" % i)
    np.save(xf, x)
    res = {}
    for tag, env, t in [("ref", {"EDGEML_CPU": "reference"}, 1), ("fast1", {}, 1), ("fast2", {}, 2)]:
        out = os.path.join(tmp, "d%d_%s" % (i, tag))
        env2 = dict(os.environ)
        env2.pop("EDGEML_CPU", None)
        env2.update(env)
        r = subprocess.run([BIN, "infer", path, "--output-dir", out, "--threads", str(t), "--input", "x=" + xf],
                           env=env2, capture_output=True, text=True)
        if r.returncode:
            return fail("DQL n%d %s %s: %s" % (n, kind, tag, r.stderr.strip()))
        res[tag] = [np.load(os.path.join(out, v + ".npy")) for v in ("y", "ys", "yz")]
    for tag in ("fast1", "fast2"):
        for a, b in zip(res[tag], res["ref"]):
            if a.shape != b.shape or a.tobytes() != b.tobytes():
                return fail("DQL n%d %s %s: differs from the reference" % (n, kind, tag))
    passed += 1


with tempfile.TemporaryDirectory() as tmp:
    for i in range(int(os.environ.get("CONVINT_CASES", "45"))):
        case(i, tmp)
    for i in range(int(os.environ.get("DQL_CASES", "12"))):
        dql_case(i, tmp)
    for i in range(int(os.environ.get("MATMULINT_CASES", "24"))):
        matmulint_case(i, tmp)
print("test_convint_fast: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
