"""QuantEGVSR: the quantized recurrent step, bit-exact with ``egvsr.golden``.

Values inside are fixed point: images are uint8 codes / 256. The training
form (``forward_sequence``) takes and returns images in the float model's
[0, 1] convention (p / 255) so the float training loop and losses apply
unchanged; ``infer_frames`` maps uint8 frames to uint8 frames exactly.
"""
from __future__ import annotations

import math
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn as nn

from egvsr.model.egvsr import run_recurrent
from egvsr.model.presets import Preset, get_preset
from egvsr.model.warp import BicubicUpsample, space_to_depth, upsample_flow

from . import intops
from .qfnet import QuantFNet
from .qsrnet import QuantSRNet
from .quantizers import IMAGE_EXP, QUANT_SPECS, QuantSpec

MAX_VELOCITY = 24.0


def get_spec(spec) -> QuantSpec:
    if isinstance(spec, QuantSpec):
        return spec
    if isinstance(spec, dict):
        return QuantSpec(**spec)
    try:
        return QUANT_SPECS[spec]
    except KeyError:
        raise ValueError(f"unknown quantization {spec!r}; choose one of {', '.join(QUANT_SPECS)}") from None


def exp_of(scale) -> int:
    """Exponent of a power-of-two scale; anything else is an error."""
    s = float(torch.as_tensor(scale).detach().reshape(-1)[0]) if torch.as_tensor(scale).numel() == 1 else None
    if s is None:
        raise ValueError("per-channel scale found: the hardware flow needs one scale per tensor")
    e = math.log2(s)
    if abs(e - round(e)) > 1e-9:
        raise ValueError(f"scale {s} is not a power of two: use fixed-point quantizers")
    return int(round(e))


class QuantEGVSR(nn.Module):
    def __init__(self, preset: Preset | str = "tiny", spec: QuantSpec | str = "w8a8", **quantizers):
        super().__init__()
        self.preset = get_preset(preset)
        self.spec = get_spec(spec)
        self.scale = self.preset.scale
        self.upsampler = "bicubic" if self.preset.degradation == "BD" else "bilinear"
        self.fnet = QuantFNet(self.preset, self.spec, **quantizers)
        self.srnet = QuantSRNet(self.preset, self.spec, **quantizers)
        self._bicubic = BicubicUpsample(self.scale)  # float approximation for gradients

    def load_float(self, model) -> "QuantEGVSR":
        if model.preset.nf != self.preset.nf or model.preset.nb != self.preset.nb or model.preset.tail != self.preset.tail \
                or model.preset.fnet_div != self.preset.fnet_div:
            raise ValueError(f"float model preset {model.preset.name} does not match {self.preset.name}")
        self.fnet.load_float(model.fnet)
        self.srnet.load_float(model.srnet)
        return self

    # -- the step in fixed point ---------------------------------------------
    def lr_flow(self, lr_curr, lr_prev):
        """Fixed-point LR flow (values at 2**-lr_frac_bits), published reflect pad to H x W."""
        h, w = lr_curr.shape[-2:]
        if h < 8 or w < 8:
            raise ValueError(f"LR frame {w}x{h} is too small: EGVSR needs at least 8x8 pixels")
        head = self.fnet(torch.cat([lr_curr, lr_prev], dim=1))  # whole frame, floor-mode pools
        if self.training:  # scales may still be collecting statistics (not yet powers of two)
            approx = MAX_VELOCITY * torch.tanh(head.value)
            q = math.ldexp(1.0, self.spec.lr_frac_bits)
            flow = approx + (torch.round(approx * q) / q - approx).detach()
        else:
            flow = intops.tanh_flow(head.value, exp_of(head.scale), int(head.bit_width), MAX_VELOCITY,
                                    self.spec.lr_frac_bits)
        return intops.flow_pad(flow, h, w)

    def hr_flow(self, lr_flow):
        approx = upsample_flow(lr_flow, self._bicubic if self.upsampler == "bicubic" else None, self.scale)
        return intops.flow_upsample4(lr_flow, self.upsampler, self.spec.lr_frac_bits, self.spec.hr_frac_bits, approx)

    def step(self, lr_curr, lr_prev, hr_prev, return_flow=False):
        """One step on code/256 values (NCHW)."""
        lr_flow = self.lr_flow(lr_curr, lr_prev)
        warped = intops.warp(hr_prev, self.hr_flow(lr_flow), self.spec.hr_frac_bits, IMAGE_EXP)
        hr = self.srnet(torch.cat([lr_curr, space_to_depth(warped, self.scale)], dim=1))
        return (hr, lr_flow) if return_flow else hr

    def forward(self, *args, mode: str = "step"):
        if mode == "sequence":
            return self.forward_sequence(*args)
        return self.step(*args)

    # -- training form ----------------------------------------------------------
    def forward_sequence(self, lr_seq):
        """lr_seq in [0, 1] (p/255) -> (hr_seq in p/255, lr_flow), like the float model."""
        n, t, c, h, w = lr_seq.shape
        s = self.scale
        x = torch.round(lr_seq * 255.0) / 256.0  # uint8 codes / 256
        lr_curr = x[:, 1:].reshape(n * (t - 1), c, h, w)
        lr_prev = x[:, :-1].reshape(n * (t - 1), c, h, w)
        lr_flow = self.lr_flow(lr_curr, lr_prev)
        hr_flow = self.hr_flow(lr_flow).view(n, t - 1, 2, h * s, w * s)
        hr_prev = self.srnet(torch.cat([x[:, 0], x.new_zeros(n, c * s * s, h, w)], dim=1))
        outs = [hr_prev]
        for i in range(1, t):
            warped = intops.warp(hr_prev, hr_flow[:, i - 1], self.spec.hr_frac_bits, IMAGE_EXP)
            hr_prev = self.srnet(torch.cat([x[:, i], space_to_depth(warped, s)], dim=1))
            outs.append(hr_prev)
        return torch.stack(outs, dim=1) * (256.0 / 255.0), lr_flow.view(n, t - 1, 2, h, w).float()

    # -- inference ------------------------------------------------------------------
    @torch.no_grad()
    def infer_frames(self, frames: Iterable[np.ndarray], temporal_pad: int = 5, device="cpu") -> Iterator[np.ndarray]:
        """uint8 (H, W, 3) -> uint8 (4H, 4W, 3), bit-exact with golden.run_sequence.

        Runs in the parameters' dtype: float32 is exact while every conv's partial
        sums stay below 2**24 (true for tiny/small); ``model.double()`` makes any
        preset exact (the ``brevitas`` backend does that).
        """
        if self.training:
            raise RuntimeError("infer_frames needs eval mode (model.eval()): in training mode the "
                               "quantizers still collect statistics and the flow uses the tanh approximation")
        dtype = next(self.parameters()).dtype
        to_input = lambda f: torch.from_numpy(np.ascontiguousarray(f)).to(device).permute(2, 0, 1)[None].to(dtype) / 256.0  # noqa: E731
        to_output = lambda hr: torch.round(hr[0] * 256.0).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()  # noqa: E731
        yield from run_recurrent(self.step, frames, self.scale, temporal_pad, to_input, to_output)
