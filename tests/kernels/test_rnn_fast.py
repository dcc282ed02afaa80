#!/usr/bin/python3
"""RNN / GRU / LSTM float32 fast paths vs the reference kernel, through `edgeml infer`.

Usage: test_rnn_fast.py EDGEML_BIN

Random small models (onnx.helper, at test time): each cell, forward / reverse /
bidirectional, layout 0 and 1, batch 1..9 (the GEMV and the engine paths of the
recurrent product), hidden sizes that are not multiples of the vector width,
with and without bias, sequence_lens (incl. 0 and short entries), initial_h /
initial_c, peepholes, input_forget, linear_before_reset, explicit activation
lists (Relu, HardSigmoid, LeakyRelu... and some the fast path leaves to the
reference, and clip), some outputs left out, and W/R as graph inputs (reference
path). Each runs with the fast paths (default and EDGEML_CPU=avx2) at 1 and 2
threads and with EDGEML_CPU=reference: outputs agree within float tolerance and
do not depend on the thread count. Prints 'N passed, N failed'.
"""
import os
import sys
import tempfile

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    print("test_rnn_fast: python3-onnx is not installed: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastcheck  # noqa: E402

BIN = sys.argv[1]
rng = np.random.default_rng(20261205)
passed = failed = 0
FAST_ACTS = ["Sigmoid", "Tanh", "Relu", "HardSigmoid", "LeakyRelu"]


def case(i, tmp):
    global passed, failed
    cell = ["RNN", "GRU", "LSTM"][i % 3]
    G = {"RNN": 1, "GRU": 3, "LSTM": 4}[cell]
    direction = str(rng.choice(["forward", "reverse", "bidirectional"]))
    D = 2 if direction == "bidirectional" else 1
    layout = int(rng.random() < 0.3)
    T = int(rng.integers(1, 9))
    B = int(rng.choice([1, 1, 2, 3, 4, 5, 9]))
    I = int(rng.integers(1, 40))
    H = int(rng.choice([1, 3, 8, 17, 32, 33, 48, 70]))
    attrs = {"hidden_size": H, "direction": direction}
    if layout:
        attrs["layout"] = 1
    if cell == "GRU" and rng.random() < 0.5:
        attrs["linear_before_reset"] = 1
    if cell == "LSTM" and rng.random() < 0.15:
        attrs["input_forget"] = 1
    r = rng.random()
    na = {"RNN": 1, "GRU": 2, "LSTM": 3}[cell]
    if r < 0.25:
        acts = [str(rng.choice(FAST_ACTS)) for _ in range(na * D)]
        attrs["activations"] = acts
        alphas = []
        betas = []
        for a in acts:
            if a == "HardSigmoid":
                alphas.append(0.2 + 0.1 * float(rng.random())); betas.append(0.5)
            elif a == "LeakyRelu":
                alphas.append(0.05 + 0.1 * float(rng.random()))
        if alphas and rng.random() < 0.7:
            attrs["activation_alpha"] = alphas
            if betas:
                attrs["activation_beta"] = betas
    elif r < 0.32:
        attrs["activations"] = [str(rng.choice(["Softsign", "Elu", "Tanh"])) for _ in range(na * D)]
    elif r < 0.38:
        attrs["clip"] = 0.5 + float(rng.random())
    x = rng.standard_normal([B, T, I] if layout else [T, B, I]).astype(np.float32)
    W = (rng.standard_normal([D, G * H, I]) / np.sqrt(I + 1)).astype(np.float32)
    R = (rng.standard_normal([D, G * H, H]) / np.sqrt(H)).astype(np.float32)
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))]
    inits = []
    feeds = {"x": x}
    wr_input = rng.random() < 0.1
    for nm, v in (("W", W), ("R", R)):
        if wr_input:
            ins.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, list(v.shape)))
            feeds[nm] = v
        else:
            inits.append(numpy_helper.from_array(v, nm))
    names = ["x", "W", "R"]
    opt = []
    if rng.random() < 0.7:
        inits.append(numpy_helper.from_array(rng.standard_normal([D, 2 * G * H]).astype(np.float32) * 0.3, "B"))
        opt.append("B")
    else:
        opt.append("")
    if rng.random() < 0.35:
        sl = rng.integers(0, T + 1, size=B).astype(np.int32)
        if rng.random() < 0.5:
            sl[0] = T
        ins.append(helper.make_tensor_value_info("sl", TensorProto.INT32, [B]))
        feeds["sl"] = sl
        opt.append("sl")
    else:
        opt.append("")
    hshape = [B, D, H] if layout else [D, B, H]
    if rng.random() < 0.5:
        ins.append(helper.make_tensor_value_info("h0", TensorProto.FLOAT, hshape))
        feeds["h0"] = rng.standard_normal(hshape).astype(np.float32)
        opt.append("h0")
    else:
        opt.append("")
    if cell == "LSTM":
        if rng.random() < 0.5:
            ins.append(helper.make_tensor_value_info("c0", TensorProto.FLOAT, hshape))
            feeds["c0"] = rng.standard_normal(hshape).astype(np.float32)
            opt.append("c0")
        else:
            opt.append("")
        if rng.random() < 0.4:
            inits.append(numpy_helper.from_array(rng.standard_normal([D, 3 * H]).astype(np.float32) * 0.5, "P"))
            opt.append("P")
    while opt and opt[-1] == "":
        opt.pop()
    names += opt
    outs = ["y", "yh"] + (["yc"] if cell == "LSTM" else [])
    if rng.random() < 0.3:
        outs[int(rng.integers(0, len(outs)))] = ""
    while outs and outs[-1] == "":
        outs.pop()
    node = helper.make_node(cell, names, outs, **attrs)
    g = helper.make_graph([node], "rnn", ins,
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs if o],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    path = os.path.join(tmp, "m%d.onnx" % i)
    onnx.save(m, path)
    inputs = {}
    for k, v in feeds.items():
        inputs[k] = os.path.join(tmp, "%s%d.npy" % (k, i))
        np.save(inputs[k], v)
    desc = "case %d: %s T=%d B=%d I=%d H=%d inputs=%s outputs=%s %s" % (i, cell, T, B, I, H, names, outs, attrs)
    msg = fastcheck.check(BIN, path, inputs, tmp, "c%d" % i, desc, rtol=2e-4, atol=2e-4)
    if msg:
        failed += 1
        print("FAIL " + msg)
    else:
        passed += 1


with tempfile.TemporaryDirectory() as tmp:
    for i in range(int(os.environ.get("EDGEML_RNN_CASES", "90"))):
        case(i, tmp)
print("rnn_fast: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
