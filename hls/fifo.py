"""Stream FIFO depths from the pipeline latency (not hls4ml's whole-tensor defaults).

hls4ml sizes every io_stream FIFO to hold a whole tensor (H*W words). In a
dataflow pipeline only reconvergent paths need depth: at a residual add the
skip stream must hold every pixel the conv branch has swallowed before the
branch emits its first output. A conv (the op an ONNX ``Conv`` computes,
`golden.oplib.conv3x3`: 3x3, zero padding 1, hls4ml line buffer) emits
output pixel n once input pixel n + `Op.lag_pixels` has arrived (raster
order), W + 2 pixels for a W-wide frame; the skip FIFO
of a clone needs the largest branch lag to the merge plus a margin. Straight
(chain) FIFOs need no storage for correctness; they get a small depth that
lets producer and consumer overlap. C simulation uses unbounded streams and
cannot detect a FIFO that is too shallow; this rule is the analysis.
"""
from __future__ import annotations

import math

__all__ = ["size_fifos", "apply_fifo_depths", "conv_lag", "DEFAULT_CHAIN_DEPTH", "DEFAULT_MARGIN"]

DEFAULT_CHAIN_DEPTH = 4
DEFAULT_MARGIN = 8


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


def _path_to_merge(start, consumers, limit=1000):
    """Follow a single-consumer chain from tensor `start`; return (merge layer, lag, path)."""
    lag, path, t = 0, [], start
    for _ in range(limit):
        nxt = consumers.get(t, [])
        if len(nxt) != 1:
            return None, lag, path
        layer = nxt[0]
        path.append(layer.name)
        if layer.class_name in ("Merge", "Concatenate"):
            return layer, lag, path
        if layer.class_name.startswith("Conv"):
            lag += conv_lag(layer)
        if layer.class_name == "Clone" or len(layer.outputs) != 1:
            return None, lag, path
        t = layer.outputs[0]
    return None, lag, path


def size_fifos(hm, chain_depth: int = DEFAULT_CHAIN_DEPTH, margin: int = DEFAULT_MARGIN) -> dict:
    """{variable name: {depth, default, producer, consumers, reason}} for every stream."""
    producer, consumers = _graph(hm)
    out = {}
    for tensor, var in hm.output_vars.items():
        shape = list(var.shape)
        default = int(math.prod(shape) // shape[-1]) if shape else 1
        prod = producer.get(tensor)
        cons = [c.name for c in consumers.get(tensor, [])]
        out[var.name] = {"tensor": tensor, "depth": chain_depth, "default": default,
                         "producer": prod.name if prod else "input", "consumers": cons or ["output"],
                         "reason": "chain"}
    for layer in hm.get_layers():
        if layer.class_name != "Clone":
            continue
        branches = {o: _path_to_merge(o, consumers) for o in layer.outputs}
        merges = {}
        for o, (merge, lag, path) in branches.items():
            if merge is not None:
                merges.setdefault(merge.name, []).append((o, lag, path))
        for mname, legs in merges.items():
            longest = max(lag for _, lag, _ in legs)
            for o, lag, path in legs:
                need = longest - lag
                if need > 0:
                    var = hm.output_vars[o]
                    out[var.name].update(
                        depth=need + margin,
                        reason=f"skip to {mname}: branch lag {longest} px - {lag} + margin {margin}")
    return out


def apply_fifo_depths(hm, depths: dict) -> None:
    for tensor, var in hm.output_vars.items():
        d = depths.get(var.name)
        if d is not None and getattr(var, "pragma", None):
            var.pragma = (var.pragma[0], int(d["depth"]))
