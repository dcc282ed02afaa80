#!/usr/bin/python3
"""Build small ONNX models for operators whose signature changed at opsets 18..21.

Usage: make_cases.py OUTDIR [--list] [--only SUBSTRING]

Writes OUTDIR/<case>/model.onnx and OUTDIR/<case>/inputs/<name>.npy for every case (inputs are
seeded per case name). The conformance data stops at opset 17, so these cases check the newer
signatures against ONNX Runtime (tests/opset/run_opset.sh). onnx 1.12's checker does not know
opsets above 17: the ModelProto is built directly (ir_version 10, explicit opset_import) and is
not checked. String data cannot cross the edgeml CLI (.npy strings are not supported there), so
string cases keep their strings inside the graph (constants) and expose bool/int64 results.
"""
import argparse
import os
import sys
import zlib

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

IR_VERSION = 10
CASES = []

NP_TO_ONNX = {np.dtype(np.float32): TP.FLOAT, np.dtype(np.float64): TP.DOUBLE,
              np.dtype(np.float16): TP.FLOAT16, np.dtype(np.int8): TP.INT8,
              np.dtype(np.int16): TP.INT16, np.dtype(np.int32): TP.INT32,
              np.dtype(np.int64): TP.INT64, np.dtype(np.uint8): TP.UINT8,
              np.dtype(np.uint16): TP.UINT16, np.dtype(np.uint32): TP.UINT32,
              np.dtype(np.uint64): TP.UINT64, np.dtype(np.bool_): TP.BOOL}


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def case(name, opset, nodes, inputs, outputs, inits=None, expected=None, error=None):
    """inputs: dict name -> np.ndarray (graph inputs, in order); outputs: list of (name, TP type);
    inits: dict name -> np.ndarray or a TensorProto (constants).
    expected: dict output name -> np.ndarray: the reference is this (computed here from the
    spec's rules) instead of ONNX Runtime, for values where ONNX Runtime departs from the spec.
    error: edgeml must refuse the model with one error line containing this text (hostile
    inputs; ONNX Runtime is not run)."""
    CASES.append((name, opset, nodes, inputs, outputs, inits or {},
                  {"expected": expected, "error": error}))


def build(name, opset, nodes, inputs, outputs, inits):
    g_in = [helper.make_tensor_value_info(k, NP_TO_ONNX[v.dtype], list(v.shape))
            for k, v in inputs.items()]
    g_out = [helper.make_tensor_value_info(k, t, None) for k, t in outputs]
    g_init = []
    for k, v in inits.items():
        if isinstance(v, onnx.TensorProto):
            v.name = k
            g_init.append(v)
        else:
            g_init.append(numpy_helper.from_array(np.asarray(v), k))
    graph = helper.make_graph(nodes, name.replace("-", "_"), g_in, g_out, initializer=g_init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="edgeml-tests-opset")
    model.ir_version = IR_VERSION
    return model


def N(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, **attrs)


def f32(r, *shape, lo=-1.0, hi=1.0):
    return r.uniform(lo, hi, shape).astype(np.float32)


def i64(*v):
    return np.array(v, dtype=np.int64)


def strs(*v):
    """A string tensor constant (TensorProto; numpy_helper in onnx 1.12 needs object arrays)."""
    return helper.make_tensor("", TP.STRING, [len(v)], [s.encode() for s in v])


# --------------------------------------------------------------------------------------------
# Reduce* (opset 18: axes is an input for all of them; noop_with_empty_axes)
# --------------------------------------------------------------------------------------------
REDUCE_OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
              "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]
for op in REDUCE_OPS:
    r = rng_for(op)
    lo = 0.5 if op in ("ReduceLogSum", "ReduceProd") else -2.0
    x = f32(r, 3, 4, 5, lo=lo, hi=2.0)
    case(op + "-18-axes", 18,
         [N(op, ["x", "ax1"], ["keep_axis1"]),
          N(op, ["x", "ax_neg"], ["drop_last_first"], keepdims=0),
          N(op, ["x"], ["all_keep"]),
          N(op, ["x", "ax_rt"], ["runtime_axes"], keepdims=0)],
         {"x": x, "ax_rt": i64(2, -2)},
         [("keep_axis1", TP.FLOAT), ("drop_last_first", TP.FLOAT), ("all_keep", TP.FLOAT),
          ("runtime_axes", TP.FLOAT)],
         {"ax1": i64(1), "ax_neg": i64(-1, 0)})
    case(op + "-18-noop", 18,
         [N(op, ["x", "empty"], ["noop_identity"], noop_with_empty_axes=1),
          N(op, ["x"], ["noop_no_axes"], noop_with_empty_axes=1),
          N(op, ["x", "empty"], ["empty_axes_reduce_all"], keepdims=0),
          N(op, ["x", "ax1"], ["noop_with_axes"], noop_with_empty_axes=1)],
         {"x": x},
         [("noop_identity", TP.FLOAT), ("noop_no_axes", TP.FLOAT),
          ("empty_axes_reduce_all", TP.FLOAT), ("noop_with_axes", TP.FLOAT)],
         {"empty": np.zeros((0,), np.int64), "ax1": i64(1)})
