#!/usr/bin/python3
"""Copy an ONNX model, adding intermediate tensors as graph outputs (for finding where two
runtimes start to disagree: run the copy with edgeml and tools/ort_run.js, then compare).

Usage: expose_intermediates.py MODEL OUT.onnx [--op TYPE ...] [--name TENSOR ...] [--every N]
                               [--replace] [--list]

  --op TYPE     expose the outputs of every node of this op type (repeatable)
  --name T      expose tensor T (repeatable)
  --every N     expose the first output of every N-th node (in graph order)
  --replace     the new outputs replace the graph's outputs instead of being added
  --list        print "index op_type output-names" per node and exit (OUT.onnx unused)
Names that cannot be file names (containing '/') are exposed through an Identity node as
"x_" + the name with '/' replaced by '_'. Tensor types come from onnx shape inference; a tensor whose type cannot be inferred is exposed
as float32 unless it is an output of a node kind known to produce another type.
"""
import argparse
import sys

import onnx
from onnx import TensorProto, helper, shape_inference


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--op", action="append", default=[])
    ap.add_argument("--name", action="append", default=[])
    ap.add_argument("--every", type=int, default=0)
    ap.add_argument("--replace", action="store_true")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    m = onnx.load(args.model)
    g = m.graph
    if args.list:
        for i, n in enumerate(g.node):
            print(i, n.op_type, " ".join(n.output))
        return 0
    try:
        inferred = shape_inference.infer_shapes(m)
        types = {vi.name: vi.type.tensor_type.elem_type for vi in
                 list(inferred.graph.value_info) + list(inferred.graph.output) +
                 list(inferred.graph.input)}
    except Exception as e:  # opsets newer than this onnx knows, etc.
        print("expose_intermediates: shape inference failed (%s); guessing types" % e,
              file=sys.stderr)
        types = {}
    special = {"DynamicQuantizeLinear": [TensorProto.UINT8, TensorProto.FLOAT, TensorProto.UINT8],
               "Shape": [TensorProto.INT64], "Size": [TensorProto.INT64],
               "ConvInteger": [TensorProto.INT32], "MatMulInteger": [TensorProto.INT32]}
    want = []
    for i, n in enumerate(g.node):
        outs = []
        if n.op_type in args.op:
            outs = list(n.output)
        elif args.every and i % args.every == 0:
            outs = list(n.output[:1])
        for j, o in enumerate(outs):
            if o:
                want.append((o, n.op_type, j))
    producers = {o: (n.op_type, j) for n in g.node for j, o in enumerate(n.output)}
    for t in args.name:
        if t not in producers:
            print("expose_intermediates: no node produces %r" % t, file=sys.stderr)
            return 1
        want.append((t,) + producers[t])
    existing = {o.name for o in g.output}
    new = []
    seen = set()
    for name, op, j in want:
        if name in seen or (name in existing and not args.replace):
            continue
        seen.add(name)
        t = types.get(name) or (special.get(op, [])[j:j + 1] or [TensorProto.FLOAT])[0]
        oname = name
        if "/" in name or name in ("", ".", ".."):  # not a file name: add a renamed copy
            oname = "x_" + name.replace("/", "_")
            while oname in producers or oname in seen:
                oname += "_"
            seen.add(oname)
            g.node.append(helper.make_node("Identity", [name], [oname]))
        new.append(helper.make_tensor_value_info(oname, t, None))
    if args.replace:
        del g.output[:]
    g.output.extend(new)
    onnx.save(m, args.out)
    print("expose_intermediates: %d outputs added" % len(new), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
