#!/usr/bin/python3
"""Compare edgeml's outputs with one or more reference output sets.

Usage: compare.py [--label LABEL] [--tol T] [--rtol R] [--max-flips F | --quantized]
                  ACTUAL_DIR REF=REFDIR [REF=REFDIR ...]

Every <name>.npy in each REFDIR must exist in ACTUAL_DIR with the same dtype and shape.
Floating-point outputs pass when, elementwise,
    |a - e| <= T * max(1, max|e|) + R * |e|        (T = R = 1e-4 by default)
with NaN matching NaN and infinities matching exactly; every other dtype must be equal.

Two relaxations exist for models whose outputs are discontinuous functions of float rounding
(the same model gives different results in two correct runtimes; used for third-party models
only, see tests/models/run_models.sh):
  --max-flips F   up to ceil(F * size) elements of each output may exceed the tolerance
                  (tie-breaks in a peak mask such as Equal(MaxPool(x), x): a 1-ulp difference
                  moves a kept peak to its neighbour)
  --quantized     dynamically quantized networks (DynamicQuantizeLinear between layers): a
                  1-ulp difference flips one quantization step, which then propagates. Each float
                  output passes when, with s = max(1, max|e|),
                      mean|a-e| <= 2e-3 * s   and   99.9th percentile of |a-e| <= 0.1 * s
                  (a wrong kernel gives errors of the order of s everywhere, far above these).
Prints ONE line:  LABEL  vs REF max|err| X [vs REF2 ...]  PASS|FAIL [: first problem]
Exit status 0 when every reference matches, 1 otherwise (2 on usage errors).
"""
import argparse
import math
import os
import sys

import numpy as np

QUANT_MEAN = 2e-3
QUANT_P999 = 0.1


def load(path):
    try:
        return np.load(path, allow_pickle=False), None
    except Exception as e:  # missing file, malformed .npy
        return None, "%s: %s" % (os.path.basename(path), str(e).splitlines()[0] if str(e) else type(e).__name__)


def _where(a, mask):
    idx = np.unravel_index(int(np.argmax(mask)), a.shape)
    return tuple(int(i) for i in idx)


def compare_arrays(name, a, e, opts):
    """Returns (max_abs_err or None, problem string or None, note or None)."""
    if a.dtype != e.dtype:
        return None, "%s: dtype %s, expected %s" % (name, a.dtype, e.dtype), None
    if a.shape != e.shape:
        return None, "%s: shape %s, expected %s" % (name, a.shape, e.shape), None
    if a.size == 0:
        return 0.0, None, None
    if a.dtype.kind in "fc":
        a64 = a.astype(np.float64)
        e64 = e.astype(np.float64)
        nan_a, nan_e = np.isnan(a64), np.isnan(e64)
        inf_a, inf_e = np.isinf(a64), np.isinf(e64)
        # structural mismatches: NaN vs number, inf vs anything else
        bad = (nan_a != nan_e) | (inf_e & (a64 != e64)) | (inf_a & ~inf_e)
        fin = ~(nan_e | inf_e | nan_a | inf_a)
        err = np.zeros_like(a64)
        err[fin] = np.abs(a64[fin] - e64[fin])
        finite_e = np.abs(e64[~(nan_e | inf_e)])
        scale = max(1.0, float(finite_e.max())) if finite_e.size else 1.0
        maxerr = float(err[fin].max()) if fin.any() else 0.0
        if bad.any():
            i = _where(a, bad)
            return maxerr, "%s: %d of %d elements are NaN/inf on one side only, first at %s: %r vs expected %r" % (
                name, int(bad.sum()), a.size, i, a[i].item(), e[i].item()), None
        if opts.quantized:
            mean = float(err[fin].mean()) if fin.any() else 0.0
            p999 = float(np.percentile(err[fin], 99.9)) if fin.any() else 0.0
            note = "%s mean %.2g p99.9 %.2g" % (name, mean, p999)
            if mean > QUANT_MEAN * scale or p999 > QUANT_P999 * scale:
                return maxerr, "%s: mean|err| %.3g (limit %.3g), 99.9th percentile %.3g (limit %.3g)" % (
                    name, mean, QUANT_MEAN * scale, p999, QUANT_P999 * scale), note
            return maxerr, None, note
        limit = opts.tol * scale + opts.rtol * np.abs(np.where(fin, e64, 0.0))
        over = fin & (err > limit)
        n_over = int(over.sum())
        allowed = int(math.ceil(opts.max_flips * a.size)) if opts.max_flips > 0 else 0
        if n_over > allowed:
            i = _where(a, over)
            return maxerr, "%s: %d of %d elements differ%s, first at %s: %r vs expected %r" % (
                name, n_over, a.size, " (%d allowed)" % allowed if allowed else "", i,
                a[i].item(), e[i].item()), None
        note = "%s: %d flips (<= %d)" % (name, n_over, allowed) if n_over else None
        return maxerr, None, note
    if a.dtype.kind in "iub":
        diff = a != e
        maxerr = float(np.abs(a.astype(np.float64) - e.astype(np.float64)).max())
    else:  # strings and anything else: exact
        diff = a != e
        maxerr = 0.0 if not diff.any() else float("inf")
    if diff.any():
        i = _where(a, diff)
        return maxerr, "%s: %d of %d elements differ, first at %s: %r vs expected %r" % (
            name, int(diff.sum()), a.size, i, a[i].item(), e[i].item()), None
    return maxerr, None, None


