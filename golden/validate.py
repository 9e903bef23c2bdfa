"""Structural validation of a bundle manifest + arrays (docs/numerics.md).

`validate` checks everything the golden executor relies on: the flow and
image parameters, each net's input/output, every layer's fields, that the
layer graph only references earlier layers, that exponents chain (a
layer's ``in_exp`` is its producers' ``out_exp``), channel counts, and that
every referenced array exists with the declared shape, an integer dtype and
values inside the declared bit width. Failures raise `BundleError`.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import oplib

__all__ = ["BundleError", "validate", "net_input_channels", "SCALE", "SRNET_IN_CHANNELS"]

SCHEMA = "egvsr.bundle"
SCHEMA_VERSION = 3
#: versions this golden model reads: 2 added the anchor skip (op anchor_add, mixed input exponents),
#: 3 residual adds whose inputs come at their own exponents (quantizer option independent_add_exps)
READ_VERSIONS = (1, 2, 3)
#: the EGVSR upscaling factor (the only one)
SCALE = 4
_UPSAMPLERS = ("bicubic", "bilinear")


class BundleError(ValueError):
    """A bundle (manifest or arrays) violates the contract."""


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def net_input_channels(net: str, scale: int = SCALE) -> int:
    """Input channels of an EGVSR net: SRNet takes the LR RGB frame plus the warped HR
    estimate packed by space-to-depth (3 + 3*scale**2 = 51); FNet two RGB frames (6)."""
    return 3 + 3 * scale * scale if net == "srnet" else 6


#: SRNet's input channels (51): the LR frame + the space-to-depth of the warped HR estimate
SRNET_IN_CHANNELS = net_input_channels("srnet")


class _Checker:
    def __init__(self, where: str):
        self.where = where
        self.ctx = where
        self.version = SCHEMA_VERSION  # the manifest's schema_version, set by `validate`

    def fail(self, msg: str, fix: str = "re-export the bundle with a fixed quant/export step"):
        raise BundleError(f"{self.where}: {msg}; {fix}")

    def field(self, d: dict, key: str, kind, ctx: str):
        if not isinstance(d, dict) or key not in d:
            self.fail(f"{ctx} lacks field {key!r}")
        v = d[key]
        ok = {"int": _is_int, "bool": lambda x: isinstance(x, (bool, np.bool_)),
              "str": lambda x: isinstance(x, str),
              "num": lambda x: isinstance(x, numbers.Real) and not isinstance(x, bool),
              "dict": lambda x: isinstance(x, dict), "list": lambda x: isinstance(x, list)}[kind](v)
        if not ok:
            self.fail(f"{ctx} field {key!r} must be {kind}, got {v!r}")
        return v

    def bits(self, v, ctx, signed=True):
        if not (2 if signed else 1) <= v <= 32:
            self.fail(f"{ctx} bit width {v} outside the supported 1..32")

    def array(self, arrays, key, shape, bits, narrow, ctx):
        if not isinstance(key, str) or key not in arrays:
            self.fail(f"{ctx} references array {key!r} which is missing from the npz",
                      "re-export the bundle so the npz holds every array the manifest names")
        a = arrays[key]
        if a.dtype.kind not in "iu":
            self.fail(f"array {key!r} has dtype {a.dtype}, expected integer codes")
        if a.shape != tuple(shape):
            self.fail(f"array {key!r} has shape {a.shape}, manifest says {tuple(shape)} ({ctx})")
        hi = (1 << (bits - 1)) - 1
        lo = -hi if narrow else -hi - 1
        if a.size and (int(a.min()) < lo or int(a.max()) > hi):
            self.fail(f"array {key!r} values [{int(a.min())}, {int(a.max())}] exceed the declared "
                      f"{bits}-bit range [{lo}, {hi}] ({ctx})")


def _net_input(c: _Checker, net: str, spec: dict, image: dict) -> dict:
    ctx = f"{net}.input"
    ch = c.field(spec, "channels", "int", ctx)
    bits = c.field(spec, "bits", "int", ctx)
    signed = c.field(spec, "signed", "bool", ctx)
    exp = c.field(spec, "exp", "int", ctx)
    want = net_input_channels(net)
    if ch != want:
        c.fail(f"{ctx} has {ch} channels, the EGVSR {net} takes {want}")
    if bits != image["bits"] or signed or exp != image["exp"]:
        c.fail(f"{ctx} must be the unsigned {image['bits']}-bit image codes at exp {image['exp']}")
    return {"channels": ch, "out_bits": bits, "out_signed": bool(signed), "out_exp": exp}


def _layer(c: _Checker, net: str, L: dict, prod: list, arrays: dict, flow: dict) -> None:
    """Fields every layer has, exponent chaining, then the op's own checks (`oplib`)."""
    name = L["name"]
    ctx = c.ctx = f"{net} layer {name!r}"
    op = oplib.get(L["op"])
    c.field(L, "channels", "int", ctx)
    in_exp = c.field(L, "in_exp", "int", ctx)
    out_exp = c.field(L, "out_exp", "int", ctx)
    out_bits = c.field(L, "out_bits", "int", ctx)
    out_signed = c.field(L, "out_signed", "bool", ctx)
    c.bits(out_bits, ctx, out_signed)
    for key, kind in op.fields.items():
        c.field(L, key, kind, ctx)
    for i, (p, pname) in enumerate(zip(prod, L["inputs"])):
        if p["out_exp"] != in_exp and not (op.mixed_exps and i > 0 and c.version >= op.mixed_exps):
            later = (f"; inputs at their own exponents need schema_version {op.mixed_exps}"
                     if op.mixed_exps and i > 0 else "")
            c.fail(f"{ctx} has in_exp {in_exp} but its input {pname!r} has out_exp {p['out_exp']}{later}")
    op.check(c, L, prod, arrays, flow)
    p0 = prod[0]
    if op.passthrough:
        if (out_exp, out_bits, bool(out_signed)) != (in_exp, p0["out_bits"], p0["out_signed"]):
            c.fail(f"{ctx} ({op.name}) must keep its input's exponent and code type "
                   f"(exp {in_exp}, {p0['out_bits']} bits, signed={p0['out_signed']})")


