"""anchor_add: the LR anchor skip of SRNet's ESPCN tail (issue 10, preset ``skip='anchor'``).

``out[k] = requant(res[k] + lr[k // r*r])`` with both inputs aligned to the
finer exponent: input 0 is the tail conv's residual (``conv_sub``, 3*r*r
channels), input 1 the net input, of which the first 3 channels (lr_curr's
RGB) are used, each repeated r*r times (CRD order: after the pixel shuffle
every HR pixel of an LR pixel starts from that LR pixel's colour).

Float: `model.srnet.anchor`; quantized: `quant.qsrnet` (``q_res`` +
``output_quant``); golden: `golden.ops.anchor_add`; HLS and RTL: see
`hls_qonnx` / `rtl_params` (the skip input waits in a FIFO of 3 channels).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import Cost, NoImplementation, Op
from .memory import HLS_SKIP_MARGIN, hls_skip_fifo_bram36, skip_depth, skip_depth_log2, skip_fifo_bram36
from .registry import register


class AnchorAdd(Op):
    name = "anchor_add"
    arity = 2
    mixed_exps = 2
    since_schema = 2
    rowwise = True
    fields = {"factor": "int"}
    # HLS: Gather(net input, k // r*r, axis=1) -> Add(residual, gathered) -> Quant (see hls_qonnx)
    hls_onnx_ops = ("Add", "Gather")
    # RTL: rtl/verilog/anchor_add.v; the core holds the skip FIFO itself (only the
    # SKIP_C repeated channels of the net input word enter it), so the top adds none
    rtl_module = "anchor_add"
    rtl_files = ("anchor_add.v", "requant.v", "axis_fifo.v")
    rtl_in_ports = ("s_a_axis", "s_b_axis")
    rtl_skip_fifo = True
    rtl_lint_params = ({}, {"SKIP_C": 2, "REPEAT": 1, "B_C": 2, "A_SIGNED": 0, "B_BITS": 10,
                            "B_SIGNED": 1, "A_SHIFT": 3, "B_SHIFT": 0, "OUT_SIGNED": 1,
                            "SHIFT": -1, "SKIP_DEPTH_LOG2": 11, "SKIP_DEPTH": 1500})

    @staticmethod
    def skip_channels(L: dict) -> int:
        return int(L["channels"]) // (int(L["factor"]) ** 2)

    def check(self, c, L, prods, arrays, flow):
        r = int(L["factor"])
        if r < 1 or L["channels"] % (r * r):
            c.fail(f"{c.ctx}: {L['channels']} channels is not a multiple of factor**2 = {r * r}")
        if prods[0]["channels"] != L["channels"]:
            c.fail(f"{c.ctx}: its residual input has {prods[0]['channels']} channels, expected {L['channels']}")
        if prods[1]["channels"] < self.skip_channels(L):
            c.fail(f"{c.ctx}: its skip input has {prods[1]['channels']} channels, fewer than the "
                   f"{self.skip_channels(L)} it repeats")

    def run(self, bundle, L, xs, srcs):
        return ops.anchor_add(xs[0], xs[1], srcs[0]["out_exp"], srcs[1]["out_exp"], int(L["factor"]) ** 2,
                              L["out_exp"], L["out_bits"], L["out_signed"])

    def cost(self, impl, node, fold, env):
        # the skip FIFO holds the repeated channels only (3 x 8 bits)
        k, lag = node.skip
        t = node.inputs[k]
        width = (self.skip_channels(node.layer) if k == 1 else t.channels) * t.bits
        if impl == "hls":  # the AnchorSlice stream, sized from the lag at the build width (hls.fifo)
            return Cost(1.0, bram36=hls_skip_fifo_bram36(width, lag, env["w"],
                                                         env.get("fifo_margin", HLS_SKIP_MARGIN)))
        return Cost(1.0, bram36=skip_fifo_bram36(width, lag, env["max_w"]))

    @staticmethod
    def gather_indices(L: dict) -> np.ndarray:
        """The ``Gather`` indices of the skip input: output channel k reads channel k // r*r."""
        return np.arange(int(L["channels"]), dtype=np.int64) // (int(L["factor"]) ** 2)

    def hls_qonnx(self, b, L, xs, bundle):
        # NCHW, the pattern the Brevitas export writes: the float Add of the two inputs at
        # their own scales is the exact aligned sum; the Quant rounds half to even, saturates
        idx = b.const(L["name"] + "_idx", self.gather_indices(L), dtype=np.int64)
        g = b.node("Gather", [xs[1], idx], L["name"] + "_gather", axis=1)
        y = b.node("Add", [xs[0], g], L["name"])
        return b.quant(y, L["out_exp"], L["out_bits"], L["out_signed"], name=L["name"] + "_aq")

    # ------------------------------------------------------------ RTL
    def rtl_params(self, node, env):
        a, b = node.inputs
        k, lag = node.skip if node.skip is not None else (1, 0)
        if k != 1 and lag:
            raise NoImplementation(f"layer {node.name!r}: anchor_add.v buffers its skip input "
                                   f"(input 1), but the residual arrives {lag} rows earlier")
        e = min(a.exp, b.exp)
        return dict(SKIP_C=self.skip_channels(node.layer), REPEAT=int(node.layer["factor"]) ** 2,
                    B_C=b.channels, A_BITS=a.bits, A_SIGNED=int(a.signed), B_BITS=b.bits,
                    B_SIGNED=int(b.signed), A_SHIFT=a.exp - e, B_SHIFT=b.exp - e,
                    OUT_BITS=node.output.bits, OUT_SIGNED=int(node.output.signed),
                    SHIFT=int(node.layer["out_exp"]) - e,
                    SKIP_DEPTH_LOG2=skip_depth_log2(lag, env["max_w"]), SKIP_DEPTH=skip_depth(lag, env["max_w"]))

    # ------------------------------------------------------------ testbench
    def tb_io(self, p):
        c = p["SKIP_C"] * p["REPEAT"]
        return ((c, p["A_BITS"], p["A_SIGNED"]), (c, p["OUT_BITS"], p["OUT_SIGNED"], 1))

    def tb_inputs(self, p):
        return [self.tb_io(p)[0], (p["B_C"], p["B_BITS"], p["B_SIGNED"])]

    def tb_expected(self, case, frames):
        # the core's integers are golden's at e = 0: res at A_SHIFT, skip at B_SHIFT, out at
        # SHIFT (requant of the sum shifted by min(A_SHIFT, B_SHIFT) is the same either way)
        p = case["params"]
        return [ops.anchor_add(a, b, p["A_SHIFT"], p["B_SHIFT"], p["REPEAT"], p["SHIFT"],
                               p["OUT_BITS"], bool(p["OUT_SIGNED"])).astype(np.int64)
                for a, b in frames]


register(AnchorAdd())
