"""Block-RAM models shared by the cost models of every op.

Two models, because the two implementations map memories differently:

- `bram18` (RTL cores): Xilinx 7-series / UltraScale BRAM18 aspect ratios,
  the cheapest ratio for a width x depth memory; a BRAM36 is two. Memories
  the cores mark ``ram_style/rom_style = "block"`` are counted; FIFOs under
  64 entries and weight ROMs shallower than `ROM_BLOCK_MIN` words are LUTs.
- `hls_bram36` (hls4ml projects): one BRAM36 per 72 bits up to 512 deep,
  per 36 bits up to 1024 deep, then per 1024 words; memories shallower than
  128 words are LUTRAM (0 BRAM) unless a pragma binds them to block RAM (the
  weight ROM of hls4ml's Resource strategy, see `hls_cost`).

Both are estimates, not synthesis reports.
"""
from __future__ import annotations

import math

__all__ = ["bram18", "hls_bram36", "skip_depth", "skip_depth_log2", "skip_fifo_bram36", "hls_skip_fifo_bram36",
           "ROM_BLOCK_MIN", "HLS_LUTRAM_DEPTH", "HLS_SKIP_MARGIN"]

ROM_BLOCK_MIN = 64      # conv3x3.v parameter of the same name
HLS_LUTRAM_DEPTH = 128
HLS_SKIP_MARGIN = 8     # words an hls4ml skip FIFO holds beyond its branch lag (hls.fifo, fifo_margin)
_BRAM18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))


def bram18(width_bits: int, depth: int) -> int:
    """BRAM18 blocks for a width x depth memory (the cheapest aspect ratio)."""
    if width_bits <= 0 or depth <= 0:
        return 0
    return min(math.ceil(width_bits / w) * math.ceil(depth / d) for d, w in _BRAM18_SHAPES)


def hls_bram36(width_bits: int, depth: int, lutram_below: int = HLS_LUTRAM_DEPTH) -> int:
    """BRAM36 blocks for a width x depth memory in an HLS project (0 when LUTRAM: shallower
    than `lutram_below` words; 0 for a memory a pragma binds to block RAM)."""
    if depth <= 0 or width_bits <= 0 or depth < lutram_below:
        return 0
    if depth <= 512:
        return math.ceil(width_bits / 72)
    if depth <= 1024:
        return math.ceil(width_bits / 36)
    return math.ceil(width_bits / 36) * math.ceil(depth / 1024)


def skip_depth(lag_rows: int, max_w: int) -> int:
    """Entries of the RTL skip FIFO that holds `lag_rows` rows of up to `max_w`
    pixels (+2 pad pixels a row, +64 beats of pipeline slack; at least 16).
    `axis_fifo` takes it as DEPTH, so no power-of-two rounding is paid for."""
    return max(16, int(lag_rows) * (int(max_w) + 2) + 64)


def skip_depth_log2(lag_rows: int, max_w: int) -> int:
    """Address width (DEPTH_LOG2) of that FIFO: the smallest that holds `skip_depth`."""
    return (skip_depth(lag_rows, max_w) - 1).bit_length()


def hls_skip_fifo_bram36(data_bits: int, lag_rows: int, w: int, fifo_margin: int = HLS_SKIP_MARGIN) -> int:
    """BRAM36 of an hls4ml skip FIFO (`hls.fifo.size_fifos`): `lag_rows` 3x3 convs on the
    other branch, each W + 2 pixels, plus `fifo_margin` words of `data_bits`."""
    return hls_bram36(int(data_bits), int(lag_rows) * (int(w) + 2) + int(fifo_margin))


def skip_fifo_bram36(data_bits: int, lag_rows: int, max_w: int) -> float:
    """BRAM36 of an RTL skip FIFO (`axis_fifo`: data + tlast/tuser) of `data_bits`
    holding `lag_rows` rows (`skip_depth` entries); LUTs (0) when its address is
    under 6 bits, as `axis_fifo` chooses."""
    if skip_depth_log2(lag_rows, max_w) < 6:
        return 0
    return bram18(int(data_bits) + 2, skip_depth(lag_rows, max_w)) / 2
