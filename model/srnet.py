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


def anchor_head_from_absolute(weight: torch.Tensor, bias: torch.Tensor, scale: int):
    """An ESPCN head that predicts absolute intensity, rewritten for the anchor skip.

    Each colour's r*r sub-pixel outputs lose their mean (a linear map of the
    head, so exact on the weights): the anchored model then outputs
    ``old - mean_block(old) + lr``, the old model's detail on each LR pixel's
    own value. That starts an anchor fine-tune at about the old model's
    quality instead of from a doubled image (``egvsr train --init`` applies it
    when a ``skip: none`` checkpoint initialises an anchor preset).
    """
    rr = scale * scale
    if weight.shape[0] % rr or bias.shape[0] != weight.shape[0]:
        raise ValueError(f"head with {weight.shape[0]} outputs is not colours x {rr} sub-pixels")
    w = weight.reshape(-1, rr, *weight.shape[1:])
    b = bias.reshape(-1, rr)
    return ((w - w.mean(dim=1, keepdim=True)).reshape(weight.shape),
            (b - b.mean(dim=1, keepdim=True)).reshape(bias.shape))


@torch.no_grad()
def fit_anchor_head(old_model, lr_seqs, ridge: float = 1e-3):
    """Weights for an anchor model's ``conv_sub`` that reproduce ``old_model`` (skip ``none``).

    The trunk is kept; the head is refitted by ridge least squares so that
    ``head(features) + anchor(lr) ~= old head(features)`` on the LR sequences
    ``lr_seqs`` (each (T, C, h, w), run through the old model's recurrence),
    pulled towards :func:`anchor_head_from_absolute` (which it returns when
    ``lr_seqs`` is empty).
    """
    head = old_model.srnet.conv_sub
    s = old_model.srnet.scale
    w0, b0 = anchor_head_from_absolute(head.weight.detach(), head.bias.detach(), s)
    if not len(lr_seqs):
        return w0, b0
    lrs, pairs = [], []
    h1 = old_model.srnet.register_forward_pre_hook(lambda m, args: lrs.append(args[0]))
    h2 = head.register_forward_hook(lambda m, args, out: pairs.append((args[0], out)))
    k = w0[0].numel() + 1
    xtx = torch.zeros(k, k, dtype=torch.float64)
    xty = torch.zeros(k, w0.shape[0], dtype=torch.float64)
    rows = 0
    was_training = old_model.training
    old_model.eval()
    try:
        for seq in lr_seqs:
            lrs.clear()
            pairs.clear()
            old_model.forward_sequence(seq[None])
            for lr, (feat, out) in zip(lrs, pairs):
                x = F.unfold(feat, 3, padding=1).transpose(1, 2).reshape(-1, k - 1)
                x = torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1).double()
                y = (out - anchor(lr, s)).permute(0, 2, 3, 1).reshape(-1, out.shape[1]).double()
                xtx += x.T @ x
                xty += x.T @ y
                rows += x.shape[0]
    finally:
        h1.remove()
        h2.remove()
        old_model.train(was_training)
    theta0 = torch.cat([w0.reshape(w0.shape[0], -1), b0[:, None]], dim=1).T.double()
    lam = ridge * rows
    theta = torch.linalg.solve(xtx + lam * torch.eye(k, dtype=torch.float64), xty + lam * theta0).T.float()
    return theta[:, :-1].reshape(w0.shape).contiguous(), theta[:, -1].contiguous()
