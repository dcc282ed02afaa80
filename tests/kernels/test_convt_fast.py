#!/usr/bin/python3
"""ConvTranspose float32 fast path vs the reference kernel, through `edgeml infer`.

Usage: test_convt_fast.py EDGEML_BIN

Random small models (onnx.helper, at test time): 1-D and 2-D, odd sizes,
strides, pads (asymmetric), output_padding, output_shape, auto_pad, dilations,
groups (incl. depthwise), 1x1 stride-1 layers (the direct GEMM path), with and
without bias, batch > 1, W as an initializer (packed at prepare) or a graph
input (packed per run), and ConvTranspose -> Add(residual) -> activation chains
that graph optimisation fuses into the kernel's epilogue. Each runs with the
fast paths (default and EDGEML_CPU=avx2) at 1 and 2 threads and with
EDGEML_CPU=reference: outputs agree within float tolerance and do not depend
on the thread count. Prints 'N passed, N failed'.
"""
import os
import sys
import tempfile

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    print("test_convt_fast: python3-onnx is not installed: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastcheck  # noqa: E402

BIN = sys.argv[1]
rng = np.random.default_rng(20261206)
passed = failed = 0


def case(i, tmp):
    global passed, failed
    ns = 2 if rng.random() < 0.75 else 1
    if rng.random() < 0.15:
        group = C = int(rng.integers(1, 24))
        Mg = int(rng.choice([1, 1, 2]))
    else:
        group = int(rng.choice([1, 1, 1, 2, 3]))
        C = group * int(rng.integers(1, 10))
        Mg = int(rng.integers(1, 12))
    M = group * Mg
    N = int(rng.choice([1, 1, 2]))
    pointwise = rng.random() < 0.12
    k = [1] * ns if pointwise else [int(rng.choice([1, 2, 3, 3, 4, 5])) for _ in range(ns)]
    s = [1] * ns if pointwise else [int(rng.choice([1, 1, 2, 2, 3])) for _ in range(ns)]
    d = [1] * ns if pointwise else [int(rng.choice([1, 1, 1, 2])) for _ in range(ns)]
    size = [int(rng.integers(1, 20)) for _ in range(ns)]
    attrs = {"strides": s, "dilations": d, "group": group}
    if not pointwise:
        r = rng.random()
        if r < 0.15:
            attrs["auto_pad"] = str(rng.choice(["SAME_UPPER", "SAME_LOWER", "VALID"]))
        elif r < 0.25:
            attrs["output_shape"] = [size[j] * s[j] + int(rng.integers(0, 2)) for j in range(ns)]
        else:
            attrs["pads"] = [int(rng.integers(0, k[j])) for j in range(ns)] + \
                            [int(rng.integers(0, k[j])) for j in range(ns)]
            if rng.random() < 0.3:
                attrs["output_padding"] = [int(rng.integers(0, max(s[j], d[j]))) for j in range(ns)]
    x = rng.standard_normal([N, C] + size).astype(np.float32)
    w = (rng.standard_normal([C, Mg] + k) * 0.3).astype(np.float32)
    b = rng.standard_normal([M]).astype(np.float32) if rng.random() < 0.7 else None
    w_input = rng.random() < 0.15
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))]
    inits = []
    names = ["x", "w"]
    feeds = {"x": x}
    if w_input:
        ins.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, list(w.shape)))
        feeds["w"] = w
    else:
        inits.append(numpy_helper.from_array(w, "w"))
    if b is not None:
        inits.append(numpy_helper.from_array(b, "b"))
        names.append("b")
    chain = rng.random() < 0.3
    node = helper.make_node("ConvTranspose", names, ["t" if chain else "y"], **attrs)
    nodes = [node]
    if chain:
        # residual of the output's shape (a graph input) and an activation after it
        ref_shape = None
        tmp_path = os.path.join(tmp, "probe%d.onnx" % i)
        g0 = helper.make_graph([helper.make_node("ConvTranspose", names, ["t"], **attrs)], "p", ins,
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)], inits)
        m0 = helper.make_model(g0, opset_imports=[helper.make_opsetid("", 17)])
        m0.ir_version = 8
        onnx.save(m0, tmp_path)
        inp0 = {}
        for kk, v in feeds.items():
            inp0[kk] = os.path.join(tmp, "p%s%d.npy" % (kk, i))
            np.save(inp0[kk], v)
        res0, _ = fastcheck.run(BIN, tmp_path, inp0, "reference", 1, os.path.join(tmp, "probe%d" % i))
        if res0 is None:
            chain = False
            nodes = [helper.make_node("ConvTranspose", names, ["y"], **attrs)]
        else:
            ref_shape = list(res0["t"].shape)
            ins.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, ref_shape))
            feeds["r"] = rng.standard_normal(ref_shape).astype(np.float32)
            act = str(rng.choice(["Relu", "Sigmoid", "Tanh"]))
            nodes += [helper.make_node("Add", ["t", "r"], ["u"]), helper.make_node(act, ["u"], ["y"])]
    g = helper.make_graph(nodes, "convt", ins,
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = os.path.join(tmp, "m%d.onnx" % i)
    onnx.save(m, path)
    inputs = {}
    for kk, v in feeds.items():
        inputs[kk] = os.path.join(tmp, "%s%d.npy" % (kk, i))
        np.save(inputs[kk], v)
    desc = "case %d: N=%d C=%d M=%d group=%d size=%s k=%s bias=%s w_input=%s chain=%s %s" % (
        i, N, C, M, group, size, k, b is not None, w_input, chain, attrs)
    msg = fastcheck.check(BIN, path, inputs, tmp, "c%d" % i, desc)
    if msg:
        failed += 1
        print("FAIL " + msg)
    else:
        passed += 1


with tempfile.TemporaryDirectory() as tmp:
    for i in range(int(os.environ.get("EDGEML_CONVT_CASES", "100"))):
        case(i, tmp)
print("convt_fast: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
