"""Optical-flow ops of the EGVSR step (docs/numerics.md, steps 1-3).

``tanh_flow`` (LUT), ``flow_pad`` (reflect bottom/right), ``flow_upsample4``
(4-tap x4 upsampler, exact integers, one rounding) and ``warp`` (bilinear
backward warp with border clamping, exact integers, one rounding).
"""
from __future__ import annotations

import math

import numpy as np

from ._par import map_strips
from .fixed import int_range, requant, rshift_rne_inplace

__all__ = ["FLOW_TAPS", "tanh_flow_lut", "tanh_flow", "flow_pad", "flow_upsample4", "warp"]

#: 4 phases x 4 taps, units of 1/256, applied to the LR flow padded by
#: 1 (top/left) and 2 (bottom/right) with edge replication.
FLOW_TAPS = {
    # Keys cubic, a = -0.75, phases 0, 1/4, 2/4, 3/4
    "bicubic": np.array([[0, 256, 0, 0],
                         [-27, 225, 67, -9],
                         [-24, 152, 152, -24],
                         [-9, 67, 225, -27]], np.int64),
    # bilinear x4, align_corners=False (source offsets -3/8, -1/8, +1/8, +3/8)
    "bilinear": np.array([[96, 160, 0, 0],
                          [32, 224, 0, 0],
                          [0, 224, 32, 0],
                          [0, 160, 96, 0]], np.int64),
}
for _t in FLOW_TAPS.values():
    _t.setflags(write=False)


def _int_array(name, a, ndim=None, last=None):
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if last is not None and a.shape[-1] != last:
        raise ValueError(f"{name} must have {last} channels in the last axis, got shape {a.shape}")
    return a


def tanh_flow_lut(in_exp: int, in_bits: int, max_velocity: float, lr_frac_bits: int) -> np.ndarray:
    """int16 table over all signed `in_bits` codes (index = code + 2**(in_bits-1)).

    ``lut[code] = round_half_even(max_velocity * tanh(code * 2**in_exp) * 2**lr_frac_bits)``
    evaluated in float64. Every stage (HLS, RTL, board) must use this table
    rather than re-evaluating tanh.
    """
    lo, hi = int_range(in_bits, True)
    if in_bits > 16:
        raise ValueError(f"tanh_flow input of {in_bits} bits is too wide for a table (max 16)")
    codes = np.arange(lo, hi + 1, dtype=np.float64)
    vals = float(max_velocity) * np.tanh(codes * math.ldexp(1.0, int(in_exp)))
    lut = np.rint(vals * math.ldexp(1.0, int(lr_frac_bits)))
    olo, ohi = int_range(16, True)
    if lut.min() < olo or lut.max() > ohi:
        raise ValueError(f"tanh_flow table exceeds int16 (max_velocity={max_velocity}, "
                         f"lr_frac_bits={lr_frac_bits}); lower lr_frac_bits")
    return lut.astype(np.int16)


def tanh_flow(x, lut: np.ndarray) -> np.ndarray:
    """Apply a `tanh_flow_lut` table to signed codes `x` (int16 result)."""
    x = _int_array("tanh_flow input", x)
    lut = np.asarray(lut)
    n = lut.shape[0]
    if lut.ndim != 1 or n < 2 or n & (n - 1):
        raise ValueError(f"tanh_flow table must be 1-D with a power-of-two length, got {lut.shape}")
    off = n // 2
    if x.size and (int(x.min()) < -off or int(x.max()) >= off):
        raise ValueError(f"tanh_flow input codes outside the table's signed range [{-off}, {off - 1}]")
    return lut[x.astype(np.int64) + off]


def flow_pad(flow, H: int, W: int) -> np.ndarray:
    """Reflect-pad a (h, w, 2) flow on the bottom/right to (H, W, 2) (numpy 'reflect')."""
    flow = _int_array("flow", flow, ndim=3)
    h, w = flow.shape[:2]
    if H < h or W < w:
        raise ValueError(f"flow_pad target {H}x{W} is smaller than the flow {h}x{w}")
    if (H > h and h < 2) or (W > w and w < 2):
        raise ValueError(f"flow_pad cannot reflect a {h}x{w} flow")
    return np.pad(flow, ((0, H - h), (0, W - w), (0, 0)), mode="reflect")


