"""Generic executor of a bundle's layer list (ops by name, inputs by name).

`OPS` maps a manifest ``op`` to ``fn(bundle, layer, xs, srcs) -> ndarray``
where `xs` are the input tensors and `srcs` the producer specs (layer dicts
or the net's input spec). Add an op by adding an entry here (and to
`validate.OP_ARITY`).
"""
from __future__ import annotations

import numpy as np

from . import ops
from .fixed import storage_dtype

__all__ = ["OPS", "run_graph", "infer_shapes", "flow_lut"]


def flow_lut(bundle, in_exp: int, in_bits: int) -> np.ndarray:
    """The bundle's tanh_flow table (cached on the bundle)."""
    cache = bundle.__dict__.setdefault("_golden_cache", {})
    key = ("tanh_lut", int(in_exp), int(in_bits))
    if key not in cache:
        f = bundle.flow
        cache[key] = ops.tanh_flow_lut(in_exp, in_bits, f["max_velocity"], f["lr_frac_bits"])
    return cache[key]


def _conv(bundle, L, xs, srcs, shuffle=1):
    w, b = bundle.arrays[L["weight"]], bundle.arrays[L["bias"]]
    return ops.conv3x3(xs[0], w, b, L["in_exp"], L["w_exp"], L["out_exp"], L["out_bits"],
                       L["out_signed"], L["act"], L.get("leaky_shift", 0), shuffle=shuffle)


def _add(bundle, L, xs, srcs):
    return ops.add(xs[0], xs[1], L["in_exp"], L["out_exp"], L["out_bits"], L["out_signed"])


def _relu(bundle, L, xs, srcs):
    return ops.relu(xs[0], L["in_exp"], L["out_exp"], L["out_bits"], L["out_signed"])


def _tanh(bundle, L, xs, srcs):
    return ops.tanh_flow(xs[0], flow_lut(bundle, L["in_exp"], srcs[0]["out_bits"]))


def _pixel_shuffle(bundle, L, xs, srcs):
    return ops.pixel_shuffle(xs[0], L["factor"])


OPS = {
    "conv3x3": _conv,
    "add": _add,
    "relu": _relu,
    "pixel_shuffle": _pixel_shuffle,
    "depth_to_space": lambda bundle, L, xs, srcs: ops.depth_to_space(xs[0], L["factor"]),
    "space_to_depth": lambda bundle, L, xs, srcs: ops.space_to_depth(xs[0], L["factor"]),
    "maxpool2": lambda bundle, L, xs, srcs: ops.maxpool2(xs[0]),
    "upsample2x": lambda bundle, L, xs, srcs: ops.upsample2x(xs[0]),
    "tanh_flow": _tanh,
}


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
    if not keep and OPS.get("conv3x3") is _conv and OPS.get("pixel_shuffle") is _pixel_shuffle:
        for L in layers:
            src = by_name.get(L["inputs"][0])
            if (L["op"] == "pixel_shuffle" and src is not None and src["op"] == "conv3x3"
                    and uses[src["name"]] == 1 and src["name"] != out_name):
                fused[src["name"]] = L
    specs = {"input": spec}
    tensors = {"input": x}
    for i, L in enumerate(layers):
        fn = OPS.get(L["op"])
        if fn is None:
            raise ValueError(f"{net} layer {L['name']!r}: no golden implementation of op {L['op']!r}")
        if L["name"] in fused:
            P = fused[L["name"]]
            xs = [tensors[s] for s in L["inputs"]]
            tensors[P["name"]] = _conv(bundle, L, xs, None, shuffle=int(P["factor"]))
            y = None  # consumed only by P, which takes the fused result
        elif L["op"] == "pixel_shuffle" and L["inputs"][0] in fused:
            y = tensors[L["name"]]
        else:
            y = fn(bundle, L, [tensors[s] for s in L["inputs"]], [specs[s] for s in L["inputs"]])
        tensors[L["name"]] = y
        specs[L["name"]] = L
        if not keep:
            for s in L["inputs"]:
                if last_use[s] == i and s != out_name:
                    del tensors[s]
    return tensors if keep else tensors[out_name]


def infer_shapes(bundle, net: str, H: int, W: int) -> dict:
    """(h, w, channels) of every tensor of `net` for an H x W input, by name."""
    shapes = {"input": (H, W, bundle.manifest[net]["input"]["channels"])}
    for L in bundle.layers(net):
        h, w, _ = shapes[L["inputs"][0]]
        op, r = L["op"], L.get("factor", 1)
        if op == "maxpool2":
            h, w = h // 2, w // 2
        elif op == "upsample2x":
            h, w = 2 * h, 2 * w
        elif op in ("pixel_shuffle", "depth_to_space"):
            h, w = h * r, w * r
        elif op == "space_to_depth":
            h, w = h // r, w // r
        shapes[L["name"]] = (h, w, L["channels"])
    return shapes
