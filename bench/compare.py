#!/usr/bin/python3
"""edgeml vs ONNX Runtime on the same models, inputs and thread counts (issue 10).

Usage: bench/compare.py --edgeml BUILD/edgeml [options]      (bench/compare.sh builds and calls it)

For each model and thread count T, `edgeml bench MODEL --json --threads T --input ...` and
tools/ort_bench.js (onnxruntime-node: graphOptimizationLevel all, intraOpNumThreads T,
interOpNumThreads 1, executionMode sequential, the same .npy inputs) run in their own processes,
alternated for --rounds rounds (the side that goes first alternates), and the medians over the
rounds are compared. Prints per model the median latency of each side, the ratio edgeml/ORT,
the load-time ratio and the peak-RSS ratio, the geometric means per thread count and whether
the issue's targets are met; then the roofline (FLOPs of each model / latency vs this CPU's
measured peak FMA throughput) and the installed footprint. Exit status: 0 when every run
produced its numbers (whatever the speed), 1 when a run failed, 2 on bad usage, 77 when
onnxruntime-node (or node, or numpy/onnx for /usr/bin/python3) is not installed.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = 77

# The runtime issue's real architectures (tools/export_models.py names) and the npm-published
# models (tools/fetch_npm_models.sh), with the input ranges tests/models/run_models.sh uses.
TORCH_MODELS = ["squeezenet1_1", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x1_0",
                "efficientnet_b0", "resnet50", "transformer_encoder", "lstm2"]
NPM_MODELS = {"mlsd_512x512_tiny": "0:255", "mlsd_512x512_large": "0:255",
              "isnet_small_int8": "-0.5:0.5"}
ALIASES = {"transformer": "transformer_encoder", "lstm": "lstm2", "squeezenet": "squeezenet1_1",
           "shufflenet": "shufflenet_v2_x1_0", "mlsd_tiny": "mlsd_512x512_tiny",
           "mlsd_large": "mlsd_512x512_large", "isnet": "isnet_small_int8"}
OPSET = 17
TARGET_GEOMEAN = 0.8
TARGET_ROOFLINE = 0.8  # ResNet-50 at 1 thread, fraction of peak
# Libraries every Linux process has; listed but not counted in the footprint totals.
SYSTEM_LIBS = re.compile(r"^(linux-vdso|linux-gate|ld-linux|libc\.so|libm\.so|libpthread\.so|"
                         r"libdl\.so|librt\.so)")


def log(msg):
    print("compare: " + msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------

def run_proc(cmd, timeout, cwd=None):
    """Runs cmd; returns (rc, stdout, stderr, wall_s); rc 124 when it ran past timeout.
    (Peak RSS comes from each process itself, VmHWM: a child's ru_maxrss from wait4 would
    include the pages of this Python process it was forked from.)"""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                           timeout=timeout)
        rc, so, se = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, so, se = 124, e.stdout or b"", (e.stderr or b"") + b"\ntimed out after %ds" % timeout
    except OSError as e:
        return 127, "", str(e), 0.0
    return rc, so.decode("utf-8", "replace"), se.decode("utf-8", "replace"), time.perf_counter() - t0


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


class Model:
    def __init__(self, name, path, inputs, kind):
        self.name, self.path, self.inputs, self.kind = name, path, inputs, kind
        self.flops = None    # bench/flops.py result
        self.error = None    # why it cannot be benchmarked at all
        self.results = {}    # threads -> {"edgeml": [...], "ort": [...]}
        self.runs = self.warmup = None


def bench_edgeml(args, m, threads, runs, warmup):
    cmd = [args.edgeml, "bench", m.path, "--json", "--threads", str(threads),
           "--runs", str(runs), "--warmup", str(warmup)]
    for k, v in m.inputs.items():
        cmd += ["--input", "%s=%s" % (k, v)]
    rc, so, se, wall = run_proc(cmd, args.timeout)
    j = last_json(so) if rc == 0 else None
    if j is None:
        return {"error": "edgeml bench: " + (last_line(se) or "exit status %d" % rc)}
    return {"median_ms": j["median_ms"], "min_ms": j["min_ms"], "p90_ms": j["p90_ms"],
            "load_ms": j["load_ms"] + j.get("session_ms", 0.0), "model_load_ms": j["load_ms"],
            "first_run_ms": j.get("first_run_ms"), "peak_rss_kb": j["peak_rss_kb"],
            "rss_loaded_kb": j.get("rss_loaded_kb"), "arena_bytes": j.get("arena_bytes"),
            "threads_used": j.get("threads"), "wall_s": wall, "version": j.get("version")}


def bench_ort(args, m, threads, runs, warmup):
    cmd = ["node", os.path.join(ROOT, "tools", "ort_bench.js"), "--threads=%d" % threads,
           "--runs=%d" % runs, "--warmup=%d" % warmup, "--opt=all", m.path]
    cmd += ["%s=%s" % kv for kv in m.inputs.items()]
    rc, so, se, wall = run_proc(cmd, args.timeout, cwd=ROOT)
    j = last_json(so) if rc == 0 else None
    if j is None:
        return {"error": "ORT: " + (last_line(se) or "exit status %d" % rc)}
    return {"median_ms": j["median_ms"], "min_ms": j["min_ms"], "p90_ms": j["p90_ms"],
            "load_ms": j["load_ms"], "first_run_ms": j.get("first_run_ms"),
            "peak_rss_kb": j["peak_rss_kb"], "wall_s": wall,
            "version": j.get("ort_version"), "node_version": j.get("node_version")}


def write_floor_model(work):
    """A model that does nothing (Identity of one float) and its input: what each process
    costs with a model loaded, a session and a run, and each side's per-run floor."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "floor",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    path = os.path.join(work, "floor.onnx")
    onnx.save(m, path)
    x = os.path.join(work, "floor_x.npy")
    np.save(x, np.ones([1], np.float32))
    return Model("floor", path, {"x": x}, "floor")


