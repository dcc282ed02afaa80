#!/usr/bin/python3
"""Write a deterministic synthetic input .npy for every graph input of an ONNX model.

Usage: make_inputs.py MODEL OUTDIR [--range LO:HI] [--seed S] [--dim SYMBOL=V ...]

Image-like float inputs (rank 4, NCHW or NHWC with 1..4 channels) get a synthetic picture: smooth
colour gradients, a few filled rectangles and discs with sharp straight edges (so line and
boundary detectors see structure) and a little seeded noise, scaled to [LO, HI] (default 0:1).
Other inputs get seeded uniform values in [LO, HI] (floats) or small integers, or False/True.
Symbolic dims take their value from --dim, else 1. Writes OUTDIR/<input name>.npy and prints
NAME=PATH per input (the form edgeml infer / ort_run.js take).
"""
import argparse
import os
import sys

import numpy as np

ONNX_TO_NP = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
              7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32,
              13: np.uint64}


def synthetic_image(h, w, c, rng):
    """Returns float64 array (h, w, c) in [0, 1]."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    y /= max(h - 1, 1)
    x /= max(w - 1, 1)
    img = np.empty((h, w, c))
    for k in range(c):
        a, b, p = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 2 * np.pi)
        img[:, :, k] = 0.5 + 0.25 * np.sin(2 * np.pi * (a * x + b * y) + p)
    for _ in range(6):  # rectangles with straight edges
        y0, x0 = rng.uniform(0, 0.8, 2)
        hh, ww = rng.uniform(0.1, 0.4, 2)
        col = rng.uniform(0, 1, c)
        m = (y >= y0) & (y < y0 + hh) & (x >= x0) & (x < x0 + ww)
        img[m] = col
    for _ in range(3):  # discs
        cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.2)
        m = (y - cy) ** 2 + (x - cx) ** 2 < r * r
        img[m] = rng.uniform(0, 1, c)
    for _ in range(4):  # thin lines
        t = rng.uniform(0, np.pi)
        d = rng.uniform(-0.3, 0.3)
        m = np.abs((x - 0.5) * np.cos(t) + (y - 0.5) * np.sin(t) - d) < 1.5 / max(h, w)
        img[m] = rng.uniform(0, 1, c)
    img += rng.normal(0, 0.02, img.shape)
    return np.clip(img, 0, 1)


def make(shape, dtype, lo, hi, rng):
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(max(int(lo), 0), max(int(hi), 1) + 1, shape).astype(dtype)
    if len(shape) == 4:
        n = shape[0]
        if 1 <= shape[1] <= 4 and shape[2] > 4 and shape[3] > 4:  # NCHW
            img = np.stack([synthetic_image(shape[2], shape[3], shape[1], rng) for _ in range(n)])
            img = img.transpose(0, 3, 1, 2)
        elif 1 <= shape[3] <= 4 and shape[1] > 4 and shape[2] > 4:  # NHWC
            img = np.stack([synthetic_image(shape[1], shape[2], shape[3], rng) for _ in range(n)])
        else:
            img = rng.uniform(0, 1, shape)
        return (lo + (hi - lo) * img).astype(dtype)
    return rng.uniform(lo, hi, shape).astype(dtype)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("outdir")
    ap.add_argument("--range", default="0:1")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--dim", action="append", default=[])
    args = ap.parse_args(argv)
    import onnx
    lo, hi = (float(v) for v in args.range.split(":"))
    dims = dict(d.split("=", 1) for d in args.dim)
    m = onnx.load(args.model, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.outdir, exist_ok=True)
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        if tt.elem_type not in ONNX_TO_NP:
            print("make_inputs: input %s: unsupported element type %d" % (vi.name, tt.elem_type),
                  file=sys.stderr)
            return 1
        shape = tuple(d.dim_value if d.HasField("dim_value") else int(dims.get(d.dim_param, 1))
                      for d in tt.shape.dim)
        arr = make(shape, ONNX_TO_NP[tt.elem_type], lo, hi, rng)
        if "/" in vi.name or vi.name in ("", ".", ".."):
            print("make_inputs: input name %r cannot be a file name" % vi.name, file=sys.stderr)
            return 1
        path = os.path.join(args.outdir, vi.name + ".npy")
        np.save(path, arr)
        print("%s=%s" % (vi.name, path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
