"""SRNet: the reconstruction network of EGVSR (float, published key layout)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .presets import Preset
from .warp import BicubicUpsample


class ResidualBlock(nn.Module):
    """x + conv(relu(conv(x))), keys ``conv.0`` and ``conv.2``."""

    def __init__(self, nf: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1, bias=True), nn.ReLU(inplace=True),
                                  nn.Conv2d(nf, nf, 3, 1, 1, bias=True))

    def forward(self, x):
        return x + self.conv(x)


class SRNet(nn.Module):
    """conv_in -> nb residual blocks -> tail (``cheap`` or ``espcn``, see presets).

    Input: concat(lr_curr, space_to_depth(warped hr_prev, 4)) = 3 + 48 channels.
    The output is the network's own (no bicubic skip), as published.
    """

    def __init__(self, preset: Preset, in_nc: int = 3, out_nc: int = 3):
        super().__init__()
        nf, s = preset.nf, preset.scale
        self.tail = preset.tail
        self.scale = s
        self.conv_in = nn.Sequential(nn.Conv2d((s * s + 1) * in_nc, nf, 3, 1, 1, bias=True), nn.ReLU(inplace=True))
        self.resblocks = nn.Sequential(*[ResidualBlock(nf) for _ in range(preset.nb)])
        if preset.keep_conv_up:
            # Built but unused by the published forward; kept so checkpoints load strictly.
            self.conv_up = nn.Sequential(
                nn.ConvTranspose2d(nf, nf, 3, 2, 1, output_padding=1, bias=True), nn.ReLU(inplace=True),
                nn.ConvTranspose2d(nf, nf, 3, 2, 1, output_padding=1, bias=True), nn.ReLU(inplace=True))
        if preset.tail == "cheap":
            self.conv_out = nn.Conv2d(nf // (s * s), out_nc, 3, 1, 1, bias=True)
        else:
            self.conv_sub = nn.Conv2d(nf, out_nc * s * s, 3, 1, 1, bias=True)
        self.upsample_func = BicubicUpsample(s)  # published attribute (state-dict key)

    def forward(self, lr_curr: torch.Tensor, hr_prev_warped_s2d: torch.Tensor) -> torch.Tensor:
        out = self.resblocks(self.conv_in(torch.cat([lr_curr, hr_prev_warped_s2d], dim=1)))
        if self.tail == "cheap":
            return self.conv_out(F.relu(F.pixel_shuffle(out, self.scale)))
        return F.pixel_shuffle(self.conv_sub(out), self.scale)