def baselines(args, work):
    """What the processes cost doing (almost) nothing, medians of 3: node that only requires
    onnxruntime-node (the ORT baseline subtracted from ORT's peak RSS), and each side benchmarking
    a 1-float Identity model (the edgeml baseline: the CLI process with its libraries, an empty
    model and session; and both sides' per-run floor)."""
    node, e, o = [], [], []
    fm = write_floor_model(work)
    for _ in range(3):
        rc, so, _, _ = run_proc(["node", os.path.join(ROOT, "tools", "ort_bench.js"),
                                 "--baseline"], 120, cwd=ROOT)
        j = last_json(so) if rc == 0 else None
        if j:
            node.append(j["peak_rss_kb"])
        r = bench_edgeml(args, fm, 1, 50, 10)
        if "error" not in r:
            e.append(r)
        r = bench_ort(args, fm, 1, 50, 10)
        if "error" not in r:
            o.append(r)
    return {"node_kb": statistics.median(node) if node else 0,
            "edgeml_kb": agg(e, "peak_rss_kb") or 0, "ort_floor_kb": agg(o, "peak_rss_kb"),
            "edgeml_run_ms": agg(e, "median_ms"), "ort_run_ms": agg(o, "median_ms"),
            "edgeml_load_ms": agg(e, "load_ms"), "ort_load_ms": agg(o, "load_ms")}


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------

def npy_inputs(d):
    out = {}
    if os.path.isdir(d):
        for f in sorted(os.listdir(d)):
            if f.endswith(".npy"):
                out[f[:-4]] = os.path.join(d, f)
    return out


def make_inputs(model_path, outdir, rng):
    cmd = ["/usr/bin/python3", os.path.join(ROOT, "tests", "models", "make_inputs.py"),
           model_path, outdir, "--range=" + rng]
    rc, _, se, _ = run_proc(cmd, 300)
    if rc != 0:
        return None, "cannot make inputs: " + last_line(se)
    return npy_inputs(outdir), None


