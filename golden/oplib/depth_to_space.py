"""depth_to_space: TensorFlow ``DepthToSpace`` (DCR order), the cheap tail's inner shuffle.

Golden: `golden.ops.depth_to_space`; HLS: ONNX ``DepthToSpace(mode=DCR)``
through the hls4ml extension (same stream core as pixel_shuffle). No RTL
core: the RTL tops use pixel_shuffle (CRD).
"""
from __future__ import annotations

from .. import ops
from .base import Cost, Op
from .pixel_shuffle import PixelShuffle
from .registry import register


class DepthToSpace(PixelShuffle):
    name = "depth_to_space"
    rtl_module = None
    rtl_files = ()
    rtl_lint_params = ()
    hls_mode = "DCR"

    def run(self, bundle, L, xs, srcs):
        return ops.depth_to_space(xs[0], L["factor"])

    def cost(self, impl, node, fold, env):
        return super().cost(impl, node, fold, env) if impl == "hls" else Cost(1.0)

    rtl_frame = Op.rtl_frame
    rtl_params = Op.rtl_params
    tb_io = Op.tb_io
    tb_expected = Op.tb_expected


register(DepthToSpace())
