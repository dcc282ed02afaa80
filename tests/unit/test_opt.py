#!/usr/bin/python3
"""Graph optimisation at load (src/infer/opt/): every pass and pattern on small
models built here with onnx.helper.

usage: test_opt.py EDGEML_BINARY [TEST_OPT_API_BINARY]
Each case runs `edgeml infer` with EDGEML_OPT=0 and EDGEML_OPT=1 and compares
the outputs (and, where a reference is easy, with NumPy), then checks the shape
of the optimised graph from `edgeml inspect --optimized`. Negative cases check
that what must not be fused is not, and stays correct. The pipeline checks the
graph invariants (opt/verify.c) after every pass and fails the load if one
breaks, so every load here also tests them. Exit 77 (skip) without numpy/onnx.
"""
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    print("skip:", e)
    sys.exit(77)

EDGEML = os.path.abspath(sys.argv[1])
API = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None
TMP = tempfile.mkdtemp(prefix="edgeml-opt-")
RNG = np.random.default_rng(7)
failures = []
passed = 0
F = TensorProto.FLOAT


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what)


def run(args, opt):
    env = dict(os.environ, EDGEML_OPT="1" if opt else "0")
    p = subprocess.run([EDGEML] + [str(a) for a in args], capture_output=True, text=True, errors="replace",
                       env=env)
    return p.returncode, p.stdout, p.stderr


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def scalar(name, v, dtype=np.float32):
    return numpy_helper.from_array(np.array(v, dtype=dtype), name)


