#!/usr/bin/python3
"""Data-movement fast paths (ops/shape_fast.c) vs the reference loops, through `edgeml infer`.

Usage: test_shape_fast.py EDGEML_BIN

Random Transpose (rank 1..5, every perm kind, 1/2/4/8-byte dtypes, channel
shuffle), Concat, Split, Slice (negative steps too), Gather (every axis,
negative indices) and Reshape/Flatten models, small and large (threaded), run
with the fast paths at 1 and 2 threads and with EDGEML_CPU=reference: outputs
must be bit-identical. Prints 'N passed, N failed'.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    print("test_shape_fast: python3-onnx is not installed: skipped")
    sys.exit(77)

BIN = sys.argv[1]
rng = np.random.default_rng(777)
passed = failed = 0
DT = {np.float32: TensorProto.FLOAT, np.int64: TensorProto.INT64, np.uint8: TensorProto.UINT8,
      np.float16: TensorProto.FLOAT16}


def run(model, inputs, cpu, threads, out):
    cmd = [BIN, "infer", model, "--output-dir", out, "--threads", str(threads)]
    for k, f in inputs.items():
        cmd += ["--input", "%s=%s" % (k, f)]
    env = dict(os.environ)
    env.pop("EDGEML_CPU", None)
    env.pop("EDGEML_OPT", None)
    if cpu:
        env["EDGEML_CPU"] = cpu
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip()
    outs = sorted(f for f in os.listdir(out) if f.endswith(".npy"))
    return [np.load(os.path.join(out, f)) for f in outs], ""


def check(i, tmp, nodes, feeds, consts, n_out, desc, expect=None):
    global passed, failed
    ins = [helper.make_tensor_value_info(k, DT[v.dtype.type], list(v.shape)) for k, v in feeds.items()]
    inits = [numpy_helper.from_array(v, k) for k, v in consts.items()]
    outs = [helper.make_tensor_value_info("y%d" % j, TensorProto.UNDEFINED, None) for j in range(n_out)]
    g = helper.make_graph(nodes, "g", ins, outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = os.path.join(tmp, "m%d.onnx" % i)
    onnx.save(m, path)
    inputs = {}
    for k, v in feeds.items():
        inputs[k] = os.path.join(tmp, "%s%d.npy" % (k, i))
        np.save(inputs[k], v)
    ref, err = run(path, inputs, "reference", 1, os.path.join(tmp, "r%d" % i))
    if ref is None:
        failed += 1
        print("FAIL %s: reference failed: %s" % (desc, err))
        return
    if expect is not None and not all(np.array_equal(a, b) for a, b in zip(ref, expect)):
        failed += 1
        print("FAIL %s: reference differs from numpy" % desc)
        return
    for th in (1, 2):
        y, err = run(path, inputs, None, th, os.path.join(tmp, "f%d_%d" % (i, th)))
        if y is None or len(y) != len(ref) or not all(
                a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes() for a, b in zip(y, ref)):
            failed += 1
            print("FAIL %s threads=%d: %s" % (desc, th, err or "outputs differ"))
            return
    passed += 1


def rand(shape, dt):
    if dt in (np.float32, np.float16):
        return rng.standard_normal(shape).astype(dt)
    return rng.integers(0, 200, size=shape).astype(dt)


def rshape(rank, big=False):
    hi = 9 if not big else 40
    return [int(rng.integers(1, hi)) for _ in range(rank)]


def main():
    with tempfile.TemporaryDirectory(prefix="edgeml-shape-") as tmp:
        i = 0
        # Transpose: random perms, ranks 1..5, dtypes.
        for t in range(60):
            rank = int(rng.integers(1, 6))
            big = t % 6 == 5
            shape = rshape(rank, big)
            if big:
                while np.prod(shape) < 100000:
                    shape[int(rng.integers(0, rank))] *= 2
            dt = [np.float32, np.int64, np.uint8, np.float16][t % 4]
            perm = [int(p) for p in rng.permutation(rank)]
            x = rand(shape, dt)
            node = helper.make_node("Transpose", ["x"], ["y0"], perm=perm)
            check(i, tmp, [node], {"x": x}, {}, 1, "Transpose %s %s %s" % (shape, perm, dt.__name__),
                  [np.transpose(x, perm)])
            i += 1
        # Special cases: channel shuffle, inner 2-D transposes, large threaded ones.
        for shape, perm in [([1, 2, 58, 28, 28], [0, 2, 1, 3, 4]), ([1, 2, 116, 14, 14], [0, 2, 1, 3, 4]),
                            ([4, 2, 24, 7, 7], [0, 2, 1, 3, 4]), ([3, 257, 129], [0, 2, 1]),
                            ([1, 64, 3136], [0, 2, 1]), ([512, 768], [1, 0]), ([13, 16, 8], [1, 2, 0]),
                            ([128, 8, 64], [1, 0, 2]), ([2, 128, 8, 64], [0, 2, 3, 1]), ([2, 3, 4, 5, 6], [4, 3, 2, 1, 0])]:
            x = rand(shape, np.float32)
            node = helper.make_node("Transpose", ["x"], ["y0"], perm=perm)
            check(i, tmp, [node], {"x": x}, {}, 1, "Transpose %s %s" % (shape, perm), [np.transpose(x, perm)])
            i += 1
        # Concat / Split.
        for t in range(16):
            rank = int(rng.integers(1, 5))
            big = t % 4 == 3
            base = rshape(rank, big)
            axis = int(rng.integers(-rank, rank))
            k = int(rng.integers(1, 5))
            xs = {}
            for j in range(k):
                s = list(base)
                s[axis] = int(rng.integers(0 if j else 1, 40 if big else 6))
                xs["x%d" % j] = rand(s, [np.float32, np.int64][t % 2])
            node = helper.make_node("Concat", list(xs), ["y0"], axis=axis)
            check(i, tmp, [node], xs, {}, 1, "Concat axis %d %s" % (axis, [v.shape for v in xs.values()]),
                  [np.concatenate(list(xs.values()), axis=axis)])
            i += 1
            x = np.concatenate(list(xs.values()), axis=axis)
            sizes = np.array([v.shape[axis] for v in xs.values()], dtype=np.int64)
            node = helper.make_node("Split", ["x", "s"], ["y%d" % j for j in range(k)], axis=axis)
            check(i, tmp, [node], {"x": x}, {"s": sizes}, k, "Split axis %d %s %s" % (axis, x.shape, sizes.tolist()),
                  np.split(x, np.cumsum(sizes)[:-1], axis=axis))
            i += 1
        # Slice.
        for t in range(24):
            rank = int(rng.integers(1, 6))
            shape = rshape(rank, t % 6 == 5)
            x = rand(shape, [np.float32, np.uint8, np.int64][t % 3])
            na = int(rng.integers(1, rank + 1))
            axes = [int(a) for a in rng.permutation(rank)[:na]]
            st, en, sp = [], [], []
            sl = [slice(None)] * rank
            for a in axes:
                d = shape[a]
                step = int(rng.choice([1, 1, 2, 3, -1, -2]))
                s0 = int(rng.integers(-d - 1, d + 1))
                e0 = int(rng.integers(-d - 1, d + 2))
                st.append(s0); en.append(e0); sp.append(step)
            consts = {"st": np.array(st, np.int64), "en": np.array(en, np.int64), "ax": np.array(axes, np.int64),
                      "sp": np.array(sp, np.int64)}
            node = helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y0"])
            check(i, tmp, [node], {"x": x}, consts, 1, "Slice %s axes %s %s:%s:%s" % (shape, axes, st, en, sp))
            i += 1
        # Gather.
        for t in range(16):
            rank = int(rng.integers(1, 5))
            shape = rshape(rank, t % 4 == 3)
            axis = 0 if t % 2 == 0 else int(rng.integers(-rank, rank))
            d = shape[axis]
            ishape = rshape(int(rng.integers(0, 3)))
            ind = rng.integers(-d, d, size=ishape).astype(np.int64)
            x = rand(shape, [np.float32, np.int64][t % 2])
            node = helper.make_node("Gather", ["x", "i"], ["y0"], axis=axis)
            check(i, tmp, [node], {"x": x}, {"i": ind}, 1, "Gather axis %d %s idx %s" % (axis, shape, ishape),
                  [np.take(x, np.where(ind < 0, ind + d, ind), axis=axis)])
            i += 1
        # Reshape / Flatten (plain copies, threaded when large).
        for shape in ([2, 3, 4], [64, 64, 64]):
            x = rand(shape, np.float32)
            nodes = [helper.make_node("Reshape", ["x", "s"], ["y0"]), helper.make_node("Flatten", ["x"], ["y1"], axis=1)]
            check(i, tmp, nodes, {"x": x}, {"s": np.array([-1, shape[-1]], np.int64)}, 2, "Reshape/Flatten %s" % shape,
                  [x.reshape(-1, shape[-1]), x.reshape(shape[0], -1)])
            i += 1
    print("test_shape_fast: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
