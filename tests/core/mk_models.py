#!/usr/bin/python3
"""Builds the model packages of the redeploy test: y = x + c (float32 [1]),
c = 1 in v1 and 2 in v2, each packaged as a tar.gz holding model.onnx.
Usage: mk_models.py OUT  ->  OUT/model-v1.tar.gz, OUT/model-v2.tar.gz"""
import io
import os
import sys
import tarfile

import onnx
from onnx import TensorProto, helper


def model_bytes(c):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    cst = helper.make_tensor("c", TensorProto.FLOAT, [1], [float(c)])
    node = helper.make_node("Add", ["x", "c"], ["y"])
    g = helper.make_graph([node], f"add{c}", [x], [y], initializer=[cst])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="edgeml-tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for v in (1, 2):
        data = model_bytes(v)
        path = os.path.join(out, f"model-v{v}.tar.gz")
        with tarfile.open(path + ".tmp", "w:gz", format=tarfile.PAX_FORMAT) as t:
            ti = tarfile.TarInfo("model.onnx")
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
        os.replace(path + ".tmp", path)
        with open(os.path.join(out, f"model-v{v}.onnx"), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