def rnd(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


def model(nodes, inputs, outputs, inits, opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def vi(name, shape, dt=F):
    return helper.make_tensor_value_info(name, dt, shape)


def optimized_ops(path, opt=True):
    """Labels of the nodes of the optimised graph, in order."""
    rc, out, err = run(["inspect", "--optimized", path], opt)
    if rc != 0:
        return None
    labels = []
    on = False
    for line in out.splitlines():
        if line.startswith("optimized graph:"):
            on = True
            continue
        if line.startswith("optimized ops"):
            break
        if on:
            m = re.match(r"\s+(.*?)\s{2,}\S.*: ", line) or re.match(r"\s+(\S+(?: \+\S+)*) ", line)
            labels.append(m.group(1).strip() if m else line.strip())
    return labels


def case(name, m, feeds, expect_ops=None, ref=None, tol=1e-5, count=None):
    """Runs m with optimisation off and on, compares; checks the optimised op labels."""
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(m, path)
    args = ["infer", path]
    for k, v in feeds.items():
        f = os.path.join(d, k + ".npy")
        np.save(f, v)
        args += ["--input", f"{k}={f}"]
    res = {}
    for opt in (False, True):
        od = os.path.join(d, "out%d" % opt)
        rc, out, err = run(args + ["--output-dir", od], opt)
        if rc != 0:
            check(False, f"{name}: edgeml infer (opt={opt}) failed: {err.strip()}")
            return
        res[opt] = {o.name: np.load(os.path.join(od, o.name + ".npy")) for o in m.graph.output}
    for o in m.graph.output:
        a, b = res[False][o.name].astype(np.float64), res[True][o.name].astype(np.float64)
        ok = a.shape == b.shape and np.allclose(b, a, rtol=tol, atol=tol)
        check(ok, f"{name}: output {o.name} differs with optimisation "
                  f"(max |d| {np.max(np.abs(a - b)) if a.shape == b.shape else 'shape'})")
        if ref is not None and o.name in ref:
            r = ref[o.name]
            ok = a.shape == r.shape and np.allclose(b, r, rtol=1e-4, atol=1e-4)
            check(ok, f"{name}: output {o.name} differs from the NumPy reference")
    ops = optimized_ops(path)
    if expect_ops is not None:
        check(ops == expect_ops, f"{name}: optimised graph {ops}, expected {expect_ops}")
    if count is not None:
        check(ops is not None and len(ops) == count, f"{name}: {len(ops or [])} nodes after optimisation ({ops}), expected {count}")
    ops0 = optimized_ops(path, opt=False)
    check(ops0 is not None and len(ops0) >= len(ops or []), f"{name}: EDGEML_OPT=0 graph {ops0}")
    print(f"ok {name}: {len(ops0 or [])} -> {len(ops or [])} nodes {ops}")


# ---- references ----------------------------------------------------------------
def np_conv(x, w, b=None):  # stride 1, pads 1 (3x3) or 0 (1x1), group 1
    k = w.shape[2]
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    N, C, H, W = x.shape
    y = np.zeros((N, w.shape[0], H, W), np.float64)
    for i in range(k):
        for j in range(k):
            y += np.einsum("nchw,mc->nmhw", xp[:, :, i:i + H, j:j + W], w[:, :, i, j])
    if b is not None:
        y += b[None, :, None, None]
    return y.astype(np.float32)


def bn_params(c):
    return (RNG.uniform(0.5, 1.5, c).astype(np.float32), rnd(c), rnd(c),
            RNG.uniform(0.5, 2.0, c).astype(np.float32))


def np_bn(y, s, b, m, v, eps=1e-5):
    sh = (1, -1) + (1,) * (y.ndim - 2)
    return ((y - m.reshape(sh)) / np.sqrt(v.reshape(sh) + eps) * s.reshape(sh) + b.reshape(sh)).astype(np.float32)


def gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


X4 = rnd(2, 3, 6, 6, lo=-2, hi=2)
W33 = rnd(4, 3, 3, 3)
B4 = rnd(4)


def conv_node(x, w, b, y, name="conv", pads=1):
    ins = [x, w] + ([b] if b else [])
    return helper.make_node("Conv", ins, [y], name=name, pads=[pads] * 4)


def bn_node(x, y, prefix="bn", eps=1e-5):
    return helper.make_node("BatchNormalization", [x, prefix + "_s", prefix + "_b", prefix + "_m", prefix + "_v"],
                            [y], name=prefix, epsilon=eps)


def bn_inits(prefix, c):
    s, b, m, v = bn_params(c)
    return [const(prefix + "_s", s), const(prefix + "_b", b), const(prefix + "_m", m), const(prefix + "_v", v)], (s, b, m, v)


# ---- BatchNormalization folding --------------------------------------------------
bi, bp = bn_inits("bn", 4)
ref = np.maximum(np_bn(np_conv(X4, W33, B4), *bp), 0)
case("conv_bn_relu", model([conv_node("x", "w", "b", "c"), bn_node("c", "n"), helper.make_node("Relu", ["n"], ["y"])],
                           [vi("x", [2, 3, 6, 6])], [vi("y", [2, 4, 6, 6])], [const("w", W33), const("b", B4)] + bi),
     {"x": X4}, ["Conv +Relu"], {"y": ref})

bi, bp = bn_inits("bn", 4)
ref = np_bn(np_conv(X4, W33), *bp, eps=1e-3)
case("conv_nobias_bn", model([conv_node("x", "w", None, "c"), bn_node("c", "y", eps=1e-3)],
                             [vi("x", [2, 3, 6, 6])], [vi("y", [2, 4, 6, 6])], [const("w", W33)] + bi, opset=9),
     {"x": X4}, ["Conv"], {"y": ref})

# ConvTranspose, group 2, then LeakyRelu.
WT = rnd(4, 3, 3, 3)  # [Cin=4, Cout/group=3, k, k], group 2 -> Cout 6
bi, _ = bn_inits("bn", 6)
XT = rnd(1, 4, 5, 5)
case("convt_bn_leaky", model([helper.make_node("ConvTranspose", ["x", "w", "b"], ["c"], group=2, strides=[2, 2]),
                              bn_node("c", "n"), helper.make_node("LeakyRelu", ["n"], ["y"], alpha=0.2)],
                             [vi("x", [1, 4, 5, 5])], [vi("y", None)], [const("w", WT), const("b", rnd(6))] + bi),
     {"x": XT}, ["ConvTranspose +LeakyRelu"])

# Gemm with transB, C of shape [N], beta 0.5 -> BN -> Sigmoid.
bi, bp = bn_inits("bn", 5)
A = rnd(3, 7)
Bm = rnd(5, 7)
Cv = rnd(5)
ref = 1 / (1 + np.exp(-np_bn(A @ Bm.T * 1.5 + 0.5 * Cv, *bp)))
case("gemm_bn_sigmoid", model([helper.make_node("Gemm", ["a", "bm", "cv"], ["g"], transB=1, alpha=1.5, beta=0.5),
                               bn_node("g", "n"), helper.make_node("Sigmoid", ["n"], ["y"])],
                              [vi("a", [3, 7])], [vi("y", [3, 5])], [const("bm", Bm), const("cv", Cv)] + bi),
     {"a": A}, ["Gemm +Sigmoid"], {"y": ref})

# Negative: BN with a scale that is a graph input (not constant): not folded.
bi, _ = bn_inits("bn", 4)
case("bn_scale_input", model([conv_node("x", "w", "b", "c"), bn_node("c", "y")],
                             [vi("x", [2, 3, 6, 6]), vi("bn_s", [4])], [vi("y", None)],
                             [const("w", W33), const("b", B4)] + bi[1:]),
     {"x": X4, "bn_s": rnd(4)}, ["Conv", "BatchNormalization"])

# Negative: the Conv output is also a graph output: no BN fold, no activation fusion.
bi, _ = bn_inits("bn", 4)
case("conv_output_is_graph_output",
     model([conv_node("x", "w", "b", "c"), bn_node("c", "n"), helper.make_node("Relu", ["n"], ["y"])],
           [vi("x", [2, 3, 6, 6])], [vi("y", None), vi("c", None)], [const("w", W33), const("b", B4)] + bi),
     {"x": X4}, ["Conv", "BatchNormalization", "Relu"])

# ---- activation and residual fusion -----------------------------------------------
W2 = rnd(4, 4, 3, 3)
r1 = np.maximum(np_conv(X4, W33, B4), 0)
ref = np.maximum(np_conv(r1, W2) + r1, 0)
case("conv_add_relu", model([conv_node("x", "w", "b", "c1"), helper.make_node("Relu", ["c1"], ["r1"]),
                             conv_node("r1", "w2", None, "c2", name="conv2"), helper.make_node("Add", ["r1", "c2"], ["s"]),
                             helper.make_node("Relu", ["s"], ["y"])],
                            [vi("x", [2, 3, 6, 6])], [vi("y", None)], [const("w", W33), const("b", B4), const("w2", W2)]),
     {"x": X4}, ["Conv +Relu", "Conv +Add +Relu"], {"y": ref})

# Two Conv outputs added: fused into the later one (the earlier one's output is ready).
case("conv_add_conv", model([conv_node("x", "w", "b", "c1"), conv_node("x", "w3", None, "c2", name="conv2"),
                             helper.make_node("Add", ["c1", "c2"], ["y"])],
                            [vi("x", [2, 3, 6, 6])], [vi("y", None)], [const("w", W33), const("b", B4), const("w3", rnd(4, 3, 3, 3))]),
     {"x": X4}, ["Conv", "Conv +Add"])

# Residual that broadcasts the output to a larger shape (valid for the Add that was fused).
case("conv_add_broadcast", model([conv_node("x", "w", "b", "c"), helper.make_node("Add", ["c", "r"], ["y"])],
                                 [vi("x", [1, 3, 6, 6]), vi("r", [3, 4, 6, 6])], [vi("y", None)],
                                 [const("w", W33), const("b", B4)]),
     {"x": X4[:1], "r": rnd(3, 4, 6, 6)}, ["Conv +Add"])

# Single-op activations.
acts = [
    ("relu", lambda i, o: helper.make_node("Relu", [i], [o]), [], 17, "Relu"),
    ("tanh", lambda i, o: helper.make_node("Tanh", [i], [o]), [], 17, "Tanh"),
    ("sigmoid", lambda i, o: helper.make_node("Sigmoid", [i], [o]), [], 17, "Sigmoid"),
    ("hardsigmoid", lambda i, o: helper.make_node("HardSigmoid", [i], [o], alpha=0.3, beta=0.4), [], 17, "HardSigmoid"),
    ("hardswish", lambda i, o: helper.make_node("HardSwish", [i], [o]), [], 17, "HardSwish"),
    ("leaky", lambda i, o: helper.make_node("LeakyRelu", [i], [o]), [], 17, "LeakyRelu"),
    ("clip11", lambda i, o: helper.make_node("Clip", [i, "lo", "hi"], [o]), [scalar("lo", -0.5), scalar("hi", 0.7)], 13, "Clip"),
    ("clip11_max_only", lambda i, o: helper.make_node("Clip", [i, "", "hi"], [o]), [scalar("hi", 0.7)], 13, "Clip"),
    ("relu6_clip", lambda i, o: helper.make_node("Clip", [i, "lo", "hi"], [o]), [scalar("lo", 0.0), scalar("hi", 6.0)], 13, "Clip"),
    ("clip6_attrs", lambda i, o: helper.make_node("Clip", [i], [o], min=-0.2, max=0.3), [], 6, "Clip"),
    ("gelu20", lambda i, o: helper.make_node("Gelu", [i], [o]), [], 20, "Gelu"),
    ("gelu20_tanh", lambda i, o: helper.make_node("Gelu", [i], [o], approximate="tanh"), [], 20, "GeluTanh"),
]
for nm, mk, extra, ops, label in acts:
    case("conv_" + nm, model([conv_node("x", "w", "b", "c"), mk("c", "y")], [vi("x", [2, 3, 6, 6])], [vi("y", None)],
                             [const("w", W33), const("b", B4)] + extra, opset=ops),
         {"x": X4}, ["Conv +" + label])

# Negative: Clip with a bound that is a graph input: not fused.
case("clip_bound_input", model([conv_node("x", "w", "b", "c"), helper.make_node("Clip", ["c", "lo"], ["y"])],
                               [vi("x", [2, 3, 6, 6]), vi("lo", [])], [vi("y", None)], [const("w", W33), const("b", B4)],
                               opset=13),
     {"x": X4, "lo": np.array(-0.1, np.float32)}, ["Conv", "Clip"])

# Negative: the Conv output read twice (activation and another op): not fused, still correct.
case("conv_output_used_twice", model([conv_node("x", "w", "b", "c"), helper.make_node("Relu", ["c"], ["r"]),
                                      helper.make_node("Mul", ["c", "r"], ["y"])],
                                     [vi("x", [2, 3, 6, 6])], [vi("y", None)], [const("w", W33), const("b", B4)]),
     {"x": X4}, ["Conv", "Relu", "Mul"])

# Negative: activation output used twice is fine to fuse (only the Conv output must be single-use).
case("act_output_used_twice", model([conv_node("x", "w", "b", "c"), helper.make_node("Relu", ["c"], ["r"]),
                                     helper.make_node("Mul", ["r", "r"], ["y"])],
                                    [vi("x", [2, 3, 6, 6])], [vi("y", None)], [const("w", W33), const("b", B4)]),
     {"x": X4}, ["Conv +Relu", "Mul"])

# Activations written as primitives, fused into MatMul (+ bias Add) or Conv.
A3 = rnd(2, 5, 8, lo=-3, hi=3)
WM = rnd(8, 6)
BM = rnd(6)


def mm_model(tail_nodes, inits, out="y", opset=17):
    return model([helper.make_node("MatMul", ["a", "wm"], ["mm"]), helper.make_node("Add", ["mm", "bm"], ["t"])] + tail_nodes,
                 [vi("a", [2, 5, 8])], [vi(out, None)], [const("wm", WM), const("bm", BM)] + inits, opset=opset)


T = A3 @ WM + BM
gelu_variants = {
    # torch.nn.functional.gelu at opset < 20
    "gelu_div": ([helper.make_node("Div", ["t", "sq2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                  helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["t", "e1"], ["m"]),
                  helper.make_node("Mul", ["m", "half"], ["y"])],
                 [scalar("sq2", 1.4142135381698608), scalar("one", 1.0), scalar("half", 0.5)]),
    # x * 0.5 * (1 + erf(x * 0.7071))
    "gelu_mul_first": ([helper.make_node("Mul", ["t", "half"], ["h"]), helper.make_node("Mul", ["t", "isq2"], ["d"]),
                        helper.make_node("Erf", ["d"], ["e"]), helper.make_node("Add", ["one", "e"], ["e1"]),
                        helper.make_node("Mul", ["h", "e1"], ["y"])],
                       [scalar("isq2", 0.7071067690849304), scalar("one", 1.0), scalar("half", 0.5)]),
    # x * (0.5 * (1 + erf(x / sqrt2)))
    "gelu_inner_half": ([helper.make_node("Div", ["t", "sq2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                         helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["half", "e1"], ["h"]),
                         helper.make_node("Mul", ["h", "t"], ["y"])],
                        [scalar("sq2", 1.4142135381698608), scalar("one", 1.0), scalar("half", 0.5)]),
}
for nm, (nodes, inits) in gelu_variants.items():
    case("matmul_add_" + nm, mm_model(nodes, inits), {"a": A3}, ["MatMul +Add +Gelu"], {"y": gelu(T).astype(np.float32)})

tanh_nodes = [helper.make_node("Pow", ["t", "three"], ["p"]), helper.make_node("Mul", ["p", "c044"], ["pc"]),
              helper.make_node("Add", ["t", "pc"], ["s"]), helper.make_node("Mul", ["s", "c079"], ["sc"]),
              helper.make_node("Tanh", ["sc"], ["th"]), helper.make_node("Add", ["th", "one"], ["t1"]),
              helper.make_node("Mul", ["t", "half"], ["h"]), helper.make_node("Mul", ["h", "t1"], ["y"])]
tanh_inits = [scalar("three", 3.0), scalar("c044", 0.044715), scalar("c079", math.sqrt(2 / math.pi)),
              scalar("one", 1.0), scalar("half", 0.5)]
case("matmul_add_gelu_tanh", mm_model(tanh_nodes, tanh_inits), {"a": A3}, ["MatMul +Add +GeluTanh"])

silu_nodes = [helper.make_node("Sigmoid", ["c"], ["sg"]), helper.make_node("Mul", ["c", "sg"], ["y"])]
case("conv_silu", model([conv_node("x", "w", "b", "c")] + silu_nodes, [vi("x", [2, 3, 6, 6])], [vi("y", None)],
                        [const("w", W33), const("b", B4)]), {"x": X4}, ["Conv +Silu"])
# HardSwish as torch exports it at opset 11: x * HardSigmoid(x, 1/6, 0.5).
case("conv_hardswish_prims", model([conv_node("x", "w", "b", "c"),
                                    helper.make_node("HardSigmoid", ["c"], ["hs"], alpha=1 / 6, beta=0.5),
                                    helper.make_node("Mul", ["c", "hs"], ["y"])],
                                   [vi("x", [2, 3, 6, 6])], [vi("y", None)], [const("w", W33), const("b", B4)], opset=11),
     {"x": X4}, ["Conv +HardSwish"])

# Negative: a wrong GELU constant is not recognised (and stays correct).
bad = [helper.make_node("Div", ["t", "sq2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
       helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["t", "e1"], ["m"]),
       helper.make_node("Mul", ["m", "half"], ["y"])]
case("not_gelu", mm_model(bad, [scalar("sq2", 1.5), scalar("one", 1.0), scalar("half", 0.5)]), {"a": A3},
     ["MatMul +Add", "Div", "Erf", "Add", "Mul", "Mul"])

# Negative: an intermediate of the pattern is a graph output: not fused.
m_int = mm_model(silu_nodes[:0] + [helper.make_node("Sigmoid", ["t"], ["sg"]), helper.make_node("Mul", ["t", "sg"], ["y"])], [])
m_int.graph.output.append(vi("sg", None))
case("silu_intermediate_output", m_int, {"a": A3}, ["MatMul +Add", "Sigmoid", "Mul"])

# Standalone (no producer to fuse into): recognised as one node.
case("silu_standalone", model(silu_nodes, [vi("c", [3, 7])], [vi("y", None)], []), {"c": rnd(3, 7, lo=-6, hi=6)},
     ["edgeml:Silu"])
case("gelu_standalone", model([helper.make_node("Relu", ["x"], ["t"])] + gelu_variants["gelu_div"][0],
                              [vi("x", [4, 9])], [vi("y", None)], gelu_variants["gelu_div"][1]),
     {"x": rnd(4, 9, lo=-3, hi=3)}, ["Relu", "edgeml:Gelu"])
case("gelu_tanh_standalone", model(tanh_nodes, [vi("t", [4, 9])], [vi("y", None)], tanh_inits),
     {"t": rnd(4, 9, lo=-4, hi=4)}, ["edgeml:GeluTanh"])
# The base value is also used elsewhere: standalone recognition still applies.
case("silu_base_shared", model(silu_nodes + [helper.make_node("Add", ["c", "y"], ["z"])], [vi("c", [3, 7])],
                               [vi("z", None)], []), {"c": rnd(3, 7)}, ["edgeml:Silu", "Add"])

# ---- LayerNorm written as primitives --------------------------------------------------
XL = rnd(2, 5, 8, lo=-2, hi=2)
G8, B8 = rnd(8), rnd(8)


def ln_nodes(square="pow", beta=True, opset=17):
    ax = {"axes": [-1]} if opset < 18 else {}
    ain = [] if opset < 18 else ["axes"]
    n = [helper.make_node("ReduceMean", ["x"] + ain, ["m"], **ax), helper.make_node("Sub", ["x", "m"], ["d"])]
    n += [helper.make_node("Pow", ["d", "two"], ["d2"])] if square == "pow" else [helper.make_node("Mul", ["d", "d"], ["d2"])]
    n += [helper.make_node("ReduceMean", ["d2"] + ain, ["v"], **ax), helper.make_node("Add", ["v", "eps"], ["ve"]),
          helper.make_node("Sqrt", ["ve"], ["s"]), helper.make_node("Div", ["d", "s"], ["nr"]),
          helper.make_node("Mul", ["gamma", "nr"], ["g" if beta else "y"])]
    if beta:
        n.append(helper.make_node("Add", ["g", "beta"], ["y"]))
    inits = [scalar("two", 2.0), scalar("eps", 1e-5), const("gamma", G8), const("beta", B8)]
    if opset >= 18:
        inits.append(const("axes", np.array([-1], np.int64)))
    return n, inits


mu = XL.mean(-1, keepdims=True)
ln_ref = (XL - mu) / np.sqrt(((XL - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * G8 + B8
for nm, kw in [("layernorm_pow", {}), ("layernorm_mul", {"square": "mul"}), ("layernorm_nobeta", {"beta": False}),
               ("layernorm_opset18", {"opset": 18})]:
    nodes, inits = ln_nodes(**kw)
    r = ln_ref if kw.get("beta", True) else ln_ref - B8
    case(nm, model(nodes, [vi("x", [2, 5, 8])], [vi("y", None)], inits, opset=kw.get("opset", 17)), {"x": XL},
         ["LayerNormalization"], {"y": r.astype(np.float32)})
# Negative: the mean is also a graph output: not recognised.
nodes, inits = ln_nodes()
m_ln = model(nodes, [vi("x", [2, 5, 8])], [vi("y", None), vi("m", None)], inits)
case("layernorm_mean_output", m_ln, {"x": XL}, count=9)
# Negative: reduction over another axis: not recognised.
nodes, inits = ln_nodes()
for n in nodes:
    if n.op_type == "ReduceMean":
        del n.attribute[:]
        n.attribute.append(helper.make_attribute("axes", [1]))
case("layernorm_axis1", model(nodes, [vi("x", [2, 5, 8])], [vi("y", None)], inits), {"x": XL}, count=9)

# ---- no-ops --------------------------------------------------------------------------
X24 = rnd(2, 3, 4)
case("identity_dropout_cast", model([helper.make_node("Identity", ["x"], ["i1"]),
                                     helper.make_node("Dropout", ["i1"], ["d1"]),
                                     helper.make_node("Cast", ["d1"], ["c1"], to=TensorProto.FLOAT),
                                     helper.make_node("Relu", ["c1"], ["y"])],
                                    [vi("x", [2, 3, 4])], [vi("y", None)], []), {"x": X24}, ["Relu"])
# Dropout whose mask is used: kept. Dropout in training mode (constant true): kept.
case("dropout_mask_used", model([helper.make_node("Dropout", ["x"], ["d", "mask"]), helper.make_node("Relu", ["d"], ["y"])],
                                [vi("x", [2, 3, 4])], [vi("y", None), vi("mask", None, TensorProto.BOOL)], []),
     {"x": X24}, ["Dropout", "Relu"])
case("dropout_training", model([helper.make_node("Dropout", ["x", "ratio", "train"], ["d"]),
                                helper.make_node("Relu", ["d"], ["y"])],
                               [vi("x", [2, 3, 4])], [vi("y", None)],
                               [scalar("ratio", 0.0), numpy_helper.from_array(np.array(True), "train")]),
     {"x": X24}, ["Dropout", "Relu"])
# The graph output's producer is an Identity: the output keeps its name ('y').
case("identity_output", model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Identity", ["r"], ["y"])],
                              [vi("x", [2, 3, 4])], [vi("y", None)], []), {"x": X24}, ["Relu"])
# Identity from a graph input straight to the output: kept (nothing can take the name).
case("identity_input_to_output", model([helper.make_node("Identity", ["x"], ["y"])], [vi("x", [2, 3, 4])], [vi("y", None)], []),
     {"x": X24}, ["Identity"])
# Cast to another dtype: kept. Cast of an input of unknown dtype: kept (can't prove a no-op).
case("cast_real", model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.DOUBLE)], [vi("x", [2, 3, 4])],
                        [vi("y", None, TensorProto.DOUBLE)], []), {"x": X24}, ["Cast"])
case("reshape_chain", model([helper.make_node("Reshape", ["x", "s1"], ["r1"]), helper.make_node("Flatten", ["r1"], ["f"]),
                             helper.make_node("Reshape", ["f", "s2"], ["r2"]), helper.make_node("Reshape", ["r2", "s3"], ["y"])],
                            [vi("x", [2, 3, 4])], [vi("y", None)],
                            [const("s1", np.array([6, 4], np.int64)), const("s2", np.array([4, -1], np.int64)),
                             const("s3", np.array([2, 12], np.int64))]), {"x": X24}, ["Reshape"])
# A 0 (copy a dim) in the outer target depends on the inner shape: not collapsed.
case("reshape_chain_zero", model([helper.make_node("Reshape", ["x", "s1"], ["r1"]), helper.make_node("Reshape", ["r1", "s2"], ["y"])],
                                 [vi("x", [2, 3, 4])], [vi("y", None)],
                                 [const("s1", np.array([6, 4], np.int64)), const("s2", np.array([0, 2, 2], np.int64))]),
     {"x": X24}, ["Reshape", "Reshape"])
case("transpose_cancel", model([helper.make_node("Transpose", ["x"], ["t1"], perm=[2, 0, 1]),
                                helper.make_node("Transpose", ["t1"], ["t2"], perm=[1, 2, 0]),
                                helper.make_node("Relu", ["t2"], ["y"])],
                               [vi("x", [2, 3, 4])], [vi("y", None)], []), {"x": X24}, ["Relu"])
case("transpose_compose", model([helper.make_node("Transpose", ["x"], ["t1"], perm=[2, 0, 1]),
                                 helper.make_node("Transpose", ["t1"], ["y"], perm=[0, 2, 1])],
                                [vi("x", [2, 3, 4])], [vi("y", None)], []), {"x": X24}, ["Transpose"],
     {"y": X24.transpose(2, 0, 1).transpose(0, 2, 1)})
case("squeeze_unsqueeze", model([helper.make_node("Unsqueeze", ["x", "ax"], ["u"]), helper.make_node("Squeeze", ["u", "ax"], ["s"]),
                                 helper.make_node("Relu", ["s"], ["y"])],
                                [vi("x", [2, 3, 4])], [vi("y", None)], [const("ax", np.array([0, 3], np.int64))]),
     {"x": X24}, ["Relu"])

# ---- zero Pad folded into the Conv (opt/pad_fold.c) ------------------------------------
def pad_model(pads, mode="constant", value=None, conv_pads=(0, 0, 0, 0), stride=2, opset=17, group=1, extra=False):
    ins = ["x", "pp"]
    inits = [const("pp", np.array(pads, np.int64)), const("w", rnd(4, 3 // group, 3, 3)), const("b", rnd(4))]
    if value is not None:
        ins.append("pv")
        inits.append(scalar("pv", value))
    nodes = [helper.make_node("Pad", ins, ["p"], mode=mode),
             helper.make_node("Conv", ["p", "w", "b"], ["y"], pads=list(conv_pads), strides=[stride, stride], group=group)]
    outs = [vi("y", None)]
    if extra:  # the padded value is also read elsewhere: the Pad must stay
        nodes.append(helper.make_node("Relu", ["p"], ["r"]))
        outs.append(vi("r", None))
    return model(nodes, [vi("x", [2, 3, 9, 8])], outs, inits, opset=opset)


XP = rnd(2, 3, 9, 8)
case("pad_fold", pad_model([0, 0, 0, 1, 0, 0, 1, 1]), {"x": XP}, ["Conv"])
case("pad_fold_conv_pads", pad_model([0, 0, 1, 2, 0, 0, 1, 0], conv_pads=(1, 0, 2, 1), stride=1), {"x": XP}, ["Conv"])
case("pad_fold_zero_value", pad_model([0, 0, 1, 1, 0, 0, 1, 1], value=0.0), {"x": XP}, ["Conv"])
case("pad_fold_opset10", model([helper.make_node("Pad", ["x"], ["p"], pads=[0, 0, 1, 1, 0, 0, 1, 1]),
                                helper.make_node("Conv", ["p", "w"], ["y"])],
                               [vi("x", [2, 3, 9, 8])], [vi("y", None)], [const("w", rnd(4, 3, 3, 3))], opset=10),
     {"x": XP}, ["Conv"])
case("pad_fold_axes", model([helper.make_node("Pad", ["x", "pp", "", "ax"], ["p"]),
                             helper.make_node("Conv", ["p", "w"], ["y"], strides=[2, 1])],
                            [vi("x", [2, 3, 9, 8])], [vi("y", None)],
                            [const("pp", np.array([1, 0, 2, 1], np.int64)), const("ax", np.array([-1, 2], np.int64)),
                             const("w", rnd(4, 3, 3, 3))], opset=18), {"x": XP}, ["Conv"])
case("pad_keep_value", pad_model([0, 0, 1, 1, 0, 0, 1, 1], value=0.5), {"x": XP}, ["Pad", "Conv"])
case("pad_keep_reflect", pad_model([0, 0, 1, 1, 0, 0, 1, 1], mode="reflect"), {"x": XP}, ["Pad", "Conv"])
case("pad_keep_negative", pad_model([0, 0, -1, 1, 0, 0, 1, 1]), {"x": XP}, ["Pad", "Conv"])
case("pad_keep_channels", pad_model([0, 0, 1, 1, 0, 0, 1, 1], extra=True), {"x": XP}, ["Pad", "Conv", "Relu"])

# ---- constant folding after the passes ----------------------------------------------
case("fold_after", model([helper.make_node("Identity", ["w"], ["wi"]), helper.make_node("Transpose", ["wi"], ["wt"], perm=[1, 0]),
                          helper.make_node("MatMul", ["x", "wt"], ["y"])],
                         [vi("x", [3, 5])], [vi("y", None)], [const("w", rnd(4, 5))]), {"x": rnd(3, 5)}, ["MatMul"])

# ---- the C API controls (EDGEML_LOAD_NO_OPT, edgeml_model_node, invariants) ---------------
if API:
    p = os.path.join(TMP, "conv_add_relu", "model.onnx")
    r = subprocess.run([API, p, "2"], capture_output=True, text=True)
    check(r.returncode == 0, f"test_opt_api: {r.stdout.strip()} {r.stderr.strip()}")
    p = os.path.join(TMP, "matmul_add_gelu_div", "model.onnx")
    r = subprocess.run([API, p, "1"], capture_output=True, text=True)
    check(r.returncode == 0, f"test_opt_api (gelu): {r.stdout.strip()} {r.stderr.strip()}")


# ---- bad models: one clear error line with optimisation on and off, never a crash ----------
def bad_case(name, m, feeds):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(m, path)
    args = ["infer", path, "--output-dir", os.path.join(d, "out")]
    for k, v in feeds.items():
        f = os.path.join(d, k + ".npy")
        np.save(f, v)
        args += ["--input", f"{k}={f}"]
    for opt in (False, True):
        rc, out, err = run(args, opt)
        lines = err.strip().splitlines()
        check(rc == 1 and len(lines) == 1 and lines[0].startswith("edgeml:"),
              f"{name} (opt={opt}): expected one error line and status 1, got {rc}: {err!r}")
    print(f"ok {name}: {err.strip()}")


# BN whose parameters have the wrong length: not folded, the kernel reports it.
bi, _ = bn_inits("bn", 3)
bad_case("bad_bn_length", model([conv_node("x", "w", "b", "c"), bn_node("c", "n"), helper.make_node("Relu", ["n"], ["y"])],
                                [vi("x", [2, 3, 6, 6])], [vi("y", None)], [const("w", W33), const("b", B4)] + bi),
         {"x": X4})
# Residual of an incompatible shape: fused, the epilogue reports it.
bad_case("bad_residual_shape", model([conv_node("x", "w", "b", "c"), helper.make_node("Add", ["c", "r"], ["y"])],
                                     [vi("x", [2, 3, 6, 6]), vi("r", [5])], [vi("y", None)], [const("w", W33), const("b", B4)]),
         {"x": X4, "r": rnd(5)})
# Conv with weights of the wrong rank behind a BN.
bi, _ = bn_inits("bn", 4)
bad_case("bad_conv_weights", model([conv_node("x", "w", None, "c"), bn_node("c", "y")],
                                   [vi("x", [2, 3, 6, 6])], [vi("y", None)], [const("w", rnd(4, 3))] + bi), {"x": X4})
# Gemm with a C that does not match N behind BN: not folded.
bi, _ = bn_inits("bn", 5)
bad_case("bad_gemm_c", model([helper.make_node("Gemm", ["a", "bm", "cv"], ["g"], transB=1), bn_node("g", "y")],
                             [vi("a", [3, 7])], [vi("y", None)], [const("bm", rnd(5, 7)), const("cv", rnd(4))] + bi),
         {"a": rnd(3, 7)})

shutil.rmtree(TMP, ignore_errors=True)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
