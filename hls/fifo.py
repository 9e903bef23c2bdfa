"""Stream FIFO depths from the pipeline latency (not hls4ml's whole-tensor defaults).

hls4ml sizes every io_stream FIFO to hold a whole tensor (H*W words). In a
dataflow pipeline only reconvergent paths need depth: at a residual add the
skip stream must hold every pixel the conv branch has swallowed before the
branch emits its first output. A conv (the op an ONNX ``Conv`` computes,
`golden.oplib.conv3x3`: 3x3, zero padding 1, hls4ml line buffer) emits
output pixel n once input pixel n + `Op.lag_pixels` has arrived (raster
order), W + 2 pixels for a W-wide frame; the skip FIFO of a clone needs
the largest branch lag to the merge plus a margin (lags are counted from the
net input along the longest path, so a skip that jumps over residual blocks,
the anchor skip from the net input to the tail, gets all of them). Straight
(chain) FIFOs need no storage for correctness; they get a small depth that
lets producer and consumer overlap. C simulation uses unbounded streams and
cannot detect a FIFO that is too shallow; this rule is the analysis.
"""
from __future__ import annotations

import math

from egvsr.golden.oplib.memory import HLS_SKIP_MARGIN

__all__ = ["size_fifos", "apply_fifo_depths", "conv_lag", "DEFAULT_CHAIN_DEPTH", "DEFAULT_MARGIN", "MERGES"]

DEFAULT_CHAIN_DEPTH = 4
DEFAULT_MARGIN = HLS_SKIP_MARGIN  # the cost model's margin too (golden.oplib.memory)


def conv_lag(layer) -> int:
    """Input pixels a stream conv consumes before its output catches up (raster order).

    The lag is the op library's (`Op.lag_pixels` of the op an ONNX ``Conv`` computes)."""
    from .bundle_qonnx import onnx_op

    op = onnx_op("Conv")
    if op is None:
        raise ValueError(f"hls4ml layer {layer.name!r}: no registered op is computed by an ONNX Conv")
    w = int(layer.get_attr("out_width", layer.get_output_variable().shape[1]))
    return int(op.lag_pixels({"name": layer.name}, w))


def _graph(hm):
    producer, consumers = {}, {}
    for layer in hm.get_layers():
        for o in layer.outputs:
            producer[o] = layer
        for i in layer.inputs:
            consumers.setdefault(i, []).append(layer)
    return producer, consumers


#: hls4ml layers that read two streams in lock step (one word of each per pixel)
MERGES = ("Merge", "Concatenate", "AnchorAdd")


def _lags(hm, producer) -> dict:
    """{tensor: net-input pixels (raster order) consumed before its first word is due},
    the longest path from the input (the sum of the conv lags on it)."""
    lag: dict = {}

    def of(t):
        if t not in lag:
            p = producer.get(t)
            if p is None:
                lag[t] = 0
            else:
                own = conv_lag(p) if p.class_name.startswith("Conv") else 0
                lag[t] = max((of(i) for i in p.inputs if i != t), default=0) + own
        return lag[t]

    for t in hm.output_vars:
        of(t)
    return lag


def size_fifos(hm, fifo_chain_depth: int = DEFAULT_CHAIN_DEPTH, fifo_margin: int = DEFAULT_MARGIN) -> dict:
    """{variable name: {depth, default, producer, consumers, reason}} for every stream.

    At every merge (a residual ``Merge`` add, the anchor skip's ``AnchorAdd``) the
    input stream with the smaller lag from the net input waits for the other: it gets
    depth (lag difference + `fifo_margin`); every other stream `fifo_chain_depth`.
    The anchor's skip is the 3-channel stream of ``AnchorSlice`` (the slice sits
    behind the input clone), so the deep FIFO holds 24-bit words; the clone's own
    outputs stay chain FIFOs.
    """
    producer, consumers = _graph(hm)
    out = {}
    for tensor, var in hm.output_vars.items():
        shape = list(var.shape)
        default = int(math.prod(shape) // shape[-1]) if shape else 1
        prod = producer.get(tensor)
        cons = [c.name for c in consumers.get(tensor, [])]
        out[var.name] = {"tensor": tensor, "depth": fifo_chain_depth, "default": default,
                         "producer": prod.name if prod else "input", "consumers": cons or ["output"],
                         "reason": "chain"}
    lag = _lags(hm, producer)
    for layer in hm.get_layers():
        if layer.class_name not in MERGES:
            continue
        longest = max(lag[t] for t in layer.inputs)
        for t in layer.inputs:
            need = longest - lag[t]
            if need > 0:
                var = hm.output_vars[t]
                out[var.name].update(
                    depth=need + fifo_margin,
                    reason=f"skip to {layer.name}: branch lag {longest} px - {lag[t]} + margin {fifo_margin}")
    return out


def apply_fifo_depths(hm, depths: dict) -> None:
    for tensor, var in hm.output_vars.items():
        d = depths.get(var.name)
        if d is not None and getattr(var, "pragma", None):
            var.pragma = (var.pragma[0], int(d["depth"]))
