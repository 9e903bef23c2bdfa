"""The op library: one module per bundle op (numpy only, runs on a PYNQ board).

Each module defines an `Op` (see `base`) and registers it by its manifest
name: its contract and validation, output geometry, golden execution, cost
model per implementation (hls, rtl), QONNX emitter (HLS flow), Verilog core
and parameters (RTL flow) and core-testbench expectations. Every stage
looks ops up here (`get(name)`); none keeps its own table of ops.

Adding an op: write ``golden/oplib/<op>.py`` (or your own module named in
$EGVSR_OPS) with an `Op` subclass and ``register(MyOp())``, plus its
Verilog core (``rtl/verilog/<core>.v`` or an absolute path in `rtl_files`)
and, for HLS, the ONNX nodes it maps to.
"""
from . import add, anchor_add, conv3x3, depth_to_space, maxpool2, pixel_shuffle, relu, space_to_depth  # noqa: F401
from . import tanh_flow, upsample2x  # noqa: F401
from .base import IMPLS, Cost, NoImplementation, Op
from .registry import get, names, register, registry, unregister

__all__ = ["Op", "Cost", "NoImplementation", "IMPLS", "get", "names", "register", "registry",
           "unregister"]
