"""relu: ``max(x, 0)`` then requantization (the cheap tail's HR ReLU).

Float: ``nn.ReLU``; quantized: Brevitas ``QuantReLU``; golden:
`golden.ops.relu`; HLS: ONNX ``Relu`` + ``Quant``; RTL: `rtl/verilog/relu.v`
(N lanes: the channels times the pixels per beat of its stream).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import Op
from .registry import register


class Relu(Op):
    name = "relu"
    rtl_module = "relu"
    rtl_files = ("relu.v", "requant.v", "axis_fifo.v")
    hls_onnx_ops = ("Relu",)
    rtl_lint_params = ({}, {"SHIFT": 2, "IN_BITS": 12})

    def run(self, bundle, L, xs, srcs):
        return ops.relu(xs[0], L["in_exp"], L["out_exp"], L["out_bits"], L["out_signed"])

    def hls_qonnx(self, b, L, xs, bundle):
        y = b.node("Relu", [xs[0]], L["name"])
        return b.quant(y, L["out_exp"], L["out_bits"], L["out_signed"], name=L["name"] + "_aq")

    def rtl_params(self, node, env):
        src = node.inputs[0]
        return dict(N=node.output.channels * env["pixels_per_beat"], IN_BITS=src.bits,
                    IN_SIGNED=int(src.signed), OUT_BITS=node.output.bits,
                    OUT_SIGNED=int(node.output.signed),
                    SHIFT=int(node.layer["out_exp"]) - int(node.layer["in_exp"]))

    def tb_io(self, p):
        return ((p["N"], p["IN_BITS"], p["IN_SIGNED"]), (p["N"], p["OUT_BITS"], p["OUT_SIGNED"], 1))

    def tb_expected(self, case, frames):
        p = case["params"]
        return [ops.relu(f, 0, p["SHIFT"], p["OUT_BITS"], bool(p["OUT_SIGNED"])).astype(np.int64)
                for f in frames]


register(Relu())