for op in ("ReduceMax", "ReduceMin"):
    r = rng_for(op + "20")
    case(op + "-20-bool", 20,
         [N(op, ["b", "ax"], ["y"]), N(op, ["b"], ["all"], keepdims=0)],
         {"b": r.integers(0, 2, (3, 4)).astype(np.bool_)},
         [("y", TP.BOOL), ("all", TP.BOOL)], {"ax": i64(1)})
    case(op + "-20-int", 20,
         [N(op, ["x", "ax"], ["y"], keepdims=0)],
         {"x": r.integers(-100, 100, (2, 3, 4)).astype(np.int32)},
         [("y", TP.INT32)], {"ax": i64(0, 2)})

# --------------------------------------------------------------------------------------------
# Split (18: num_outputs)
# --------------------------------------------------------------------------------------------
r = rng_for("split")
case("Split-18-num_outputs", 18,
     [N("Split", ["x"], ["a", "b", "c"], axis=0, num_outputs=3),
      N("Split", ["y"], ["d", "e"], axis=-1, num_outputs=2),
      N("Split", ["y", "sp"], ["f", "g"], axis=1)],
     {"x": f32(r, 7, 4), "y": f32(r, 2, 6)},
     [("a", TP.FLOAT), ("b", TP.FLOAT), ("c", TP.FLOAT), ("d", TP.FLOAT), ("e", TP.FLOAT),
      ("f", TP.FLOAT), ("g", TP.FLOAT)],
     {"sp": i64(1, 5)})
case("Split-18-int64", 18,
     [N("Split", ["x"], ["a", "b", "c", "d"], axis=1, num_outputs=4)],
     {"x": r.integers(-9, 9, (2, 10)).astype(np.int64)},
     [("a", TP.INT64), ("b", TP.INT64), ("c", TP.INT64), ("d", TP.INT64)])

# --------------------------------------------------------------------------------------------
# Pad (18: axes input; 19: wrap mode; 21: more types)
# --------------------------------------------------------------------------------------------
r = rng_for("pad")
xp = f32(r, 1, 2, 4, 5)
case("Pad-18-axes", 18,
     [N("Pad", ["x", "p_c", "cv", "ax_c"], ["constant"], mode="constant"),
      N("Pad", ["x", "p_r", "", "ax_r"], ["reflect"], mode="reflect"),
      N("Pad", ["x", "p_e", "", "ax_e"], ["edge"], mode="edge"),
      N("Pad", ["x", "p_neg", "", "ax_c"], ["negative"], mode="constant")],
     {"x": xp},
     [("constant", TP.FLOAT), ("reflect", TP.FLOAT), ("edge", TP.FLOAT), ("negative", TP.FLOAT)],
     {"p_c": i64(1, 0, 2, 1), "cv": np.array(1.5, np.float32), "ax_c": i64(2, -1),
      "p_r": i64(2, 3), "ax_r": i64(-1),
      "p_e": i64(1, 2, 0, 1), "ax_e": i64(1, 3),
      "p_neg": i64(-1, 2, 0, -2)})
case("Pad-19-wrap", 19,
     [N("Pad", ["x", "p1", "", "ax"], ["wrap_axes"], mode="wrap"),
      N("Pad", ["x", "p2"], ["wrap_all"], mode="wrap"),
      N("Pad", ["x", "p3", "", "ax"], ["wrap_neg"], mode="wrap")],
     {"x": xp},
     [("wrap_axes", TP.FLOAT), ("wrap_all", TP.FLOAT), ("wrap_neg", TP.FLOAT)],
     {"p1": i64(1, 2, 3, 1), "ax": i64(2, 3), "p2": i64(0, 1, 2, 3, 0, 0, 1, 4),
      "p3": i64(-1, 2, 1, -1)})
case("Pad-21-int", 21,
     [N("Pad", ["x", "p", "cv"], ["y"], mode="constant"),
      N("Pad", ["x", "p"], ["z"], mode="reflect")],
     {"x": r.integers(-50, 50, (3, 4)).astype(np.int32)},
     [("y", TP.INT32), ("z", TP.INT32)],
     {"p": i64(1, 2, 2, 1), "cv": np.array(7, np.int32)})

