#!/usr/bin/python3
"""Softmax-attention fusion (opt/attention.c -> ops/nn_attention.c) vs the unfused graph.

Usage: test_attention.py EDGEML_BIN

Generated encoder self-attention blocks in the two layouts exporters write
(PyTorch 1.13's 3-D [L, B*H, hd] head split with the scale on Q, and the 4-D
[B, H, L, hd] form with the scale on the scores), several sizes, with and
without masks (additive [L, L], [B, 1, 1, L] and full), opsets 11/13/17; each
must fuse (edgeml:Attention in `edgeml inspect --optimized`) and match
EDGEML_OPT=0 at 1 and 2 threads. The real transformer_encoder model (opset 11
and 17, when the model cache has it) must fuse both layers and match. Negative
cases must not fuse and still match: Softmax over another axis, a scale that
is not a constant, the scores as a graph output, the probabilities read twice,
a Div of a constant by Q. Prints 'N passed, N failed'.
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
    print("test_attention: python3-onnx is not installed: skipped")
    sys.exit(77)

BIN = sys.argv[1]
rng = np.random.default_rng(99)
passed = failed = 0
MODELS = os.path.expanduser(os.environ.get("EDGEML_MODELS", "~/.cache/edgeml/models"))


def run(model, inputs, opt, threads, out):
    cmd = [BIN, "infer", model, "--output-dir", out, "--threads", str(threads)]
    for k, f in inputs.items():
        cmd += ["--input", "%s=%s" % (k, f)]
    env = dict(os.environ)
    env.pop("EDGEML_CPU", None)
    env.pop("EDGEML_OPT", None)
    if not opt:
        env["EDGEML_OPT"] = "0"
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip()
    outs = sorted(f for f in os.listdir(out) if f.endswith(".npy"))
    return [np.load(os.path.join(out, f)) for f in outs], ""


def fused_count(model):
    r = subprocess.run([BIN, "inspect", "--optimized", model], capture_output=True, text=True)
    return sum(1 for l in r.stdout.splitlines() if l.strip().startswith("edgeml:Attention") and "->" in l)


def compare(path, inputs, tmp, tag, want_fused, desc):
    global passed, failed
    nf = fused_count(path)
    if nf != want_fused:
        failed += 1
        print("FAIL %s: %d fused attention nodes, expected %d" % (desc, nf, want_fused))
        return
    ref, err = run(path, inputs, False, 1, os.path.join(tmp, "r" + tag))
    if ref is None:
        failed += 1
        print("FAIL %s: unoptimised run failed: %s" % (desc, err))
        return
    for th in (1, 2):
        y, err = run(path, inputs, True, th, os.path.join(tmp, "f%s_%d" % (tag, th)))
        if y is None or len(y) != len(ref):
            failed += 1
            print("FAIL %s threads=%d: %s" % (desc, th, err))
            return
        for a, b in zip(y, ref):
            tol = 2e-5 * max(1.0, float(np.abs(b).max(initial=0))) + 1e-4 * np.abs(b)
            if a.shape != b.shape or not np.all(np.abs(a - b) <= tol):
                failed += 1
                print("FAIL %s threads=%d: max err %s" % (desc, th, float(np.abs(a - b).max()) if a.shape == b.shape else "shape"))
                return
    passed += 1


class G:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def c(self, v, dt=np.float32):
        self.n += 1
        name = "c%d" % self.n
        self.inits.append(numpy_helper.from_array(np.asarray(v, dtype=dt), name))
        return name

    def op(self, op, ins, n_out=1, **kw):
        self.n += 1
        outs = ["t%d_%d" % (self.n, j) for j in range(n_out)]
        self.nodes.append(helper.make_node(op, ins, outs, **kw))
        return outs[0] if n_out == 1 else outs


def encoder(B, L, E, H, layout, mask, opset, neg=None):
    """One self-attention block: x [B, L, E] -> y [B, L, E]. Returns (model, feeds)."""
    g = G()
    hd = E // H
    feeds = {"x": rng.standard_normal((B, L, E)).astype(np.float32)}
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, L, E])]
    wq, wk, wv, wo = (g.c(rng.standard_normal((E, E)).astype(np.float32) / np.sqrt(E)) for _ in range(4))
    x = g.op("Transpose", ["x"], perm=[1, 0, 2]) if layout == 3 else "x"    # [L, B, E] for the 3-D form
    q, k, v = (g.op("MatMul", [x, w]) for w in (wq, wk, wv))
    extra_out = []
    scale_in = g.c(np.float32(np.sqrt(hd)))
    if neg == "scale_input":
        ins.append(helper.make_tensor_value_info("s", TensorProto.FLOAT, []))
        feeds["s"] = np.array(np.sqrt(hd), np.float32)
        scale_in = "s"
    if layout == 3:
        shp = g.c(np.array([L, B * H, hd], np.int64), np.int64)
        qh = g.op("Transpose", [g.op("Reshape", [q, shp])], perm=[1, 0, 2])
        if neg == "div_const_by_q":
            qh = g.op("Div", [scale_in, qh])
        else:
            qh = g.op("Div", [qh, scale_in])
        kt = g.op("Transpose", [g.op("Reshape", [k, shp])], perm=[1, 2, 0])
        vh = g.op("Transpose", [g.op("Reshape", [v, shp])], perm=[1, 0, 2])
        s = g.op("MatMul", [qh, kt])
    else:
        shp = g.c(np.array([B, L, H, hd], np.int64), np.int64)
        qh = g.op("Transpose", [g.op("Reshape", [q, shp])], perm=[0, 2, 1, 3])
        kt = g.op("Transpose", [g.op("Reshape", [k, shp])], perm=[0, 2, 3, 1])
        vh = g.op("Transpose", [g.op("Reshape", [v, shp])], perm=[0, 2, 1, 3])
        s = g.op("MatMul", [qh, kt])
        s = g.op("Mul", [s, g.c(np.float32(1 / np.sqrt(hd)))]) if neg != "scale_input" else g.op("Div", [s, scale_in])
    if mask:
        if mask == "causal":
            m = np.triu(np.full((L, L), -1e4, np.float32), 1)
        elif mask == "pad":
            m = np.zeros((B, 1, 1, L), np.float32) if layout == 4 else np.zeros((B * H, 1, L), np.float32)
            m[..., L - L // 3:] = -1e4
        else:
            m = rng.standard_normal((B * H, L, L) if layout == 3 else (B, H, L, L)).astype(np.float32)
        if mask == "input":
            ins.append(helper.make_tensor_value_info("m", TensorProto.FLOAT, list(m.shape)))
            feeds["m"] = m
            s = g.op("Add", ["m", s])
        else:
            s = g.op("Add", [s, g.c(m)])
    if neg == "scores_out":
        extra_out.append(s)
    axis = -1 if opset >= 13 else (2 if layout == 3 else 3)
    if neg == "axis":
        axis = 1
    p = g.op("Softmax", [s], axis=axis)
    if neg == "probs_twice":
        extra_out.append(p)
    o = g.op("MatMul", [p, vh])
    if layout == 3:
        o = g.op("Transpose", [o], perm=[1, 0, 2])                        # [L, B*H, hd]
        o = g.op("Reshape", [o, g.c(np.array([L, B, E], np.int64), np.int64)])
        o = g.op("Transpose", [o], perm=[1, 0, 2])
    else:
        o = g.op("Transpose", [o], perm=[0, 2, 1, 3])
        o = g.op("Reshape", [o, g.c(np.array([B, L, E], np.int64), np.int64)])
    y = g.op("MatMul", [o, wo])
    g.nodes.append(helper.make_node("Identity", [y], ["y"]))
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    for j, e in enumerate(extra_out):
        g.nodes.append(helper.make_node("Identity", [e], ["z%d" % j]))
        outs.append(helper.make_tensor_value_info("z%d" % j, TensorProto.FLOAT, None))
    graph = helper.make_graph(g.nodes, "attn", ins, outs, g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m, feeds


def main():
    with tempfile.TemporaryDirectory(prefix="edgeml-attn-") as tmp:
        i = 0

        def one(model, feeds, want, desc):
            nonlocal i
            path = os.path.join(tmp, "m%d.onnx" % i)
            onnx.save(model, path)
            inputs = {}
            for k, v in feeds.items():
                inputs[k] = os.path.join(tmp, "%s%d.npy" % (k, i))
                np.save(inputs[k], v)
            compare(path, inputs, tmp, str(i), want, desc)
            i += 1

        sizes = [(1, 1, 8, 1), (2, 13, 32, 4), (1, 7, 12, 3), (2, 33, 64, 8), (1, 128, 64, 4), (3, 5, 16, 2),
                 (1, 200, 32, 2)]
        for (B, L, E, H) in sizes:
            for layout in (3, 4):
                for mask in (None, "causal", "pad", "full", "input"):
                    if mask in ("pad", "input") and (B, L) == (1, 200):
                        continue
                    for opset in ((17,) if mask else (11, 13, 17)):
                        m, f = encoder(B, L, E, H, layout, mask, opset)
                        one(m, f, 1, "B=%d L=%d E=%d H=%d %dD mask=%s opset %d" % (B, L, E, H, layout, mask, opset))
        for neg in ("axis", "scale_input", "scores_out", "probs_twice", "div_const_by_q"):
            for layout in (3, 4):
                if neg == "div_const_by_q" and layout == 4:
                    continue
                m, f = encoder(2, 9, 16, 2, layout, "causal" if neg == "scores_out" else None, 17, neg)
                one(m, f, 0, "negative %s %dD" % (neg, layout))
        for opset in (11, 17):
            path = os.path.join(MODELS, "transformer_encoder", "opset%d" % opset, "model.onnx")
            if not os.path.exists(path):
                print("transformer_encoder opset %d: not in the model cache, skipped" % opset)
                continue
            src = os.path.join(MODELS, "transformer_encoder", "inputs", "src.npy")
            compare(path, {"src": src}, tmp, "te%d" % opset, 2, "transformer_encoder opset %d" % opset)
            # A longer sequence than the exported one (the seq dim is symbolic).
            x = rng.standard_normal((2, 96, 32)).astype(np.float32)
            p2 = os.path.join(tmp, "src96.npy")
            np.save(p2, x)
            compare(path, {"src": p2}, tmp, "te%d_96" % opset, 2, "transformer_encoder opset %d seq 96" % opset)
    print("test_attention: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
