"""Cost model of hls4ml's 3x3 Conv2D as this toolkit builds it (Vitis backend,
io_stream, Resource strategy, a ZeroPadding2D in front, reuse factor RF).

`conv3x3(cin, cout, in_bits, w_bits, rf, env)` -> `Cost` (clocks per pixel of
the zero-padded map, DSP, BRAM36, LUT). An estimate read off hls4ml's source,
not a synthesis report. Sources (hls4ml 1.3.0 as installed, paths under
``hls4ml/templates/``):

Clocks. The Vitis override ``vitis/nnet_utils/nnet_conv2d_stream.h`` picks
`conv_2d_buffer_resource_cl` for the Resource strategy (line 77-78); its pixel
loop over the padded map (lines 51-63) has **no** ``PIPELINE`` pragma (only
`conv_2d_buffer_latency_cl`, the Latency strategy, pipelines it at
II = reuse_factor, line 29). One padded pixel therefore runs to completion
before the next one starts:

- every padded pixel: ``data.read()`` (1 clock), the call and return of
  `compute_output_buffer_2d`, which is ``INLINE OFF``
  (``vivado/nnet_utils/nnet_conv_stream.h:258``, 2 clocks), and
  `shift_line_buffer`, a pipelined function (same file, line 221, 1 clock):
  `PIXEL_OVERHEAD` = 4;
- a pixel with a full 3x3 window (h*w of the (h+2)*(w+2), line 284) also runs
  the dense kernel ``DenseResource_rf_leq_nin`` / ``_rf_gt_nin_rem0``
  (``vivado/nnet_utils/nnet_dense_resource.h``): its ``ReuseLoop``
  (lines 45-47, 134-136) is pipelined at II=1 over RF iterations and then
  drains. One iteration: weight ROM address and block-RAM read (2), the
  multiply (3: the DSP's input, M and P register stages at 300 MHz),
  accumulate (1), so 5 clocks of drain after the RF-th issue; one clock to
  enter/leave the loop; one for the result cast and ``res_stream.write``
  (nnet_conv_stream.h:292-299): `DENSE_OVERHEAD` = 7. The loop's ``rewind``
  cannot overlap consecutive pixels: rewind needs the loop to be the whole
  body of a pipelined caller, and neither holds here.

So an output pixel costs RF + 11 clocks, a border pixel 4; per padded pixel
``(h*w*(RF + 7) + (h+2)*(w+2)*4) / ((h+2)*(w+2))``. The stage counts are
Vitis HLS's usual schedule, not a measurement (no vitis_hls here); the
structure (which pixels pay RF, that nothing overlaps) is hls4ml's source.

Multipliers: ``block_factor = ceil(n_in*n_out/RF)`` products a clock
(nnet_dense_resource.h:20, 94, 176), one DSP each (the count hls4ml unrolls,
tested against converted projects). ``a * w`` (``nnet_mult.h:73``) carries no
binding pragma; should Vitis put some 8x8 products into the fabric, DSPs go
down and LUTs up (about 40-70 LUTs each); the model keeps them all in DSPs.

Memories:

- line buffers: ``static ap_shift_reg<data_T::value_type, in_width>
  line_buffer[2][n_chan]`` partitioned per channel (nnet_conv2d_stream.h:47-49;
  in_width = W + 2, the padded width). ``ap_shift_reg`` is Xilinx's shift
  register class (``ap_types/ap_shift_reg.h``), which HLS maps onto SRL
  primitives: LUTs, not block RAM. One SRLC32E per 32 stages per bit:
  ``2 * cin * in_bits * ceil((W + 2) / 32)`` LUTs (these must sit in SLICEM
  LUTs, which are only part of a device's LUTs; not modelled);
- weights: ``#pragma HLS RESOURCE variable=weights core=ROM_nP_BRAM`` whenever
  RF > 1 (nnet_dense_resource.h:32-34, 106-108, 188-190), reshaped to RF
  words of ``block_factor * w_bits`` bits (``ARRAY_RESHAPE block
  factor=block_factor``, line 29): block RAM even when shallow (a BRAM36 per
  72 bits of width up to 512 words, `memory.hls_bram36(..., lutram_below=0)`).
  At RF = 1 the weights are constants in the logic (no ROM).

LUTs (besides the line buffers):

- operand multiplexers: for RF <= n_in every multiplier ``im`` reads
  ``data[ir + (im mod n_in/RF) * RF]`` (nnet_dense_resource.h:49-66), so
  n_in/RF distinct RF:1 multiplexers of `in_bits` feed all of them; for
  RF > n_in all multipliers share one n_in:1 multiplexer (line 145,
  ``in_index`` per iteration) and each picks one of RF/n_in accumulators
  (``outidx``, line 139): an RF/n_in:1 multiplexer of the accumulator;
- accumulation: each product is added into ``accum_t`` (lines 58, 144):
  block_factor adders of `acc_bits` (one LUT per bit beside the carry chain);
  ``accum_t`` is hls4ml's inferred width (``model/optimizer/passes/
  infer_precision.py:175-183``): product bits + ceil(log2(n_in)), widened to
  the bias (32-bit biases in the bundles, `B_BITS`) plus one bit (33 bits in
  the generated projects). Vitis may fold some of these adds into the DSP
  post-adders; the model counts them in the fabric.

Not modelled: flip-flops (kernel window, pipeline registers), the small
control logic, the zero-padding layer and the activation after the conv.
"""
from __future__ import annotations

