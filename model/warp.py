"""Float warp, flow upsampling and space/depth rearrangements (torch, NCHW)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def space_to_depth(x: torch.Tensor, r: int = 4) -> torch.Tensor:
    """TensorFlow-order (DCR) space_to_depth: (n, c, h*r, w*r) -> (n, r*r*c, h, w).

    Output channel ``(i*r + j)*c + ch`` holds pixel ``(y*r + i, x*r + j)``.
    """
    n, c, hh, ww = x.shape
    if hh % r or ww % r:
        raise ValueError(f"space_to_depth: size {hh}x{ww} is not a multiple of {r}")
    h, w = hh // r, ww // r
    x = x.view(n, c, h, r, w, r).permute(0, 3, 5, 1, 2, 4)
    return x.reshape(n, r * r * c, h, w)


def depth_to_space(x: torch.Tensor, r: int = 4) -> torch.Tensor:
    """Inverse of :func:`space_to_depth` (DCR order; not PixelShuffle's CRD)."""
    n, cc, h, w = x.shape
    c = cc // (r * r)
    x = x.view(n, r, r, c, h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c, h * r, w * r)


def backward_warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``x`` at ``(u + flow_x, v + flow_y)`` (bilinear, border padding).

    Same sampling as the published grid_sample with a linspace(-1, 1) base grid
    and align_corners=True: pixel centres map exactly to pixel indices.
    """
    n, _, h, w = x.shape
    if flow.shape[-2:] != (h, w) or flow.shape[1] != 2:
        raise ValueError(f"backward_warp: flow {tuple(flow.shape)} does not fit image {tuple(x.shape)}")
    gu = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype).view(1, 1, w).expand(n, h, w)
    gv = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype).view(1, h, 1).expand(n, h, w)
    sx = gu + flow[:, 0] / ((w - 1.0) / 2.0) if w > 1 else gu
    sy = gv + flow[:, 1] / ((h - 1.0) / 2.0) if h > 1 else gv
    grid = torch.stack([sx, sy], dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


def keys_taps(a: float = -0.75, scale: int = 4) -> torch.Tensor:
    """Bicubic (Keys) taps: row p holds the 4 weights of output phase p/scale."""
    m = torch.tensor([[0, a, -2 * a, a], [1, 0, -(a + 3), a + 2],
                      [0, -a, 2 * a + 3, -(a + 2)], [0, 0, a, -a]], dtype=torch.float64)
    rows = []
    for p in range(scale):
        s = p / scale
        rows.append(m @ torch.tensor([1.0, s, s * s, s * s * s], dtype=torch.float64))
    return torch.stack(rows).float()


class BicubicUpsample(nn.Module):
    """x4 bicubic upsampler of the published code (BD flow upsampling).

    Replicate padding 1 (left/top) and 2 (right/bottom); output ``4i + p`` is
    ``sum_k taps[p, k] * padded[i + k]``, rows then columns. Its tap table is
    the ``kernels`` buffer, a (4, 4) entry of every published checkpoint.
    """

    def __init__(self, scale: int = 4, a: float = -0.75):
        super().__init__()
        self.scale = scale
        self.register_buffer("kernels", keys_taps(a, scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        s = self.scale
        k = self.kernels.to(x.dtype)
        y = F.pad(x.reshape(n * c, 1, h, w), (1, 2, 1, 2), mode="replicate")
        y = F.conv2d(y, k.view(s, 1, 4, 1))                        # (nc, s, h, w+3)
        y = y.permute(0, 2, 1, 3).reshape(n * c, 1, h * s, w + 3)  # rows interleaved
        y = F.conv2d(y, k.view(s, 1, 1, 4))                        # (nc, s, hs, w)
        y = y.permute(0, 2, 3, 1).reshape(n, c, h * s, w * s)
        return y


def upsample_flow(lr_flow: torch.Tensor, upsampler: nn.Module | None, scale: int = 4) -> torch.Tensor:
    """HR flow = scale * up(LR flow): bicubic module (BD) or bilinear (BI)."""
    if upsampler is None:
        up = F.interpolate(lr_flow, scale_factor=scale, mode="bilinear", align_corners=False)
    else:
        up = upsampler(lr_flow)
    return up * scale
