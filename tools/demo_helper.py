#!/usr/bin/python3
"""Helper for tools/demo.sh.

  demo_helper.py image OUT.npy
      a deterministic 1x3x224x224 float32 "photo" (synthetic shapes and gradients, ImageNet
      mean/std normalisation)
  demo_helper.py report EDGEML_LOGITS.npy IMAGE.npy
      prints edgeml's top-5 classes (softmax scores) and the max |difference| from PyTorch's
      output for the same seeded SqueezeNet 1.1 on the same image
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN = np.array([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)


def make_image(path):
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "models"))
    from make_inputs import synthetic_image
    rgb = synthetic_image(224, 224, 3, np.random.default_rng(7))  # (h, w, 3) in [0, 1]
    x = (rgb.transpose(2, 0, 1)[None] - MEAN) / STD
    np.save(path, x.astype(np.float32))


def softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def report(logits_path, image_path):
    y = np.load(logits_path).reshape(-1)
    x = np.load(image_path)
    p = softmax(y.astype(np.float64))
    top = np.argsort(-p)[:5]
    print("top-5 (class index: softmax score, logit):")
    for i in top:
        print("  %4d: %.6f  (%.5f)" % (i, p[i], y[i]))
    sys.path.insert(0, HERE)
    import torch
    import torchvision as tv
    import export_models
    model, _, _ = export_models.MODELS["squeezenet1_1"](torch, tv, np.random.default_rng(0))
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy().reshape(-1)
    diff = float(np.abs(ref - y).max())
    same_top = list(np.argsort(-ref)[:5]) == list(top)
    print("max |edgeml - pytorch| over %d logits: %.3g (pytorch top-5 %s)"
          % (y.size, diff, "identical" if same_top else "DIFFERENT: %s" % list(np.argsort(-ref)[:5])))
    tol = 1e-4 * max(1.0, float(np.abs(ref).max()))
    return 0 if diff <= tol and same_top else 1


def main(argv):
    if len(argv) == 2 and argv[0] == "image":
        make_image(argv[1])
        return 0
    if len(argv) == 3 and argv[0] == "report":
        return report(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