import math

from .base import Cost
from .memory import hls_bram36

__all__ = ["conv3x3", "conv3x3_parts", "mux_luts", "PIXEL_OVERHEAD", "DENSE_OVERHEAD", "B_BITS",
           "LINE_BUFFER_ROWS", "SRL_DEPTH"]

#: clocks every padded pixel costs besides the dense kernel (read, call/return, line-buffer shift)
PIXEL_OVERHEAD = 4
#: clocks the dense kernel costs besides its RF issue clocks (pipeline drain, loop entry/exit, write)
DENSE_OVERHEAD = 7
#: bias width of the bundles' convs (hls4ml widens accum_t to it)
B_BITS = 32
#: rows of the line buffer (filt_height - 1)
LINE_BUFFER_ROWS = 2
#: stages of one SRL LUT (SRLC32E)
SRL_DEPTH = 32


def mux_luts(n: int) -> int:
    """LUTs per bit of an n:1 multiplexer: a LUT6 is a 4:1 mux, MUXF7/MUXF8 join four
    of them into 16:1 inside a slice, wider muxes add a level of 16:1 blocks."""
    n = int(n)
    if n <= 1:
        return 0
    if n <= 16:
        return math.ceil(n / 4)
    return math.ceil(n / 4) + mux_luts(math.ceil(n / 16))


def acc_bits(in_bits: int, w_bits: int, n_in: int, b_bits: int = B_BITS) -> int:
    """hls4ml's accum_t width for a conv with a bias (infer_precision.py:175-183)."""
    return max(int(in_bits) + int(w_bits) + math.ceil(math.log2(max(2, n_in))), int(b_bits)) + 1


def conv3x3_parts(cin: int, cout: int, in_bits: int, w_bits: int, rf: int, env: dict,
                  b_bits: int = B_BITS) -> dict:
    """The model's pieces: clocks (per frame and per padded pixel), DSP, BRAM36 and
    LUTs by part (line_buffer, operand_mux, accumulate)."""
    n_in, n_out = 9 * int(cin), int(cout)
    rf = int(rf)
    h, w = int(env["h"]), int(env["w"])
    padded = (h + 2) * (w + 2)
    frame = h * w * (rf + DENSE_OVERHEAD) + padded * PIXEL_OVERHEAD
    block = math.ceil(n_in * n_out / rf)
    acc = acc_bits(in_bits, w_bits, n_in, b_bits)
    if rf <= n_in:
        mux = int(in_bits) * math.ceil(n_in / rf) * mux_luts(rf)
    else:
        mux = int(in_bits) * mux_luts(n_in) + block * acc * mux_luts(math.ceil(rf / n_in))
    lut = {"line_buffer": LINE_BUFFER_ROWS * int(cin) * int(in_bits) * math.ceil((w + 2) / SRL_DEPTH),
           "operand_mux": mux, "accumulate": block * acc}
    wbram = hls_bram36(block * int(w_bits), rf, lutram_below=0) if rf > 1 else 0
    return {"frame_clocks": frame, "clocks_per_pixel": frame / padded, "dsp": block,
            "bram36": wbram, "lut": lut, "acc_bits": acc}


def conv3x3(cin: int, cout: int, in_bits: int, w_bits: int, rf: int, env: dict,
            b_bits: int = B_BITS) -> Cost:
    """Cost at reuse factor `rf` (see the module docstring); clocks per pixel of the
    zero-padded (h+2) x (w+2) map at the node's input (env h, w)."""
    p = conv3x3_parts(cin, cout, in_bits, w_bits, rf, env, b_bits)
    return Cost(p["clocks_per_pixel"], dsp=p["dsp"], bram36=p["bram36"], lut=sum(p["lut"].values()),
                key=(p["dsp"], -int(rf)))