def flow_upsample4(lr_flow, upsampler, lr_frac_bits: int, hr_frac_bits: int) -> np.ndarray:
    """x4 flow upsampling incl. the x4 scale: int16 (4H, 4W, 2) at ``-hr_frac_bits``.

    `upsampler` is a key of `FLOW_TAPS` or a (4, 4) integer table (units
    1/256). ``acc[4i+py, 4j+px] = sum_kl T[py][k] T[px][l] pad[i+k, j+l]``
    exactly, then ``requant(acc, 16 + lr_frac_bits - hr_frac_bits - 2, 16, signed)``.
    """
    f = _int_array("lr_flow", lr_flow, ndim=3, last=2).astype(np.int64)
    if isinstance(upsampler, str):
        if upsampler not in FLOW_TAPS:
            raise ValueError(f"unknown flow upsampler {upsampler!r}; use one of {sorted(FLOW_TAPS)}")
        taps = FLOW_TAPS[upsampler]
    else:
        taps = np.asarray(upsampler, np.int64)
        if taps.shape != (4, 4):
            raise ValueError(f"flow upsampler table must be (4, 4), got {taps.shape}")
    H, W = f.shape[:2]
    # int32 is exact when |acc| <= max|f| * (max row L1 of T)**2 < 2**30
    l1 = int(np.abs(taps).sum(axis=1).max())
    amax = int(np.abs(f).max()) if f.size else 0
    dt = np.int32 if amax * l1 * l1 < 2**30 else np.int64
    p = np.pad(f.astype(dt), ((1, 2), (1, 2), (0, 0)), mode="edge")
    t = taps.astype(dt)
    # rows: r[py, i, :, c] = sum_k T[py, k] p[i + k]
    r = sum(t[:, k, None, None, None] * p[None, k:k + H] for k in range(4))
    # columns: a[py, i, px, j, c] = sum_l T[px, l] r[py, i, j + l]
    a = sum(t[None, None, :, l, None, None] * r[:, :, None, l:l + W] for l in range(4))
    s = 16 + int(lr_frac_bits) - int(hr_frac_bits) - 2
    if dt is np.int32 and 1 <= s <= 30:
        # rshift_rne in int32: |acc| < 2**30 and the addend <= 2**(s-1) (no overflow)
        q = np.clip(rshift_rne_inplace(a, s), -(1 << 15), (1 << 15) - 1).astype(np.int16)
    else:
        q = requant(a, s, 16, True).astype(np.int16)
    return q.transpose(1, 0, 3, 2, 4).reshape(4 * H, 4 * W, 2)


def warp(hr_prev_u8, hr_flow, hr_frac_bits: int) -> np.ndarray:
    """Backward bilinear warp of uint8 `hr_prev` (H, W, C) by `hr_flow` (H, W, 2).

    Flow channel 0 is x, 1 is y, in units of ``2**-hr_frac_bits`` pixels;
    sample positions are clamped to the image (border). Exact integers,
    one rounding: ``rshift_rne(sum of 4 weighted taps, 2*hr_frac_bits)``.
    """
    img = np.asarray(hr_prev_u8)
    if img.dtype != np.uint8 or img.ndim != 3:
        raise ValueError(f"warp image must be uint8 (H, W, C), got {img.dtype} {img.shape}")
    fl = _int_array("hr_flow", hr_flow, ndim=3, last=2)
    H, W, C = img.shape
    if fl.shape[:2] != (H, W):
        raise ValueError(f"warp flow {fl.shape[:2]} and image {(H, W)} sizes differ")
    fb = int(hr_frac_bits)
    if not 0 <= fb <= 20:
        raise ValueError(f"hr_frac_bits {fb} out of range 0..20")
    F = 1 << fb
    # lerp along x then y: same integer sum as the contract's 4-term form
    # (distributivity); every partial value is <= 255 * F**2, plus the
    # rounding addend 2**(2fb-1), so the narrowest unsigned type holding
    # that is exact.
    top = 255 * F * F + (F * F // 2)
    dt = np.uint16 if top < 2**16 else np.uint32 if top < 2**32 else np.uint64
    small = max(H, W) * F < 2**30 and H * W < 2**31 and fl.dtype.itemsize <= 2
    cdt = np.int32 if small else np.int64
    # pixels as one 4-byte word each (channels zero padded to a multiple of
    # 4): one gather per tap moves all channels of a pixel at once
    C4 = -(-C // 4) * 4
    if C4 == C:
        px = np.ascontiguousarray(img).view(np.uint32).reshape(H * W, C4 // 4)
    else:
        px = np.zeros((H * W, C4), np.uint8)
        px[:, :C] = img.reshape(H * W, C)
        px = px.view(np.uint32)
    out = np.empty((H, W, C), np.uint8)
    xs = np.arange(W, dtype=cdt) * F
    sh = 2 * fb
    rows = max(1, min(H, (1 << 16) // max(1, W)))

    def one(y0):
        y1 = min(H, y0 + rows)
        n = (y1 - y0) * W
        X = xs + fl[y0:y1, :, 0]
        Y = np.arange(y0, y1, dtype=cdt)[:, None] * F + fl[y0:y1, :, 1]
        np.clip(X, 0, (W - 1) * F, out=X)
        np.clip(Y, 0, (H - 1) * F, out=Y)
        x0, ax = X >> fb, (X & (F - 1)).astype(dt).reshape(n, 1, 1)
        yy, ay = Y >> fb, (Y & (F - 1)).astype(dt).reshape(n, 1, 1)
        x1 = np.minimum(x0 + 1, W - 1)
        r1 = np.minimum(yy + 1, H - 1) * W  # flat row offsets
        r0 = yy * W

        def tap(idx):
            return np.take(px, idx.reshape(-1), axis=0).view(np.uint8).reshape(n, -1, 4).astype(dt)
        bx, by = dt(F) - ax, dt(F) - ay
        h0 = bx * tap(r0 + x0)
        h0 += ax * tap(r0 + x1)
        h1 = bx * tap(r1 + x0)
        h1 += ax * tap(r1 + x1)
        h0 *= by
        h1 *= ay
        h0 += h1
        if fb:
            # round half to even by 2*fb (acc >= 0, no overflow: acc + 2**(2fb-1) <= top)
            rshift_rne_inplace(h0, sh)
        out[y0:y1] = h0.reshape(y1 - y0, W, C4)[:, :, :C]
    map_strips(one, range(0, H, rows))
    return out
