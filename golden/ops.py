"""Integer ops of the numerical contract, channels-last (H, W, C).

Every op here is exact and follows docs/numerics.md bit for bit. Ops marked
"batch" also accept a leading batch axis (N, H, W, C). The conv and flow
ops live in `conv.py` / `flowops.py` and are re-exported here.
"""
from __future__ import annotations

import numpy as np

from .conv import ACTS, conv3x3, conv3x3_acc, requant_float
from .fixed import int_range, rshift_rne, rshift_rne_inplace, storage_dtype
from .flowops import FLOW_TAPS, flow_pad, flow_upsample4, tanh_flow, tanh_flow_lut, warp

__all__ = [
    "ACTS", "conv3x3", "conv3x3_acc", "aligned_sum", "add", "anchor_add", "relu", "pixel_shuffle", "depth_to_space",
    "space_to_depth", "maxpool2", "upsample2x", "FLOW_TAPS", "tanh_flow_lut", "tanh_flow",
    "flow_upsample4", "flow_pad", "warp",
]


def _image(name: str, x, min_ndim: int = 3) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected an integer array, got dtype {x.dtype}")
    if x.ndim not in (min_ndim, min_ndim + 1):
        raise ValueError(f"{name}: expected (H, W, C) or (N, H, W, C), got shape {x.shape}")
    return x


def _requant_small(v: np.ndarray, s: int, bits: int, signed: bool) -> np.ndarray:
    """Exact requant of an integer array, via float when provably exact."""
    lo, hi = int_range(bits, signed)
    odt = storage_dtype(bits, signed)
    amax = max(abs(int(v.min())), abs(int(v.max()))) if v.size else 0
    if abs(s) <= 60 and amax < 2**24:
        return requant_float(v.astype(np.float32), s, None, lo, hi).astype(odt)
    return np.clip(rshift_rne(v, s), lo, hi).astype(odt)


def aligned_sum(a, a_exp: int, b, b_exp: int) -> tuple[np.ndarray, int]:
    """``(a * 2**(a_exp - e) + b * 2**(b_exp - e), e)`` with ``e = min(a_exp, b_exp)``: the
    exact sum of two tensors at their own exponents (left shifts only; `b` broadcasts to
    `a`'s shape). int32 when the shifted codes provably fit (|sum| < 2**31), else int64."""
    a, b = np.asarray(a), np.asarray(b)
    e = min(int(a_exp), int(b_exp))
    sa, sb = int(a_exp) - e, int(b_exp) - e
    bits = 8 * max(a.dtype.itemsize, b.dtype.itemsize)
    wide = np.int32 if bits + max(sa, sb) <= 30 else np.int64
    s = a.astype(wide)
    if sa:
        np.left_shift(s, sa, out=s)
    s += np.left_shift(b.astype(wide), sb) if sb else b.astype(wide, copy=False)
    return s, e


def add(a, b, in_exp: int, out_exp: int, out_bits: int, out_signed: bool, b_exp: int | None = None) -> np.ndarray:
    """``requant(a + b, out_exp - in_exp, out_bits, out_signed)`` (batch).

    With ``b_exp`` (b at its own exponent, bundle schema 3) both inputs are first
    shifted to the finer exponent ``e = min(in_exp, b_exp)`` (exact), then
    ``requant(sum, out_exp - e, ...)``; ``b_exp == in_exp`` is the plain add."""
    a = _image("add input a", a)
    b = _image("add input b", b)
    if a.shape != b.shape:
        raise ValueError(f"add: input shapes differ: {a.shape} vs {b.shape}")
    if b_exp is not None and int(b_exp) != int(in_exp):
        s, e = aligned_sum(a, in_exp, b, b_exp)
        return _requant_small(s, int(out_exp) - e, out_bits, out_signed)
    wide = np.int32 if max(a.dtype.itemsize, b.dtype.itemsize) <= 2 else np.int64
    return _requant_small(a.astype(wide) + b, int(out_exp) - int(in_exp), out_bits, out_signed)


def anchor_add(res, skip, res_exp: int, skip_exp: int, repeat: int, out_exp: int, out_bits: int,
               out_signed: bool) -> np.ndarray:
    """The LR anchor skip (batch): `res` (.., C*repeat) + each of the first C channels of
    `skip` repeated `repeat` times (channel k takes skip channel k // repeat), both
    shifted to the finer exponent ``e = min(res_exp, skip_exp)`` (exact), then
    ``requant(sum, out_exp - e, out_bits, out_signed)``."""
    res = _image("anchor_add input (residual)", res)
    skip = _image("anchor_add input (skip)", skip)
    repeat = int(repeat)
    if repeat < 1 or res.shape[-1] % repeat:
        raise ValueError(f"anchor_add: {res.shape[-1]} residual channels is not a multiple of repeat={repeat}")
    c = res.shape[-1] // repeat
    if res.shape[:-1] != skip.shape[:-1] or skip.shape[-1] < c:
        raise ValueError(f"anchor_add: skip {skip.shape} must match residual {res.shape} in size "
                         f"and have at least {c} channels")
    # channel k = j * repeat + i takes skip channel j: broadcast over i (no repeated copy)
    s, e = aligned_sum(res.reshape(*res.shape[:-1], c, repeat), res_exp, skip[..., :c, None], skip_exp)
    return _requant_small(s.reshape(res.shape), int(out_exp) - e, out_bits, out_signed)