def compare_dirs(actual_dir, ref_dir, opts):
    """Returns (max_abs_err over outputs or None, list of problems, list of notes)."""
    problems, notes = [], []
    try:
        names = sorted(f for f in os.listdir(ref_dir) if f.endswith(".npy"))
    except OSError as e:
        return None, ["reference %s: %s" % (ref_dir, e.strerror)], notes
    if not names:
        return None, ["reference %s has no .npy outputs" % ref_dir], notes
    worst = None
    for f in names:
        e, err = load(os.path.join(ref_dir, f))
        if err:
            problems.append("reference " + err)
            continue
        path = os.path.join(actual_dir, f)
        if not os.path.exists(path):
            problems.append("%s: missing from edgeml's outputs" % f[:-4])
            continue
        a, err = load(path)
        if err:
            problems.append(err)
            continue
        m, p, note = compare_arrays(f[:-4], a, e, opts)
        if m is not None:
            worst = m if worst is None else max(worst, m)
        if p:
            problems.append(p)
        if note:
            notes.append(note)
    return worst, problems, notes


def main(argv):
    ap = argparse.ArgumentParser(description="compare edgeml outputs with references")
    ap.add_argument("--label", default=None)
    ap.add_argument("--tol", type=float, default=1e-4, help="absolute term, scaled by max(1,max|e|)")
    ap.add_argument("--rtol", type=float, default=1e-4, help="relative term")
    ap.add_argument("--max-flips", type=float, default=0.0)
    ap.add_argument("--quantized", action="store_true")
    ap.add_argument("actual")
    ap.add_argument("refs", nargs="+", help="NAME=DIR")
    opts = ap.parse_args(argv)
    label = opts.label or opts.actual
    parts, problems, notes = [], [], []
    for spec in opts.refs:
        name, sep, d = spec.partition("=")
        if not sep or not name:
            print("compare.py: bad reference %r (want NAME=DIR)" % spec, file=sys.stderr)
            return 2
        m, probs, nts = compare_dirs(opts.actual, d, opts)
        parts.append("vs %s max|err| %s" % (name, "n/a" if m is None else "%.3g" % m))
        problems += ["%s: %s" % (name, p) for p in probs]
        notes += nts
    status = "FAIL" if problems else "PASS"
    line = "%-38s %s  %s" % (label, "  ".join(parts), status)
    if problems:
        line += ": " + problems[0]
        if len(problems) > 1:
            line += " (+%d more)" % (len(problems) - 1)
    elif notes:
        if opts.quantized:  # the output the model is used for is the first; keep the line short
            worst = max(notes, key=lambda n: float(n.rsplit(" ", 1)[1]))
            line += " (quantized: worst %s)" % worst
        else:
            line += " (" + "; ".join(notes) + ")"
    print(line, flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
