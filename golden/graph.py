"""Generic executor of a bundle's layer list (ops by name, inputs by name).

Each layer runs through its op's `run` (`golden.oplib`, one module per op);
this file knows no op except for one fusion (a conv3x3 whose only consumer
is a pixel_shuffle runs as one strip-wise pass).
"""
from __future__ import annotations

import numpy as np

from . import oplib
from .fixed import storage_dtype
from .oplib.conv3x3 import Conv3x3
from .oplib.pixel_shuffle import PixelShuffle
from .oplib.tanh_flow import flow_lut

__all__ = ["run_graph", "infer_shapes", "flow_lut"]


def _run(bundle, L, xs, srcs):
    return oplib.get(L["op"]).run(bundle, L, xs, srcs)


def _input_spec(bundle, net: str) -> dict:
    s = bundle.manifest[net]["input"]
    return {"channels": s["channels"], "out_bits": s["bits"], "out_signed": bool(s["signed"]),
            "out_exp": s["exp"]}


def run_graph(bundle, net: str, x, keep: bool = False):
    """Run `net` ('srnet' or 'fnet') of `bundle` on input codes `x` (H, W, C) or (N, H, W, C).

    Returns the output layer's tensor, or with ``keep=True`` a dict of every
    tensor by name (``"input"`` and each layer, in execution order; the
    output is under ``bundle.manifest[net]["output"]``).
    """
    spec = _input_spec(bundle, net)
    x = np.asarray(x)
    want = storage_dtype(spec["out_bits"], spec["out_signed"])
    if x.ndim not in (3, 4) or x.shape[-1] != spec["channels"]:
        raise ValueError(f"{net} input must be (H, W, {spec['channels']}) "
                         f"(optionally batched), got shape {x.shape}")
    if x.dtype != want:
        raise ValueError(f"{net} input must be {want} codes, got dtype {x.dtype}")
    layers = bundle.layers(net)
    out_name = bundle.manifest[net]["output"]
    last_use = {}
    for i, L in enumerate(layers):
        for src in L["inputs"]:
            last_use[src] = i
    # a conv3x3 whose only consumer is a pixel_shuffle runs fused with it
    # (same result, no separate shuffle copy) unless every tensor is kept
    uses = {}
    for L in layers:
        for src in L["inputs"]:
            uses[src] = uses.get(src, 0) + 1
    by_name = {L["name"]: L for L in layers}
    fused = {}  # conv name -> its pixel_shuffle layer
    conv, shuf = oplib.registry().get("conv3x3"), oplib.registry().get("pixel_shuffle")
    if not keep and type(conv) is Conv3x3 and type(shuf) is PixelShuffle:
        for L in layers:
            src = by_name.get(L["inputs"][0])
            if (L["op"] == "pixel_shuffle" and src is not None and src["op"] == "conv3x3"
                    and uses[src["name"]] == 1 and src["name"] != out_name):
                fused[src["name"]] = L
    specs = {"input": spec}
    tensors = {"input": x}
    for i, L in enumerate(layers):
        if L["name"] in fused:
            P = fused[L["name"]]
            xs = [tensors[s] for s in L["inputs"]]
            tensors[P["name"]] = conv.run(bundle, L, xs, None, shuffle=int(P["factor"]))
            y = None  # consumed only by P, which takes the fused result
        elif L["op"] == "pixel_shuffle" and L["inputs"][0] in fused:
            y = tensors[L["name"]]
        else:
            y = _run(bundle, L, [tensors[s] for s in L["inputs"]], [specs[s] for s in L["inputs"]])
        tensors[L["name"]] = y
        specs[L["name"]] = L
        if not keep:
            for s in L["inputs"]:
                if last_use[s] == i and s != out_name:
                    del tensors[s]
    return tensors if keep else tensors[out_name]


def infer_shapes(bundle, net: str, H: int, W: int) -> dict:
    """(h, w, channels) of every tensor of `net` for an H x W input, by name."""
    return bundle.graph(net).shapes(H, W)
