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
    ``preset.skip``: ``none`` (published: the output is the network's own),
    ``anchor`` (lr_curr's RGB added to the r*r sub-pixel channels of each
    colour before the shuffle) or ``bicubic`` (bicubic x4 of lr_curr added
    to the output).
    """

    def __init__(self, preset: Preset, in_nc: int = 3, out_nc: int = 3):
        super().__init__()
        nf, s = preset.nf, preset.scale
        self.tail = preset.tail
        self.skip = preset.skip
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
            hr = self.conv_out(F.relu(F.pixel_shuffle(out, self.scale)))
        else:
            sub = self.conv_sub(out)
            if self.skip == "anchor":
                sub = sub + anchor(lr_curr, self.scale)
            hr = F.pixel_shuffle(sub, self.scale)
        if self.skip == "bicubic":
            hr = hr + self.upsample_func(lr_curr)
        return hr


def anchor(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C*r*r, H, W): each channel repeated r*r times (CRD order:
    after PixelShuffle(r) every HR pixel of an LR pixel gets that pixel's value)."""
    return lr.repeat_interleave(scale * scale, dim=1)
