"""tanh_flow: ``max_velocity * tanh(x)`` as a table over the flow head's codes (FNet output).

Float: ``torch.tanh(x) * 24`` in `model.fnet`; golden: `golden.ops.tanh_flow`
with `golden.ops.tanh_flow_lut` (the table is cached on the bundle). No HLS
or RTL core yet.
"""
from __future__ import annotations

from .. import ops
from .base import Op
from .registry import register


def flow_lut(bundle, in_exp: int, in_bits: int):
    """The bundle's tanh_flow table (cached on the bundle)."""
    cache = bundle.__dict__.setdefault("_golden_cache", {})
    key = ("tanh_lut", int(in_exp), int(in_bits))
    if key not in cache:
        f = bundle.flow
        cache[key] = ops.tanh_flow_lut(in_exp, in_bits, f["max_velocity"], f["lr_frac_bits"])
    return cache[key]


class TanhFlow(Op):
    name = "tanh_flow"

    def check(self, c, L, prods, arrays, flow):
        p0 = prods[0]
        if L["channels"] != 2 or p0["channels"] != 2:
            c.fail(f"{c.ctx} needs a 2-channel input and output")
        if not p0["out_signed"] or p0["out_bits"] > 16:
            c.fail(f"{c.ctx} input must be signed codes of at most 16 bits")
        if L["out_bits"] != 16 or not L["out_signed"] or L["out_exp"] != -flow["lr_frac_bits"]:
            c.fail(f"{c.ctx} output must be int16 at exp -lr_frac_bits = {-flow['lr_frac_bits']}")

    def run(self, bundle, L, xs, srcs):
        return ops.tanh_flow(xs[0], flow_lut(bundle, L["in_exp"], srcs[0]["out_bits"]))


register(TanhFlow())
