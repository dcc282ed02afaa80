#!/usr/bin/python3
"""Export seeded, randomly initialised PyTorch models to ONNX for edgeml's real-model tests.

Usage: tools/export_models.py [OUTDIR] [--only NAME[,NAME...]] [--opsets 11,17] [--list]

OUTDIR defaults to $EDGEML_CACHE, else ~/.cache/edgeml/models. Nothing is downloaded: every
model is built with weights=None after torch.manual_seed(), its BatchNorm running statistics are
calibrated on seeded random batches (so activations stay O(1) through deep networks instead of
growing without bound), and it is exported in eval mode. For each model NAME it writes:

  OUTDIR/NAME/opset11/model.onnx, OUTDIR/NAME/opset17/model.onnx
  OUTDIR/NAME/inputs/<input name>.npy     fixed seeded input (shared by all opsets)
  OUTDIR/NAME/torch/<output name>.npy     PyTorch's own output on that input (reference 1)
  OUTDIR/NAME/meta.json                   names, shapes, opsets; written last (completion mark)

Models whose meta.json exists (with the requested opsets) are skipped. Run with Debian's
/usr/bin/python3 (python3-torch 1.13, python3-torchvision 0.14, python3-onnx, python3-numpy).
"""
import argparse
import json
import os
import sys
import tempfile
import warnings

import numpy as np

SEED = 20240601
DEFAULT_OPSETS = (11, 17)


def default_outdir():
    env = os.environ.get("EDGEML_CACHE")
    if env:
        return env
    return os.path.join(os.path.expanduser("~"), ".cache", "edgeml", "models")


# ---------------------------------------------------------------------------------------------
# Model builders. Each returns (module, inputs, spec) where inputs is an ordered dict name ->
# numpy array (the test input), and spec holds export options (output names, dynamic axes,
# a different-size dummy input for the export so dynamic axes are really exercised).
# ---------------------------------------------------------------------------------------------

def _image_input(rng, size=224):
    return {"input": rng.standard_normal((1, 3, size, size)).astype(np.float32)}


