"""upsample2x: exact bilinear x2 (align_corners=False), FNet's decoder.

Float: ``F.interpolate(scale_factor=2, mode='bilinear')`` in `model.fnet`;
golden: `golden.ops.upsample2x`. No HLS or RTL core yet.
"""
from __future__ import annotations

from fractions import Fraction

from .. import ops
from .maxpool2 import MaxPool2
from .registry import register


class Upsample2x(MaxPool2):
    name = "upsample2x"

    def scale(self, L):
        return Fraction(2)

    def run(self, bundle, L, xs, srcs):
        return ops.upsample2x(xs[0])


register(Upsample2x())
