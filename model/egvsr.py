"""The EGVSR generator: FNet + flow upsampling + backward warp + SRNet."""
from __future__ import annotations

from itertools import chain, islice
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .fnet import FNet
from .presets import Preset, get_preset
from .srnet import SRNet
from .warp import BicubicUpsample, backward_warp, space_to_depth, upsample_flow


def temporal_pad_indices(n: int, pad: int = 5) -> tuple[list[int], int]:
    """Frame order with the published 'reflect' temporal padding.

    Frames ``pad..1`` (fewer for short clips) run first to warm up the
    recurrent state; their outputs are dropped. Returns (order, n_dropped).
    """
    p = max(0, min(pad, n - 1))
    return list(range(p, 0, -1)) + list(range(n)), p


class EGVSR(nn.Module):
    """Recurrent 4x VSR generator with the published state-dict layout."""

    def __init__(self, preset: Preset | str = "paper"):
        super().__init__()
        self.preset = get_preset(preset)
        self.scale = self.preset.scale
        self.fnet = FNet(self.preset)
        self.srnet = SRNet(self.preset)
        self.upsample_func = BicubicUpsample(self.scale)
        self.min_size = 8  # FNet downsamples 3 times

    # -- building blocks -------------------------------------------------
    def lr_flow(self, lr_curr: torch.Tensor, lr_prev: torch.Tensor) -> torch.Tensor:
        """FNet flow at LR on the whole frame; published reflect pad of sizes not divisible by 8."""
        h, w = lr_curr.shape[-2:]
        h8, w8 = h // 8 * 8, w // 8 * 8
        if h < self.min_size or w < self.min_size:
            raise ValueError(f"LR frame {w}x{h} is too small: EGVSR needs at least 8x8 pixels")
        flow = self.fnet(lr_curr, lr_prev)
        if (h8, w8) != (h, w):
            flow = F.pad(flow, (0, w - w8, 0, h - h8), mode="reflect")
        return flow

    def hr_flow(self, lr_flow: torch.Tensor) -> torch.Tensor:
        up = self.upsample_func if self.preset.degradation == "BD" else None
        return upsample_flow(lr_flow, up, self.scale)

    def step(self, lr_curr, lr_prev, hr_prev, return_flow: bool = False):
        """One recurrent step; images NCHW in [0, 1]."""
        lr_flow = self.lr_flow(lr_curr, lr_prev)
        warped = backward_warp(hr_prev, self.hr_flow(lr_flow))
        hr_curr = self.srnet(lr_curr, space_to_depth(warped, self.scale))
        return (hr_curr, lr_flow) if return_flow else hr_curr

    def forward(self, *args, mode: str = "step"):
        """``mode='step'``: (lr_curr, lr_prev, hr_prev); ``'sequence'``: (lr_seq,) (DDP training)."""
        if mode == "sequence":
            return self.forward_sequence(*args)
        return self.step(*args)

    # -- training form -----------------------------------------------------
    def forward_sequence(self, lr_seq: torch.Tensor):
        """Training form: lr_seq (N, T, C, h, w) -> (hr_seq (N, T, C, 4h, 4w), lr_flow (N, T-1, 2, h, w)).

        Frame 0 gets zeros as the warped input; flows for frames 1..T-1 are
        computed in one batch.
        """
        n, t, c, h, w = lr_seq.shape
        s = self.scale
        lr_curr = lr_seq[:, 1:].reshape(n * (t - 1), c, h, w)
        lr_prev = lr_seq[:, :-1].reshape(n * (t - 1), c, h, w)
        lr_flow = self.lr_flow(lr_curr, lr_prev)
        hr_flow = self.hr_flow(lr_flow).view(n, t - 1, 2, h * s, w * s)
        hr_prev = self.srnet(lr_seq[:, 0], lr_seq.new_zeros(n, c * s * s, h, w))
        outs = [hr_prev]
        for i in range(1, t):
            warped = backward_warp(hr_prev, hr_flow[:, i - 1])
            hr_prev = self.srnet(lr_seq[:, i], space_to_depth(warped, s))
            outs.append(hr_prev)
        return torch.stack(outs, dim=1), lr_flow.view(n, t - 1, 2, h, w)

    # -- inference ---------------------------------------------------------
    @torch.no_grad()
    def infer_frames(self, frames: Iterable[np.ndarray], temporal_pad: int = 5,
                     device: str | torch.device = "cpu") -> Iterator[np.ndarray]:
        """uint8 (H, W, 3) LR frames -> uint8 (4H, 4W, 3) HR frames (published test form)."""
        to_input = lambda f: torch.from_numpy(np.ascontiguousarray(f)).to(device).permute(2, 0, 1)[None].float() / 255.0  # noqa: E731
        yield from run_recurrent(self.step, frames, self.scale, temporal_pad, to_input, lambda hr: to_uint8(hr[0]))


def run_recurrent(step, frames, scale: int, temporal_pad: int, to_input, to_output) -> Iterator[np.ndarray]:
    """The published inference recurrence, shared by the float and quantized models.

    ``lr_prev`` and ``hr_prev`` start as zeros; frames ``pad..1`` warm the
    state up first (reflect temporal padding) and their outputs are dropped.
    ``to_input`` maps a uint8 frame to an NCHW tensor, ``to_output`` an HR
    tensor back to a uint8 frame.

    ``frames`` may be any iterable and is consumed lazily: only the first
    ``pad + 1`` frames are held (for the padding), so memory does not grow
    with the length of the clip (same order as :func:`temporal_pad_indices`
    and ``golden.network.iter_sequence``).
    """
    it = iter(frames)
    pad = max(0, int(temporal_pad))
    head = list(islice(it, pad + 1))
    if not head:
        return
    drop = min(pad, len(head) - 1)
    seq = chain(head[drop:0:-1], head, it)  # the chain lets go of head once it is consumed
    del head
    lr_prev = hr_prev = None
    for k, frame in enumerate(seq):
        lr = to_input(frame)
        if lr_prev is None:
            lr_prev = torch.zeros_like(lr)
            hr_prev = lr.new_zeros(1, 3, lr.shape[2] * scale, lr.shape[3] * scale)
        hr = step(lr, lr_prev, hr_prev)
        lr_prev, hr_prev = lr, hr
        if k >= drop:
            yield to_output(hr)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """CHW float in [0, 1] -> HWC uint8 (clip(round(x * 255)))."""
    return x.mul(255.0).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