def _calibrate_bn(torch, model, shape, batches=2):
    """Run seeded random batches in train mode with cumulative BN averaging, then eval()."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the calibration batches
    g = torch.Generator().manual_seed(SEED + 1)
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(shape, generator=g))
    # Random affine parameters so the folded Conv+BN weights are not trivially the conv's.
    with torch.no_grad():
        for m in bns:
            if m.affine:
                m.weight.copy_(1.0 + 0.1 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    model.eval()


def _vision(name, ctor):
    def build(torch, tv, rng):
        torch.manual_seed(SEED)
        model = ctor(tv)
        _calibrate_bn(torch, model, (4, 3, 224, 224))
        model.eval()
        inputs = _image_input(rng)
        spec = {"output_names": ["logits"], "dynamic_axes": None, "dummy": None}
        return model, inputs, spec
    return build


def _transformer(torch, tv, rng):
    nn = torch.nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(32, 64)
            layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128,
                                               dropout=0.1, activation="gelu", batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(64),
                                                 enable_nested_tensor=False)
            self.head = nn.Linear(64, 10)

        def forward(self, src):
            return self.head(self.encoder(self.proj(src)))

    torch.manual_seed(SEED)
    model = Encoder().eval()
    inputs = {"src": rng.standard_normal((2, 13, 32)).astype(np.float32)}
    spec = {
        "output_names": ["out"],
        "dynamic_axes": {"src": {1: "seq"}, "out": {1: "seq"}},
        "dummy": {"src": rng.standard_normal((2, 7, 32)).astype(np.float32)},
    }
    return model, inputs, spec


def _lstm(torch, tv, rng):
    nn = torch.nn

    class Lstm(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(input_size=32, hidden_size=48, num_layers=2)

        def forward(self, x):
            y, (h, c) = self.lstm(x)
            return y, h, c

    torch.manual_seed(SEED)
    model = Lstm().eval()
    inputs = {"x": rng.standard_normal((11, 2, 32)).astype(np.float32)}
    spec = {
        "output_names": ["y", "h_n", "c_n"],
        "dynamic_axes": {"x": {0: "seq"}, "y": {0: "seq"}},
        "dummy": {"x": rng.standard_normal((5, 2, 32)).astype(np.float32)},
    }
    return model, inputs, spec


MODELS = {
    "squeezenet1_1": _vision("squeezenet1_1", lambda tv: tv.models.squeezenet1_1(weights=None)),
    "mobilenet_v2": _vision("mobilenet_v2", lambda tv: tv.models.mobilenet_v2(weights=None)),
    "mobilenet_v3_small": _vision("mobilenet_v3_small",
                                  lambda tv: tv.models.mobilenet_v3_small(weights=None)),
    "resnet50": _vision("resnet50", lambda tv: tv.models.resnet50(weights=None)),
    "efficientnet_b0": _vision("efficientnet_b0", lambda tv: tv.models.efficientnet_b0(weights=None)),
    "shufflenet_v2_x1_0": _vision("shufflenet_v2_x1_0",
                                  lambda tv: tv.models.shufflenet_v2_x1_0(weights=None)),
    "transformer_encoder": _transformer,
    "lstm2": _lstm,
}


def _save_npy(path, arr):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.save(f, arr)
    os.replace(tmp, path)


def export_one(torch, tv, name, outdir, opsets):
    mdir = os.path.join(outdir, name)
    meta_path = os.path.join(mdir, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if all(os.path.exists(os.path.join(mdir, "opset%d" % o, "model.onnx"))
               for o in meta.get("opsets", [])) and set(opsets) <= set(meta.get("opsets", [])):
            print("export: %s: cached" % name, flush=True)
            return True
    os.makedirs(mdir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    model, inputs, spec = MODELS[name](torch, tv, rng)
    input_names = list(inputs.keys())
    out_names = spec["output_names"]

    # Reference 1: PyTorch's own output on the test input.
    with torch.no_grad():
        outs = model(*[torch.from_numpy(inputs[k]) for k in input_names])
    if not isinstance(outs, (tuple, list)):
        outs = (outs,)
    outs = [o.detach().numpy() for o in outs]
    if len(outs) != len(out_names):
        raise RuntimeError("%s: %d outputs, expected %d" % (name, len(outs), len(out_names)))

    dummy = spec["dummy"] or inputs
    dummy_t = tuple(torch.from_numpy(dummy[k]) for k in input_names)
    done = []
    notes = {}
    for opset in opsets:
        odir = os.path.join(mdir, "opset%d" % opset)
        os.makedirs(odir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=odir)
        os.close(fd)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, dummy_t if len(dummy_t) > 1 else dummy_t[0], tmp,
                                  input_names=input_names, output_names=out_names,
                                  dynamic_axes=spec["dynamic_axes"], opset_version=opset,
                                  do_constant_folding=True,
                                  training=torch.onnx.TrainingMode.EVAL)
            os.replace(tmp, os.path.join(odir, "model.onnx"))
            done.append(opset)
            print("export: %s: opset %d ok" % (name, opset), flush=True)
        except Exception as e:  # report and go on with the other opsets/models
            if os.path.exists(tmp):
                os.unlink(tmp)
            notes[str(opset)] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            print("export: %s: opset %d FAILED: %s" % (name, opset, notes[str(opset)]),
                  file=sys.stderr, flush=True)
    if not done:
        return False

    os.makedirs(os.path.join(mdir, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(mdir, "torch"), exist_ok=True)
    for k in input_names:
        _save_npy(os.path.join(mdir, "inputs", k + ".npy"), inputs[k])
    for k, v in zip(out_names, outs):
        _save_npy(os.path.join(mdir, "torch", k + ".npy"), v)
    meta = {
        "name": name,
        "seed": SEED,
        "torch": torch.__version__,
        "torchvision": tv.__version__,
        "opsets": done,
        "export_failures": notes,
        "inputs": {k: {"file": "inputs/%s.npy" % k, "shape": list(inputs[k].shape),
                       "dtype": str(inputs[k].dtype)} for k in input_names},
        "outputs": {k: {"torch": "torch/%s.npy" % k, "shape": list(v.shape)}
                    for k, v in zip(out_names, outs)},
    }
    with open(meta_path + ".tmp", "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(meta_path + ".tmp", meta_path)
    return not notes


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir", nargs="?", default=default_outdir())
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("--opsets", default=",".join(str(o) for o in DEFAULT_OPSETS))
    ap.add_argument("--list", action="store_true", help="print the model names and exit")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(MODELS))
        return 0
    names = [n for n in args.only.split(",") if n] or list(MODELS)
    for n in names:
        if n not in MODELS:
            print("export: unknown model %r (known: %s)" % (n, ", ".join(MODELS)), file=sys.stderr)
            return 2
    opsets = [int(o) for o in args.opsets.split(",") if o]

    import torch
    import torchvision as tv
    torch.set_grad_enabled(True)
    ok = True
    for n in names:
        ok = export_one(torch, tv, n, args.outdir, opsets) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