# --------------------------------------------------------------------------------------------
# Resize (18: antialias, keep_aspect_ratio_policy, axes; 19: half_pixel_symmetric)
# --------------------------------------------------------------------------------------------
r = rng_for("resize")
xr = f32(r, 1, 2, 10, 12)
case("Resize-18-antialias", 18,
     [N("Resize", ["x", "", "s1"], ["linear_aa"], mode="linear", antialias=1),
      N("Resize", ["x", "", "s2"], ["cubic_aa"], mode="cubic", antialias=1),
      N("Resize", ["x", "", "", "sz"], ["linear_aa_sizes"], mode="linear", antialias=1,
        coordinate_transformation_mode="pytorch_half_pixel"),
      N("Resize", ["x", "", "s3"], ["cubic_aa_up"], mode="cubic", antialias=1,
        cubic_coeff_a=-0.5)],
     {"x": xr},
     [("linear_aa", TP.FLOAT), ("cubic_aa", TP.FLOAT), ("linear_aa_sizes", TP.FLOAT),
      ("cubic_aa_up", TP.FLOAT)],
     {"s1": np.array([1, 1, 0.6, 0.6], np.float32), "s2": np.array([1, 1, 0.5, 0.75], np.float32),
      "sz": i64(1, 2, 3, 5), "s3": np.array([1, 1, 0.8, 1.5], np.float32)})
xk = f32(r, 1, 1, 10, 14)
case("Resize-18-keep_aspect_ratio", 18,
     [N("Resize", ["x", "", "", "sz"], ["not_larger"], mode="linear", axes=[2, 3],
        keep_aspect_ratio_policy="not_larger"),
      N("Resize", ["x", "", "", "sz"], ["not_smaller"], mode="nearest", axes=[2, 3],
        keep_aspect_ratio_policy="not_smaller"),
      N("Resize", ["x", "", "", "sz"], ["stretch"], mode="nearest", axes=[-2, -1],
        keep_aspect_ratio_policy="stretch"),
      N("Resize", ["x", "", "sc1"], ["axes_scales"], mode="linear", axes=[3])],
     {"x": xk},
     [("not_larger", TP.FLOAT), ("not_smaller", TP.FLOAT), ("stretch", TP.FLOAT),
      ("axes_scales", TP.FLOAT)],
     {"sz": i64(7, 7), "sc1": np.array([1.5], np.float32)})
case("Resize-19-half_pixel_symmetric", 19,
     [N("Resize", ["x", "", "up"], ["up_linear"], mode="linear",
        coordinate_transformation_mode="half_pixel_symmetric"),
      N("Resize", ["x", "", "down"], ["down_linear"], mode="linear",
        coordinate_transformation_mode="half_pixel_symmetric"),
      N("Resize", ["x", "", "up"], ["up_cubic"], mode="cubic",
        coordinate_transformation_mode="half_pixel_symmetric"),
      N("Resize", ["x", "", "up"], ["up_nearest"], mode="nearest",
        coordinate_transformation_mode="half_pixel_symmetric")],
     {"x": xr},
     [("up_linear", TP.FLOAT), ("down_linear", TP.FLOAT), ("up_cubic", TP.FLOAT),
      ("up_nearest", TP.FLOAT)],
     {"up": np.array([1, 1, 1.7, 2.3], np.float32), "down": np.array([1, 1, 0.5, 0.7], np.float32)})

