"""space_to_depth: TensorFlow ``SpaceToDepth`` (DCR order), LR image -> 48 channels at HR/4.

Golden: `golden.ops.space_to_depth` (SRNet's input packing is done by
`golden.network.srnet_input` on the host; the op exists for nets that
rearrange inside the graph). No HLS or RTL implementation yet.
"""
from __future__ import annotations

from .. import ops
from .registry import register
from .shuffles import Rearrange


class SpaceToDepth(Rearrange):
    name = "space_to_depth"
    to_depth = True

    def run(self, bundle, L, xs, srcs):
        return ops.space_to_depth(xs[0], L["factor"])


register(SpaceToDepth())
