#!/usr/bin/python3
"""Loader behaviour a user relies on: package directories, external data, and
models whose sizes or offsets lie.

usage: test_loader.py EDGEML_BINARY
Each case runs `edgeml infer` and checks the exit status, the single error line
and the result. Exit 77 (skip) without numpy/onnx.
"""
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    print("skip:", e)
    sys.exit(77)

EDGEML = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="edgeml-loader-")
failures = []
passed = 0


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    p = subprocess.run([EDGEML] + [str(a) for a in args], capture_output=True, text=True, errors="replace")
    return p.returncode, p.stdout, p.stderr


W = np.arange(12, dtype=np.float32).reshape(3, 4) / 7.0
X = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)


def matmul_model(weight_tensor):
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [weight_tensor])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def external_weight(location, offset=None, length=None):
    t = TensorProto()
    t.name = "w"
    t.data_type = TensorProto.FLOAT
    t.dims.extend([3, 4])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    return t


def write_model(d, m, name="model.onnx"):
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(m.SerializeToString())
    return p


def infer(model, tag):
    xin = os.path.join(TMP, "x.npy")
    np.save(xin, X)
    out = os.path.join(TMP, "out-" + tag)
    shutil.rmtree(out, ignore_errors=True)
    rc, so, se = run("infer", model, "--input", "x=" + xin, "--output-dir", out)
    y = None
    if rc == 0 and os.path.exists(os.path.join(out, "y.npy")):
        y = np.load(os.path.join(out, "y.npy"))
    return rc, se, y, out


def expect_ok(model, tag):
    rc, se, y, _ = infer(model, tag)
    check(rc == 0 and y is not None and np.allclose(y, X @ W, rtol=1e-6), f"{tag}: runs and matches numpy (rc={rc}, {se.strip()})")


def expect_error(model, tag, *words):
    rc, se, y, out = infer(model, tag)
    lines = [l for l in se.splitlines() if l.strip()]
    check(rc != 0, f"{tag}: non-zero exit")
    check(len(lines) == 1, f"{tag}: exactly one error line, got {lines}")
    for w in words:
        check(w in se, f"{tag}: error mentions '{w}': {se.strip()}")
    check(not os.path.exists(out) or not os.listdir(out), f"{tag}: no output left behind")


# 1. A package directory with exactly one model; other files ignored.
d = os.path.join(TMP, "pkg1")
write_model(d, matmul_model(numpy_helper.from_array(W, "w")))
open(os.path.join(d, "labels.txt"), "w").write("a\nb\n")
expect_ok(d, "directory with one model")

d = os.path.join(TMP, "pkg0")
os.makedirs(d)
open(os.path.join(d, "README"), "w").write("no model")
expect_error(d, "directory with no model", "no .onnx")

d = os.path.join(TMP, "pkg2")
write_model(d, matmul_model(numpy_helper.from_array(W, "w")), "a.onnx")
write_model(d, matmul_model(numpy_helper.from_array(W, "w")), "b.onnx")
expect_error(d, "directory with two models", "expected exactly one")

# 2. External data: mapped from a file beside the model, with offset.
d = os.path.join(TMP, "ext")
os.makedirs(os.path.join(d, "weights"), exist_ok=True)
blob = b"\0" * 64 + W.tobytes() + b"tail"
open(os.path.join(d, "weights", "w.bin"), "wb").write(blob)
expect_ok(write_model(d, matmul_model(external_weight("weights/w.bin", 64, 48))), "external data with offset")
expect_ok(write_model(d, matmul_model(external_weight("weights/w.bin", 64, 48)), "m2.onnx"), "external data again")
expect_error(write_model(d, matmul_model(external_weight("weights/w.bin", 64, 40)), "m3.onnx"),
             "external length shorter than the shape", "length")
expect_error(write_model(d, matmul_model(external_weight("weights/w.bin", 100, 48)), "m4.onnx"),
             "external range past the end of file", "tensor 'w'")
expect_error(write_model(d, matmul_model(external_weight("weights/w.bin", 1 << 62, 48)), "m5.onnx"),
             "external offset far beyond the file", "offset")
expect_error(write_model(d, matmul_model(external_weight("../ext/weights/w.bin", 64, 48)), "m6.onnx"),
             "external path with ..", "escapes")
expect_error(write_model(d, matmul_model(external_weight("/etc/passwd", 0, 48)), "m7.onnx"),
             "external absolute path", "relative")
os.symlink("/etc/hostname", os.path.join(d, "weights", "link.bin"))
expect_error(write_model(d, matmul_model(external_weight("weights/link.bin", 0, 48)), "m8.onnx"),
             "external symlink out of the directory", "outside")
expect_error(write_model(d, matmul_model(external_weight("weights/missing.bin", 0, 48)), "m9.onnx"),
             "external file missing", "missing.bin")

# 3. Embedded tensors whose sizes lie.
t = numpy_helper.from_array(W, "w")
t.raw_data = t.raw_data[:40]
expect_error(write_model(os.path.join(TMP, "lie1"), matmul_model(t)), "raw_data shorter than its shape", "raw_data")
t = numpy_helper.from_array(W, "w")
del t.dims[:]
t.dims.extend([3, 4000000000000])
expect_error(write_model(os.path.join(TMP, "lie2"), matmul_model(t)), "dims that overflow", "tensor 'w'")
t = helper.make_tensor("w", TensorProto.FLOAT, [3, 4], list(range(12)))
del t.float_data[-1]
expect_error(write_model(os.path.join(TMP, "lie3"), matmul_model(t)), "float_data count differs from shape", "11 values")
t = numpy_helper.from_array(W, "w")
t.dims[0] = -3
expect_error(write_model(os.path.join(TMP, "lie4"), matmul_model(t)), "negative dim", "negative")

# 4. Truncated file: every cut must be a clean error.
full = matmul_model(numpy_helper.from_array(W, "w")).SerializeToString()
cuts_ok = True
for cut in range(0, len(full), max(1, len(full) // 40)):
    p = os.path.join(TMP, "cut.onnx")
    open(p, "wb").write(full[:cut])
    rc, se, y, out = infer(p, "cut")
    if rc == 0 or rc < 0 or len(se.strip().splitlines()) != 1:
        cuts_ok = False
        print("cut at", cut, "rc", rc, se)
check(cuts_ok, "truncated models: one error line each, no crash")

# 5. Unsupported IR / opset versions are named.
m = matmul_model(numpy_helper.from_array(W, "w"))
m.ir_version = 11
expect_error(write_model(os.path.join(TMP, "ir11"), m), "IR version 11", "IR version 11")
m = matmul_model(numpy_helper.from_array(W, "w"))
m.opset_import[0].version = 22
expect_error(write_model(os.path.join(TMP, "op22"), m), "opset 22", "opset 22")

shutil.rmtree(TMP, ignore_errors=True)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
