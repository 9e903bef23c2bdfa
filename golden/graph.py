"""Generic executor of a bundle's layer list (ops by name, inputs by name).

Each layer runs through its op's `run` (`golden.oplib`, one module per op).
Fusions (same codes, fewer passes over the frame; off with ``keep=True``):
a conv3x3 whose only consumer is a row-wise op (``Op.rowwise``: a residual or
anchor add) runs that op on each of its row strips, and a conv3x3 (or that
op) whose only consumer is a pixel_shuffle writes the shuffled image directly.
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
    by_name = {L["name"]: L for L in layers}
    specs = {"input": spec}
    fused = {} if keep else _fusions(layers, out_name, rowwise=x.ndim == 3)
    ahead = {n for f in fused.values() for n in f if n}  # layers computed by their conv
    tensors = {"input": x}
    for i, L in enumerate(layers):
        if L["name"] in fused:
            row_op, shuf = fused[L["name"]]
            tensors.update(_run_fused(bundle, L, by_name, row_op, shuf, tensors, specs))
            y = tensors[L["name"]]
        elif L["name"] in ahead:
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


def _sole(consumers, name):
    c = consumers.get(name, [])
    return c[0] if len(c) == 1 else None


def _fusions(layers, out_name, rowwise: bool = True) -> dict:
    """{conv name: (row-wise layer name or None, pixel_shuffle layer name or None)} of
    every conv3x3 that runs fused with its consumers (see the module doc). A row-wise
    op is fused (only with `rowwise`: an (H, W, C) input) when its other inputs exist
    before the conv runs."""
    reg = oplib.registry()
    if type(reg.get("conv3x3")) is not Conv3x3:
        return {}
    shuffle_ok = type(reg.get("pixel_shuffle")) is PixelShuffle
    index = {L["name"]: i for i, L in enumerate(layers)}
    consumers = {}
    for L in layers:
        for src in L["inputs"]:
            consumers.setdefault(src, []).append(L)
    fused = {}
    for i, L in enumerate(layers):
        if L["op"] != "conv3x3" or L["name"] == out_name:
            continue
        row, tail = None, L
        c = _sole(consumers, L["name"])
        if (rowwise and c is not None and getattr(reg.get(c["op"]), "rowwise", False)
                and c["inputs"].count(L["name"]) == 1
                and all(index.get(s, -1) < i for s in c["inputs"] if s != L["name"])):
            row, tail = c["name"], c
        c = _sole(consumers, tail["name"])
        shuf = None
        if shuffle_ok and tail["name"] != out_name and c is not None and c["op"] == "pixel_shuffle":
            shuf = c["name"]
        if row or shuf:
            fused[L["name"]] = (row, shuf)
    return fused


def _run_fused(bundle, L, by_name, row_op, shuf, tensors, specs) -> dict:
    """Run conv `L` with its fused row-wise op and/or pixel_shuffle; returns the new
    tensors by name (the last one's result, None for those it replaces)."""
    conv = oplib.get("conv3x3")
    x = tensors[L["inputs"][0]]
    r = int(by_name[shuf]["factor"]) if shuf else 1
    then = then_dtype = None
    if row_op:
        R = by_name[row_op]
        op, k = oplib.get(R["op"]), R["inputs"].index(L["name"])
        others = {j: tensors[s] for j, s in enumerate(R["inputs"]) if j != k}
        srcs = [L if j == k else specs[s] for j, s in enumerate(R["inputs"])]

        def then(y0, codes):
            xs = [codes if j == k else others[j][y0:y0 + len(codes)] for j in range(len(srcs))]
            return op.run(bundle, R, xs, srcs)
        then_dtype = storage_dtype(R["out_bits"], R["out_signed"])
    y = conv.run(bundle, L, [x], None, shuffle=r, then=then, then_dtype=then_dtype)
    names = [L["name"]] + [n for n in (row_op, shuf) if n]
    return {**{n: None for n in names[:-1]}, names[-1]: y}


def infer_shapes(bundle, net: str, H: int, W: int) -> dict:
    """(h, w, channels) of every tensor of `net` for an H x W input, by name."""
    return bundle.graph(net).shapes(H, W)
