#!/usr/bin/python3
"""Fast convolution paths vs the reference kernel, through `edgeml infer`.

Usage: test_conv_fast.py EDGEML_BIN

Builds small Conv models with onnx.helper on random shapes (1-D and 2-D, odd sizes,
strides, padding incl. asymmetric and auto_pad, dilations, groups incl. depthwise,
with and without bias, weights as initializers and as a graph input, batch > 1) and
runs each with the CPU's fast paths (default), with EDGEML_CPU=avx2 when the CPU has
more, and with EDGEML_CPU=reference (the portable im2col + GEMM reference), at 1 and
2 threads. Outputs must agree within float tolerance; the fast paths must not depend
on the thread count (bit-identical). Prints 'N passed, N failed'.
"""
import os
import sys
import tempfile

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    print("test_conv_fast: python3-onnx is not installed: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastcheck  # noqa: E402

BIN = sys.argv[1]
rng = np.random.default_rng(20261204)
passed = failed = 0


def record(msg):
    """Counts one case: msg is fastcheck.check's answer (None: it agreed)."""
    global passed, failed
    if msg:
        failed += 1
        print("FAIL " + msg)
    else:
        passed += 1


def case(i, tmp, wino=False):
    two = rng.random() < 0.8 or wino
    ns = 2 if two else 1
    dw = rng.random() < 0.3
    group = 1
    if dw:
        C = int(rng.integers(1, 40))
        group, M = C, C * int(rng.integers(1, 3)) if rng.random() < 0.2 else C
    else:
        group = int(rng.choice([1, 1, 1, 2, 3, 4]))
        C = group * int(rng.integers(1, 12))
        M = group * int(rng.integers(1, 20))
    N = int(rng.choice([1, 1, 1, 2]))
    k = [int(rng.choice([1, 1, 3, 3, 5, 7, 2])) for _ in range(ns)]
    s = [int(rng.choice([1, 1, 2, 3])) for _ in range(ns)]
    d = [int(rng.choice([1, 1, 1, 2])) for _ in range(ns)]
    if wino:  # the Winograd path: 3x3, stride 1, dilation 1, group 1, >= 16 channels
        dw, group, k, s, d = False, 1, [3, 3], [1, 1], [1, 1]
        C, M = int(rng.integers(16, 80)), int(rng.integers(16, 80))
    size = [int(rng.integers(max(1, (k[j] - 1) * d[j] + 1), 40)) for j in range(ns)]
    if wino:
        size = [int(rng.integers(12, 48)) for _ in range(ns)]
    if wino == "stem":  # the few-channel direct kernel (cpu/cconv.h): a CNN's first layer, wide rows
        dw, group, ns, two = False, 1, 2, True
        C = int(rng.integers(1, 4))
        M = int(rng.choice([8, 13, 16, 24, 32, 64]))
        k = [int(rng.choice([3, 3, 5]))] * 2 if C <= 2 else [3, 3]
        s = [int(rng.choice([1, 2, 2]))] * 2
        d = [1, 1]
        size = [int(rng.integers(40, 130)) for _ in range(2)]
    if wino == "pix":  # 1x1 on few pixels: the pixels as the GEMM's rows (nn_conv_fast.c pixrows)
        dw, group, ns, two = False, 1, 2, True
        C, M = int(rng.integers(8, 300)), int(rng.integers(40, 600))
        k, s, d = [1, 1], [1, 1], [1, 1]
        size = [int(rng.integers(1, 15)) for _ in range(2)]
    if wino == "big":  # several chunks of tile rows (nn_conv_wino.c chunk_rows), the last one partial
        C, M = int(rng.integers(200, 300)), int(rng.integers(200, 300))
        size = [int(rng.integers(33, 61)) for _ in range(ns)]
    attrs = {"strides": s, "dilations": d, "group": group}
    if rng.random() < 0.2:
        attrs["auto_pad"] = str(rng.choice(["SAME_UPPER", "SAME_LOWER", "VALID"]))
    else:
        attrs["pads"] = [int(rng.integers(0, k[j])) for j in range(ns)] + \
                        [int(rng.integers(0, k[j])) for j in range(ns)]
    x = rng.standard_normal([N, C] + size).astype(np.float32)
    w = (rng.standard_normal([M, C // group] + k) * 0.3).astype(np.float32)
    b = rng.standard_normal([M]).astype(np.float32) if rng.random() < 0.7 else None
    w_input = rng.random() < 0.15
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))]
    inits = []
    names = ["x", "w"]
    if w_input:
        ins.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, list(w.shape)))
    else:
        inits.append(numpy_helper.from_array(w, "w"))
    if b is not None:
        inits.append(numpy_helper.from_array(b, "b"))
        names.append("b")
    node = helper.make_node("Conv", names, ["y"], **attrs)
    g = helper.make_graph([node], "conv", ins,
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = os.path.join(tmp, "m%d.onnx" % i)
    onnx.save(m, path)
    inputs = {"x": os.path.join(tmp, "x%d.npy" % i)}
    np.save(inputs["x"], x)
    if w_input:
        inputs["w"] = os.path.join(tmp, "w%d.npy" % i)
        np.save(inputs["w"], w)
    desc = "case %d: N=%d C=%d M=%d group=%d size=%s k=%s %s" % (i, N, C, M, group, size, k, attrs)
    record(fastcheck.check(BIN, path, inputs, tmp, "c%d" % i, desc))

def fused_case(i, tmp):
    """Conv (depthwise, few-channel direct, 1x1 on few pixels, dense) + Add(residual) + Relu/Clip/
    Sigmoid: the graph optimiser fuses the add and the activation into the conv's store; the
    reference runs them as separate ops."""
    kind = ["dw", "stem", "pix", "dense"][i % 4]
    size = int(rng.integers(5, 40))
    if kind == "dw":
        C = M = int(rng.integers(8, 48)); group = C; k = int(rng.choice([3, 5])); s = int(rng.choice([1, 2]))
    elif kind == "stem":
        C = 3; M = int(rng.choice([8, 16, 24])); group = 1; k = 3; s = int(rng.choice([1, 2]))
    elif kind == "pix":
        C = int(rng.integers(16, 200)); M = int(rng.integers(64, 300)); group = 1; k = 1; s = 1; size = int(rng.integers(2, 15))
    else:
        C = int(rng.integers(4, 20)); M = int(rng.integers(4, 20)); group = 1; k = 3; s = 1
    pad = k // 2
    out = (size + 2 * pad - k) // s + 1
    x = rng.standard_normal([1, C, size, size]).astype(np.float32)
    r = rng.standard_normal([1, M, out, out]).astype(np.float32)
    w = (rng.standard_normal([M, C // group, k, k]) * 0.3).astype(np.float32)
    b = rng.standard_normal([M]).astype(np.float32)
    act = ["Relu", "Clip", "Sigmoid"][int(rng.integers(0, 3))]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], strides=[s, s], pads=[pad] * 4, group=group),
             helper.make_node("Add", ["c", "r"], ["a"])]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    if act == "Clip":
        inits += [numpy_helper.from_array(np.array(-0.5, np.float32), "lo"), numpy_helper.from_array(np.array(1.5, np.float32), "hi")]
        nodes.append(helper.make_node("Clip", ["a", "lo", "hi"], ["y"]))
    else:
        nodes.append(helper.make_node(act, ["a"], ["y"]))
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape)),
           helper.make_tensor_value_info("r", TensorProto.FLOAT, list(r.shape))]
    g = helper.make_graph(nodes, "fused", ins, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = os.path.join(tmp, "f%d.onnx" % i)
    onnx.save(m, path)
    inputs = {"x": os.path.join(tmp, "fx%d.npy" % i), "r": os.path.join(tmp, "fr%d.npy" % i)}
    np.save(inputs["x"], x)
    np.save(inputs["r"], r)
    desc = "fused case %d: %s C=%d M=%d k=%d s=%d size=%d + Add + %s" % (i, kind, C, M, k, s, size, act)
    record(fastcheck.check(BIN, path, inputs, tmp, "f%d" % i, desc))


with tempfile.TemporaryDirectory() as tmp:
    for i in range(16):
        fused_case(i, tmp)
    n = int(os.environ.get("EDGEML_CONV_CASES", "120"))
    for i in range(n):
        case(i, tmp)
    for i in range(n, n + n // 3):
        case(i, tmp, wino=True)
    for i in range(n + n // 3, n + n // 3 + 4):
        case(i, tmp, wino="big")
    for i in range(n + n // 3 + 4, n + n // 3 + 16):
        case(i, tmp, wino="stem")
    for i in range(n + n // 3 + 16, n + n // 3 + 28):
        case(i, tmp, wino="pix")
print("conv_fast: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