# --------------------------------------------------------------------------------------------
# GroupNormalization (18: scale/bias per group; 21: per channel + stash_type)
# --------------------------------------------------------------------------------------------
r = rng_for("groupnorm")
xg = f32(r, 2, 6, 3, 4, lo=-3, hi=3)
case("GroupNormalization-18", 18,
     [N("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=3, epsilon=1e-5)],
     {"x": xg}, [("y", TP.FLOAT)],
     {"s": f32(r, 3, lo=0.5, hi=1.5), "b": f32(r, 3)})
case("GroupNormalization-21", 21,
     [N("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2, epsilon=1e-3),
      N("GroupNormalization", ["x", "s", "b"], ["y6"], num_groups=6, stash_type=1)],
     {"x": xg}, [("y", TP.FLOAT), ("y6", TP.FLOAT)],
     {"s": f32(r, 6, lo=0.5, hi=1.5), "b": f32(r, 6)})

# --------------------------------------------------------------------------------------------
# ScatterElements / ScatterND reduction max/min (18)
# --------------------------------------------------------------------------------------------
r = rng_for("scatter")
data = f32(r, 4, 5)
idx = np.array([[0, 1, 0, 3, 3], [2, 2, 0, 1, 0]], np.int64)
upd = f32(r, 2, 5, lo=-2, hi=2)
case("ScatterElements-18-maxmin", 18,
     [N("ScatterElements", ["d", "i", "u"], ["smax"], axis=0, reduction="max"),
      N("ScatterElements", ["d", "i", "u"], ["smin"], axis=0, reduction="min"),
      N("ScatterElements", ["d", "i2", "u2"], ["smax_neg"], axis=-1, reduction="max")],
     {"d": data, "u": upd, "u2": f32(r, 4, 2, lo=-2, hi=2)},
     [("smax", TP.FLOAT), ("smin", TP.FLOAT), ("smax_neg", TP.FLOAT)],
     {"i": idx, "i2": np.array([[1, 1], [-1, 0], [2, 2], [0, -5]], np.int64)})
case("ScatterElements-18-int", 18,
     [N("ScatterElements", ["d", "i", "u"], ["smax"], axis=0, reduction="max"),
      N("ScatterElements", ["d", "i", "u"], ["smin"], axis=0, reduction="min")],
     {"d": r.integers(-10, 10, (4, 5)).astype(np.int32),
      "u": r.integers(-10, 10, (2, 5)).astype(np.int32)},
     [("smax", TP.INT32), ("smin", TP.INT32)], {"i": idx})
data3 = f32(r, 4, 3, 2)
case("ScatterND-18-maxmin", 18,
     [N("ScatterND", ["d", "i", "u"], ["nmax"], reduction="max"),
      N("ScatterND", ["d", "i", "u"], ["nmin"], reduction="min"),
      N("ScatterND", ["d", "i2", "u2"], ["nmax2"], reduction="max")],
     {"d": data3, "u": f32(r, 3, 3, 2, lo=-2, hi=2), "u2": f32(r, 3, 2, lo=-2, hi=2)},
     [("nmax", TP.FLOAT), ("nmin", TP.FLOAT), ("nmax2", TP.FLOAT)],
     {"i": np.array([[0], [2], [0]], np.int64),
      "i2": np.array([[1, 2], [1, 2], [3, -1]], np.int64)})

# --------------------------------------------------------------------------------------------
# Col2Im (18)
# --------------------------------------------------------------------------------------------
r = rng_for("col2im")
# 1 x (C=2 * 2*2) x L, image 5x5, block 2x2, stride 1 -> L = 4*4 = 16
case("Col2Im-18", 18,
     [N("Col2Im", ["x", "img", "blk"], ["y"])],
     {"x": f32(r, 1, 8, 16)}, [("y", TP.FLOAT)],
     {"img": i64(5, 5), "blk": i64(2, 2)})
# image 6x7, block 3x2, dilation (1,2), pads (1,0,1,1), strides (2,1):
# L_h = (6+2-1*(3-1)-1)//2+1 = 3, L_w = (7+1-2*(2-1)-1)//1+1 = 6 -> L = 18
case("Col2Im-18-strided", 18,
     [N("Col2Im", ["x", "img", "blk"], ["y"], dilations=[1, 2], pads=[1, 0, 1, 1],
        strides=[2, 1])],
     {"x": f32(r, 2, 3 * 6, 18)}, [("y", TP.FLOAT)],
     {"img": i64(6, 7), "blk": i64(3, 2)})

# --------------------------------------------------------------------------------------------
# CenterCropPad (18)
# --------------------------------------------------------------------------------------------
r = rng_for("centercroppad")
case("CenterCropPad-18", 18,
     [N("CenterCropPad", ["x", "s1"], ["crop_pad_axes"], axes=[0, 1]),
      N("CenterCropPad", ["x", "s2"], ["all_axes"]),
      N("CenterCropPad", ["x", "s3"], ["neg_axes"], axes=[-1])],
     {"x": f32(r, 10, 7, 3)},
     [("crop_pad_axes", TP.FLOAT), ("all_axes", TP.FLOAT), ("neg_axes", TP.FLOAT)],
     {"s1": i64(7, 10), "s2": i64(5, 8, 4), "s3": i64(2)})
case("CenterCropPad-18-int", 18,
     [N("CenterCropPad", ["x", "s"], ["y"], axes=[1, 2])],
     {"x": r.integers(0, 255, (2, 9, 4)).astype(np.uint8)}, [("y", TP.UINT8)],
     {"s": i64(4, 7)})

# --------------------------------------------------------------------------------------------
# Bitwise (18)
# --------------------------------------------------------------------------------------------
for dt, name in ((np.int32, "int32"), (np.uint8, "uint8"), (np.int64, "int64"),
                 (np.int16, "int16"), (np.uint64, "uint64"), (np.int8, "int8"),
                 (np.uint16, "uint16"), (np.uint32, "uint32")):
    r = rng_for("bitwise" + name)
    info = np.iinfo(dt)
    a = r.integers(info.min, info.max, (3, 4), dtype=dt, endpoint=True)
    b = r.integers(info.min, info.max, (4,), dtype=dt, endpoint=True)
    t = NP_TO_ONNX[np.dtype(dt)]
    case("Bitwise-18-" + name, 18,
         [N("BitwiseAnd", ["a", "b"], ["and"]), N("BitwiseOr", ["a", "b"], ["or"]),
          N("BitwiseXor", ["a", "b"], ["xor"]), N("BitwiseNot", ["a"], ["not"])],
         {"a": a, "b": b}, [("and", t), ("or", t), ("xor", t), ("not", t)])

# --------------------------------------------------------------------------------------------
# Mish (18), Gelu (20)
# --------------------------------------------------------------------------------------------
r = rng_for("mish")
case("Mish-18", 18, [N("Mish", ["x"], ["y"])], {"x": f32(r, 3, 17, lo=-8, hi=8)},
     [("y", TP.FLOAT)])
case("Mish-18-double", 18, [N("Mish", ["x"], ["y"])],
     {"x": r.uniform(-30, 30, (50,)).astype(np.float64)}, [("y", TP.DOUBLE)])
r = rng_for("gelu")
xgl = f32(r, 4, 25, lo=-6, hi=6)
case("Gelu-20", 20,
     [N("Gelu", ["x"], ["exact"]), N("Gelu", ["x"], ["tanh"], approximate="tanh")],
     {"x": xgl}, [("exact", TP.FLOAT), ("tanh", TP.FLOAT)])
# (ONNX Runtime has no double Erf, so only the tanh form in double)
case("Gelu-20-double", 20,
     [N("Gelu", ["x"], ["tanh"], approximate="tanh")],
     {"x": xgl.astype(np.float64)}, [("tanh", TP.DOUBLE)])
case("Gelu-20-float16", 20,
     [N("Gelu", ["x"], ["exact"]), N("Gelu", ["x"], ["tanh"], approximate="tanh")],
     {"x": xgl.astype(np.float16)}, [("exact", TP.FLOAT16), ("tanh", TP.FLOAT16)])

# --------------------------------------------------------------------------------------------
# Optional ops on plain tensors (18)
# --------------------------------------------------------------------------------------------
r = rng_for("optional")
case("OptionalHasElement-18-tensor", 18,
     [N("OptionalHasElement", ["x"], ["has"]),
      N("OptionalGetElement", ["x"], ["get"]),
      N("Optional", ["x"], ["opt"]),
      N("OptionalHasElement", ["opt"], ["has_opt"])],
     {"x": f32(r, 2, 3)}, [("has", TP.BOOL), ("get", TP.FLOAT), ("has_opt", TP.BOOL)])

# --------------------------------------------------------------------------------------------
# DFT (20: axis and dft_length are inputs)
# --------------------------------------------------------------------------------------------
r = rng_for("dft")
case("DFT-20-real", 20,
     [N("DFT", ["x", "", "ax1"], ["full"]),
      N("DFT", ["x", "", "ax1"], ["onesided"], onesided=1),
      N("DFT", ["x", "len10", "ax1"], ["padded"]),
      N("DFT", ["x", "len6", "axm2"], ["truncated"])],
     {"x": f32(r, 2, 8, 1)},
     [("full", TP.FLOAT), ("onesided", TP.FLOAT), ("padded", TP.FLOAT), ("truncated", TP.FLOAT)],
     {"ax1": np.array(1, np.int64), "axm2": np.array(-2, np.int64),
      "len10": np.array(10, np.int64), "len6": np.array(6, np.int64)})
case("DFT-20-complex", 20,
     [N("DFT", ["x", "", "ax"], ["fwd"]),
      N("DFT", ["x", "", "ax"], ["inv"], inverse=1),
      N("DFT", ["x", "", "ax0"], ["axis0"]),
      N("DFT", ["x"], ["default_axis"])],
     {"x": f32(r, 3, 6, 2)},
     [("fwd", TP.FLOAT), ("inv", TP.FLOAT), ("axis0", TP.FLOAT), ("default_axis", TP.FLOAT)],
     {"ax": np.array(1, np.int64), "ax0": np.array(0, np.int64)})
case("DFT-20-double", 20,
     [N("DFT", ["x", "", "ax"], ["fwd"], inverse=1)],
     {"x": r.uniform(-1, 1, (2, 5, 4, 2)).astype(np.float64)}, [("fwd", TP.DOUBLE)],
     {"ax": np.array(2, np.int64)})

# --------------------------------------------------------------------------------------------
# AffineGrid (20)
# --------------------------------------------------------------------------------------------
r = rng_for("affinegrid")
th2 = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (2, 1, 1)) + f32(r, 2, 2, 3) * 0.3
th3 = np.array([[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]], np.float32) + f32(r, 1, 3, 4) * 0.3
case("AffineGrid-20", 20,
     [N("AffineGrid", ["t2", "sz2"], ["g2"]),
      N("AffineGrid", ["t2", "sz2"], ["g2_ac"], align_corners=1),
      N("AffineGrid", ["t3", "sz3"], ["g3"]),
      N("AffineGrid", ["t3", "sz3"], ["g3_ac"], align_corners=1)],
     {"t2": th2, "t3": th3},
     [("g2", TP.FLOAT), ("g2_ac", TP.FLOAT), ("g3", TP.FLOAT), ("g3_ac", TP.FLOAT)],
     {"sz2": i64(2, 3, 4, 5), "sz3": i64(1, 1, 3, 4, 5)})

# --------------------------------------------------------------------------------------------
# Strings: StringConcat / StringSplit / RegexFullMatch (20), Equal on strings (19)
# Strings stay in the graph; outputs are bool / int64.
# --------------------------------------------------------------------------------------------
case("StringConcat-20", 20,
     [N("StringConcat", ["a", "b"], ["ab"]),
      N("Equal", ["ab", "want"], ["eq"]),
      N("StringConcat", ["a", "sfx"], ["a_sfx"]),
      N("Equal", ["a_sfx", "want2"], ["eq_bcast"])],
     {}, [("eq", TP.BOOL), ("eq_bcast", TP.BOOL)],
     {"a": strs("abc", "", "x y", "ü"), "b": strs("def", "g", "", "ß"),
      "want": strs("abcdef", "g", "x y", "üß"), "sfx": helper.make_tensor("", TP.STRING, [], [b"!"]),
      "want2": strs("abc!", "!", "x y!", "ü!")})
case("StringSplit-20", 20,
     [N("StringSplit", ["s"], ["parts", "n"], delimiter=","),
      N("Equal", ["parts", "want"], ["eq"]),
      N("StringSplit", ["s"], ["parts_ws", "n_ws"]),
      N("StringSplit", ["s"], ["parts_max", "n_max"], delimiter=",", maxsplit=1),
      N("Equal", ["parts_max", "want_max"], ["eq_max"])],
     {}, [("n", TP.INT64), ("eq", TP.BOOL), ("n_ws", TP.INT64), ("n_max", TP.INT64),
          ("eq_max", TP.BOOL)],
     {"s": strs("a,b,c", "x", ",,", " two  words "),
      "want": helper.make_tensor("", TP.STRING, [4, 3],
                                 [b"a", b"b", b"c", b"x", b"", b"", b"", b"", b"",
                                  b" two  words ", b"", b""]),
      "want_max": helper.make_tensor("", TP.STRING, [4, 2],
                                     [b"a", b"b,c", b"x", b"", b"", b",", b" two  words ", b""])})
case("RegexFullMatch-20", 20,
     [N("RegexFullMatch", ["s"], ["m"], pattern="[a-z]+@[a-z]+\\.(com|org)"),
      N("RegexFullMatch", ["s"], ["digits"], pattern="\\d*")],
     {}, [("m", TP.BOOL), ("digits", TP.BOOL)],
     {"s": strs("bob@example.com", "x@y.org!", "", "123", "alice@site.net", "a@b.com")})
case("Equal-19-string", 19,
     [N("Equal", ["a", "b"], ["eq"]), N("Equal", ["a", "c"], ["eq_bcast"])],
     {}, [("eq", TP.BOOL), ("eq_bcast", TP.BOOL)],
     {"a": strs("x", "yy", "", "zz"), "b": strs("x", "y", "", "ZZ"),
      "c": helper.make_tensor("", TP.STRING, [], [b"yy"])})

# --------------------------------------------------------------------------------------------
# Opset 21: Shape/Size and the other ops re-versioned for new types
# --------------------------------------------------------------------------------------------
r = rng_for("op21")
x21 = f32(r, 2, 3, 4, 1)
case("Shape-Size-21", 21,
     [N("Shape", ["x"], ["shape"]), N("Shape", ["x"], ["shape_slice"], start=1, end=-1),
      N("Shape", ["x"], ["shape_neg"], start=-2), N("Size", ["x"], ["size"])],
     {"x": x21}, [("shape", TP.INT64), ("shape_slice", TP.INT64), ("shape_neg", TP.INT64),
                  ("size", TP.INT64)])
case("Reshape-family-21", 21,
     [N("Reshape", ["x", "rs"], ["reshape"]),
      N("Reshape", ["x", "rs0"], ["reshape_allowzero"], allowzero=1),
      N("Flatten", ["x"], ["flatten"], axis=2),
      N("Transpose", ["x"], ["transpose"], perm=[3, 1, 0, 2]),
      N("Squeeze", ["x", "sq"], ["squeeze"]),
      N("Unsqueeze", ["x", "usq"], ["unsqueeze"]),
      N("Identity", ["x"], ["identity"])],
     {"x": x21},
     [("reshape", TP.FLOAT), ("reshape_allowzero", TP.FLOAT), ("flatten", TP.FLOAT),
      ("transpose", TP.FLOAT), ("squeeze", TP.FLOAT), ("unsqueeze", TP.FLOAT),
      ("identity", TP.FLOAT)],
     {"rs": i64(0, -1, 2), "rs0": i64(6, 4), "sq": i64(-1), "usq": i64(0, 5)})
case("ConstantOfShape-21", 21,
     [N("ConstantOfShape", ["s"], ["y"],
        value=helper.make_tensor("v", TP.INT32, [1], [7])),
      N("ConstantOfShape", ["s"], ["z"])],
     {"s": i64(2, 3)}, [("y", TP.INT32), ("z", TP.FLOAT)])

# QuantizeLinear / DequantizeLinear (21: block_size, output_dtype, int16/uint16)
r = rng_for("qdq")
xq = f32(r, 4, 6, lo=-3, hi=3)
case("QuantizeLinear-21-blocked", 21,
     [N("QuantizeLinear", ["x", "sc", "zp"], ["q_u8"], axis=1, block_size=2),
      N("QuantizeLinear", ["x", "sc", "zp_i8"], ["q_i8"], axis=1, block_size=2),
      N("QuantizeLinear", ["x", "sc0"], ["q_axis0_bs3"], axis=0, block_size=3,
        output_dtype=TP.INT8)],
     {"x": xq}, [("q_u8", TP.UINT8), ("q_i8", TP.INT8), ("q_axis0_bs3", TP.INT8)],
     {"sc": f32(r, 4, 3, lo=0.01, hi=0.05), "zp": r.integers(100, 150, (4, 3)).astype(np.uint8),
      "zp_i8": r.integers(-10, 10, (4, 3)).astype(np.int8),
      "sc0": f32(r, 2, 6, lo=0.01, hi=0.05)})
case("QuantizeLinear-21-types", 21,
     [N("QuantizeLinear", ["x", "s"], ["q_default_u8"]),
      N("QuantizeLinear", ["x", "s"], ["q_out_i16"], output_dtype=TP.INT16),
      N("QuantizeLinear", ["x", "s16", "zp16"], ["q_u16"]),
      N("QuantizeLinear", ["x", "sa", "zpa"], ["q_per_axis"], axis=0)],
     {"x": xq},
     [("q_default_u8", TP.UINT8), ("q_out_i16", TP.INT16), ("q_u16", TP.UINT16),
      ("q_per_axis", TP.INT8)],
     {"s": np.array(0.02, np.float32), "s16": np.array(0.0001, np.float32),
      "zp16": np.array(30000, np.uint16), "sa": f32(r, 4, lo=0.01, hi=0.05),
      "zpa": np.array([0, 1, -1, 5], np.int8)})
case("DequantizeLinear-21-blocked", 21,
     [N("DequantizeLinear", ["q", "sc", "zp"], ["dq"], axis=1, block_size=2),
      N("DequantizeLinear", ["q", "sc"], ["dq_nozp"], axis=1, block_size=2),
      N("DequantizeLinear", ["q16", "s", "zp16"], ["dq_i16"]),
      N("DequantizeLinear", ["q32", "sa"], ["dq_i32_axis"], axis=-1)],
     {"q": r.integers(-128, 128, (4, 6)).astype(np.int8),
      "q16": r.integers(-30000, 30000, (3, 5)).astype(np.int16),
      "q32": r.integers(-100000, 100000, (3, 5)).astype(np.int32)},
     [("dq", TP.FLOAT), ("dq_nozp", TP.FLOAT), ("dq_i16", TP.FLOAT), ("dq_i32_axis", TP.FLOAT)],
     {"sc": f32(r, 4, 3, lo=0.01, hi=0.05), "zp": r.integers(-5, 5, (4, 3)).astype(np.int8),
      "s": np.array(0.001, np.float32), "zp16": np.array(-7, np.int16),
      "sa": f32(r, 5, lo=0.001, hi=0.01)})

# Cast / CastLike (19: saturate attribute, 21: more types)
r = rng_for("cast")
xc = np.array([-2.7, -1.5, -0.5, 0.0, 0.49, 0.5, 1.5, 2.5, 100.25, -100.75, 1e-3, 3.14159265],
              np.float32)
for opset in (19, 21):
    case("Cast-%d" % opset, opset,
         [N("Cast", ["x"], ["to_i32"], to=TP.INT32),
          N("Cast", ["x"], ["to_i8"], to=TP.INT8),
          N("Cast", ["x"], ["to_bool"], to=TP.BOOL),
          N("Cast", ["x"], ["to_f64"], to=TP.DOUBLE, saturate=1),
          N("Cast", ["x"], ["to_f16"], to=TP.FLOAT16),
          N("Cast", ["x"], ["bf16"], to=TP.BFLOAT16),
          N("Cast", ["bf16"], ["bf16_roundtrip"], to=TP.FLOAT),
          N("Cast", ["x"], ["str"], to=TP.STRING),
          N("Cast", ["str"], ["str_roundtrip"], to=TP.FLOAT),
          N("Cast", ["s"], ["parsed"], to=TP.DOUBLE),
          N("Cast", ["i"], ["i64_to_f32"], to=TP.FLOAT),
          N("Cast", ["i"], ["i64_to_u8"], to=TP.UINT8),
          N("Cast", ["b"], ["bool_to_f32"], to=TP.FLOAT)],
         {"x": xc, "i": np.array([-300, -1, 0, 1, 255, 256, 1 << 40], np.int64),
          "b": np.array([True, False, True])},
         [("to_i32", TP.INT32), ("to_i8", TP.INT8), ("to_bool", TP.BOOL), ("to_f64", TP.DOUBLE),
          ("to_f16", TP.FLOAT16), ("bf16_roundtrip", TP.FLOAT), ("str_roundtrip", TP.FLOAT),
          ("parsed", TP.DOUBLE), ("i64_to_f32", TP.FLOAT), ("i64_to_u8", TP.UINT8),
          ("bool_to_f32", TP.FLOAT)],
         {"s": strs("1.5", "-2", "1e3", "0.125", "-0", "12345678")})
    case("CastLike-%d" % opset, opset,
         [N("CastLike", ["x", "like_i64"], ["to_i64"]),
          N("CastLike", ["x", "like_f16"], ["to_f16"]),
          N("CastLike", ["i", "x"], ["to_f32"], saturate=1)],
         {"x": xc, "i": np.array([-3, 0, 7], np.int32)},
         [("to_i64", TP.INT64), ("to_f16", TP.FLOAT16), ("to_f32", TP.FLOAT)],
         {"like_i64": np.zeros((1,), np.int64), "like_f16": np.zeros((2,), np.float16)})

# --------------------------------------------------------------------------------------------
# Pooling attributes added in 18/19
# --------------------------------------------------------------------------------------------
r = rng_for("pool")
xpool = f32(r, 1, 2, 9, 10)
case("AveragePool-19-dilations", 19,
     [N("AveragePool", ["x"], ["dil"], kernel_shape=[3, 3], dilations=[2, 1]),
      N("AveragePool", ["x"], ["dil_pad_ceil"], kernel_shape=[2, 3], dilations=[2, 2],
        pads=[1, 1, 1, 1], strides=[2, 2], ceil_mode=1, count_include_pad=0),
      N("AveragePool", ["x"], ["dil_pad_incl"], kernel_shape=[2, 2], dilations=[1, 2],
        pads=[0, 1, 1, 0], count_include_pad=1)],
     {"x": xpool}, [("dil", TP.FLOAT), ("dil_pad_ceil", TP.FLOAT), ("dil_pad_incl", TP.FLOAT)])
case("LpPool-18-ceil_mode", 18,
     [N("LpPool", ["x"], ["ceil"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1, p=2),
      N("LpPool", ["x"], ["dil"], kernel_shape=[2, 2], dilations=[2, 2], p=1)],
     {"x": xpool}, [("ceil", TP.FLOAT), ("dil", TP.FLOAT)])


# float8, 4-bit integers and DeformConv (opsets 19..21): tests/opset/cases_types.py
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases_types  # noqa: E402

cases_types.add(case, N, rng_for)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--only", default="")
    args = ap.parse_args(argv)
    names = [c[0] for c in CASES]
    if len(set(names)) != len(names):
        print("make_cases: duplicate case names", file=sys.stderr)
        return 1
    if args.list:
        print("\n".join(names))
        return 0
    if not args.outdir:
        ap.error("OUTDIR is required")
    for name, opset, nodes, inputs, outputs, inits, extra in CASES:
        if args.only and args.only not in name:
            continue
        d = os.path.join(args.outdir, name)
        os.makedirs(os.path.join(d, "inputs"), exist_ok=True)
        model = build(name, opset, nodes, inputs, outputs, inits)
        onnx.save(model, os.path.join(d, "model.onnx"))
        for k, v in inputs.items():
            np.save(os.path.join(d, "inputs", k + ".npy"), v)
        if extra["expected"] is not None:
            os.makedirs(os.path.join(d, "expected"), exist_ok=True)
            for k, v in extra["expected"].items():
                np.save(os.path.join(d, "expected", k + ".npy"), v)
        if extra["error"] is not None:
            with open(os.path.join(d, "expect_error"), "w") as f:
                f.write(extra["error"] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
