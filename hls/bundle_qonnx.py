"""QONNX graphs built straight from a bundle (the integer contract).

`quant.export.export_qonnx_srnet` is the main source of QONNX (Brevitas);
this module writes the same kind of graph from a bundle's integer weights
and exponents, so that a single layer (one conv core, the pixel-shuffle
core) or a whole SRNet can be generated from any bundle, and so that a
QONNX file can be checked against the bundle it claims to implement.

The graph is NCHW, like a Brevitas export: an input ``Quant`` (image codes),
per conv a ``Quant`` on the weights (narrow range) and on the bias, ``Conv``,
``Relu``/``LeakyRelu``, an output ``Quant`` (round half to even, saturating);
``Add`` + ``Quant`` for residual adds; ``DepthToSpace`` (mode CRD for
pixel_shuffle, DCR for depth_to_space); ``Relu`` + ``Quant`` for relu. All
scales are powers of two. Then `qonnx_prep.prepare` makes it channels-last.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["srnet_qonnx", "layer_qonnx", "producer_specs", "GraphBuilder"]

_QDOMAIN = "qonnx.custom_op.general"
_EXACT_F32 = 1 << 24


class GraphBuilder:
    """Small helper that accumulates ONNX nodes and initializers."""

    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0

    def _name(self, base):
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, base, value):
        name = self._name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def quant(self, x, exp, bits, signed, narrow=False, name=None):
        out = self._name((name or "quant") + "_q")
        ins = [x, self.const("scale", 2.0 ** int(exp)), self.const("zeropt", 0.0), self.const("bitwidth", float(bits))]
        self.nodes.append(helper.make_node("Quant", ins, [out], name=self._name(name or "Quant"), domain=_QDOMAIN,
                                           signed=int(bool(signed)), narrow=int(bool(narrow)), rounding_mode="ROUND"))
        return out

    def node(self, op, ins, name, **attrs):
        out = self._name(name + "_out")
        self.nodes.append(helper.make_node(op, ins, [out], name=name, **attrs))
        return out

    def model(self, inp, in_shape, out, out_shape):
        graph = helper.make_graph(
            self.nodes, "egvsr_hls", [helper.make_tensor_value_info(inp, TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)], initializer=self.inits)
        m = helper.make_model(graph, producer_name="egvsr.hls", opset_imports=[helper.make_opsetid("", 13)])
        return m


def _float_exact(name, codes, exp):
    codes = np.asarray(codes, np.int64)
    if codes.size and int(np.abs(codes).max()) >= _EXACT_F32:
        raise ValueError(f"{name}: integer codes up to {int(np.abs(codes).max())} are not exact in float32 "
                         "(QONNX initializers); keep biases below 2**24")
    return codes.astype(np.float64) * 2.0 ** int(exp)


def _emit_layer(b: GraphBuilder, L: dict, xs: list[str], bundle) -> str:
    op, name = L["op"], L["name"]
    if op == "conv3x3":
        w, bias = bundle.arrays[L["weight"]], bundle.arrays[L["bias"]]
        acc_exp = int(L["in_exp"]) + int(L["w_exp"])
        wq = b.quant(b.const(name + "_w", _float_exact(name + " weight", w, L["w_exp"])), L["w_exp"],
                     L["w_bits"], True, narrow=True, name=name + "_wq")
        bq = b.quant(b.const(name + "_b", _float_exact(name + " bias", bias, acc_exp)), acc_exp,
                     L["b_bits"], True, name=name + "_bq")
        y = b.node("Conv", [xs[0], wq, bq], name, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1],
                   dilations=[1, 1], group=1)
        if L["act"] == "relu":
            y = b.node("Relu", [y], name + "_relu")
        elif L["act"] == "leaky":
            y = b.node("LeakyRelu", [y], name + "_leaky", alpha=2.0 ** -int(L["leaky_shift"]))
        return b.quant(y, L["out_exp"], L["out_bits"], L["out_signed"], name=name + "_aq")
    if op == "add":
        y = b.node("Add", [xs[0], xs[1]], name)
        return b.quant(y, L["out_exp"], L["out_bits"], L["out_signed"], name=name + "_aq")
    if op == "relu":
        y = b.node("Relu", [xs[0]], name)
        return b.quant(y, L["out_exp"], L["out_bits"], L["out_signed"], name=name + "_aq")
    if op in ("pixel_shuffle", "depth_to_space"):
        return b.node("DepthToSpace", [xs[0]], name, blocksize=int(L["factor"]),
                      mode="CRD" if op == "pixel_shuffle" else "DCR")
    raise ValueError(f"layer {name!r}: op {op!r} has no HLS implementation (SRNet ops only: "
                     "conv3x3, add, relu, pixel_shuffle, depth_to_space)")


def producer_specs(bundle, net: str = "srnet") -> dict:
    """name -> {channels, bits, signed, exp} of every tensor ('input' and each layer)."""
    s = bundle.manifest[net]["input"]
    specs = {"input": {"channels": s["channels"], "bits": s["bits"], "signed": bool(s["signed"]), "exp": s["exp"]}}
    for L in bundle.layers(net):
        if L["op"] in ("pixel_shuffle", "depth_to_space"):
            p = specs[L["inputs"][0]]
            specs[L["name"]] = dict(p, channels=L["channels"])
        else:
            specs[L["name"]] = {"channels": L["channels"], "bits": L["out_bits"], "signed": bool(L["out_signed"]),
                                "exp": L["out_exp"]}
    return specs


def _shape_after(L, h, w):
    if L["op"] in ("pixel_shuffle", "depth_to_space"):
        return h * int(L["factor"]), w * int(L["factor"])
    return h, w


def srnet_qonnx(bundle, H: int, W: int, net: str = "srnet") -> onnx.ModelProto:
    """The whole net of `bundle` as an NCHW QONNX model for an H x W input."""
    specs = producer_specs(bundle, net)
    spec = specs["input"]
    b = GraphBuilder()
    inp = "global_in"
    t = {"input": b.quant(inp, spec["exp"], spec["bits"], spec["signed"], name="input")}
    hw = {"input": (H, W)}
    for L in bundle.layers(net):
        t[L["name"]] = _emit_layer(b, L, [t[s] for s in L["inputs"]], bundle)
        hw[L["name"]] = _shape_after(L, *hw[L["inputs"][0]])
    out = bundle.manifest[net]["output"]
    oh, ow = hw[out]
    return b.model(inp, [1, spec["channels"], H, W], t[out], [1, specs[out]["channels"], oh, ow])


def layer_qonnx(bundle, name: str, H: int, W: int, net: str = "srnet") -> onnx.ModelProto:
    """One single-input layer (a conv core or the pixel-shuffle core) as a QONNX model."""
    L = bundle.layer(net, name)
    if len(L["inputs"]) != 1:
        raise ValueError(f"layer {name!r} ({L['op']}) has {len(L['inputs'])} inputs; only single-input "
                         "layers are separate cores (the add runs inside the SRNet top)")
    specs = producer_specs(bundle, net)
    spec = specs[L["inputs"][0]]
    b = GraphBuilder()
    inp = "global_in"
    x = b.quant(inp, spec["exp"], spec["bits"], spec["signed"], name="input")
    y = _emit_layer(b, L, [x], bundle)
    oh, ow = _shape_after(L, H, W)
    return b.model(inp, [1, spec["channels"], H, W], y, [1, L["channels"], oh, ow])