def relu(x, in_exp: int, out_exp: int, out_bits: int, out_signed: bool) -> np.ndarray:
    """``requant(max(x, 0), out_exp - in_exp, out_bits, out_signed)`` (batch)."""
    x = _image("relu input", x)
    return _requant_small(np.maximum(x, 0), int(out_exp) - int(in_exp), out_bits, out_signed)


def _split(x: np.ndarray):
    return x.shape[:-3], x.shape[-3:]


def pixel_shuffle(x, r: int) -> np.ndarray:
    """PyTorch PixelShuffle (CRD): ``out[y*r+i, x*r+j, c] = in[y, x, c*r*r + i*r + j]`` (batch)."""
    x = _image("pixel_shuffle input", x)
    lead, (H, W, C) = _split(x)
    r = int(r)
    if r < 1 or C % (r * r):
        raise ValueError(f"pixel_shuffle: {C} channels not divisible by r*r = {r * r}")
    n = len(lead)
    y = x.reshape(*lead, H, W, C // (r * r), r, r)
    y = y.transpose(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return y.reshape(*lead, H * r, W * r, C // (r * r))


def depth_to_space(x, r: int) -> np.ndarray:
    """TensorFlow DepthToSpace (DCR): ``out[y*r+i, x*r+j, c] = in[y, x, (i*r+j)*C + c]`` (batch)."""
    x = _image("depth_to_space input", x)
    lead, (H, W, C) = _split(x)
    r = int(r)
    if r < 1 or C % (r * r):
        raise ValueError(f"depth_to_space: {C} channels not divisible by r*r = {r * r}")
    n = len(lead)
    y = x.reshape(*lead, H, W, r, r, C // (r * r))
    y = y.transpose(*range(n), n, n + 2, n + 1, n + 3, n + 4)
    return y.reshape(*lead, H * r, W * r, C // (r * r))


def space_to_depth(x, r: int) -> np.ndarray:
    """TensorFlow SpaceToDepth (DCR): ``out[y, x, (i*r+j)*C + c] = in[y*r+i, x*r+j, c]`` (batch)."""
    x = _image("space_to_depth input", x)
    lead, (H, W, C) = _split(x)
    r = int(r)
    if r < 1 or H % r or W % r:
        raise ValueError(f"space_to_depth: size {H}x{W} is not a multiple of r = {r}")
    n = len(lead)
    y = x.reshape(*lead, H // r, r, W // r, r, C)
    y = y.transpose(*range(n), n, n + 2, n + 1, n + 3, n + 4)
    return y.reshape(*lead, H // r, W // r, r * r * C)


def maxpool2(x) -> np.ndarray:
    """2x2 max pooling, stride 2, floor mode (an odd last row/column is dropped, as in torch) (batch)."""
    x = _image("maxpool2 input", x)
    lead, (H, W, C) = _split(x)
    if H < 2 or W < 2:
        raise ValueError(f"maxpool2: input must be at least 2x2, got {H}x{W}")
    h, w = H // 2, W // 2
    x = x[..., :2 * h, :2 * w, :]
    return x.reshape(*lead, h, 2, w, 2, C).max(axis=(-4, -2))


def _up_axis(v: np.ndarray, axis: int) -> np.ndarray:
    """Interleave (x[i-1] + 3x[i], 3x[i] + x[i+1]) along `axis` (edge clamp), x2 length."""
    n = v.shape[axis]
    out = np.empty(v.shape[:axis] + (n, 2) + v.shape[axis + 1:], v.dtype)

    def at(a, i, j=None):  # a[..., i, (j), ...] along `axis`
        return a[(slice(None),) * axis + ((i,) if j is None else (i, j))]
    even, odd = at(out, slice(None), 0), at(out, slice(None), 1)
    np.multiply(v, 3, out=even)
    odd[...] = even
    at(out, slice(1, None), 0)[...] += at(v, slice(None, -1))
    at(out, 0, 0)[...] += at(v, 0)
    at(out, slice(None, -1), 1)[...] += at(v, slice(1, None))
    at(out, n - 1, 1)[...] += at(v, n - 1)
    return out.reshape(v.shape[:axis] + (2 * n,) + v.shape[axis + 1:])


def upsample2x(x) -> np.ndarray:
    """Bilinear x2 (align_corners=False, edge replicate), exact, one rounding (batch).

    ``out = rshift_rne(sum of the 16ths, 4)`` at the input exponent, same dtype.
    """
    x = _image("upsample2x input", x)
    # the sums are at most 16 * max|x| (+ the rounding addend 15): int16 for 8-bit codes,
    # int32 for 16-bit ones
    wide = {1: np.int16, 2: np.int32}.get(x.dtype.itemsize, np.int64)
    v = x.astype(wide)
    v = _up_axis(_up_axis(v, v.ndim - 3), v.ndim - 2)
    return rshift_rne_inplace(v, 4).astype(x.dtype)
