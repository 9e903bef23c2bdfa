"""Integer-exact torch versions of the non-conv EGVSR ops (docs/numerics.md).

Each op returns the exact fixed-point result in its forward pass and the
float op's gradient in its backward pass (straight-through), so the same
function serves QAT and bit-exact inference. Tensors carry real values
(``code * 2**exp``), NCHW. This is an independent torch implementation of
the arithmetic that ``egvsr.golden`` defines in numpy; the tests check that
they agree bit for bit.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from egvsr.golden.ops import FLOW_TAPS, tanh_flow_lut
from egvsr.model.warp import backward_warp


def _ste(approx: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    return approx + (exact.to(approx.dtype) - approx).detach()


def codes(x: torch.Tensor, exp: int) -> torch.Tensor:
    """Integer codes (int64) of values at exponent ``exp`` (exact by construction)."""
    return torch.round(x.detach().double() * math.ldexp(1.0, -exp)).long()


def rshift_rne(v: torch.Tensor, s: int) -> torch.Tensor:
    """``v * 2**-s`` rounded half to even, for int64 ``v`` (exact)."""
    if s <= 0:
        return v * (1 << -s)
    q = torch.div(v, 1 << s, rounding_mode="floor")
    r = v - q * (1 << s)
    half = 1 << (s - 1)
    return q + (r > half).long() + ((r == half) & (q % 2 == 1)).long()


def tanh_flow(x: torch.Tensor, in_exp: int, in_bits: int, max_velocity: float, lr_frac_bits: int) -> torch.Tensor:
    """``max_velocity * tanh(x)`` through the golden table (values at 2**-lr_frac_bits)."""
    lut = torch.from_numpy(tanh_flow_lut(in_exp, in_bits, max_velocity, lr_frac_bits).astype("int64")).to(x.device)
    idx = codes(x, in_exp) + (1 << (in_bits - 1))
    exact = lut[idx.clamp(0, lut.numel() - 1)].double() * math.ldexp(1.0, -lr_frac_bits)
    return _ste(max_velocity * torch.tanh(x), exact)


def flow_pad(flow: torch.Tensor, h: int, w: int) -> torch.Tensor:
    h8, w8 = flow.shape[-2:]
    if (h8, w8) == (h, w):
        return flow
    return F.pad(flow, (0, w - w8, 0, h - h8), mode="reflect")


def flow_upsample4(lr_flow: torch.Tensor, upsampler: str, lr_frac_bits: int, hr_frac_bits: int,
                   approx: torch.Tensor) -> torch.Tensor:
    """HR flow = 4 * up(LR flow), exact (one rounding to ``hr_frac_bits``); ``approx``: the float op (gradients)."""
    n, c, h, w = lr_flow.shape
    taps = torch.tensor(FLOW_TAPS[upsampler], dtype=torch.float64, device=lr_flow.device)  # (4 phases, 4 taps)
    x = codes(lr_flow, -lr_frac_bits).double().reshape(n * c, 1, h, w)
    x = F.pad(x, (1, 2, 1, 2), mode="replicate")
    y = F.conv2d(x, taps.view(4, 1, 4, 1))                       # (nc, 4, h, w+3), exact in float64
    y = y.permute(0, 2, 1, 3).reshape(n * c, 1, 4 * h, w + 3)
    y = F.conv2d(y, taps.view(4, 1, 1, 4))                       # (nc, 4, 4h, w)
    acc = y.permute(0, 2, 3, 1).reshape(n, c, 4 * h, 4 * w).round().long()
    hr = rshift_rne(acc, 16 + lr_frac_bits - hr_frac_bits - 2).clamp(-32768, 32767)
    return _ste(approx, hr.double() * math.ldexp(1.0, -hr_frac_bits))


def warp(hr_prev: torch.Tensor, hr_flow: torch.Tensor, hr_frac_bits: int, image_exp: int = -8) -> torch.Tensor:
    """Backward warp of uint8-coded ``hr_prev`` by a fixed-point flow, exact bilinear."""
    n, c, H, W = hr_prev.shape
    f = 1 << hr_frac_bits
    p = codes(hr_prev, image_exp)
    fl = codes(hr_flow, -hr_frac_bits)
    ys = torch.arange(H, device=p.device).view(1, H, 1)
    xs = torch.arange(W, device=p.device).view(1, 1, W)
    X = (xs * f + fl[:, 0]).clamp(0, (W - 1) * f)
    Y = (ys * f + fl[:, 1]).clamp(0, (H - 1) * f)
    x0, y0 = X >> hr_frac_bits, Y >> hr_frac_bits
    ax, ay = X & (f - 1), Y & (f - 1)
    x1, y1 = (x0 + 1).clamp(max=W - 1), (y0 + 1).clamp(max=H - 1)
    flat = p.reshape(n, c, H * W)

    def gather(yy, xx):
        idx = (yy * W + xx).reshape(n, 1, H * W).expand(n, c, H * W)
        return flat.gather(2, idx).reshape(n, c, H, W)

    ax, ay = ax[:, None], ay[:, None]
    acc = ((f - ax) * (f - ay) * gather(y0, x0) + ax * (f - ay) * gather(y0, x1)
           + (f - ax) * ay * gather(y1, x0) + ax * ay * gather(y1, x1))
    exact = rshift_rne(acc, 2 * hr_frac_bits).double() * math.ldexp(1.0, image_exp)
    return _ste(backward_warp(hr_prev, hr_flow), exact)
