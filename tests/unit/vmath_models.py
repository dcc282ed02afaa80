#!/usr/bin/python3
"""Small float32 models for test_vmath --models: each fast kernel (element-wise,
broadcasting arithmetic, Softmax/LogSoftmax, pooling, BatchNormalization) on
shapes with odd sizes and tails. The directory name ends in __tol<rel> (the
tolerance of fast vs reference, relative with an absolute floor of 1)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

out = sys.argv[1]
rng = np.random.default_rng(7)


def save(name, opset, nodes, inputs, inits=None, tol="1e-6"):
    g_in = [helper.make_tensor_value_info(k, TP.FLOAT, list(v)) for k, v in inputs]
    g_out = [helper.make_tensor_value_info("y", TP.FLOAT, None)]
    g_init = [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in (inits or {}).items()]
    g = helper.make_graph(nodes, name, g_in, g_out, initializer=g_init)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    d = os.path.join(out, f"{name}__tol{tol}")
    os.makedirs(d, exist_ok=True)
    onnx.save(m, os.path.join(d, "model.onnx"))


N = helper.make_node
shapes = [[1], [7], [3, 37], [2, 5, 17, 19], [1, 64, 50, 50]]
unary = [("Exp", {}, "4e-7"), ("Sigmoid", {}, "4e-7"), ("Tanh", {}, "4e-7"), ("Erf", {}, "4e-7"),
         ("Relu", {}, "0"), ("LeakyRelu", {"alpha": 0.07}, "0"), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, "0"),
         ("HardSwish", {}, "0"), ("Softplus", {}, "4e-7"), ("Mish", {}, "6e-7"), ("Neg", {}, "0"), ("Abs", {}, "0"),
         ("Reciprocal", {}, "0")]
for i, s in enumerate(shapes):
    for op, attrs, tol in unary:
        save(f"u_{op}_{i}", 18, [N(op, ["x"], ["y"], **attrs)], [("x", s)], tol=tol)
    save(f"u_Log_{i}", 18, [N("Abs", ["x"], ["a"]), N("Log", ["a"], ["y"])], [("x", s)], tol="4e-7")
    save(f"u_Gelu_{i}", 20, [N("Gelu", ["x"], ["y"])], [("x", s)], tol="1e-6")
    save(f"u_GeluTanh_{i}", 20, [N("Gelu", ["x"], ["y"], approximate="tanh")], [("x", s)], tol="2e-6")

bshapes = [([2, 5, 17, 19], [2, 5, 17, 19]), ([2, 5, 17, 19], []), ([], [3, 33]), ([2, 40, 7, 9], [1, 40, 1, 1]),
           ([1, 40, 1, 1], [3, 40, 5, 3]), ([2, 6, 7, 9], [6, 1, 9]), ([4, 1, 33], [1, 5, 1]), ([1, 96, 56, 56], [1, 96, 1, 1]),
           ([3, 17], [17])]
for i, (sa, sb) in enumerate(bshapes):
    for op in ("Add", "Sub", "Mul", "Div"):
        save(f"b_{op}_{i}", 14, [N(op, ["a", "b"], ["y"])], [("a", sa), ("b", sb)], tol="0")

for i, (s, ax, opset) in enumerate([([3, 1000], -1, 13), ([2, 7, 33], 1, 13), ([1, 19, 5, 300], 1, 13), ([4, 5, 6], 1, 11),
                                    ([2, 3, 17], 0, 13), ([1, 1], -1, 13)]):
    save(f"s_Softmax_{i}", opset, [N("Softmax", ["x"], ["y"], axis=ax)], [("x", s)], tol="1e-6")
    save(f"s_LogSoftmax_{i}", opset, [N("LogSoftmax", ["x"], ["y"], axis=ax)], [("x", s)], tol="1e-6")

for i, s in enumerate([[1, 3, 7, 7], [2, 33, 13, 11], [1, 1, 1, 1], [1, 5, 20]]):
    save(f"p_GAP_{i}", 13, [N("GlobalAveragePool", ["x"], ["y"])], [("x", s)], tol="1e-6")
    save(f"p_GMP_{i}", 13, [N("GlobalMaxPool", ["x"], ["y"])], [("x", s)], tol="0")
pools = [dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), dict(kernel_shape=[2, 2], strides=[2, 2]),
         dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1), dict(kernel_shape=[3, 2], strides=[1, 3], pads=[2, 1, 0, 1], dilations=[2, 1]),
         dict(kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2])]
for i, a in enumerate(pools):
    save(f"p_MaxPool_{i}", 12, [N("MaxPool", ["x"], ["y"], **a)], [("x", [2, 3, 15, 14])], tol="0")
    if "dilations" not in a:
        for cip in (0, 1):
            save(f"p_AvgPool_{i}_{cip}", 19, [N("AveragePool", ["x"], ["y"], count_include_pad=cip, **a)], [("x", [2, 3, 15, 14])], tol="0")

for i, (C, s) in enumerate([(5, [2, 5, 17, 19]), (40, [1, 40, 3, 3]), (3, [4, 3])]):
    inits = {"sc": rng.uniform(0.5, 2, C), "bi": rng.uniform(-1, 1, C), "mu": rng.uniform(-1, 1, C), "va": rng.uniform(0.1, 2, C)}
    save(f"n_BatchNorm_{i}", 15, [N("BatchNormalization", ["x", "sc", "bi", "mu", "va"], ["y"])], [("x", s)], inits, tol="1e-6")
print(len(os.listdir(out)), "cases")
