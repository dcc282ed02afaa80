#!/usr/bin/python3
"""Count the FLOPs of an ONNX model's dense ops on its real input shapes.

Usage: bench/flops.py MODEL [NAME=FILE.npy ...] [--dim SYMBOL=V ...] [--json]

FLOPs = 2 x multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul (and their integer
forms ConvInteger, MatMulInteger, QLinearConv, QLinearMatMul, counted the same way; FusedConv
/ FusedMatMul of the com.microsoft domain too). Everything else (bias adds, activations,
pooling, normalisation) is left out: this is the arithmetic a roofline compares with peak FMA
throughput. Shapes come from onnx shape inference run on the model with its graph inputs fixed
to the given .npy shapes (inputs not given: their declared dims, symbolic ones from --dim, else
1). Where inference leaves a dense node's shapes unknown (e.g. tf2onnx graphs whose Pad amounts
are computed) and the inputs are .npy files, the missing tensors are measured instead: they are
added as graph outputs of a temporary copy that ONNX Runtime runs once (tools/ort_bench.js
--shapes; skipped without node/onnxruntime-node, or with --no-ort). Nodes whose shapes stay
unknown are listed ("unknown") and not counted; nodes inside subgraphs (If/Loop/Scan bodies) are
not counted either.

  Conv           out N*M*H'*W'... x (C/group) * kH*kW...         MACs
  ConvTranspose  in  N*C*H*W...   x (M/group) * kH*kW...         MACs
  Gemm           M*N*K (transA/transB honoured)
  MatMul         batch (broadcast) * M*N*K (1-D operands promoted as the spec says)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CONV_OPS = {"Conv", "ConvInteger", "QLinearConv", "FusedConv"}
CONVT_OPS = {"ConvTranspose"}
GEMM_OPS = {"Gemm"}
MATMUL_OPS = {"MatMul", "MatMulInteger", "QLinearMatMul", "FusedMatMul"}


def _npy_shape(path):
    return list(np.load(path, mmap_mode="r").shape)


def _shape_map(model):
    """value name -> list of dims (int, or None where unknown)."""
    g = model.graph
    shapes = {}

    def add(vi):
        t = vi.type
        if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
            return
        dims = []
        for d in t.tensor_type.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else
                        (0 if d.HasField("dim_value") else None))
        shapes[vi.name] = dims

    for vi in list(g.input) + list(g.value_info) + list(g.output):
        add(vi)
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    for node in g.node:  # Constant outputs
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.HasField("t"):
                    shapes[node.output[0]] = list(a.t.dims)
    return shapes


def _known(dims):
    return dims is not None and all(isinstance(d, int) and d is not None for d in dims)


def _prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            if a.type == a.INT:
                return a.i
            if a.type == a.INTS:
                return list(a.ints)
            if a.type == a.FLOAT:
                return a.f
    return default


def _node_macs(node, shapes):
    """MACs of one node, or None when a needed shape is unknown."""
    op = node.op_type
    ins = list(node.input)

    def sh(i):
        if i >= len(ins) or not ins[i]:
            return None
        d = shapes.get(ins[i])
        return d if _known(d) else None

    def out_sh(i=0):
        if i >= len(node.output):
            return None
        d = shapes.get(node.output[i])
        return d if _known(d) else None

    if op in CONV_OPS:
        wi = 3 if op == "QLinearConv" else 1
        w = sh(wi)
        y = out_sh()
        if w is None or y is None:
            return None
        # W: M x C/group x k...; Y: N x M x spatial...
        return _prod(y) * _prod(w[1:])
    if op in CONVT_OPS:
        x = sh(0)
        w = sh(1)
        if w is None or x is None:
            return None
        # W: C x M/group x k...; each input element scatters into M/group * k outputs
        return _prod(x) * _prod(w[1:])
    if op in GEMM_OPS:
        a = sh(0)
        b = sh(1)
        if a is None or b is None or len(a) != 2 or len(b) != 2:
            return None
        m, k = (a[1], a[0]) if _attr(node, "transA", 0) else (a[0], a[1])
        n = b[0] if _attr(node, "transB", 0) else b[1]
        return m * n * k
    if op in MATMUL_OPS:
        ai, bi = (0, 3) if op == "QLinearMatMul" else (0, 1)
        a = sh(ai)
        b = sh(bi)
        if a is None or b is None:
            return None
        a = [1] + a if len(a) == 1 else a
        b = b + [1] if len(b) == 1 else b
        if op == "FusedMatMul":
            if _attr(node, "transA", 0):
                a = a[:-2] + [a[-1], a[-2]]
            if _attr(node, "transB", 0):
                b = b[:-2] + [b[-1], b[-2]]
        m, k, n = a[-2], a[-1], b[-1]
        ba, bb = a[:-2], b[:-2]
        r = max(len(ba), len(bb))
        ba = [1] * (r - len(ba)) + ba
        bb = [1] * (r - len(bb)) + bb
        batch = _prod(max(x, y) for x, y in zip(ba, bb))
        return batch * m * n * k
    return 0


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _needed(node):
    """Names of the tensors whose shapes _node_macs reads."""
    op, ins = node.op_type, list(node.input)
    if op in CONV_OPS:
        return [ins[3] if op == "QLinearConv" else ins[1], node.output[0]]
    if op in CONVT_OPS:
        return ins[:2]
    if op in MATMUL_OPS:
        return [ins[0], ins[3] if op == "QLinearMatMul" else ins[1]]
    if op in GEMM_OPS:
        return ins[:2]
    return []


def _ort_shapes(model, names, inputs, timeout=600):
    """Shapes of `names` measured by running a copy of `model` (with them as extra outputs)
    in ONNX Runtime. {} when that is not possible."""
    import onnx
    script = os.path.join(ROOT, "tools", "ort_bench.js")
    if not os.path.exists(script) or not all(isinstance(v, str) for v in inputs.values()):
        return {}
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.add().name = n  # no type: ORT infers it
    fd, tmp = tempfile.mkstemp(suffix=".onnx")
    os.close(fd)
    try:
        onnx.save(m, tmp)
        cmd = ["node", script, "--shapes", tmp] + ["%s=%s" % kv for kv in inputs.items()]
        p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, universal_newlines=True)
        if p.returncode != 0:
            return {}
        return json.loads(p.stdout.strip().splitlines()[-1]).get("shapes", {})
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}
    finally:
        os.unlink(tmp)


def count(model_path, inputs=None, dims=None, use_ort=True):
    """inputs: {name: npy path or shape list}; dims: {symbol: value}.
    Returns {"flops", "by_op": {op: flops}, "nodes", "unknown": [node names], ...}."""
    import onnx
    import onnx.shape_inference

    inputs = inputs or {}
    dims = dims or {}
    model = onnx.load(model_path, load_external_data=False)
    g = model.graph
    init_names = {i.name for i in g.initializer}
    for vi in g.input:
        if vi.name in init_names and vi.name not in inputs:
            continue
        if not vi.type.HasField("tensor_type"):
            continue
        want = inputs.get(vi.name)
        if isinstance(want, str):
            want = _npy_shape(want)
        shp = vi.type.tensor_type.shape
        if want is not None:
            del shp.dim[:]
            for d in want:
                shp.dim.add().dim_value = int(d)
        else:
            for d in shp.dim:
                if not d.HasField("dim_value"):
                    v = dims.get(d.dim_param, 1)
                    d.Clear()
                    d.dim_value = int(v)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False,
                                                     data_prop=True)
    except TypeError:  # older onnx without data_prop
        inferred = onnx.shape_inference.infer_shapes(model)
    shapes = _shape_map(inferred)
    measured = 0
    if use_ort:
        missing = []
        for node in inferred.graph.node:
            if _node_macs(node, shapes) is None:
                missing += [n for n in _needed(node) if n and not _known(shapes.get(n))]
        if missing:
            got = _ort_shapes(model, sorted(set(missing)), inputs)
            for k, v in got.items():
                if k in missing:
                    shapes[k] = list(v)
                    measured += 1
    total = 0
    by_op = {}
    unknown = []
    dense = 0
    for node in inferred.graph.node:
        macs = _node_macs(node, shapes)
        if macs is None:
            unknown.append(node.name or node.op_type)
            continue
        if macs:
            dense += 1
            f = 2 * macs
            total += f
            by_op[node.op_type] = by_op.get(node.op_type, 0) + f
    return {"model": model_path, "flops": total, "gflop": total / 1e9, "by_op": by_op,
            "dense_nodes": dense, "nodes": len(inferred.graph.node), "unknown": unknown,
            "measured_tensors": measured}


def conv_share(result):
    """Fraction of the counted FLOPs in convolutions."""
    f = result["flops"]
    if not f:
        return 0.0
    return sum(v for k, v in result["by_op"].items() if k in CONV_OPS | CONVT_OPS) / f


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("inputs", nargs="*", help="NAME=FILE.npy")
    ap.add_argument("--dim", action="append", default=[], help="SYMBOL=V")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-ort", action="store_true",
                    help="do not measure shapes that inference leaves unknown")
    a = ap.parse_args(argv)
    inputs = {}
    for s in a.inputs:
        if "=" not in s:
            ap.error("bad input %r (want NAME=FILE.npy)" % s)
        k, v = s.split("=", 1)
        inputs[k] = v
    dims = {}
    for s in a.dim:
        k, _, v = s.partition("=")
        dims[k] = int(v)
    r = count(a.model, inputs, dims, use_ort=not a.no_ort)
    if a.json:
        print(json.dumps(r))
        return 0
    print("%s: %.4f GFLOP (2 x MACs) in %d dense nodes of %d" % (
        a.model, r["gflop"], r["dense_nodes"], r["nodes"]))
    if r["measured_tensors"]:
        print("  %d tensor shape(s) measured with ONNX Runtime" % r["measured_tensors"])
    for k, v in sorted(r["by_op"].items(), key=lambda kv: -kv[1]):
        print("  %-14s %10.4f GFLOP  %5.1f%%" % (k, v / 1e9, 100.0 * v / r["flops"]))
    if r["unknown"]:
        print("  unknown shapes (not counted): %d node(s): %s" % (
            len(r["unknown"]), ", ".join(r["unknown"][:8]) + (" ..." if len(r["unknown"]) > 8 else "")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
