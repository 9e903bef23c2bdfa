"""FNet: the optical-flow network of EGVSR (float, published key layout)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .presets import Preset


def _double_conv(cin, cout, slope, pool):
    layers = [nn.Conv2d(cin, cout, 3, 1, 1, bias=True), nn.LeakyReLU(slope, inplace=True),
              nn.Conv2d(cout, cout, 3, 1, 1, bias=True), nn.LeakyReLU(slope, inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class FNet(nn.Module):
    """Encoder/decoder flow estimator; flow points from current to previous.

    Any H, W >= 8: the pools floor, so the flow is (H//8*8, W//8*8) (see
    ``EGVSR.lr_flow`` for the published reflect padding back to H x W).
    """

    def __init__(self, preset: Preset, in_nc: int = 3, max_velocity: float = 24.0):
        super().__init__()
        w1, w2, w3, w4 = preset.fnet_widths()
        s = preset.leaky_slope
        self.max_velocity = max_velocity
        self.encoder1 = _double_conv(2 * in_nc, w1, s, True)
        self.encoder2 = _double_conv(w1, w2, s, True)
        self.encoder3 = _double_conv(w2, w3, s, True)
        self.decoder1 = _double_conv(w3, w4, s, False)
        self.decoder2 = _double_conv(w4, w3, s, False)
        self.decoder3 = _double_conv(w3, w2, s, False)
        self.flow = nn.Sequential(nn.Conv2d(w2, w1, 3, 1, 1, bias=True), nn.LeakyReLU(s, inplace=True),
                                  nn.Conv2d(w1, 2, 3, 1, 1, bias=True))

    def forward(self, lr_curr: torch.Tensor, lr_prev: torch.Tensor) -> torch.Tensor:
        h, w = lr_curr.shape[-2:]
        if h < 8 or w < 8:
            raise ValueError(f"FNet needs H and W of at least 8, got {h}x{w}")
        out = self.encoder3(self.encoder2(self.encoder1(torch.cat([lr_curr, lr_prev], dim=1))))
        for dec in (self.decoder1, self.decoder2, self.decoder3):
            out = F.interpolate(dec(out), scale_factor=2, mode="bilinear", align_corners=False)
        return torch.tanh(self.flow(out)) * self.max_velocity