def resolve_models(args, work):
    names = []
    if args.models not in ("none", ""):
        sel = TORCH_MODELS + list(NPM_MODELS) if args.models == "all" else \
            [ALIASES.get(n.strip(), n.strip()) for n in args.models.split(",") if n.strip()]
        for n in sel:
            if n not in TORCH_MODELS and n not in NPM_MODELS:
                raise SystemExit("compare: unknown model %r (known: %s; aliases %s; or --model FILE)"
                                 % (n, ", ".join(TORCH_MODELS + list(NPM_MODELS)),
                                    ", ".join(sorted(ALIASES))))
            if n not in names:
                names.append(n)
    cache = args.cache
    torch_want = [n for n in names if n in TORCH_MODELS]
    missing = [n for n in torch_want
               if not os.path.exists(os.path.join(cache, n, "opset%d" % OPSET, "model.onnx"))]
    if missing and not args.no_fetch:
        log("exporting %s (tools/export_models.py, opset %d)" % (", ".join(missing), OPSET))
        subprocess.call(["/usr/bin/python3", os.path.join(ROOT, "tools", "export_models.py"),
                         cache, "--only", ",".join(missing), "--opsets", str(OPSET)],
                        stdout=sys.stderr)
    npm_want = [n for n in names if n in NPM_MODELS]
    if any(not os.path.exists(os.path.join(cache, "npm", n + ".onnx")) for n in npm_want) \
            and not args.no_fetch:
        log("fetching the npm models (tools/fetch_npm_models.sh)")
        subprocess.call([os.path.join(ROOT, "tools", "fetch_npm_models.sh"),
                         os.path.join(cache, "npm")], stdout=sys.stderr)
    models = []
    for n in names:
        if n in TORCH_MODELS:
            path = os.path.join(cache, n, "opset%d" % OPSET, "model.onnx")
            m = Model(n, path, npy_inputs(os.path.join(cache, n, "inputs")), "torch")
            if not os.path.exists(path):
                m.error = "model not available (%s)" % path
            elif not m.inputs:
                m.error = "no inputs in %s" % os.path.join(cache, n, "inputs")
        else:
            path = os.path.join(cache, "npm", n + ".onnx")
            m = Model(n, path, {}, "npm")
            if not os.path.exists(path):
                m.error = "model not available (%s)" % path
            else:
                m.inputs, m.error = make_inputs(path, os.path.join(work, "inputs", n), NPM_MODELS[n])
        models.append(m)
    for i, spec in enumerate(args.model):
        path, _, indir = spec.partition(":")
        name = os.path.basename(os.path.dirname(os.path.abspath(path))) \
            if os.path.basename(path) == "model.onnx" else os.path.splitext(os.path.basename(path))[0]
        m = Model(name, os.path.abspath(path), {}, "extra")
        if not os.path.exists(path):
            m.error = "no such file"
        elif indir:
            m.inputs = npy_inputs(indir)
            if not m.inputs:
                m.error = "no .npy inputs in %s" % indir
        else:
            m.inputs, m.error = make_inputs(path, os.path.join(work, "inputs", "extra%d" % i), "0:1")
        models.append(m)
    return models


# --------------------------------------------------------------------------------------------
# the runs
# --------------------------------------------------------------------------------------------

def plan_runs(args, m, threads):
    """(runs, warmup) for this model: the requested ones, fewer for a model so slow that a
    process would take more than --budget seconds (one probe run of edgeml decides)."""
    runs, warmup = args.runs, args.warmup
    if args.budget <= 0 or runs <= 3:
        return runs, warmup, None
    r = bench_edgeml(args, m, threads, 1, 0)
    if "error" in r:
        return runs, warmup, r["error"]
    per = max(r["median_ms"], 1e-3) / 1e3
    if per * (runs + warmup) > args.budget:
        runs = max(3, min(runs, int(args.budget / per)))
        warmup = min(warmup, 1)
    return runs, warmup, None


def bench_model(args, m, mi):
    for ti, t in enumerate(args.threads):
        runs, warmup, err = plan_runs(args, m, t) if ti == 0 else (m.runs, m.warmup, None)
        m.runs, m.warmup = runs, warmup
        res = {"edgeml": [], "ort": []}
        m.results[t] = res
        if err:
            res["edgeml"].append({"error": err})
        for r in range(args.rounds):
            order = ["edgeml", "ort"] if (r + mi + ti) % 2 == 0 else ["ort", "edgeml"]
            for side in order:
                if res[side] and "error" in res[side][-1]:
                    continue  # it failed once: the same run fails again
                fn = bench_edgeml if side == "edgeml" else bench_ort
                out = fn(args, m, t, runs, warmup)
                res[side].append(out)
        log("%-22s %d thread(s): edgeml %s, ORT %s" % (
            m.name, t, fmt_ms(agg(res["edgeml"], "median_ms")), fmt_ms(agg(res["ort"], "median_ms"))))


def ok_runs(runs):
    return [r for r in runs if "error" not in r]


def agg(runs, key):
    v = [r[key] for r in ok_runs(runs) if r.get(key) is not None]
    return statistics.median(v) if v else None


def first_error(runs):
    for r in runs:
        if "error" in r:
            return r["error"]
    return None


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


# --------------------------------------------------------------------------------------------
# roofline, footprint
# --------------------------------------------------------------------------------------------

