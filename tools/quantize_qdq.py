#!/usr/bin/python3
"""Static QDQ quantisation of a float ONNX model (edgeml's int8 test models; issue 10).

Usage: tools/quantize_qdq.py MODEL OUT.onnx [--input NAME=FILE.npy] [--calib N] [--seed S]
                             [--activations uint8|int8] [--runner ort|EDGEML_BIN]

What it writes: a copy of MODEL where
  - every activation tensor read by Conv, Gemm, MatMul, Add or GlobalAveragePool (and the
    graph input) goes through QuantizeLinear -> DequantizeLinear (one pair per tensor, shared
    by its consumers), per-tensor, asymmetric, uint8 (default) or int8, with the range
    [min(0, lo), max(0, hi)] seen on the calibration inputs;
  - Conv/Gemm/MatMul weights become int8 initializers, per output channel, symmetric
    (zero point 0, scale max|w| / 127), read through DequantizeLinear(axis = channel);
  - Conv/Gemm biases become int32 initializers with scale x_scale * w_scale (zero point 0),
    read through DequantizeLinear, as ONNX Runtime's quantiser writes them;
  - graph outputs stay float (the last op's output is not quantised).
This is the QDQ format ONNX Runtime's quantiser emits (QUInt8 activations, QInt8 weights);
runtimes fuse DQ -> op -> Q into integer kernels.

Calibration: the float model is run with every tensor to quantise exposed as an extra graph
output (through Identity nodes named calib_<i>), on the given input plus N - 1 seeded random
inputs of the same shape scaled to its standard deviation. --runner ort (default) uses
tools/ort_run.js (onnxruntime-node); a path runs that edgeml binary (`edgeml infer`).
Run with Debian's /usr/bin/python3 (python3-onnx, python3-numpy).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
QUANT_OPS = {"Conv", "Gemm", "MatMul", "Add", "GlobalAveragePool"}


def run_model(model_path, feeds, runner, outdir):
    args = []
    for k, f in feeds.items():
        args.append("%s=%s" % (k, f))
    if runner == "ort":
        cmd = ["node", os.path.join(HERE, "ort_run.js"), model_path, outdir] + args
    else:
        cmd = [runner, "infer", model_path, "--output-dir", outdir]
        for a in args:
            cmd += ["--input", a]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit("quantize_qdq: running the float model failed: " + r.stderr.strip())


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--input", action="append", default=[])
    ap.add_argument("--calib", type=int, default=4)
    ap.add_argument("--seed", type=int, default=20261204)
    ap.add_argument("--activations", choices=["uint8", "int8"], default="uint8")
    ap.add_argument("--runner", default="ort")
    a = ap.parse_args(argv)
    m = onnx.load(a.model)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    consts = {}
    for n in g.node:
        if n.op_type == "Constant":
            for at in n.attribute:
                if at.name == "value":
                    consts[n.output[0]] = numpy_helper.to_array(at.t)
    graph_inputs = [i for i in g.input if i.name not in inits]
    outputs = {o.name for o in g.output}

    # Tensors to quantise: activation inputs of the quantisable ops (not constants).
    acts = []
    for n in g.node:
        if n.op_type not in QUANT_OPS:
            continue
        ins = n.input[:1] if n.op_type in ("Conv", "Gemm", "GlobalAveragePool") else n.input[:2]
        for t in ins:
            if t and t not in inits and t not in consts and t not in acts and t not in outputs:
                acts.append(t)

    # Calibration inputs.
    rng = np.random.default_rng(a.seed)
    base = {}
    for spec in a.input:
        k, f = spec.split("=", 1)
        base[k] = np.load(f)
    for i in graph_inputs:
        if i.name not in base:
            dims = [d.dim_value or 1 for d in i.type.tensor_type.shape.dim]
            base[i.name] = rng.standard_normal(dims).astype(np.float32)
    lo = {t: np.inf for t in acts}
    hi = {t: -np.inf for t in acts}
    with tempfile.TemporaryDirectory() as tmp:
        cm = onnx.ModelProto()
        cm.CopyFrom(m)
        for i, t in enumerate(acts):
            cm.graph.node.append(helper.make_node("Identity", [t], ["calib_%d" % i]))
            cm.graph.output.append(helper.make_tensor_value_info("calib_%d" % i, TensorProto.FLOAT, None))
        cpath = os.path.join(tmp, "calib.onnx")
        onnx.save(cm, cpath)
        for r in range(max(1, a.calib)):
            feeds = {}
            for k, v in base.items():
                x = v if r == 0 else (rng.standard_normal(v.shape) * float(v.std() or 1.0)).astype(v.dtype)
                f = os.path.join(tmp, "%s_%d.npy" % (k, r))
                np.save(f, x)
                feeds[k] = f
            od = os.path.join(tmp, "out%d" % r)
            run_model(cpath, feeds, a.runner, od)
            for i, t in enumerate(acts):
                v = np.load(os.path.join(od, "calib_%d.npy" % i))
                lo[t] = min(lo[t], float(v.min()))
                hi[t] = max(hi[t], float(v.max()))

    adt = TensorProto.UINT8 if a.activations == "uint8" else TensorProto.INT8
    qmin, qmax = (0, 255) if a.activations == "uint8" else (-128, 127)
    new_inits = []
    qparams = {}
    for t in acts:
        rmin, rmax = min(0.0, lo[t]), max(0.0, hi[t])
        scale = (rmax - rmin) / (qmax - qmin)
        if not scale > 0:
            scale = 1.0
        zp = int(np.clip(np.round(qmin - rmin / scale), qmin, qmax))
        sn, zn = t + "_scale", t + "_zero_point"
        new_inits.append(numpy_helper.from_array(np.array(scale, np.float32), sn))
        new_inits.append(helper.make_tensor(zn, adt, [], [zp]))
        qparams[t] = (sn, zn, np.float32(scale))

    # Rewire: each quantised tensor t is read through DQ(Q(t)).
    rename = {t: t + "_dq" for t in acts}
    new_nodes = []
    for t in acts:
        if t in {i.name for i in graph_inputs}:
            sn, zn, _ = qparams[t]
            new_nodes.append(helper.make_node("QuantizeLinear", [t, sn, zn], [t + "_q"], name=t + "_Q"))
            new_nodes.append(helper.make_node("DequantizeLinear", [t + "_q", sn, zn], [t + "_dq"], name=t + "_DQ"))
    removed = set()
    for n in g.node:
        node = onnx.NodeProto()
        node.CopyFrom(n)
        if n.op_type in QUANT_OPS:
            for j, t in enumerate(node.input):
                if t in rename:
                    node.input[j] = rename[t]
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits:
            x = n.input[0]
            wname = n.input[1]
            w = numpy_helper.to_array(inits[wname]).astype(np.float64)
            trans_b = any(at.name == "transB" and at.i for at in n.attribute)
            axis = 0 if n.op_type == "Conv" or (n.op_type == "Gemm" and trans_b) else 1
            wm = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
            ws = np.abs(wm).max(axis=1) / 127.0
            ws[ws == 0] = 1.0
            ws = ws.astype(np.float32)
            shape = [1] * w.ndim
            shape[axis] = -1
            wq = np.clip(np.round(w / ws.reshape(shape)), -127, 127).astype(np.int8)
            new_inits.append(numpy_helper.from_array(wq, wname + "_quantized"))
            new_inits.append(numpy_helper.from_array(ws, wname + "_scale"))
            new_inits.append(numpy_helper.from_array(np.zeros(ws.shape, np.int8), wname + "_zero_point"))
            new_nodes.append(helper.make_node("DequantizeLinear", [wname + "_quantized", wname + "_scale",
                                              wname + "_zero_point"], [wname + "_dq"], name=wname + "_DQ",
                                              axis=axis))
            node.input[1] = wname + "_dq"
            removed.add(wname)
            if len(n.input) > 2 and n.input[2] in inits and x in qparams:
                bname = n.input[2]
                b = numpy_helper.to_array(inits[bname]).astype(np.float64)
                bs = (qparams[x][2] * ws).astype(np.float32)
                if b.shape == bs.shape:
                    bq = np.clip(np.round(b / bs.astype(np.float64)), -2**31, 2**31 - 1).astype(np.int32)
                    new_inits.append(numpy_helper.from_array(bq, bname + "_quantized"))
                    new_inits.append(numpy_helper.from_array(bs, bname + "_scale"))
                    new_inits.append(numpy_helper.from_array(np.zeros(bs.shape, np.int32), bname + "_zero_point"))
                    new_nodes.append(helper.make_node("DequantizeLinear", [bname + "_quantized", bname + "_scale",
                                                      bname + "_zero_point"], [bname + "_dq"], name=bname + "_DQ",
                                                      axis=0))
                    node.input[2] = bname + "_dq"
                    removed.add(bname)
        new_nodes.append(node)
        for o in n.output:
            if o in rename and o not in {i.name for i in graph_inputs}:
                sn, zn, _ = qparams[o]
                new_nodes.append(helper.make_node("QuantizeLinear", [o, sn, zn], [o + "_q"], name=o + "_Q"))
                new_nodes.append(helper.make_node("DequantizeLinear", [o + "_q", sn, zn], [o + "_dq"], name=o + "_DQ"))
    del g.node[:]
    g.node.extend(new_nodes)
    keep = [t for t in g.initializer if t.name not in removed]
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    if m.opset_import[0].version < 13:
        sys.exit("quantize_qdq: per-channel DequantizeLinear needs opset >= 13")
    onnx.checker.check_model(m)
    onnx.save(m, a.out)
    print("quantize_qdq: %d activations, %d weights quantised -> %s" % (len(acts), len(removed), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
