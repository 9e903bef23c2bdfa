"""Grow a trained checkpoint into a wider and deeper preset without changing its output.

``tiny`` -> ``small`` (nf 16 -> 32, nb 2 -> 4, FNet widths /4 -> /2): every hidden
channel keeps its index, so a conv's old block of weights is copied, the weights
from the new input channels into the old outputs are zero, and the new outputs
keep the target model's own random initialisation (they feed only new channels
until training moves the zeros). Extra residual blocks are appended with their
second conv zeroed, so each starts as the identity. The grown model computes the
same function as the checkpoint it came from (up to float rounding), and a
fine-tune starts at the smaller model's quality with the larger model's capacity
(``egvsr train --preset small-anchor --init tiny_anchor_float.pth``).
"""
from __future__ import annotations

import re

import torch

from .presets import Preset

_SAME = ("tail", "skip", "scale", "degradation", "leaky_slope", "keep_conv_up")
_NEW_BLOCK = re.compile(r"srnet\.resblocks\.(\d+)\.conv\.(\d+)\.(weight|bias)$")


def needs_growth(old: Preset, new: Preset) -> bool:
    """True where ``old``'s checkpoint must be grown to load into ``new``."""
    return (old.nf, old.nb, old.fnet_widths()) != (new.nf, new.nb, new.fnet_widths())


def check_growable(old: Preset, new: Preset) -> None:
    for f in _SAME:
        if getattr(old, f) != getattr(new, f):
            raise ValueError(f"cannot grow preset {old.name!r} into {new.name!r}: their {f} differs "
                             f"({getattr(old, f)!r} vs {getattr(new, f)!r}); growing changes only nf, nb and "
                             "the FNet widths (for a skip change, first fine-tune the same-size preset with --init)")
    if new.tail != "espcn":
        raise ValueError(f"cannot grow preset {old.name!r} into {new.name!r}: the {new.tail!r} tail shuffles the "
                         "trunk channels themselves, so widening nf would reorder them; growth needs the espcn tail")
    narrower = [f"{what} {a} > {b}" for what, a, b in
                [("nf", old.nf, new.nf), ("nb", old.nb, new.nb)] +
                [(f"FNet width {i + 1}", a, b) for i, (a, b) in enumerate(zip(old.fnet_widths(), new.fnet_widths()))]
                if a > b]
    if narrower:
        raise ValueError(f"cannot grow preset {old.name!r} into {new.name!r}: the target is smaller "
                         f"({', '.join(narrower)}); pick a preset at least as wide and deep")


@torch.no_grad()
def grow_state_dict(old_sd: dict, old: Preset, new_model: torch.nn.Module) -> dict:
    """The state dict of ``new_model`` (an initialised EGVSR of a larger preset) holding
    ``old_sd`` (a checkpoint of preset ``old``) so that both compute the same output."""
    check_growable(old, new_model.preset)
    out = {}
    for key, init in new_model.state_dict().items():
        t = init.detach().clone()
        src = old_sd.get(key)
        if src is None:
            m = _NEW_BLOCK.match(key)
            if not m or int(m.group(1)) < old.nb:
                raise KeyError(f"checkpoint of preset {old.name!r} has no {key!r}; is it that preset's checkpoint?")
            if m.group(2) == "2":  # the block's last conv: the block starts as the identity
                t.zero_()
        elif src.shape == t.shape:
            t.copy_(src)
        elif src.dim() == t.dim() and all(a <= b for a, b in zip(src.shape, t.shape)):
            if t.dim() >= 2:  # conv weight (out, in, kh, kw): old inputs -> old outputs, new inputs -> 0
                t[:src.shape[0], src.shape[1]:] = 0
                t[:src.shape[0], :src.shape[1]] = src
            else:  # bias: the new outputs start at 0
                t[src.shape[0]:] = 0
                t[:src.shape[0]] = src
        else:
            raise ValueError(f"{key}: checkpoint shape {tuple(src.shape)} does not fit in {tuple(t.shape)} "
                             f"of preset {new_model.preset.name!r}")
        out[key] = t
    extra = sorted(set(old_sd) - set(out))
    if extra:
        raise KeyError(f"checkpoint of preset {old.name!r} holds keys preset {new_model.preset.name!r} lacks: "
                       f"{', '.join(extra[:4])}")
    return out


def freeze_grown(model: torch.nn.Module, old_sd: dict) -> int:
    """Keep the weights a grown ``model`` took from ``old_sd`` fixed in training: their
    gradients are zeroed (Adam then never moves them), so only what growth added learns
    (new channels, the new weights into the old outputs, the appended blocks). Returns
    the number of frozen values."""
    frozen = 0
    for key, p in model.named_parameters():
        src = old_sd.get(key)
        if src is None:
            continue
        keep = torch.ones_like(p, dtype=torch.bool)
        keep[tuple(slice(0, n) for n in src.shape[:2])] = False
        frozen += int((~keep).sum())
        p.register_hook(lambda g, keep=keep: g * keep)
    return frozen
