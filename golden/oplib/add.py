"""add: residual add of two tensors, then requantization.

Both inputs at one exponent, or (bundle schema 3, quantizer option
``independent_add_exps``) each at its own: they are aligned to the finer one by
an exact shift, which costs nothing in hardware (wires), before the one
round-half-even requantization.

Float: ``x + res`` in `model.srnet`; quantized: `quant.qsrnet` residual add;
golden: `golden.ops.add`; HLS: ONNX ``Add`` + ``Quant`` (hls4ml Merge);
RTL: `rtl/verilog/residual_add.v` (the shallower input waits in a skip FIFO).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import Cost, Op
from .memory import HLS_SKIP_MARGIN, hls_skip_fifo_bram36, skip_fifo_bram36
from .registry import register


class Add(Op):
    name = "add"
    arity = 2
    rtl_module = "residual_add"
    rtl_files = ("residual_add.v", "requant.v", "axis_fifo.v")
    rtl_in_ports = ("s_a_axis", "s_b_axis")
    hls_onnx_ops = ("Add",)
    rtl_lint_params = ({}, {"A_SIGNED": 0, "B_BITS": 10, "SHIFT": -1},
                       {"A_SIGNED": 0, "A_SHIFT": 2, "B_SHIFT": 0, "SHIFT": 1})
    mixed_exps = 3
    rowwise = True

    def check(self, c, L, prods, arrays, flow):
        if not prods[0]["channels"] == prods[1]["channels"] == L["channels"]:
            c.fail(f"{c.ctx} adds {prods[0]['channels']} and {prods[1]['channels']} channels "
                   f"into {L['channels']}")

    def run(self, bundle, L, xs, srcs):
        return ops.add(xs[0], xs[1], L["in_exp"], L["out_exp"], L["out_bits"], L["out_signed"],
                       b_exp=srcs[1]["out_exp"])

    def cost(self, impl, node, fold, env):
        # the skip FIFO in front of the shallower input
        k, lag = node.skip
        if impl == "hls":  # sized from the lag at the build width (hls.fifo)
            return Cost(1.0, bram36=hls_skip_fifo_bram36(node.inputs[k].word_bits, lag, env["w"],
                                                         env.get("fifo_margin", HLS_SKIP_MARGIN)))
        # RTL: for the largest width, block RAM from 64 entries
        return Cost(1.0, bram36=skip_fifo_bram36(node.inputs[k].word_bits, lag, env["max_w"]))

    def hls_qonnx(self, b, L, xs, bundle):
        y = b.node("Add", [xs[0], xs[1]], L["name"])
        return b.quant(y, L["out_exp"], L["out_bits"], L["out_signed"], name=L["name"] + "_aq")

    def rtl_params(self, node, env):
        a, b = node.inputs
        e = min(a.exp, b.exp)
        return dict(C=node.output.channels, A_BITS=a.bits, A_SIGNED=int(a.signed), B_BITS=b.bits,
                    B_SIGNED=int(b.signed), A_SHIFT=a.exp - e, B_SHIFT=b.exp - e, OUT_BITS=node.output.bits,
                    OUT_SIGNED=int(node.output.signed), SHIFT=int(node.layer["out_exp"]) - e)

    def tb_io(self, p):
        return ((p["C"], p["A_BITS"], p["A_SIGNED"]), (p["C"], p["OUT_BITS"], p["OUT_SIGNED"], 1))

    def tb_inputs(self, p):
        return [(p["C"], p["A_BITS"], p["A_SIGNED"]), (p["C"], p["B_BITS"], p["B_SIGNED"])]

    def tb_expected(self, case, frames):
        p = case["params"]
        # the core's integers are golden's at e = 0 (a at A_SHIFT, b at B_SHIFT, out at SHIFT)
        sa, sb = p.get("A_SHIFT", 0), p.get("B_SHIFT", 0)
        return [ops.add(a, b, sa, p["SHIFT"], p["OUT_BITS"], bool(p["OUT_SIGNED"]), b_exp=sb).astype(np.int64)
                for a, b in frames]


register(Add())
