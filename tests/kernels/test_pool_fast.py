#!/usr/bin/python3
"""2-D MaxPool / AveragePool fast paths (cpu/pool2d.h) vs the reference kernel.

Usage: test_pool_fast.py EDGEML_BIN

Random float32 pools (kernels 1-7, strides 1-3, dilations, asymmetric pads and
auto_pad, ceil_mode, count_include_pad, odd sizes, batch > 1) on inputs that hold
NaN, +-inf and whole NaN windows, run with the fast path (default, EDGEML_CPU=avx2)
at 1 and 2 threads and with EDGEML_CPU=reference: the results must be identical
bit for bit (NaN matching NaN). Prints 'N passed, N failed'.
"""
import os
import sys
import tempfile

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper
except ImportError:
    print("test_pool_fast: python3-onnx is not installed: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastcheck  # noqa: E402

BIN = sys.argv[1]
rng = np.random.default_rng(77)
passed = failed = 0


with tempfile.TemporaryDirectory() as tmp:
    for i in range(int(os.environ.get("EDGEML_POOL_CASES", "80"))):
        op = "MaxPool" if rng.random() < 0.6 else "AveragePool"
        k = [int(rng.integers(1, 8)) for _ in range(2)]
        a = {"kernel_shape": k, "strides": [int(rng.integers(1, 4)) for _ in range(2)]}
        if op == "MaxPool" and rng.random() < 0.3:
            a["dilations"] = [int(rng.integers(1, 3)) for _ in range(2)]
        d = a.get("dilations", [1, 1])
        if rng.random() < 0.2:
            a["auto_pad"] = str(rng.choice(["SAME_UPPER", "SAME_LOWER", "VALID"]))
        else:
            a["pads"] = [int(rng.integers(0, k[0])), int(rng.integers(0, k[1])),
                         int(rng.integers(0, k[0])), int(rng.integers(0, k[1]))]
            if rng.random() < 0.4:
                a["ceil_mode"] = 1
        if op == "AveragePool":
            a["count_include_pad"] = int(rng.integers(0, 2))
        shape = [int(rng.choice([1, 2])), int(rng.integers(1, 9))] + \
                [int(rng.integers((k[j] - 1) * d[j] + 1, 40)) for j in range(2)]
        x = rng.standard_normal(shape).astype(np.float32)
        flat = x.reshape(-1)
        for v in (np.nan, np.inf, -np.inf):
            flat[rng.integers(0, flat.size, size=max(1, flat.size // 50))] = v
        if rng.random() < 0.3:
            x[..., : k[0] * d[0], : k[1] * d[1]] = np.nan  # whole NaN windows
        node = helper.make_node(op, ["x"], ["y"], **a)
        g = helper.make_graph([node], "p", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19 if op == "AveragePool" else 12)])
        m.ir_version = 8
        path = os.path.join(tmp, "m%d.onnx" % i)
        onnx.save(m, path)
        xf = os.path.join(tmp, "x%d.npy" % i)
        np.save(xf, x)
        desc = "case %d %s %s x%s" % (i, op, a, shape)
        msg = fastcheck.check(BIN, path, {"x": xf}, tmp, "p%d" % i, desc, rtol=0.0, atol=0.0)
        if msg:
            failed += 1
            print("FAIL " + msg)
        else:
            passed += 1
print("pool_fast: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
