"""Cost models of the hls4ml implementation (io_stream, Resource strategy).

`conv3x3(cin, cout, in_bits, w_bits, rf, env)`: a Conv2D layer at reuse
factor RF: RF clocks per pixel of the zero-padded map, ceil(9*cin*cout/RF)
multipliers (one DSP each), weights in BRAM above RF 32 (registers/LUTRAM
below), two line buffers of the padded width. An estimate, not a synthesis
report.
"""
from __future__ import annotations

import math

from .base import Cost
from .memory import hls_bram36

__all__ = ["conv3x3", "RF_BRAM_THRESHOLD"]

#: hls4ml keeps the weights of a layer with RF above this in BRAM (below: registers/LUTRAM)
RF_BRAM_THRESHOLD = 32


def conv3x3(cin: int, cout: int, in_bits: int, w_bits: int, rf: int, env: dict) -> Cost:
    n_in, n_out = 9 * cin, cout
    wbram = 0 if rf <= RF_BRAM_THRESHOLD else hls_bram36(n_in * n_out // rf * w_bits, rf)
    buf = 2 * hls_bram36(cin * in_bits, int(env["w"]) + 2)
    dsp = math.ceil(n_in * n_out / rf)
    # per pixel of the zero-padded map: (h+2)*(w+2)*RF clocks a frame
    return Cost(rf, dsp=dsp, bram36=wbram + buf, key=(dsp, -rf))
