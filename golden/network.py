"""The integer EGVSR step and sequence (docs/numerics.md, "EGVSR step").

`run_srnet` / `run_fnet` run the bundle's layer graphs (`graph.run_graph`);
`step` chains FNet -> flow x4 upsampling -> warp -> SRNet; `run_sequence`
adds the recurrence and the reflect temporal padding. `step`/`run_sequence`
accept ``srnet=callable`` (x uint8 (H, W, 51) -> uint8 (4H, 4W, 3)) so the
HLS/RTL/board backends can replace the golden SRNet.
"""
from __future__ import annotations

from functools import partial
from itertools import chain, islice
from typing import Callable, Iterable, Iterator

import numpy as np

from . import ops
from .graph import run_graph

__all__ = ["run_graph", "run_srnet", "run_fnet", "srnet_input", "step", "iter_sequence",
           "run_sequence"]


def _frame(name: str, a, shape=None) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"{name} must be a uint8 (H, W, 3) frame, got {a.dtype} {a.shape}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{name} has shape {a.shape}, expected {tuple(shape)}")
    return a


def run_srnet(bundle, x) -> np.ndarray:
    """SRNet on uint8 (H, W, 51) codes -> uint8 (4H, 4W, 3) output pixels."""
    return run_graph(bundle, "srnet", x)


def run_fnet(bundle, lr_curr, lr_prev) -> np.ndarray:
    """LR flow int16 (H, W, 2) at exp -lr_frac_bits (channel 0 = x, 1 = y).

    FNet runs on the whole frame concat(lr_curr, lr_prev) as published: its
    floor-mode pools make the flow (H//8*8, W//8*8), which is reflect-padded
    on the bottom/right to (H, W).
    """
    lr_curr = _frame("lr_curr", lr_curr)
    lr_prev = _frame("lr_prev", lr_prev, lr_curr.shape)
    H, W, _ = lr_curr.shape
    if H < 8 or W < 8:
        raise ValueError(f"FNet needs frames of at least 8x8 pixels, got {H}x{W}")
    x = np.concatenate([lr_curr, lr_prev], axis=-1)
    return ops.flow_pad(run_graph(bundle, "fnet", x), H, W)


def srnet_input(lr_curr, warped_hr_prev) -> np.ndarray:
    """concat(lr_curr, space_to_depth(warped, 4)): uint8 (H, W, 51)."""
    lr_curr = _frame("lr_curr", lr_curr)
    H, W, _ = lr_curr.shape
    warped = _frame("warped hr_prev", warped_hr_prev, (4 * H, 4 * W, 3))
    return np.concatenate([lr_curr, ops.space_to_depth(warped, 4)], axis=-1)


def step(bundle, lr_curr, lr_prev, hr_prev, srnet: Callable | None = None,
         details: bool = False):
    """One EGVSR step: uint8 LR frames (H, W, 3) + hr_prev (4H, 4W, 3) -> hr_curr.

    With ``details=True`` returns a dict with ``lr_flow``, ``hr_flow``,
    ``warped``, ``sr_input`` and ``hr`` (the output).
    """
    lr_curr = _frame("lr_curr", lr_curr)
    H, W, _ = lr_curr.shape
    hr_prev = _frame("hr_prev", hr_prev, (4 * H, 4 * W, 3))
    f = bundle.flow
    lr_flow = run_fnet(bundle, lr_curr, lr_prev)
    hr_flow = ops.flow_upsample4(lr_flow, f["upsampler"], f["lr_frac_bits"], f["hr_frac_bits"])
    warped = ops.warp(hr_prev, hr_flow, f["hr_frac_bits"])
    x = srnet_input(lr_curr, warped)
    hr = (srnet or partial(run_srnet, bundle))(x)
    hr = np.asarray(hr)
    if hr.dtype != np.uint8 or hr.shape != (4 * H, 4 * W, 3):
        raise ValueError(f"srnet backend returned {hr.dtype} {hr.shape}, "
                         f"expected uint8 {(4 * H, 4 * W, 3)}")
    if details:
        return {"lr_flow": lr_flow, "hr_flow": hr_flow, "warped": warped, "sr_input": x, "hr": hr}
    return hr


def iter_sequence(bundle, frames: Iterable, srnet: Callable | None = None,
                  temporal_pad: int = 5, progress: Callable | None = None) -> Iterator[np.ndarray]:
    """Yield the HR uint8 frame of every LR uint8 (H, W, 3) frame, in order.

    lr_prev/hr_prev start as zeros. Reflect temporal padding: frames
    ``n_pad..1`` (``n_pad = min(temporal_pad, N - 1)``) run first and
    their outputs are dropped. `progress(done, total)` is called after each
    yielded frame (`total` is None for iterables without ``len``).
    """
    total = len(frames) if hasattr(frames, "__len__") else None
    it = iter(frames)
    head = list(islice(it, max(0, int(temporal_pad)) + 1))
    if not head:
        return
    n_pad = min(max(0, int(temporal_pad)), len(head) - 1)
    seq = chain(head[n_pad:0:-1], head, it)
    first = _frame("frame 0", head[0])
    lr_prev = np.zeros_like(first)
    hr_prev = np.zeros((4 * first.shape[0], 4 * first.shape[1], 3), np.uint8)
    done = 0
    for i, lr in enumerate(seq):
        lr = _frame(f"frame {n_pad - i if i < n_pad else i - n_pad}", lr, first.shape)
        hr = step(bundle, lr, lr_prev, hr_prev, srnet=srnet)
        lr_prev, hr_prev = lr, hr
        if i >= n_pad:
            done += 1
            yield hr
            if progress is not None:
                progress(done, total)


def run_sequence(bundle, frames: Iterable, srnet: Callable | None = None,
                 temporal_pad: int = 5, progress: Callable | None = None) -> np.ndarray:
    """All HR frames of `iter_sequence` as one uint8 (N, 4H, 4W, 3) array."""
    out = list(iter_sequence(bundle, frames, srnet, temporal_pad, progress))
    if not out:
        raise ValueError("run_sequence got no frames")
    return np.stack(out)
