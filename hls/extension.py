"""DepthToSpace / PixelShuffle as a first-class hls4ml layer (extension API).

hls4ml 1.3.0 has no DepthToSpace. This module adds it through the
documented extension points:

- an ONNX handler for ``DepthToSpace`` nodes in the channels-last form that
  `egvsr.hls.qonnx_prep.channels_last_depth_to_space` produces (domain
  ``egvsr.channels_last``; input and output NHWC),
- a `Layer` subclass (`DepthToSpace`) that computes the output shape,
- a config template and a function-call template for the Vivado/Vitis
  backends,
- a C++ streaming implementation ``nnet_utils/nnet_depth_to_space_stream.h``
  (ping-pong LR row buffer, one input pixel per clock, II=1 pragmas)
  registered with ``backend.register_source``.

`register()` is idempotent; every entry point of `egvsr.hls` calls it (it
registers the anchor skip's layers of `anchor_ext` too).

Output packing: ``pixels_per_beat`` (P, divides the block size r) HR pixels of
one HR row share one stream word, so the output tensor is
``(H*r, W*r/P, P*C)`` channels-last, which has the same memory layout as
``(H*r, W*r, C)``: callers reshape. P = 1 gives the plain layout; P = r lets
the core sustain r output words per LR pixel instead of r*r.
"""
from __future__ import annotations

from pathlib import Path

import hls4ml
from hls4ml.backends import get_backend
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.converters.onnx_to_hls import get_onnx_attribute
from hls4ml.model.attributes import Attribute, ChoiceAttribute, ConfigurableAttribute
from hls4ml.model.layers import Layer, register_layer

__all__ = ["DepthToSpace", "register", "CL_DOMAIN", "HEADER"]

CL_DOMAIN = "egvsr.channels_last"
HEADER = Path(__file__).resolve().parent / "nnet_utils" / "nnet_depth_to_space_stream.h"
_BACKENDS = ("Vivado", "Vitis")
_done = False


class DepthToSpace(Layer):
    """(H, W, r*r*C) -> (H*r, W*r/P, P*C): PixelShuffle (CRD) or TF DepthToSpace (DCR)."""

    _expected_attributes = [
        Attribute("in_height"),
        Attribute("in_width"),
        Attribute("n_chan"),
        Attribute("block_size"),
        ChoiceAttribute("mode", ["CRD", "DCR"], default="CRD", configurable=False),
        ConfigurableAttribute("pixels_per_beat", default=1,
                              description="HR pixels of one HR row per output stream word (divides block_size)"),
    ]

    def initialize(self):
        inp = self.get_input_variable()
        if len(inp.shape) != 3:
            raise ValueError(f"DepthToSpace {self.name}: expected a (H, W, C) input, got {inp.shape}")
        h, w, c = (int(v) for v in inp.shape)
        r = int(self.get_attr("block_size"))
        p = int(self.get_attr("pixels_per_beat", 1))
        if c % (r * r):
            raise ValueError(f"DepthToSpace {self.name}: {c} channels is not a multiple of block_size^2 = {r * r}")
        if p < 1 or r % p:
            raise ValueError(f"DepthToSpace {self.name}: pixels_per_beat {p} must divide block_size {r}")
        self.set_attr("in_height", h)
        self.set_attr("in_width", w)
        self.set_attr("n_chan", c)
        self.set_attr("out_chan", c // (r * r))
        self.set_attr("pixels_per_beat", p)
        shape = [h * r, w * r // p, p * (c // (r * r))]
        self.add_output_variable(shape, precision=inp.type.precision)


_config_template = """struct config{index} : nnet::depth_to_space_config {{
    static const unsigned in_height = {in_height};
    static const unsigned in_width = {in_width};
    static const unsigned n_chan = {n_chan};
    static const unsigned block = {block_size};
    static const unsigned out_chan = {out_chan};
    static const unsigned pixels_per_beat = {pixels_per_beat};
    static const bool crd = {crd};
}};\n"""

_function_template = "nnet::depth_to_space_stream<{input_t}, {output_t}, {config}>({input}, {output});"
_include = ["nnet_utils/nnet_depth_to_space_stream.h"]


class DepthToSpaceConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(DepthToSpace)
        self.template = _config_template

    def format(self, node):
        params = self._default_config_params(node)
        params["crd"] = "true" if node.get_attr("mode", "CRD") == "CRD" else "false"
        return self.template.format(**params)


class DepthToSpaceFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(DepthToSpace, include_header=_include)
        self.template = _function_template

    def format(self, node):
        if node.model.config.get_config_value("IOType") != "io_stream":
            raise ValueError(f"DepthToSpace {node.name}: only io_stream is implemented")
        return self.template.format(**self._default_function_params(node))


def parse_depth_to_space(node, input_names, input_shapes, graph):
    """ONNX handler: channels-last DepthToSpace (see `qonnx_prep`)."""
    if node.domain != CL_DOMAIN:
        raise ValueError(
            f"DepthToSpace node {node.name!r} is channels-first; run "
            "egvsr.hls.qonnx_prep.prepare() on the QONNX model first (it rewrites "
            "Transpose->DepthToSpace into the channels-last form this handler reads)")
    shape = list(input_shapes[0])
    if len(shape) != 4:
        raise ValueError(f"DepthToSpace node {node.name!r}: expected a 4-D NHWC input, got {shape}")
    mode = get_onnx_attribute(node, "mode", "DCR")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    return {
        "name": node.name,
        "class_name": "DepthToSpace",
        "inputs": input_names,
        "outputs": list(node.output),
        "in_height": int(shape[1]),
        "in_width": int(shape[2]),
        "n_chan": int(shape[3]),
        "block_size": int(get_onnx_attribute(node, "blocksize")),
        "mode": str(mode).upper(),
    }


def register() -> None:
    """Register the layer, the ONNX handler, the templates and the header (once)."""
    global _done
    if _done:
        return
    register_layer("DepthToSpace", DepthToSpace)
    import importlib
    handlers = importlib.import_module("hls4ml.converters.onnx_to_hls").layer_handlers
    if "DepthToSpace" not in handlers:
        hls4ml.converters.register_onnx_layer_handler("DepthToSpace", parse_depth_to_space)
    for name in _BACKENDS:
        backend = get_backend(name)
        backend.register_template(DepthToSpaceConfigTemplate)
        backend.register_template(DepthToSpaceFunctionTemplate)
        backend.register_source(HEADER)
    from . import anchor_ext  # the anchor skip's layers (Gather -> Add -> Quant)
    anchor_ext.register()
    _done = True
