#!/usr/bin/python3
"""MatMul and Gemm fast paths vs the reference kernels, through `edgeml infer`.

Usage: test_matmul_fast.py EDGEML_BIN

Random MatMul models (1-D..4-D operands with numpy batch broadcasting, B as a
constant initializer or a graph input) and Gemm models (transA/transB, alpha,
beta, C absent / scalar / [N] / [1,N] / [M,1] / [M,N], B constant or not), each
run with the fast paths (default and EDGEML_CPU=avx2) at 1 and 2 threads and with
EDGEML_CPU=reference. Outputs must agree within float tolerance and not depend on
the thread count. Prints 'N passed, N failed'.
"""
import os
import sys
import tempfile

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    print("test_matmul_fast: python3-onnx is not installed: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastcheck  # noqa: E402

BIN = sys.argv[1]
rng = np.random.default_rng(4242)
passed = failed = 0


def check(i, tmp, node, feeds, consts, desc):
    global passed, failed
    nodes = node if isinstance(node, list) else [node]
    ins = [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape)) for k, v in feeds.items()]
    inits = [numpy_helper.from_array(v, k) for k, v in consts.items()]
    g = helper.make_graph(nodes, "g", ins, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = os.path.join(tmp, "m%d.onnx" % i)
    onnx.save(m, path)
    inputs = {}
    for k, v in feeds.items():
        inputs[k] = os.path.join(tmp, "%s%d.npy" % (k, i))
        np.save(inputs[k], v)
    msg = fastcheck.check(BIN, path, inputs, tmp, "m%d" % i, desc)
    if msg:
        failed += 1
        print("FAIL " + msg)
    else:
        passed += 1


def r(*shape):
    return rng.standard_normal(shape).astype(np.float32)


with tempfile.TemporaryDirectory() as tmp:
    n = int(os.environ.get("EDGEML_MM_CASES", "60"))
    for i in range(n):
        M, K, N = (int(rng.integers(1, 70)) for _ in range(3))
        if rng.random() < 0.2:
            M, K, N = int(rng.integers(100, 300)), int(rng.integers(100, 600)), int(rng.integers(100, 300))
        kind = rng.integers(0, 5)
        if kind == 0:
            a, b = r(M, K), r(K, N)
        elif kind == 1:
            a, b = r(int(rng.integers(1, 4)), M, K), r(K, N)
        elif kind == 2:
            bt = int(rng.integers(1, 4))
            a, b = r(bt, M, K), r(bt, K, N)
        elif kind == 3:
            a, b = r(2, 1, M, K), r(3, K, N)
        else:
            a, b = r(K), r(K, N)
        const_b = rng.random() < 0.6
        feeds = {"a": a} if const_b else {"a": a, "b": b}
        consts = {"b": b} if const_b else {}
        check(i, tmp, helper.make_node("MatMul", ["a", "b"], ["y"]), feeds, consts,
              "MatMul case %d a%s b%s const_b=%s" % (i, a.shape, b.shape, const_b))
    for i in range(n, 2 * n):
        M, K, N = (int(rng.integers(1, 90)) for _ in range(3))
        ta, tb = int(rng.integers(0, 2)), int(rng.integers(0, 2))
        alpha = float(rng.choice([1.0, 1.0, 0.5]))
        beta = float(rng.choice([1.0, 1.0, 2.0, 0.0]))
        a = r(K, M) if ta else r(M, K)
        b = r(N, K) if tb else r(K, N)
        cshape = [None, (), (N,), (1, N), (M, 1), (M, N)][int(rng.integers(0, 6))]
        names = ["a", "b"]
        consts = {}
        feeds = {"a": a}
        if rng.random() < 0.7:
            consts["b"] = b
        else:
            feeds["b"] = b
        if cshape is not None:
            consts["c"] = r(*cshape) if cshape else np.array(rng.standard_normal(), dtype=np.float32)
            names.append("c")
        node = helper.make_node("Gemm", names, ["y"], transA=ta, transB=tb, alpha=alpha, beta=beta)
        check(i, tmp, node, feeds, consts, "Gemm case %d M=%d K=%d N=%d ta=%d tb=%d alpha=%g beta=%g C=%s"
              % (i, M, K, N, ta, tb, alpha, beta, cshape))
    # MatMul -> Add(bias row or full residual) -> activation: fused by graph optimisation,
    # the bias row becomes the GEMM's column bias.
    for i in range(2 * n, 2 * n + n // 2):
        M, K, N = (int(rng.integers(1, 80)) for _ in range(3))
        a, b = r(int(rng.integers(1, 3)), M, K), r(K, N)
        bias_shape = [(N,), (1, N), (1, 1, N), (M, N), (1, M, N)][int(rng.integers(0, 5))]
        bias = r(*bias_shape)
        act = str(rng.choice(["Relu", "Sigmoid", "Tanh", "Gelu"]))
        nodes = [helper.make_node("MatMul", ["a", "b"], ["t"]), helper.make_node("Add", ["t", "bias"], ["u"])]
        if act == "Gelu":
            nodes += [helper.make_node("Div", ["u", "s2"], ["v"]), helper.make_node("Erf", ["v"], ["e"]),
                      helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["u", "e1"], ["m"]),
                      helper.make_node("Mul", ["m", "half"], ["y"])]
            consts = {"b": b, "bias": bias, "s2": np.array(1.4142135, np.float32),
                      "one": np.array(1.0, np.float32), "half": np.array(0.5, np.float32)}
        else:
            nodes.append(helper.make_node(act, ["u"], ["y"]))
            consts = {"b": b, "bias": bias}
        check(i, tmp, nodes, {"a": a}, consts, "MatMul+Add+%s case %d a%s bias%s" % (act, i, a.shape, bias_shape))
print("matmul_fast: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