def roofline_peak(args, work):
    """{threads: (gflops, isa)} from bench/roofline.c, or ({}, why)."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc:
        return {}, "no C compiler"
    exe = os.path.join(work, "roofline")
    rc, _, se, _ = run_proc([cc, "-O2", "-pthread", os.path.join(ROOT, "bench", "roofline.c"),
                                "-o", exe], 120)
    if rc != 0:
        return {}, "cannot build bench/roofline.c: " + last_line(se)
    rc, so, se, _ = run_proc([exe, "--json", "--threads", ",".join(map(str, args.threads)),
                                 "--seconds", str(args.roofline_seconds)], 600)
    j = last_json(so) if rc == 0 else None
    if not j:
        return {}, "roofline failed: " + last_line(se)
    return {r["threads"]: (r["gflops"], r["isa"]) for r in j["results"]}, None


def count_flops(models):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import flops
    for m in models:
        if m.error:
            continue
        try:
            m.flops = flops.count(m.path, dict(m.inputs))
            m.flops["conv_share"] = flops.conv_share(m.flops)
            m.flops["int"] = any(k in ("ConvInteger", "QLinearConv", "MatMulInteger",
                                       "QLinearMatMul") for k in m.flops["by_op"])
        except Exception as e:  # a model onnx cannot read or infer: no roofline line
            m.flops = {"error": "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:120])}


def file_size(p):
    try:
        return os.path.getsize(os.path.realpath(p))
    except OSError:
        return None


def stripped_size(p, work):
    strip = shutil.which("strip")
    if not strip:
        return None
    tmp = os.path.join(work, "stripped.so")
    rc = subprocess.call([strip, "--strip-unneeded", "-o", tmp, os.path.realpath(p)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if rc != 0:
        return None
    n = os.path.getsize(tmp)
    os.unlink(tmp)
    return n


def ldd(p):
    """[(soname, path)] of what p links (ldd), path None when not found."""
    try:
        out = subprocess.run(["ldd", p], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    libs = []
    for line in out.splitlines():
        line = line.strip()
        m = re.match(r"(\S+) => (\S+) \(", line) or re.match(r"(\S+) => not found", line)
        if m:
            libs.append((m.group(1), m.group(2) if m.lastindex >= 2 else None))
        else:
            m = re.match(r"(\S+) \(", line)
            if m:
                libs.append((os.path.basename(m.group(1)), m.group(1) if "/" in m.group(1) else None))
    return libs


def footprint(args, work):
    """Rows for the footprint table and the two totals (bytes)."""
    out = {"edgeml": None, "ort": None}
    lib = os.path.join(args.build_dir, "libedgeml.so") if args.build_dir else None
    if lib and os.path.exists(lib):
        libs = [("libedgeml.so (stripped)", stripped_size(lib, work), True)]
        for so, path in ldd(lib):
            libs.append((so, file_size(path) if path else None, not SYSTEM_LIBS.match(so)))
        out["edgeml"] = {"file": os.path.realpath(lib), "size": file_size(lib), "libs": libs}
    arch = {"x86_64": "x64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    base = os.path.join(ROOT, "node_modules", "onnxruntime-node", "bin")
    ortlib = None
    if os.path.isdir(base):
        for napi in sorted(os.listdir(base)):
            d = os.path.join(base, napi, "linux", arch)
            if os.path.isdir(d):
                for f in sorted(os.listdir(d)):
                    if f.startswith("libonnxruntime.so"):
                        ortlib = os.path.join(d, f)
    if ortlib:
        binding = os.path.join(os.path.dirname(ortlib), "onnxruntime_binding.node")
        libs = [("libonnxruntime.so (as shipped, stripped)", file_size(ortlib), True)]
        for so, path in ldd(ortlib):
            libs.append((so, file_size(path) if path else None, not SYSTEM_LIBS.match(so)))
        node = shutil.which("node")
        out["ort"] = {"file": ortlib, "size": file_size(ortlib), "libs": libs,
                      "binding": file_size(binding) if os.path.exists(binding) else None,
                      "node": file_size(node) if node else None}
    for k in out:
        if out[k]:
            out[k]["total"] = sum(s for _, s, counted in out[k]["libs"] if counted and s)
    return out


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------

def fmt_ms(v):
    if v is None:
        return "-"
    if v < 0.1:
        return "%.4f" % v
    return "%.3f" % v if v < 10 else ("%.2f" % v if v < 100 else "%.1f" % v)


def fmt_ratio(v):
    return "-" if v is None else "%.2f" % v


def fmt_mb(kb):
    return "-" if kb is None else "%.1f" % (kb / 1024.0)


def fmt_bytes(n):
    if n is None:
        return "?"
    return "%.2f MB" % (n / 1e6) if n >= 1e5 else "%.1f kB" % (n / 1e3)


def met(b):
    return "met" if b else "NOT met"


def cpu_info():
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name in ("", platform.machine()):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith(("flags", "Features")) and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile",
                       "asimd", "asimddp") if f in flags]
    return name, os.cpu_count(), isa


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True, timeout=30).stdout.strip()
        return rev or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


class Report:
    """Collects sections as (title, header, rows, notes) and renders them as text or markdown."""

    def __init__(self):
        self.parts = []

    def para(self, text):
        self.parts.append(("p", text))

    def table(self, title, header, rows, notes=()):
        rows = [(list(r) + [""] * len(header))[:len(header)] for r in rows]
        self.parts.append(("t", title, header, rows, list(notes)))

    def text(self):
        out = []
        for p in self.parts:
            if p[0] == "p":
                out.append(textwrap.fill(p[1].replace("**", "").replace("`", ""), 100))
                out.append("")
                continue
            _, title, header, rows, notes = p
            if title:
                out.append("== %s ==" % title)
            w = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
            line = lambda r: "  ".join(str(c).ljust(w[i]) if i == 0 else str(c).rjust(w[i])
                                       for i, c in enumerate(r)).rstrip()
            out.append(line(header))
            out.extend(line(r) for r in rows)
            out.extend(notes)
            out.append("")
        return "\n".join(out)

    def markdown(self):
        out = []
        for p in self.parts:
            if p[0] == "p":
                out.append(p[1])
                out.append("")
                continue
            _, title, header, rows, notes = p
            if title:
                out.append("### " + title)
                out.append("")
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
            for r in rows:
                out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
            if notes:
                out.append("")
                out.extend(n + "  " for n in notes)
            out.append("")
        return "\n".join(out)


def build_report(args, models, base, peak, peak_err, foot, started, load_before, load_after):
    rep = Report()
    cpu, ncpu, isa = cpu_info()
    ort_ver = node_ver = em_ver = None
    for m in models:
        for t, res in m.results.items():
            for r in ok_runs(res["ort"]):
                ort_ver, node_ver = r.get("version"), r.get("node_version")
            for r in ok_runs(res["edgeml"]):
                em_ver = r.get("version")
    rep.para(("%s " % args.note if args.note else "") + "edgeml %s (git %s) vs onnxruntime-node %s (node %s), %s. CPU: %s, %d logical CPUs "
             "(%s). Load average before/after: %s / %s. %d round(s) per model and thread "
             "count, %d timed runs (+%d warmup) per process unless the model is slow (see "
             "runs column); sides alternated, medians over rounds." % (
                 em_ver or "?", args.git_rev, ort_ver or "?", node_ver or "?",
                 started.strftime("%Y-%m-%d %H:%M"), cpu, ncpu, " ".join(isa) or "-",
                 load_before, load_after, args.rounds, args.runs, args.warmup))
    e_base, o_base = base["edgeml_kb"], base["node_kb"]
    any_fail = False
    summary = []
    for t in args.threads:
        rows, lat_r, load_r, rss_r, rss_raw_r, over, load_over, rss_over, failed = \
            [], [], [], [], [], [], [], [], []
        for m in models:
            res = m.results.get(t)
            if m.error or res is None:
                rows.append([m.name, "FAIL: " + (m.error or "not run")] + [""] * 10)
                failed.append(m.name)
                continue
            e, o = res["edgeml"], res["ort"]
            ee, oe = first_error(e), first_error(o)
            if ee or oe or not ok_runs(e) or not ok_runs(o):
                why = "; ".join(x for x in (ee, oe) if x) or "no result"
                rows.append([m.name, "FAIL: " + why[:160]] + [""] * 10)
                failed.append(m.name)
                continue
            em, om = agg(e, "median_ms"), agg(o, "median_ms")
            el, ol = agg(e, "load_ms"), agg(o, "load_ms")
            # work either side defers to the first run (edgeml packs weight layouts at the first
            # reshape that needs them) counts as loading: first run minus a steady one
            ef, of = agg(e, "first_run_ms"), agg(o, "first_run_ms")
            if ef is not None and of is not None:
                el += max(ef - em, 0.0)
                ol += max(of - om, 0.0)
            er, orr = agg(e, "peak_rss_kb"), agg(o, "peak_rss_kb")
            er_net = max(er - e_base, 1) if e_base else er
            or_net = max(orr - o_base, 1) if o_base else orr
            ratio, lratio = em / om, el / ol
            rratio, rraw = er_net / or_net, er / orr
            lat_r.append(ratio)
            load_r.append(lratio)
            rss_r.append(rratio)
            rss_raw_r.append(rraw)
            if ratio > 1.0:
                over.append(m.name)
            if lratio > 1.0:
                load_over.append(m.name)
            if rratio > 1.0:
                rss_over.append(m.name)
            rows.append([m.name, fmt_ms(em), fmt_ms(om), fmt_ratio(ratio), fmt_ms(el), fmt_ms(ol),
                         fmt_ratio(lratio), "%s (%s)" % (fmt_mb(er_net), fmt_mb(er)),
                         "%s (%s)" % (fmt_mb(or_net), fmt_mb(orr)), fmt_ratio(rratio),
                         fmt_ratio(rraw), "%d" % m.runs])
        any_fail = any_fail or bool(failed)
        g, gl, gr, grr = geomean(lat_r), geomean(load_r), geomean(rss_r), geomean(rss_raw_r)
        rows.append(["geometric mean", "", "", fmt_ratio(g), "", "", fmt_ratio(gl), "", "",
                     fmt_ratio(gr), fmt_ratio(grr), ""])
        n = len(lat_r)
        fail_note = " (%d model(s) failed: %s)" % (len(failed), ", ".join(failed)) if failed else ""
        notes = [
            "targets at %d thread(s)%s:" % (t, fail_note),
            "- latency geomean %s <= %.1f: %s" % (fmt_ratio(g), TARGET_GEOMEAN,
                                                  met(g is not None and g <= TARGET_GEOMEAN and not failed)),
            "- no model above 1.0: %s%s" % (met(n and not over and not failed),
                                             " (above: %s)" % ", ".join(over) if over else ""),
            "- load time <= ORT's on every model: %s%s" % (
                met(n and not load_over and not failed),
                " (above: %s)" % ", ".join(load_over) if load_over else ""),
            "- peak RSS <= ORT's on every model (net ratio): %s%s" % (
                met(n and not rss_over and not failed),
                " (above: %s)" % ", ".join(rss_over) if rss_over else ""),
        ]
        summary.append((t, g, bool(n and not over and not failed), gl, gr))
        rep.table("%d thread(s)" % t,
                  ["model", "edgeml ms", "ORT ms", "ratio", "edgeml load ms", "ORT load ms",
                   "load ratio", "edgeml RSS MB net (raw)", "ORT RSS MB net (raw)",
                   "RSS ratio (net)", "RSS ratio (raw)", "runs"], rows, notes)
    rep.para("Latency: median over the rounds of each process's median run. Load: edgeml "
             "`load_ms + session_ms` (map, decode, resolve, optimise, create the session) vs ORT "
             "`InferenceSession.create` (read, optimise, create; the first create in a process "
             "also sets up ORT's environment), each plus what its first run takes beyond a "
             "steady run (work deferred to the first run: edgeml packs weight layouts at the "
             "first reshape that needs them). RSS: peak "
             "resident set (VmHWM, read by each process itself at its end). *raw* is the whole "
             "process. *net* subtracts a baseline: for ORT, a node process that only requires "
             "onnxruntime-node (%s MB); for edgeml, `edgeml bench` of a 1-float Identity model "
             "(%s MB: the CLI, which also links the deployment libraries, plus an empty model "
             "and session). The **RSS ratio used for the target is net/net**; raw/raw is shown "
             "beside it. ORT's net figure keeps the cost of setting up its environment (the "
             "Identity model's ORT process peaks at %s MB), edgeml's leaves out its empty "
             "session: net/net leans slightly towards edgeml, raw/raw towards ORT. ORT's "
             "latencies include the node binding's per-call work: on the Identity model ORT "
             "takes %s ms per run, edgeml %s ms." % (
                 fmt_mb(o_base), fmt_mb(e_base), fmt_mb(base.get("ort_floor_kb")),
                 fmt_ms(base.get("ort_run_ms")), fmt_ms(base.get("edgeml_run_ms"))))
    # roofline
    rows, notes = [], []
    if peak:
        peaks = ", ".join("%d thread(s) %.1f GFLOP/s (%s)" % (t, peak[t][0], peak[t][1])
                          for t in sorted(peak))
        seen = lambda d: ", ".join("%.1f" % d[t][0] for t in sorted(d)) or "-"
        notes.append("peak FP32 FMA throughput measured by bench/roofline.c: %s (the higher of "
                     "before the models: %s, and after them: %s)" % (
                         peaks, seen(args.peak_before), seen(args.peak_after)))
        for m in models:
            f = m.flops
            if not f or "error" in f or not f.get("flops"):
                continue
            if f.get("conv_share", 0) < 0.5 or f["gflop"] < 0.05:
                continue  # not conv-heavy: the roofline says little
            row = [m.name, "%.3f" % f["gflop"]]
            for t in args.threads:
                res = m.results.get(t)
                pk = peak.get(t, (None,))[0]
                for side in ("edgeml", "ort"):
                    ms = agg(res[side], "median_ms") if res and not first_error(res[side]) else None
                    if ms is None:
                        row += ["-", "-"]
                        continue
                    gf = f["flops"] / (ms / 1e3) / 1e9
                    row += ["%.1f" % gf, "-" if f["int"] or not pk else "%.0f%%" % (100 * gf / pk)]
            if m.name == "resnet50" and 1 in args.threads and peak.get(1):
                res = m.results.get(1)
                ms = agg(res["edgeml"], "median_ms") if res else None
                if ms:
                    frac = f["flops"] / (ms / 1e3) / 1e9 / peak[1][0]
                    notes.append("target: edgeml ResNet-50 at 1 thread >= %d%% of peak: %s (%.0f%%)"
                                 % (100 * TARGET_ROOFLINE, met(frac >= TARGET_ROOFLINE), 100 * frac))
            if f["int"]:
                row[0] += " (int8: GOP/s, no % of the FP32 peak)"
            if f.get("unknown"):
                row[0] += " (%d dense node(s) of unknown shape not counted)" % len(f["unknown"])
            rows.append(row)
        if not rows:
            rows.append(["(no conv-heavy model in this run)"])
        header = ["model", "GFLOP"]
        for t in args.threads:
            header += ["edgeml GFLOP/s %dT" % t, "% peak", "ORT GFLOP/s %dT" % t, "% peak"]
        notes.append("GFLOP = 2 x MACs of Conv/ConvTranspose/Gemm/MatMul (bench/flops.py) on the "
                     "real input shapes; GFLOP/s = that / the whole model's median latency, so "
                     "time in other ops counts against it. Models shown: convolutions >= 50% of "
                     "the FLOPs and >= 0.05 GFLOP.")
        rep.table("Roofline", header, rows, notes)
    else:
        rep.para("Roofline: not measured (%s)." % (peak_err or "disabled"))
    # footprint
    rows, notes = [], []
    for side, label in (("edgeml", "edgeml"), ("ort", "ONNX Runtime")):
        fp = foot.get(side)
        if not fp:
            rows.append([label, "not found", ""])
            continue
        system = []
        for name, size, counted in fp["libs"]:
            if counted:
                rows.append([label, name, fmt_bytes(size)])
            elif size:
                system.append(name)
        rows.append([label, "total", fmt_bytes(fp["total"])])
        if system:
            notes.append("%s also links the system C library (not counted): %s." % (
                label, ", ".join(system)))
    if foot.get("edgeml"):
        notes.append("edgeml runtime + what it links: %s (target <= 8 MB: %s)" % (
            fmt_bytes(foot["edgeml"]["total"]), met(foot["edgeml"]["total"] <= 8e6)))
    if foot.get("ort"):
        fo = foot["ort"]
        notes.append("onnxruntime-node also needs its binding (%s) and node itself (%s)." % (
            fmt_bytes(fo.get("binding")), fmt_bytes(fo.get("node"))))
    rep.table("Installed footprint", ["runtime", "file", "size"], rows, notes)
    return rep, any_fail, summary


# --------------------------------------------------------------------------------------------

def check_tools():
    """None when node, onnxruntime-node and numpy/onnx are there, else the reason."""
    try:
        import numpy  # noqa: F401
        import onnx  # noqa: F401
    except ImportError as e:
        return "%s for %s (apt-get install python3-numpy python3-onnx)" % (e, sys.executable)
    if not shutil.which("node"):
        return "node is not installed (apt-get install nodejs npm)"
    rc = subprocess.call(["node", "-e", "require('onnxruntime-node')"], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if rc != 0:
        return ("onnxruntime-node is not installed in %s/node_modules "
                "(ONNXRUNTIME_NODE_INSTALL=skip npm ci)" % ROOT)
    return None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--edgeml", help="the edgeml CLI (default BUILD_DIR/edgeml)")
    ap.add_argument("--build-dir", help="edgeml's build directory (libedgeml.so for the footprint)")
    ap.add_argument("--models", default="all",
                    help="comma-separated names (aliases: transformer, lstm, ...), 'all' "
                         "(default) or 'none'")
    ap.add_argument("--model", action="append", default=[], metavar="FILE.onnx[:INPUTDIR]",
                    help="another model (inputs: INPUTDIR/*.npy, else synthetic in [0, 1])")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    ap.add_argument("--runs", type=int, default=10, help="timed runs per process (default 10)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    ap.add_argument("--budget", type=float, default=20.0,
                    help="seconds of timed runs per process before --runs is reduced for a "
                         "slow model (at least 3 runs; default 20; 0: never)")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per process (default 1200)")
    ap.add_argument("--cache", default=os.environ.get("EDGEML_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "edgeml", "models"), help="model cache (EDGEML_CACHE)")
    ap.add_argument("--no-fetch", action="store_true", help="do not export/fetch missing models")
    ap.add_argument("--no-roofline", action="store_true")
    ap.add_argument("--roofline-seconds", type=float, default=0.3,
                    help="seconds per roofline repetition (default 0.3)")
    ap.add_argument("--quick", action="store_true",
                    help="--rounds 1 --runs 1 --warmup 0 --roofline-seconds 0.02 (a check "
                         "that the harness works, not a measurement)")
    ap.add_argument("--markdown", metavar="FILE", help="also write the report as markdown")
    ap.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")
    ap.add_argument("--keep-work", action="store_true")
    ap.add_argument("--note", help="a sentence put first in the report (e.g. which build)")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.runs, args.warmup, args.roofline_seconds = 1, 1, 0, 0.02
    try:
        args.threads = [int(x) for x in args.threads.split(",") if x.strip()]
    except ValueError:
        ap.error("--threads expects a list like 1,2")
    if not args.threads or min(args.threads) < 1 or args.rounds < 1 or args.runs < 1 \
            or args.warmup < 0:
        ap.error("--threads, --rounds and --runs must be >= 1, --warmup >= 0")
    if not args.edgeml:
        if not args.build_dir:
            ap.error("give --edgeml or --build-dir")
        args.edgeml = os.path.join(args.build_dir, "edgeml")
    if not args.build_dir:
        args.build_dir = os.path.dirname(os.path.abspath(args.edgeml))
    args.edgeml = os.path.abspath(args.edgeml)
    if not os.access(args.edgeml, os.X_OK):
        log("%s is not an executable" % args.edgeml)
        return 1
    why = check_tools()
    if why:
        print("compare: skipped: " + why, flush=True)
        return SKIP

    work = tempfile.mkdtemp(prefix="edgeml-compare.")
    try:
        started = datetime.datetime.now()
        args.git_rev = git_rev()
        load_before = "%.2f" % os.getloadavg()[0]
        models = resolve_models(args, work)
        if not models:
            ap.error("no models selected")
        if not args.no_roofline:
            log("counting FLOPs (bench/flops.py)")
            count_flops(models)
        # The FMA peak before the models and again after them; the higher is used (load from
        # other processes only ever lowers it).
        peak_before, peak_err_before = ({}, None) if args.no_roofline else roofline_peak(args, work)
        base = baselines(args, work)
        log("baselines: node + onnxruntime-node %s MB; Identity model: edgeml %s MB, ORT %s MB"
            % (fmt_mb(base["node_kb"]), fmt_mb(base["edgeml_kb"]), fmt_mb(base["ort_floor_kb"])))
        for mi, m in enumerate(models):
            if m.error:
                log("%s: %s" % (m.name, m.error))
                continue
            bench_model(args, m, mi)
        peak, peak_err = {}, "disabled"
        if not args.no_roofline:
            after, peak_err = roofline_peak(args, work)
            for t in set(peak_before) | set(after):
                cands = [x for x in (peak_before.get(t), after.get(t)) if x]
                peak[t] = max(cands)
            peak_err = peak_err_before or peak_err
        foot = footprint(args, work)
        load_after = "%.2f" % os.getloadavg()[0]
        args.peak_before, args.peak_after = peak_before, (after if not args.no_roofline else {})
        rep, any_fail, summary = build_report(args, models, base, peak, peak_err, foot, started,
                                              load_before, load_after)
        text = rep.text()
        print(text)
        if args.markdown:
            if os.environ.get("EDGEML_COMPARE_SH") and argv[:1] == ["--build-dir"]:
                cmdline = "bench/compare.sh " + shlex.join(argv[1:])  # the wrapper's BUILD_DIR
            else:
                cmdline = "bench/compare.py " + shlex.join(argv)
            with open(args.markdown + ".tmp", "w") as f:
                f.write("# edgeml vs ONNX Runtime\n\n`%s`\n\n" % cmdline)
                f.write(rep.markdown())
            os.replace(args.markdown + ".tmp", args.markdown)
            log("wrote " + args.markdown)
        if args.json:
            data = {"baselines": base,
                    "peak_gflops": {str(k): v for k, v in peak.items()}, "footprint": foot,
                    "models": [{"name": m.name, "path": m.path, "inputs": m.inputs,
                                "error": m.error, "flops": m.flops,
                                "results": {str(t): r for t, r in m.results.items()}}
                               for m in models]}
            with open(args.json, "w") as f:
                json.dump(data, f, indent=1)
        return 1 if any_fail else 0
    finally:
        if args.keep_work:
            log("work directory " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
