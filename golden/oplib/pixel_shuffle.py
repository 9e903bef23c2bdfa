"""pixel_shuffle: PyTorch ``PixelShuffle(r)`` (CRD channel order), the x4 SR output.

Float: ``nn.PixelShuffle``; quantized: the same op on quantized codes;
golden: `golden.ops.pixel_shuffle`; HLS: ONNX ``DepthToSpace(mode=CRD)``
through the hls4ml extension (`hls/extension.py`,
`hls/nnet_utils/nnet_depth_to_space_stream.h`); RTL:
`rtl/verilog/pixel_shuffle.v` (P HR pixels per output beat).
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from .base import Cost
from .memory import bram18, hls_bram36
from .registry import register
from .shuffles import Rearrange


class PixelShuffle(Rearrange):
    name = "pixel_shuffle"
    rtl_module = "pixel_shuffle"
    rtl_files = ("pixel_shuffle.v", "axis_fifo.v")
    hls_onnx_ops = ("DepthToSpace",)
    hls_mode = "CRD"
    rtl_lint_params = ({}, {"P": 2}, {"P": 16}, {"R": 2, "P": 8, "C": 2})

    def run(self, bundle, L, xs, srcs):
        return ops.pixel_shuffle(xs[0], L["factor"])

    def folds(self, impl, node, env):
        """Pixels per output beat P: fixed by the caller, else 1, 2, 4, ... up to r*r."""
        if env.get("pixels_per_beat"):
            return [int(env["pixels_per_beat"])]
        r = int(node.layer["factor"])
        return [q for q in (1, 2, 4, 8, 16) if q <= r * r]

    def cost(self, impl, node, fold, env):
        r, P = int(node.layer["factor"]), int(fold)
        src = node.inputs[0]
        if impl == "hls":
            return Cost(r * r / P, bram36=2 * hls_bram36(src.channels * src.bits, int(env["w"])),
                        key=(P,))
        # row buffer: 2 lines of LR pixels (a group of g pixels per word when P > r)
        g = P // r if P > r else 1
        depth = 2 * (1 << max(1, math.ceil(math.log2(-(-int(env["max_w"]) // g)))))
        return Cost(r * r / P, bram36=bram18(src.channels * src.bits * g, depth) / 2, key=(P,))

    def hls_qonnx(self, b, L, xs, bundle):
        return b.node("DepthToSpace", [xs[0]], L["name"], blocksize=int(L["factor"]), mode=self.hls_mode)

    def rtl_frame(self, node):
        return "in"

    def rtl_params(self, node, env):
        r = int(node.layer["factor"])
        src = node.inputs[0]
        return dict(C=src.channels // (r * r), R=r, BITS=src.bits, P=env["pixels_per_beat"],
                    MAX_W=env["max_w"], DIM_BITS=env["dim_bits"])

    def tb_io(self, p):
        return ((p["C"] * p["R"] ** 2, p["BITS"], 1), (p["C"], p["BITS"], 1, p["P"]))

    def tb_expected(self, case, frames):
        return [ops.pixel_shuffle(f, case["params"]["R"]).astype(np.int64) for f in frames]


register(PixelShuffle())
