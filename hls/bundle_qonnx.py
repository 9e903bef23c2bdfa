"""QONNX graphs built straight from a bundle (the integer contract).

`quant.export.export_qonnx_srnet` is the main source of QONNX (Brevitas);
this module writes the same kind of graph from a bundle's integer weights
and exponents, so that a single layer (one conv core, the pixel-shuffle
core) or a whole net can be generated from any bundle, and so that a
QONNX file can be checked against the bundle it claims to implement.

The graph is NCHW, like a Brevitas export: an input ``Quant`` (image codes),
then each layer's nodes as its op (`golden.oplib`, ``Op.hls_qonnx``) emits
them into a `GraphBuilder`: e.g. per conv a ``Quant`` on the weights (narrow
range) and on the bias, ``Conv``, ``Relu``/``LeakyRelu``, an output ``Quant``
(round half to even, saturating); ``Add`` + ``Quant`` for residual adds;
``Gather`` + ``Add`` + ``Quant`` for the anchor skip; ``DepthToSpace`` for
the shuffles. All scales are powers of two. Tensor types and shapes come
from the bundle's hardware graph (`Bundle.graph`). Then
`qonnx_prep.prepare` makes it channels-last.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from egvsr.golden import oplib

__all__ = ["srnet_qonnx", "layer_qonnx", "GraphBuilder", "hls_ops", "onnx_op"]

_QDOMAIN = "qonnx.custom_op.general"
_EXACT_F32 = 1 << 24


class GraphBuilder:
    """Small helper that accumulates ONNX nodes and initializers (what `Op.hls_qonnx` writes into)."""

    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0

    def _name(self, base):
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, base, value, dtype=np.float32):
        """An initializer (float32 unless `dtype` says otherwise, e.g. int64 ``Gather`` indices)."""
        name = self._name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
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

    def exact(self, name, codes, exp):
        """Float values of integer `codes` at exponent `exp`, checked exact in float32."""
        return _float_exact(name, codes, exp)

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


def hls_ops() -> list[str]:
    """Names of the registered ops the HLS flow implements (they name ONNX ops)."""
    return sorted(k for k, op in oplib.registry().items() if op.hls_onnx_ops)


def onnx_op(op_type: str):
    """The registered op whose QONNX is led by an ONNX `op_type` node (e.g. ``Conv``), or None."""
    found = [op for _, op in sorted(oplib.registry().items()) if op.hls_onnx_ops[:1] == (op_type,)]
    return found[0] if found else None


def _emit_layer(b: GraphBuilder, L: dict, xs: list[str], bundle) -> str:
    try:
        return oplib.get(L["op"]).hls_qonnx(b, L, xs, bundle)
    except oplib.NoImplementation as e:
        raise ValueError(f"{e} (ops with one: {', '.join(hls_ops())}); give the op an `hls_qonnx` "
                         "emitter and its `hls_onnx_ops` (golden/oplib), or keep it off the HLS net") from None


def srnet_qonnx(bundle, H: int, W: int, net: str = "srnet") -> onnx.ModelProto:
    """The whole net of `bundle` as an NCHW QONNX model for an H x W input."""
    g = bundle.graph(net)
    spec = g.input.spec()
    b = GraphBuilder()
    inp = "global_in"
    t = {"input": b.quant(inp, spec["exp"], spec["bits"], spec["signed"], name="input")}
    for n in g.nodes:
        t[n.name] = _emit_layer(b, n.layer, [t[s.name] for s in n.inputs], bundle)
    oh, ow, oc = g.shapes(H, W)[g.output.name]
    return b.model(inp, [1, spec["channels"], H, W], t[g.output.name], [1, oc, oh, ow])


def layer_qonnx(bundle, name: str, H: int, W: int, net: str = "srnet") -> onnx.ModelProto:
    """One single-input layer (a conv core or the pixel-shuffle core) as a QONNX model."""
    node = bundle.graph(net).node(name)
    L = node.layer
    if len(node.inputs) != 1:
        raise ValueError(f"layer {name!r} ({L['op']}) has {len(node.inputs)} inputs; only single-input "
                         "layers are separate cores (the add runs inside the net's top)")
    spec = node.inputs[0].spec()
    b = GraphBuilder()
    inp = "global_in"
    x = b.quant(inp, spec["exp"], spec["bits"], spec["signed"], name="input")
    y = _emit_layer(b, L, [x], bundle)
    oh, ow = node.op.out_hw(L, H, W)
    return b.model(inp, [1, spec["channels"], H, W], y, [1, node.output.channels, oh, ow])
