"""Shared base of the three channel <-> space rearrangements (factor r)."""
from __future__ import annotations

from fractions import Fraction

from .base import Op


class Rearrange(Op):
    passthrough = True
    fields = {"factor": "int"}
    #: True: r*r x more channels, r x smaller (space_to_depth); False: the opposite
    to_depth = False

    def check(self, c, L, prods, arrays, flow):
        r = c.field(L, "factor", "int", c.ctx)
        cin = prods[0]["channels"]
        want = cin * r * r if self.to_depth else (cin // (r * r) if r >= 1 else 0)
        if r < 1 or (not self.to_depth and cin % (r * r)) or L["channels"] != want:
            c.fail(f"{c.ctx} factor {r} maps {cin} input channels to {want}, not {L['channels']}")

    def out_channels(self, L, in_channels):
        r = int(L["factor"])
        return in_channels[0] * r * r if self.to_depth else in_channels[0] // (r * r)

    def scale(self, L):
        r = int(L["factor"])
        return Fraction(1, r) if self.to_depth else Fraction(r)
