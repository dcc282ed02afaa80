#!/usr/bin/python3
"""End-to-end tests of the edgeml CLI: infer, inspect, bench, version, errors.

usage: test_cli.py EDGEML_BINARY TESTDATA_DIR   (TESTDATA_DIR: .../libonnx-testdata/data)
Exit 77 (skip) when the test data or onnx/numpy are missing.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # pragma: no cover
    print("skip:", e)
    sys.exit(77)

EDGEML = os.path.abspath(sys.argv[1])
DATA = sys.argv[2]
if not os.path.isdir(DATA):
    print("skip: no test data at", DATA)
    sys.exit(77)
TMP = tempfile.mkdtemp(prefix="edgeml-cli-")
failures = []
only = set(sys.argv[3:])  # optional: names of test functions to run


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def run(*args, **kw):
    p = subprocess.run([EDGEML] + [str(a) for a in args], capture_output=True, text=True,
                       errors="replace", **kw)
    return p.returncode, p.stdout, p.stderr


def tmpdir(name):
    d = os.path.join(TMP, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def save(path, arr):
    np.save(path, arr)
    return path


def load_pb(path):
    t = TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def close(a, e):
    if a.dtype != e.dtype or a.shape != e.shape:
        return False
    if a.dtype.kind == "f":
        a64, e64 = a.astype(np.float64), e.astype(np.float64)
        nan = np.isnan(e64)
        if not (np.isnan(a64) == nan).all():
            return False
        return bool((np.abs(a64 - e64)[~nan] <= 1e-7 + 1e-3 * np.abs(e64[~nan])).all())
    return bool((a == e).all())


def make_model(nodes, inputs, outputs, opset=13, initializers=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="edgeml-test")
    m.ir_version = 7
    return m


def write_model(m, name):
    p = os.path.join(TMP, name + ".onnx")
    with open(p, "wb") as f:
        f.write(m.SerializeToString())
    return p


def expect_error(args, out_dir, what, code=None, leave=None):
    """One stderr line 'edgeml: ...', non-zero exit, nothing new in out_dir."""
    before = set(os.listdir(out_dir)) if out_dir and os.path.isdir(out_dir) else None
    rc, out, err = run(*args)
    lines = err.splitlines()
    ok = check(rc != 0 and (code is None or rc == code), "%s: exit %d (want %s)" % (what, rc, code or "!=0"))
    ok &= check(len(lines) == 1 and lines[0].startswith("edgeml: "),
                "%s: stderr not one 'edgeml:' line: %r" % (what, err))
    if out_dir:
        if before is None:
            ok &= check(not os.path.exists(out_dir), "%s: created %s" % (what, out_dir))
        else:
            after = set(os.listdir(out_dir))
            ok &= check(after == before, "%s: left files %s" % (what, sorted(after - before)))
    if ok:
        print("  ok %-40s %s" % (what, lines[0] if lines else ""))
    return rc, err


# ---------------------------------------------------------------------------
def conformance_case(rel, nested_out=True):
    d = os.path.join(DATA, rel)
    m = onnx.load(os.path.join(d, "model.onnx"))
    inits = {i.name for i in m.graph.initializer}
    in_names = [i.name for i in m.graph.input if i.name not in inits]
    out_names = [o.name for o in m.graph.output]
    ds = os.path.join(d, "test_data_set_0")
    args = ["infer", os.path.join(d, "model.onnx")]
    nd = tmpdir("in_" + os.path.basename(rel))
    for k, name in enumerate(in_names):
        a = load_pb(os.path.join(ds, "input_%d.pb" % k))
        args += ["--input", "%s=%s" % (name, save(os.path.join(nd, "in%d.npy" % k), a))]
    out = os.path.join(TMP, "out_" + os.path.basename(rel), "a", "b") if nested_out else nd
    shutil.rmtree(os.path.join(TMP, "out_" + os.path.basename(rel)), ignore_errors=True)
    args += ["--output-dir", out]
    rc, so, se = run(*args)
    if not check(rc == 0, "infer %s: exit %d: %s" % (rel, rc, se.strip())):
        return
    for k, name in enumerate(out_names):
        e = load_pb(os.path.join(ds, "output_%d.pb" % k))
        p = os.path.join(out, name + ".npy")
        if not check(os.path.exists(p), "infer %s: no %s" % (rel, p)):
            continue
        a = np.load(p)
        check(close(a, e), "infer %s: output %s differs: %s %s vs %s %s" %
              (rel, name, a.dtype, a.shape, e.dtype, e.shape))
    left = [f for f in os.listdir(out) if f.startswith(".")]
    check(not left, "infer %s: temporary files left: %s" % (rel, left))
    print("  ok infer", rel)


def test_conformance():
    for rel in ["node/test_add", "simple/test_single_relu_model", "node/test_and2d",
                "node/test_argmax_default_axis_example", "node/test_cast_FLOAT_to_FLOAT16",
                "node/test_size", "node/test_matmul_2d", "pytorch-converted/test_Conv2d"]:
        if os.path.isdir(os.path.join(DATA, rel)):
            conformance_case(rel)


def identity_model(dtype, name_in="x", name_out="y", shape=None):
    return make_model([helper.make_node("Identity", [name_in], [name_out])],
                      [helper.make_tensor_value_info(name_in, dtype, shape)],
                      [helper.make_tensor_value_info(name_out, dtype, shape)])


NP_TO_ONNX = {
    "bool": TensorProto.BOOL, "int8": TensorProto.INT8, "uint8": TensorProto.UINT8,
    "int16": TensorProto.INT16, "uint16": TensorProto.UINT16, "int32": TensorProto.INT32,
    "uint32": TensorProto.UINT32, "int64": TensorProto.INT64, "uint64": TensorProto.UINT64,
    "float16": TensorProto.FLOAT16, "float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE,
}


def test_dtypes_roundtrip():
    """Every dtype, 0-d and empty arrays, .npy versions 1/2/3 through Identity."""
    rng = np.random.default_rng(1)
    for dt, onnx_dt in NP_TO_ONNX.items():
        mp = write_model(identity_model(onnx_dt), "id_" + dt)
        for shape in [(), (0,), (2, 3), (3, 0, 2)]:
            n = int(np.prod(shape))
            if dt == "bool":
                a = rng.integers(0, 2, n).astype(bool).reshape(shape)
            elif dt.startswith("float"):
                a = rng.standard_normal(n).astype(dt).reshape(shape)
            else:
                a = rng.integers(0, 100, n).astype(dt).reshape(shape)
            for ver in (1, 2, 3):
                d = tmpdir("rt")
                src = os.path.join(d, "x.npy")
                with open(src, "wb") as f:
                    np.lib.format.write_array(f, a, version=(ver, 0))
                out = os.path.join(d, "out")
                rc, so, se = run("infer", mp, "--input", "x=" + src, "--output-dir", out)
                if not check(rc == 0, "identity %s %s v%d: %s" % (dt, shape, ver, se.strip())):
                    continue
                b = np.load(os.path.join(out, "y.npy"))
                check(b.dtype == a.dtype and b.shape == a.shape and a.tobytes() == b.tobytes(),
                      "identity %s %s v%d: round trip differs" % (dt, shape, ver))
    # bfloat16 as '<u2' raw bits
    mp = write_model(identity_model(TensorProto.BFLOAT16), "id_bf16")
    d = tmpdir("bf16")
    bits = np.array([[0x3f80, 0xc000], [0x7f80, 0]], dtype="<u2")
    rc, so, se = run("infer", mp, "--input", "x=" + save(os.path.join(d, "x.npy"), bits),
                     "--output-dir", os.path.join(d, "o"))
    if check(rc == 0, "bfloat16 identity: " + se.strip()):
        b = np.load(os.path.join(d, "o", "y.npy"))
        check(b.dtype == np.dtype("<u2") and (b == bits).all(), "bfloat16 bits round trip")
    expect_error(["infer", mp, "--input", "x=" + save(os.path.join(d, "f.npy"), np.zeros((2, 2), np.float32)),
                  "--output-dir", os.path.join(d, "o2")], os.path.join(d, "o2"), "bfloat16 given float32")
    print("  ok dtype round trips")


def test_odd_names():
    names = ["out:0", "a {b} 'c' \"d\" e", "ünï", "-leading", ".hidden", "x=y", "tab\tname"]
    nodes = [helper.make_node("Identity", ["in:0 {x}"], [n]) for n in names]
    m = make_model(nodes, [helper.make_tensor_value_info("in:0 {x}", TensorProto.FLOAT, [2])],
                   [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in names])
    mp = write_model(m, "odd")
    d = tmpdir("odd")
    a = np.array([1.5, -2], np.float32)
    rc, so, se = run("infer", mp, "--input", "in:0 {x}=" + save(os.path.join(d, "a.npy"), a),
                     "--output-dir", os.path.join(d, "o"))
    if check(rc == 0, "odd names: " + se.strip()):
        got = sorted(os.listdir(os.path.join(d, "o")))
        check(got == sorted(n + ".npy" for n in names), "odd names: files %r" % got)
        for n in names:
            check((np.load(os.path.join(d, "o", n + ".npy")) == a).all(), "odd name " + n)
    print("  ok odd names")


def test_errors():
    add = os.path.join(DATA, "node", "test_add", "model.onnx")
    d = tmpdir("err")
    x = save(os.path.join(d, "x.npy"), np.ones((3, 4, 5), np.float32))
    y = save(os.path.join(d, "y.npy"), np.ones((3, 4, 5), np.float32))
    out = os.path.join(d, "out")  # does not exist: must not be left behind
    base = ["infer", add, "--output-dir", out]
    expect_error(base + ["--input", "x=" + x], out, "missing input")
    expect_error(base + ["--input", "x=" + x, "--input", "y=" + y, "--input", "z=" + y], out,
                 "unknown input")
    expect_error(base + ["--input", "x=" + x, "--input", "x=" + x, "--input", "y=" + y], out,
                 "duplicate input")
    f64 = save(os.path.join(d, "f64.npy"), np.ones((3, 4, 5), np.float64))
    expect_error(base + ["--input", "x=" + f64, "--input", "y=" + y], out, "wrong dtype")
    r2 = save(os.path.join(d, "r2.npy"), np.ones((3, 20), np.float32))
    expect_error(base + ["--input", "x=" + r2, "--input", "y=" + y], out, "wrong rank")
    sh = save(os.path.join(d, "sh.npy"), np.ones((3, 4, 6), np.float32))
    expect_error(base + ["--input", "x=" + sh, "--input", "y=" + y], out, "wrong dim")
    expect_error(base + ["--input", "x=" + os.path.join(d, "nope.npy"), "--input", "y=" + y], out,
                 "missing .npy")
    raw = open(x, "rb").read()
    for what, data in [("truncated .npy", raw[:-3]), ("trailing garbage .npy", raw + b"xx"),
                       ("not a .npy", b"hello"),
                       ("fortran .npy", raw.replace(b"False", b"True ")),
                       ("big-endian .npy", raw.replace(b"<f4", b">f4")),
                       ("bad header .npy", raw.replace(b"'shape'", b"'shapf'"))]:
        p = os.path.join(d, "bad.npy")
        open(p, "wb").write(data)
        expect_error(base + ["--input", "x=" + p, "--input", "y=" + y], out, what)
    obj = os.path.join(d, "obj.npy")
    np.save(obj, np.array([1, "a"], dtype=object), allow_pickle=True)
    expect_error(base + ["--input", "x=" + obj, "--input", "y=" + y], out, "object .npy")
    # malformed models
    mraw = open(add, "rb").read()
    for what, data in [("garbage model", b"\xff\xff\xff\xff garbage"),
                       ("truncated model", mraw[: len(mraw) // 2]), ("empty model", b"")]:
        p = os.path.join(d, "bad.onnx")
        open(p, "wb").write(data)
        expect_error(["infer", p, "--input", "x=" + x, "--input", "y=" + y, "--output-dir", out],
                     out, what)
    expect_error(["infer", os.path.join(d, "nope.onnx"), "--input", "x=" + x, "--output-dir", out],
                 out, "missing model")
    # output names that cannot be file names
    for bad in ["a/b", "..", "."]:
        m = identity_model(TensorProto.FLOAT, name_out=bad, shape=[2])
        mp = write_model(m, "badname")
        a = save(os.path.join(d, "a.npy"), np.ones(2, np.float32))
        expect_error(["infer", mp, "--input", "x=" + a, "--output-dir", out], out,
                     "output name %r" % bad)
    # string input
    sm = os.path.join(DATA, "simple", "test_strnorm_model_monday_casesensintive_lower", "model.onnx")
    if os.path.exists(sm):
        expect_error(["infer", sm, "--input", "x=" + x, "--output-dir", out], out, "string input")
    # OUT is a file
    f = os.path.join(d, "file")
    open(f, "w").write("x")
    expect_error(["infer", add, "--input", "x=" + x, "--input", "y=" + y, "--output-dir", f], None,
                 "output dir is a file")
    expect_error(["infer", add, "--input", "x=" + x, "--input", "y=" + y, "--output-dir",
                  os.path.join(f, "sub")], None, "output dir below a file")
    # failure while publishing the outputs: the second output's path is a
    # directory, so its rename fails; the first must be removed again.
    m = make_model([helper.make_node("Identity", ["x"], ["o1"]),
                    helper.make_node("Identity", ["x"], ["o2"])],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                   [helper.make_tensor_value_info("o1", TensorProto.FLOAT, [2]),
                    helper.make_tensor_value_info("o2", TensorProto.FLOAT, [2])])
    mp = write_model(m, "two")
    od = tmpdir("two_out")
    os.makedirs(os.path.join(od, "o2.npy", "sub"))
    open(os.path.join(od, "keep.txt"), "w").write("keep")
    expect_error(["infer", mp, "--input", "x=" + save(os.path.join(d, "a.npy"), np.ones(2, np.float32)),
                  "--output-dir", od], od, "rename failure cleanup")
    # usage errors: exit 2
    expect_error(["infer", add, "--bogus"], None, "unknown option", code=2)
    expect_error(["infer", add, "--input", "x=" + x], None, "missing --output-dir", code=2)
    expect_error(["infer", add, "--input", "xx", "--output-dir", out], out, "--input without =", code=2)
    expect_error(["infer", "--output-dir", out], out, "missing model", code=2)
    expect_error(["infer", add, add, "--output-dir", out], out, "two models", code=2)
    expect_error(["infer", add, "--output-dir"], None, "option without value", code=2)
    expect_error(["frobnicate"], None, "unknown command", code=2)
    expect_error(["--frob"], None, "unknown top-level option", code=2)
    expect_error(["inspect", add, "--nope"], None, "inspect unknown option", code=2)
    expect_error(["bench", add, "--runs", "0"], None, "bench --runs 0", code=2)
    expect_error(["bench", add, "--runs", "x"], None, "bench --runs x", code=2)
    expect_error(["version", "--nope"], None, "version unknown option", code=2)
    expect_error(["inspect", os.path.join(d, "bad.onnx")], None, "inspect malformed model")


def test_help_version():
    for args in (["--help"], ["-h"], ["help"], ["version"], ["--version"], ["infer", "--help"],
                 ["inspect", "--help"], ["bench", "--help"], ["version", "--help"],
                 ["help", "infer"]):
        rc, so, se = run(*args)
        check(rc == 0 and so and not se, "%s: exit %d, stdout %r, stderr %r" % (args, rc, so[:50], se))
    rc, so, se = run()
    check(rc == 2 and "usage" in se, "no arguments: exit %d" % rc)
    rc, so, se = run("version")
    check(so.startswith("edgeml "), "version output %r" % so)
    print("  ok help/version")


def test_inspect():
    for rel in ["node/test_add", "simple/test_single_relu_model", "pytorch-converted/test_Conv2d"]:
        p = os.path.join(DATA, rel, "model.onnx")
        m = onnx.load(p)
        rc, so, se = run("inspect", p)
        check(rc == 0 and "ir_version" in so and not se, "inspect %s: %d %s" % (rel, rc, se))
        rc, so, se = run("inspect", "--json", p)
        if not check(rc == 0, "inspect --json %s: %s" % (rel, se)):
            continue
        try:
            j = json.loads(so)
        except ValueError as e:
            check(False, "inspect --json %s: not JSON (%s): %r" % (rel, e, so[:200]))
            continue
        check(j["ir_version"] == m.ir_version, "inspect ir_version")
        check(j["opsets"].get("ai.onnx") == m.opset_import[0].version, "inspect opsets %r" % j["opsets"])
        inits = {i.name for i in m.graph.initializer}
        want_in = [i.name for i in m.graph.input if i.name not in inits]
        got_in = [i["name"] for i in j["inputs"]]
        check(got_in[:len(want_in)] == want_in, "inspect inputs %r vs %r" % (got_in, want_in))
        check([o["name"] for o in j["outputs"]] == [o.name for o in m.graph.output], "inspect outputs")
        hist = {}
        for n in m.graph.node:
            hist[n.op_type] = hist.get(n.op_type, 0) + 1
        check(j["ops"] == hist, "inspect ops %r vs %r" % (j["ops"], hist))
        pc = sum(int(np.prod(i.dims)) for i in m.graph.initializer)
        check(j["param_count"] == pc, "inspect param_count %r vs %r" % (j["param_count"], pc))
    # symbolic dims appear by name
    m = make_model([helper.make_node("Relu", ["x"], ["y"])],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])])
    mp = write_model(m, "sym")
    rc, so, se = run("inspect", "--json", mp)
    if check(rc == 0, "inspect sym: " + se):
        j = json.loads(so)
        check(j["inputs"][0]["shape"] == ["batch", 3] and j["inputs"][0]["dtype"] == "float32",
              "inspect symbolic shape %r" % j["inputs"])
    rc, so, se = run("inspect", mp)
    check("batch" in so, "inspect text symbolic dim")
    print("  ok inspect")


def test_bench():
    m = make_model([helper.make_node("Relu", ["x"], ["y"])],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16])])
    mp = write_model(m, "bench")
    rc, so, se = run("bench", mp, "--dim", "N=4", "--runs", "5", "--warmup", "1", "--json")
    if check(rc == 0, "bench --json: " + se):
        try:
            j = json.loads(so)
            for k in ("load_ms", "median_ms", "min_ms", "p90_ms", "peak_rss_kb"):
                check(isinstance(j.get(k), (int, float)) and j[k] >= 0, "bench key %s: %r" % (k, j.get(k)))
            check(j["min_ms"] <= j["median_ms"] <= j["p90_ms"], "bench ordering")
        except ValueError as e:
            check(False, "bench --json not JSON: %s %r" % (e, so))
    add = os.path.join(DATA, "node", "test_add", "model.onnx")
    d = tmpdir("bench")
    x = save(os.path.join(d, "x.npy"), np.ones((3, 4, 5), np.float32))
    rc, so, se = run("bench", add, "--input", "x=" + x, "--runs", "3", "--json")
    if check(rc == 0, "bench with --input: " + se):
        check(isinstance(json.loads(so)["median_ms"], float), "bench json 2")
    rc, so, se = run("bench", add, "--runs", "2")
    check(rc == 0 and "median" in so, "bench text: " + se)
    # EDGEML_PROFILE=1: per-node times on stderr when the session ends (2 warmup + 3 runs); stdout unchanged
    env = dict(os.environ, EDGEML_PROFILE="1")
    rc, so, se = run("bench", add, "--runs", "3", "--json", env=env)
    lines = se.splitlines()
    if check(rc == 0 and lines and lines[0].startswith("edgeml profile: 1 nodes, 5 run(s)"),
             "EDGEML_PROFILE header: %r" % se):
        check(any(" Add " in ln and "100.0%" in ln for ln in lines), "EDGEML_PROFILE node line: %r" % se)
        check(isinstance(json.loads(so)["median_ms"], float), "EDGEML_PROFILE keeps stdout JSON")
    rc, so, se = run("bench", add, "--runs", "2", env=dict(os.environ, EDGEML_PROFILE="0"))
    check(rc == 0 and "edgeml profile" not in se, "EDGEML_PROFILE=0 prints nothing: %r" % se)
    print("  ok bench")


TESTS = [test_help_version, test_conformance, test_dtypes_roundtrip, test_odd_names, test_errors,
         test_inspect, test_bench]
for t in TESTS:
    if only and t.__name__ not in only:
        continue
    print(t.__name__)
    try:
        t()
    except Exception as e:  # keep going: report every failure
        import traceback
        traceback.print_exc()
        check(False, "%s raised %r" % (t.__name__, e))
shutil.rmtree(TMP, ignore_errors=True)
print("%d failures" % len(failures))
sys.exit(1 if failures else 0)
