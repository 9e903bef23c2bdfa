"""The anchor skip (`anchor_add`, golden/oplib/anchor_add.py) as hls4ml layers (extension API).

The QONNX pattern of the op (NCHW, as `Op.hls_qonnx` and the Brevitas export
write it) is ``Gather(net input, k // r*r, axis=1) -> Add(residual, gathered)
-> Quant``. hls4ml 1.3.0 has no streaming Gather, and its Merge ``Add``
cannot repeat channels, so `fuse_anchor` rewrites the (channels-last) pattern
into two nodes of the ``egvsr.channels_last`` domain before conversion, and
this module turns them into two hls4ml layers:

- ``AnchorSlice`` right behind the clone of the net input: keeps the first
  C channels (lr_curr's RGB, 51 -> 3), so the skip FIFO in front of the add
  holds C x 8 = 24-bit words, not the 408-bit input word;
- ``AnchorAdd``: reads one residual word (C*r*r channels) and one skip word
  per LR pixel, repeats each skip channel r*r times, adds in ap_fixed's exact
  sum type of the two input types (both aligned to the finer exponent, an
  exact shift) and writes the requantized word: the
  output type is the Quant's (``AP_RND_CONV``: round half to even,
  ``AP_SAT``), so the C simulation equals `golden.ops.anchor_add` bit for bit.

Both are one II=1 loop over the LR pixels (``nnet_utils/nnet_anchor_add_stream.h``).
`register()` is idempotent; `egvsr.hls.extension.register` calls it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from hls4ml.backends import get_backend
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.converters.onnx_to_hls import get_onnx_attribute
from hls4ml.model.attributes import Attribute
from hls4ml.model.layers import Layer, register_layer
from hls4ml.model.types import FixedPrecisionType
from onnx import helper

from .extension import CL_DOMAIN

__all__ = ["AnchorSlice", "AnchorAdd", "fuse_anchor", "register", "HEADER"]

HEADER = Path(__file__).resolve().parent / "nnet_utils" / "nnet_anchor_add_stream.h"
_BACKENDS = ("Vivado", "Vitis")
_done = False


# ----------------------------------------------------------------- ONNX rewrite
def _init_array(model, name, what):
    v = model.get_initializer(name)
    if v is None:
        raise ValueError(f"{what}: {name!r} is not a constant")
    return np.asarray(v)


def fuse_anchor(model):
    """``Gather(CL) -> Add -> Quant`` (the anchor skip, channels-last) -> ``AnchorSlice`` + ``AnchorAdd``.

    Run on a prepared (channels-last) and named model (`qonnx_prep.prepare`,
    `convert.name_and_check`), right before hls4ml reads it. The gather must
    be ``out[k] = in[k // rep]`` for ``k < C * rep`` (what `name_and_check`
    checked against the bundle); the slice keeps channels ``0..C-1``.
    """
    g = model.graph
    for ga in [n for n in g.node if n.op_type == "Gather"]:
        where = f"Gather {ga.name!r}"
        if ga.domain != CL_DOMAIN:
            raise ValueError(f"{where} is channels-first; run egvsr.hls.qonnx_prep.prepare() first")
        idx = _init_array(model, ga.input[1], where).astype(np.int64).reshape(-1)
        c = int(idx.max()) + 1 if idx.size else 0
        rep = idx.size // c if c else 0
        if not c or idx.size != c * rep or not np.array_equal(idx, np.arange(idx.size) // rep):
            raise ValueError(f"{where}: indices {idx.tolist()} are not k // r for k < C*r; only the "
                             "anchor skip's channel repeat is implemented")
        cons = model.find_consumers(ga.output[0]) or []
        if len(cons) != 1 or cons[0].op_type != "Add":
            raise ValueError(f"{where} does not feed one Add (the anchor skip's add)")
        add = cons[0]
        qs = model.find_consumers(add.output[0]) or []
        if len(qs) != 1 or qs[0].op_type != "Quant":
            raise ValueError(f"Add {add.name!r} (anchor skip) is not followed by one Quant")
        q = qs[0]
        scale = float(_init_array(model, q.input[1], f"Quant {q.name!r}").reshape(-1)[0])
        bits = int(_init_array(model, q.input[3], f"Quant {q.name!r}").reshape(-1)[0])
        attrs = {a.name: a for a in q.attribute}
        signed = bool(attrs["signed"].i) if "signed" in attrs else True
        narrow = bool(attrs["narrow"].i) if "narrow" in attrs else False
        rounding = attrs["rounding_mode"].s.decode() if "rounding_mode" in attrs else "ROUND"
        exp = int(round(np.log2(scale)))
        if scale != 2.0 ** exp or np.any(_init_array(model, q.input[2], f"Quant {q.name!r}") != 0) \
                or narrow or rounding.upper() != "ROUND":
            raise ValueError(f"Quant {q.name!r}: the anchor add's output quantizer must be power-of-two, "
                             f"zero point 0, not narrow, rounding ROUND (half to even); got scale {scale}, "
                             f"narrow {narrow}, rounding {rounding}")
        res = add.input[0] if add.input[1] == ga.output[0] else add.input[1]
        n, h, w, _ = model.get_tensor_shape(ga.input[0])
        base = add.name or "anchor"
        sl_out = base + "_slice_out"       # named after the layer (the gather's output name is random)
        taken = {t for nd in g.node for t in list(nd.input) + list(nd.output)}
        if sl_out in taken:
            raise ValueError(f"fuse_anchor: a tensor is already named {sl_out!r}; rename it")
        sl = helper.make_node("AnchorSlice", [ga.input[0]], [sl_out], name=base + "_slice", domain=CL_DOMAIN,
                              channels=c)
        fused = helper.make_node("AnchorAdd", [res, sl_out], [q.output[0]], name=base, domain=CL_DOMAIN,
                                 repeat=rep, out_bits=bits, out_exp=exp, out_signed=int(signed))
        nodes = list(g.node)
        i_ga, i_add = nodes.index(ga), nodes.index(add)
        g.node.insert(i_add, fused)
        g.node.insert(i_ga, sl)
        for old in (ga, add, q):
            g.node.remove(old)
        model.set_tensor_shape(sl_out, [n, h, w, c])
        # the indices and the Quant's parameters: hls4ml would make Constant layers of them
        inits = {i.name: i for i in g.initializer}
        for t in set(ga.input) | set(q.input):
            if t in inits and not model.find_consumers(t):
                g.initializer.remove(inits[t])
    return model


# ----------------------------------------------------------------- hls4ml layers
class AnchorSlice(Layer):
    """(H, W, n_in) -> (H, W, n_out): the first n_out channels (the skip's colours)."""

    _expected_attributes = [Attribute("n_in"), Attribute("n_out"), Attribute("n_pixels")]

    def initialize(self):
        inp = self.get_input_variable()
        if len(inp.shape) != 3:
            raise ValueError(f"AnchorSlice {self.name}: expected a (H, W, C) input, got {inp.shape}")
        h, w, c = (int(v) for v in inp.shape)
        n_out = int(self.get_attr("n_out"))
        if not 0 < n_out <= c:
            raise ValueError(f"AnchorSlice {self.name}: {n_out} channels of a {c}-channel input")
        self.set_attr("n_in", c)
        self.set_attr("n_pixels", h * w)
        self.add_output_variable([h, w, n_out], precision=inp.type.precision)


class AnchorAdd(Layer):
    """residual (H, W, C*rep) + each skip channel (H, W, C) repeated rep times -> requant."""

    _expected_attributes = [Attribute("n_chan"), Attribute("n_skip"), Attribute("repeat"), Attribute("n_pixels"),
                            Attribute("out_bits"), Attribute("out_exp"), Attribute("out_signed", value_type=bool)]

    def initialize(self):
        if len(self.inputs) != 2:
            raise ValueError(f"AnchorAdd {self.name}: expected 2 inputs, got {self.inputs}")
        res = self.get_input_variable(self.inputs[0])
        skip = self.get_input_variable(self.inputs[1])
        h, w, c = (int(v) for v in res.shape)
        rep = int(self.get_attr("repeat"))
        n_skip = int(skip.shape[-1])
        if list(skip.shape[:2]) != [h, w] or c != n_skip * rep:
            raise ValueError(f"AnchorAdd {self.name}: residual {res.shape} and skip {skip.shape} do not "
                             f"match with repeat {rep}")
        self.set_attr("n_chan", c)
        self.set_attr("n_skip", n_skip)
        self.set_attr("n_pixels", h * w)
        self.add_output_variable([h, w, c], precision=self.out_precision())

    def out_precision(self) -> FixedPrecisionType:
        """The output Quant's type: round half to even (RND_CONV), saturate."""
        bits, exp = int(self.get_attr("out_bits")), int(self.get_attr("out_exp"))
        return FixedPrecisionType(width=bits, integer=bits + exp, signed=bool(self.get_attr("out_signed")),
                                  rounding_mode="RND_CONV", saturation_mode="SAT")


_slice_config = """struct config{index} : nnet::channel_slice_config {{
    static const unsigned n_pixels = {n_pixels};
    static const unsigned n_in = {n_in};
    static const unsigned n_out = {n_out};
}};\n"""

_add_config = """struct config{index} : nnet::anchor_add_config {{
    static const unsigned n_pixels = {n_pixels};
    static const unsigned n_chan = {n_chan};
    static const unsigned n_skip = {n_skip};
    static const unsigned repeat = {repeat};
}};\n"""

_slice_call = "nnet::channel_slice_stream<{input_t}, {output_t}, {config}>({input}, {output});"
_add_call = "nnet::anchor_add_stream<{input1_t}, {input2_t}, {output_t}, {config}>({input1}, {input2}, {output});"
_include = ["nnet_utils/nnet_anchor_add_stream.h"]


def _stream_only(node):
    if node.model.config.get_config_value("IOType") != "io_stream":
        raise ValueError(f"{node.class_name} {node.name}: only io_stream is implemented")


class AnchorSliceConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(AnchorSlice)
        self.template = _slice_config

    def format(self, node):
        return self.template.format(**self._default_config_params(node))


class AnchorSliceFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(AnchorSlice, include_header=_include)
        self.template = _slice_call

    def format(self, node):
        _stream_only(node)
        return self.template.format(**self._default_function_params(node))


class AnchorAddConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(AnchorAdd)
        self.template = _add_config

    def format(self, node):
        return self.template.format(**self._default_config_params(node))


class AnchorAddFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(AnchorAdd, include_header=_include)
        self.template = _add_call

    def format(self, node):
        _stream_only(node)
        v1, v2 = (node.get_input_variable(i) for i in node.inputs)
        out = node.get_output_variable()
        return self.template.format(input1_t=v1.type.name, input2_t=v2.type.name, output_t=out.type.name,
                                    input1=v1.name, input2=v2.name, output=out.name, config=f"config{node.index}")


# ----------------------------------------------------------------- ONNX handlers
def _check_cl(node):
    if node.domain != CL_DOMAIN:
        raise ValueError(f"{node.op_type} node {node.name!r} must be in the {CL_DOMAIN} domain "
                         "(written by egvsr.hls.anchor_ext.fuse_anchor)")


def parse_anchor_slice(node, input_names, input_shapes, graph):
    """ONNX handler: ``AnchorSlice`` (from `fuse_anchor`)."""
    _check_cl(node)
    return {"name": node.name, "class_name": "AnchorSlice", "inputs": input_names, "outputs": list(node.output),
            "n_out": int(get_onnx_attribute(node, "channels"))}


def parse_anchor_add(node, input_names, input_shapes, graph):
    """ONNX handler: ``AnchorAdd`` (from `fuse_anchor`)."""
    _check_cl(node)
    a = {k: int(get_onnx_attribute(node, k)) for k in ("repeat", "out_bits", "out_exp", "out_signed")}
    a["out_signed"] = bool(a["out_signed"])
    return {"name": node.name, "class_name": "AnchorAdd", "inputs": input_names, "outputs": list(node.output), **a}


def register() -> None:
    """Register the two layers, their ONNX handlers, templates and the header (once)."""
    global _done
    if _done:
        return
    import importlib

    import hls4ml

    register_layer("AnchorSlice", AnchorSlice)
    register_layer("AnchorAdd", AnchorAdd)
    handlers = importlib.import_module("hls4ml.converters.onnx_to_hls").layer_handlers
    for op, fn in (("AnchorSlice", parse_anchor_slice), ("AnchorAdd", parse_anchor_add)):
        if op not in handlers:
            hls4ml.converters.register_onnx_layer_handler(op, fn)
    for name in _BACKENDS:
        backend = get_backend(name)
        for t in (AnchorSliceConfigTemplate, AnchorSliceFunctionTemplate, AnchorAddConfigTemplate,
                  AnchorAddFunctionTemplate):
            backend.register_template(t)
        backend.register_source(HEADER)
    _done = True
