#!/usr/bin/python3
"""LayerNormalization and Resize float32 fast paths vs the reference kernels,
through `edgeml infer`.

Usage: test_norm_resize_fast.py EDGEML_BIN

LayerNormalization: random ranks 1..4, every axis, row lengths that are not
multiples of the vector width, scale/bias of the normalised shape (with and
dims of 1 left out; broadcasting ones go to the reference), bias absent, the
Mean and InvStdDev outputs, inputs with a large mean. Resize: NCHW (and rank
3 / 5) float32, nearest (every nearest_mode) and linear in half_pixel,
asymmetric, align_corners, pytorch_half_pixel (plus modes left to the
reference: cubic, tf_crop_and_resize, antialias), up and down scales given as
scales or sizes, constant or graph inputs. Each runs with the fast paths
(default and EDGEML_CPU=avx2) at 1 and 2 threads and with EDGEML_CPU=reference:
outputs agree within float tolerance and do not depend on the thread count.
Prints 'N passed, N failed'.
"""
import os
import sys
import tempfile

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    print("test_norm_resize_fast: python3-onnx is not installed: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastcheck  # noqa: E402

BIN = sys.argv[1]
rng = np.random.default_rng(20261207)
passed = failed = 0


def finish(i, tmp, nodes, ins, outs, inits, feeds, desc, opset):
    global passed, failed
    g = helper.make_graph(nodes, "t", ins, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    path = os.path.join(tmp, "m%d.onnx" % i)
    onnx.save(m, path)
    inputs = {}
    for k, v in feeds.items():
        inputs[k] = os.path.join(tmp, "%s%d.npy" % (k, i))
        np.save(inputs[k], v)
    msg = fastcheck.check(BIN, path, inputs, tmp, "c%d" % i, desc)
    if msg:
        failed += 1
        print("FAIL " + msg)
    else:
        passed += 1


def layernorm_case(i, tmp):
    rank = int(rng.integers(1, 5))
    shape = [int(rng.choice([1, 2, 3, 5, 7, 16, 33, 64, 100])) for _ in range(rank)]
    axis = int(rng.integers(-rank, rank))
    a = axis % rank
    norm = shape[a:]
    x = rng.standard_normal(shape).astype(np.float32) * float(rng.choice([0.1, 1, 10]))
    if rng.random() < 0.2:
        x += 50
    pshape = list(norm)
    r = rng.random()
    if r < 0.2 and len(pshape) > 1:
        pshape = pshape[1:]  # dense when the dim left out is 1, else broadcasting
    elif r < 0.3 and len(pshape) > 1:
        pshape = [1] * (len(pshape) - 1) + [pshape[-1]]  # broadcasting: reference path
    s = rng.standard_normal(pshape).astype(np.float32)
    inits = [numpy_helper.from_array(s, "s")]
    names = ["x", "s"]
    if rng.random() < 0.7:
        inits.append(numpy_helper.from_array(rng.standard_normal(pshape).astype(np.float32), "b"))
        names.append("b")
    outs = ["y"]
    if rng.random() < 0.4:
        outs += ["mean", "istd"]
    eps = float(rng.choice([1e-5, 1e-3]))
    node = helper.make_node("LayerNormalization", names, outs, axis=axis, epsilon=eps)
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)]
    desc = "case %d: LayerNorm x=%s axis=%d scale=%s names=%s outs=%s" % (i, shape, axis, pshape, names, outs)
    finish(i, tmp, [node], ins, outs, inits, {"x": x}, desc, 17)


def resize_case(i, tmp):
    rank = int(rng.choice([4, 4, 4, 3, 5]))
    shape = [int(rng.integers(1, 3)), int(rng.integers(1, 5))] + [int(rng.integers(1, 12)) for _ in range(rank - 2)]
    x = rng.standard_normal(shape).astype(np.float32)
    r = rng.random()
    mode = "nearest" if r < 0.45 else ("linear" if r < 0.93 else "cubic")
    ctm = str(rng.choice(["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
                          "half_pixel", "tf_crop_and_resize" if rng.random() < 0.3 else "half_pixel"]))
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm}
    if mode == "nearest":
        attrs["nearest_mode"] = str(rng.choice(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]))
    if mode == "linear" and rng.random() < 0.1:
        attrs["antialias"] = 1
    if rng.random() < 0.1:
        attrs["exclude_outside"] = 1
    inits = []
    feeds = {"x": x}
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)]
    spatial = list(range(2, rank))
    if rng.random() < 0.15:
        spatial = list(range(1, rank))  # the channel axis too: reference path
    roi = ""
    if ctm == "tf_crop_and_resize":
        roi_v = np.array([0] * rank + [1] * rank, np.float32)
        roi_v[rank - 1] = 0.2
        inits.append(numpy_helper.from_array(roi_v, "roi"))
        roi = "roi"
    use_sizes = rng.random() < 0.4
    if use_sizes:
        sz = np.array(shape, np.int64)
        for a in spatial:
            sz[a] = int(rng.integers(1, 25))
        t = numpy_helper.from_array(sz, "sizes")
        names = ["x", roi, "", "sizes"]
    else:
        sc = np.ones(rank, np.float32)
        for a in spatial:
            sc[a] = float(rng.choice([0.5, 0.75, 1.0, 1.5, 2.0, 2.0, 3.0, 1.7]))
        t = numpy_helper.from_array(sc, "scales")
        names = ["x", roi, "scales"]
    if rng.random() < 0.35:  # run-time scales/sizes: the fast path builds its tables per run
        ins.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        feeds[t.name] = numpy_helper.to_array(t)
    else:
        inits.append(t)
    node = helper.make_node("Resize", names, ["y"], **attrs)
    desc = "case %d: Resize x=%s %s %s %s" % (i, shape, names, numpy_helper.to_array(t).tolist(), attrs)
    finish(i, tmp, [node], ins, ["y"], inits, feeds, desc, 19)


with tempfile.TemporaryDirectory() as tmp:
    n = int(os.environ.get("EDGEML_NR_CASES", "80"))
    for i in range(n):
        (layernorm_case if i % 2 == 0 else resize_case)(i, tmp)
print("norm_resize_fast: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
