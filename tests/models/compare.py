#!/usr/bin/python3
"""Compare edgeml's outputs with one or more reference output sets.

Usage: compare.py [--label LABEL] [--tol T] [--rtol R] ACTUAL_DIR REF=REFDIR [REF=REFDIR ...]

Every <name>.npy in each REFDIR must exist in ACTUAL_DIR with the same dtype and shape.
Floating-point outputs pass when, elementwise,
    |a - e| <= T * max(1, max|e|) + R * |e|        (T = R = 1e-4 by default)
with NaN matching NaN and infinities matching exactly; every other dtype must be equal.
Prints ONE line:  LABEL  vs REF max|err| X [vs REF2 ...]  PASS|FAIL [: first problem]
Exit status 0 when every reference matches, 1 otherwise (2 on usage errors).
"""
import argparse
import os
import sys

import numpy as np


def load(path):
    try:
        return np.load(path, allow_pickle=False), None
    except Exception as e:  # missing file, malformed .npy
        return None, "%s: %s" % (os.path.basename(path), str(e).splitlines()[0] if str(e) else type(e).__name__)


def compare_arrays(name, a, e, tol, rtol):
    """Returns (max_abs_err or None, problem string or None)."""
    if a.dtype != e.dtype:
        return None, "%s: dtype %s, expected %s" % (name, a.dtype, e.dtype)
    if a.shape != e.shape:
        return None, "%s: shape %s, expected %s" % (name, a.shape, e.shape)
    if a.size == 0:
        return 0.0, None
    if a.dtype.kind in "fc":
        a64 = a.astype(np.float64)
        e64 = e.astype(np.float64)
        nan_a, nan_e = np.isnan(a64), np.isnan(e64)
        inf_e = np.isinf(e64)
        bad = nan_a != nan_e
        bad |= inf_e & (a64 != e64)
        fin = ~(nan_e | inf_e) & ~nan_a
        err = np.zeros_like(a64)
        err[fin] = np.abs(a64[fin] - e64[fin])
        bad |= np.isinf(a64) & ~inf_e  # a finite expectation cannot be matched by an inf
        finite_e = np.abs(e64[~(nan_e | inf_e)])
        scale = max(1.0, float(finite_e.max())) if finite_e.size else 1.0
        limit = tol * scale + rtol * np.abs(np.where(fin, e64, 0.0))
        over = fin & (err > limit)
        bad |= over
        maxerr = float(err[fin].max()) if fin.any() else 0.0
        if bad.any():
            idx = np.unravel_index(int(np.argmax(bad)), a.shape)
            return maxerr, "%s: %d of %d elements differ, first at %s: %r vs expected %r" % (
                name, int(bad.sum()), a.size, tuple(int(i) for i in idx), a[idx].item(), e[idx].item())
        return maxerr, None
    if a.dtype.kind in "iub":
        diff = a != e
        maxerr = float(np.abs(a.astype(np.float64) - e.astype(np.float64)).max())
    else:  # strings and anything else: exact
        diff = a != e
        maxerr = 0.0 if not diff.any() else float("inf")
    if diff.any():
        idx = np.unravel_index(int(np.argmax(diff)), a.shape)
        return maxerr, "%s: %d of %d elements differ, first at %s: %r vs expected %r" % (
            name, int(diff.sum()), a.size, tuple(int(i) for i in idx), a[idx].item(), e[idx].item())
    return maxerr, None


def compare_dirs(actual_dir, ref_dir, tol, rtol):
    """Returns (max_abs_err over outputs, list of problems)."""
    problems = []
    try:
        names = sorted(f for f in os.listdir(ref_dir) if f.endswith(".npy"))
    except OSError as e:
        return None, ["reference %s: %s" % (ref_dir, e.strerror)]
    if not names:
        return None, ["reference %s has no .npy outputs" % ref_dir]
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
        m, p = compare_arrays(f[:-4], a, e, tol, rtol)
        if m is not None:
            worst = m if worst is None else max(worst, m)
        if p:
            problems.append(p)
    return worst, problems


def main(argv):
    ap = argparse.ArgumentParser(description="compare edgeml outputs with references")
    ap.add_argument("--label", default=None)
    ap.add_argument("--tol", type=float, default=1e-4, help="absolute term, scaled by max(1,max|e|)")
    ap.add_argument("--rtol", type=float, default=1e-4, help="relative term")
    ap.add_argument("actual")
    ap.add_argument("refs", nargs="+", help="NAME=DIR")
    args = ap.parse_args(argv)
    label = args.label or args.actual
    parts, problems = [], []
    for spec in args.refs:
        name, sep, d = spec.partition("=")
        if not sep or not name:
            print("compare.py: bad reference %r (want NAME=DIR)" % spec, file=sys.stderr)
            return 2
        m, probs = compare_dirs(args.actual, d, args.tol, args.rtol)
        parts.append("vs %s max|err| %s" % (name, "n/a" if m is None else "%.3g" % m))
        problems += ["%s: %s" % (name, p) for p in probs]
    status = "FAIL" if problems else "PASS"
    line = "%-38s %s  %s" % (label, "  ".join(parts), status)
    if problems:
        line += ": " + problems[0]
        if len(problems) > 1:
            line += " (+%d more)" % (len(problems) - 1)
    print(line, flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
