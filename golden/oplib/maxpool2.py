"""maxpool2: 2x2 max pooling, stride 2, floor mode (FNet's encoder).

Float: ``F.max_pool2d(2)`` in `model.fnet`; golden: `golden.ops.maxpool2`.
No HLS or RTL core yet (FNet runs on the host).
"""
from __future__ import annotations

from fractions import Fraction

from .. import ops
from .base import Op
from .registry import register


class MaxPool2(Op):
    name = "maxpool2"
    passthrough = True

    def check(self, c, L, prods, arrays, flow):
        if L["channels"] != prods[0]["channels"]:
            c.fail(f"{c.ctx} has {L['channels']} channels but its input has {prods[0]['channels']}")

    def scale(self, L):
        return Fraction(1, 2)

    def run(self, bundle, L, xs, srcs):
        return ops.maxpool2(xs[0])


register(MaxPool2())