def _net(c: _Checker, net: str, spec: dict, arrays: dict, image: dict, flow: dict) -> None:
    known = {"input": _net_input(c, net, c.field(spec, "input", "dict", net), image)}
    layers = c.field(spec, "layers", "list", net)
    output = c.field(spec, "output", "str", net)
    if not layers:
        c.fail(f"{net} has no layers")
    for i, L in enumerate(layers):
        name = c.field(L, "name", "str", f"{net} layer #{i}")
        if name in known:
            c.fail(f"{net} layer name {name!r} is used twice (or is the reserved 'input')")
        op = c.field(L, "op", "str", f"{net} layer {name!r}")
        if op not in oplib.registry():
            c.fail(f"{net} layer {name!r} has unknown op {op!r} (known: {oplib.names()})",
                   "use an op of this egvsr version, or register the op's module (EGVSR_OPS)")
        if oplib.get(op).since_schema > c.version:
            c.fail(f"{net} layer {name!r}: op {op!r} needs schema_version {oplib.get(op).since_schema}, "
                   f"the manifest declares {c.version}", "re-export the bundle with this egvsr version")
        arity = oplib.get(op).arity
        inputs = c.field(L, "inputs", "list", f"{net} layer {name!r}")
        if len(inputs) != arity:
            c.fail(f"{net} layer {name!r} ({op}) takes {arity} input(s), got {inputs}")
        for src in inputs:
            if src not in known:
                c.fail(f"{net} layer {name!r} reads {src!r}, which is not 'input' or an earlier layer")
        _layer(c, net, L, [known[s] for s in inputs], arrays, flow)
        known[name] = L
    if output not in known or output == "input":
        c.fail(f"{net} output {output!r} is not one of its layers")
    out = known[output]
    if net == "srnet" and (out["channels"], out["out_bits"], bool(out["out_signed"]),
                           out["out_exp"]) != (3, image["bits"], False, image["exp"]):
        c.fail(f"srnet output {output!r} must be 3 unsigned {image['bits']}-bit channels "
               f"at exp {image['exp']} (the output pixel codes)")
    if net == "fnet" and out["op"] != "tanh_flow":
        c.fail(f"fnet output {output!r} must be a tanh_flow layer")


def validate(manifest: dict, arrays: dict, where: str = "bundle") -> None:
    """Raise `BundleError` unless `manifest` + `arrays` form a valid schema-1 bundle."""
    c = _Checker(where)
    if not isinstance(manifest, dict):
        c.fail("manifest must be a dict")
    if manifest.get("schema") != SCHEMA or manifest.get("schema_version") not in READ_VERSIONS:
        c.fail(f"schema {manifest.get('schema')!r} version {manifest.get('schema_version')!r} is "
               f"not {SCHEMA!r} {' or '.join(map(str, READ_VERSIONS))}",
               "use a bundle written for this egvsr version")
    c.version = manifest["schema_version"]
    for key, a in arrays.items():
        if np.asarray(a).dtype.kind not in "iu":
            c.fail(f"array {key!r} has dtype {np.asarray(a).dtype}; bundles hold integer codes only")
    if manifest.get("scale", SCALE) != SCALE:
        c.fail(f"scale {manifest.get('scale')!r} is not {SCALE} (the only EGVSR scale)")
    image = c.field(manifest, "image", "dict", "manifest")
    c.field(image, "bits", "int", "image")
    c.field(image, "exp", "int", "image")
    if image["bits"] != 8:
        c.fail(f"image.bits is {image['bits']}; images are uint8 codes (bits 8)")
    flow = c.field(manifest, "flow", "dict", "manifest")
    if c.field(flow, "max_velocity", "num", "flow") <= 0:
        c.fail("flow.max_velocity must be > 0")
    lfb = c.field(flow, "lr_frac_bits", "int", "flow")
    hfb = c.field(flow, "hr_frac_bits", "int", "flow")
    if not (0 <= lfb <= 14 and 0 <= hfb <= 12):
        c.fail(f"flow frac bits out of range (lr {lfb} in 0..14, hr {hfb} in 0..12)")
    if c.field(flow, "upsampler", "str", "flow") not in _UPSAMPLERS:
        c.fail(f"flow.upsampler {flow['upsampler']!r} is not one of {_UPSAMPLERS}")
    for net in ("srnet", "fnet"):
        _net(c, net, c.field(manifest, net, "dict", "manifest"), arrays, image, flow)
