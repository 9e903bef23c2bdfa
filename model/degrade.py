"""Degradations (HR -> LR) and the bicubic baseline upscaler; numpy only.

Images are channels-last float arrays in [0, 1]: one frame ``(H, W, C)`` or
a clip ``(N, H, W, C)``. Results are float32 and are *not* rounded; use
:func:`to_uint8` for 8-bit output. uint8 input is accepted and taken as
``x / 255``.

BD (blur-downsample, the EGVSR/TecoGAN default)
    Gaussian blur, sigma 1.5, kernel ``1 + 2*int(3*sigma) = 9`` taps,
    normalised, applied as a stride-4 convolution *without padding*: LR pixel
    ``(i, j)`` is ``sum_{k,l} K[k, l] * gt[4i + k, 4j + l]``, so an ``H x W``
    GT gives ``((H - 9)//4 + 1) x ((W - 9)//4 + 1)`` LR. The matching GT is
    the region the LR covers: a border of ``int(3*sigma) = 4`` pixels is cut
    and the rest cropped to ``4 * LR`` size, i.e.
    ``gt[4 : 4 + 4*h, 4 : 4 + 4*w]``. To get an LR of size ``s`` from a crop,
    take a GT crop of :func:`bd_gt_size` ``(s) = 4*(s - 1) + 9 = 4s + 5``.

BI (bicubic downsample, as in the VSR literature)
    MATLAB ``imresize(gt, 1/4, 'bicubic')``: Keys cubic with a = -0.5,
    *antialiased* (the kernel is stretched by 4, i.e. 16 taps per output
    pixel), half-pixel-centre alignment, symmetric (mirror) boundary, weights
    normalised per output pixel, rows then columns. Computed here in float
    (MATLAB rounds a uint8 input between the two passes; this does not). The
    GT is first cropped to a multiple of 4 (top-left).

Bicubic upscaling (the metric baseline)
    :func:`bicubic_upscale` reproduces
    ``torch.nn.functional.interpolate(mode='bicubic', align_corners=False)``:
    Keys a = -0.75, source coordinate ``(o + 0.5)/scale - 0.5`` (not clamped),
    tap indices clamped to the image (replicate edges), no antialiasing.
    ``align='bd'`` instead samples at ``o/scale``, the geometry of BD data
    (the torch alignment is 1.5 HR pixels off on BD data, about -3 dB).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "bd_degrade",
    "bd_gt_size",
    "bd_lr_size",
    "bi_degrade",
    "bicubic_upscale",
    "cubic_weight",
    "gaussian_kernel",
    "gaussian_kernel_1d",
    "to_float",
    "to_uint8",
]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def to_uint8(x) -> np.ndarray:
    """``clip(round(x * 255), 0, 255)`` as uint8 (round half to even)."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def to_float(x) -> np.ndarray:
    """uint8 -> float32 ``x / 255``; float input -> float32 unchanged."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"expected uint8 or float images, got {x.dtype}")
    return x.astype(np.float32, copy=False)


def _check_image(x: np.ndarray, name: str) -> None:
    if x.ndim not in (3, 4):
        raise ValueError(f"{name} must be (H, W, C) or (N, H, W, C), got shape {x.shape}")


def _apply_axis_matrices(x: np.ndarray, mh: np.ndarray, mw: np.ndarray) -> np.ndarray:
    """out[..., i, j, c] = sum_{h,w} mh[i, h] mw[j, w] x[..., h, w, c] (float64)."""
    x64 = x.astype(np.float64, copy=False)
    y = np.einsum("ih,...hwc->...iwc", mh, x64, optimize=True)
    return np.einsum("jw,...iwc->...ijc", mw, y, optimize=True)


# --------------------------------------------------------------------------
# BD
# --------------------------------------------------------------------------

def _ksize(sigma: float) -> int:
    return 1 + 2 * int(3.0 * sigma)


def gaussian_kernel_1d(sigma: float = 1.5) -> np.ndarray:
    """Normalised 1-D Gaussian of ``1 + 2*int(3*sigma)`` taps (float64)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    r = int(3.0 * sigma)
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def gaussian_kernel(sigma: float = 1.5) -> np.ndarray:
    """Normalised 2-D Gaussian ``(k, k)``, ``k = 1 + 2*int(3*sigma)`` (9 for 1.5).

    It is the outer product of :func:`gaussian_kernel_1d` with itself (sums
    to 1), which is how :func:`bd_degrade` applies it (separably).
    """
    g = gaussian_kernel_1d(sigma)
    return np.outer(g, g)


def bd_lr_size(gt_size: int, sigma: float = 1.5, scale: int = 4) -> int:
    """LR length produced by BD from a GT length: ``(gt - k)//scale + 1``."""
    k = _ksize(sigma)
    if gt_size < k:
        raise ValueError(f"GT size {gt_size} is smaller than the {k}-tap blur kernel")
    return (gt_size - k) // scale + 1


def bd_gt_size(lr_size: int, sigma: float = 1.5, scale: int = 4) -> int:
    """GT crop length that BD turns into exactly ``lr_size``: ``scale*(lr-1) + k``."""
    return scale * (lr_size - 1) + _ksize(sigma)


def _strided_blur_axis(x: np.ndarray, g: np.ndarray, n_out: int, scale: int, axis: int) -> np.ndarray:
    out = None
    span = scale * (n_out - 1) + 1
    for k, w in enumerate(g):
        sl = [slice(None)] * x.ndim
        sl[axis] = slice(k, k + span, scale)
        term = w * x[tuple(sl)]
        out = term if out is None else out + term
    return out


def bd_degrade(gt, sigma: float = 1.5, scale: int = 4):
    """BD degradation. Returns ``(lr, gt_cropped)``, both float32.

    ``gt``: ``(H, W, C)`` or ``(N, H, W, C)``, float in [0, 1] (or uint8).
    ``lr`` is ``(h, w)`` with ``h = (H - k)//scale + 1``; ``gt_cropped`` is
    ``gt[r : r + scale*h, r : r + scale*w]`` with ``r = int(3*sigma)``.
    """
    x = to_float(gt)
    _check_image(x, "gt")
    H, W = x.shape[-3], x.shape[-2]
    h, w = bd_lr_size(H, sigma, scale), bd_lr_size(W, sigma, scale)
    g = gaussian_kernel_1d(sigma)
    y = _strided_blur_axis(x.astype(np.float64), g, h, scale, axis=x.ndim - 3)
    y = _strided_blur_axis(y, g, w, scale, axis=x.ndim - 2)
    r = int(3.0 * sigma)
    gt_c = x[..., r:r + scale * h, r:r + scale * w, :]
    return y.astype(np.float32), np.ascontiguousarray(gt_c, dtype=np.float32)


# --------------------------------------------------------------------------
# bicubic kernels
# --------------------------------------------------------------------------

def cubic_weight(t, a: float = -0.75) -> np.ndarray:
    """Keys cubic convolution kernel at distance ``t`` (vectorised)."""
    t = np.abs(np.asarray(t, dtype=np.float64))
    t2, t3 = t * t, t * t * t
    near = (a + 2.0) * t3 - (a + 3.0) * t2 + 1.0
    far = a * t3 - 5.0 * a * t2 + 8.0 * a * t - 4.0 * a
    return np.where(t <= 1.0, near, np.where(t < 2.0, far, 0.0))


def _matlab_resize_matrix(n_in: int, n_out: int, scale: float) -> np.ndarray:
    """(n_out, n_in) weights of MATLAB imresize 'bicubic' along one axis."""
    a = -0.5
    aa = scale < 1.0  # antialias when shrinking
    width = 4.0 / scale if aa else 4.0
    o = np.arange(1, n_out + 1, dtype=np.float64)  # MATLAB 1-based
    u = o / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(np.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based
    d = u[:, None] - idx
    wgt = scale * cubic_weight(scale * d, a) if aa else cubic_weight(d, a)
    wgt = wgt / wgt.sum(axis=1, keepdims=True)
    # symmetric boundary: MATLAB's [1..n, n..1] periodic index table
    mirror = np.concatenate([np.arange(n_in), np.arange(n_in - 1, -1, -1)])
    src = mirror[np.mod(idx.astype(np.int64) - 1, 2 * n_in)]
    m = np.zeros((n_out, n_in), dtype=np.float64)
    np.add.at(m, (np.repeat(np.arange(n_out), taps), src.ravel()), wgt.ravel())
    return m


def bi_degrade(gt, scale: int = 4):
    """BI degradation (MATLAB-style antialiased bicubic /scale).

    Returns ``(lr, gt_cropped)`` float32; the GT is cropped (top-left) to a
    multiple of ``scale`` first, so ``lr`` is exactly ``gt_cropped / scale``
    in size.
    """
    x = to_float(gt)
    _check_image(x, "gt")
    H, W = x.shape[-3] // scale * scale, x.shape[-2] // scale * scale
    if H == 0 or W == 0:
        raise ValueError(f"GT {x.shape} is smaller than the scale {scale}")
    x = x[..., :H, :W, :]
    mh = _matlab_resize_matrix(H, H // scale, 1.0 / scale)
    mw = _matlab_resize_matrix(W, W // scale, 1.0 / scale)
    lr = _apply_axis_matrices(x, mh, mw)
    return lr.astype(np.float32), np.ascontiguousarray(x, dtype=np.float32)


def _bicubic_matrix(n_in: int, scale: int, align: str, a: float = -0.75) -> np.ndarray:
    """(n_in*scale, n_in) Keys-bicubic upscaling weights, clamped taps.

    ``align='torch'``: torch align_corners=False, source ``(o + 0.5)/s - 0.5``;
    ``align='bd'``: source ``o / s`` (HR pixel ``s*i`` sits on LR pixel ``i``).
    """
    n_out = n_in * scale
    o = np.arange(n_out, dtype=np.float64)
    src = (o + 0.5) / scale - 0.5 if align == "torch" else o / scale
    i0 = np.floor(src)
    t = src - i0
    m = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    for k in range(-1, 3):
        idx = np.clip(i0.astype(np.int64) + k, 0, n_in - 1)
        np.add.at(m, (rows, idx), cubic_weight(t - k, a))
    return m


def bicubic_upscale(lr, scale: int = 4, align: str = "torch") -> np.ndarray:
    """Bicubic x``scale`` upscale (Keys a = -0.75, replicate edges). float32, unclipped.

    ``lr``: ``(h, w, C)`` or ``(N, h, w, C)``, float (or uint8 -> /255).

    ``align='torch'`` (default) matches ``torch.nn.functional.interpolate(
    mode='bicubic', align_corners=False)``: pixel centres aligned, HR pixel
    ``o`` samples LR position ``(o + 0.5)/scale - 0.5``.

    ``align='bd'`` samples LR position ``o / scale``: HR pixel ``scale*i`` lies
    exactly on LR pixel ``i``. This is the geometry of BD data from
    :func:`bd_degrade` (LR pixel ``i`` is the blur centred on cropped-GT pixel
    ``4i``) and of the EGVSR flow upsampler (phase taps ``M @ [1,s,s^2,s^3]``,
    ``s = p/4``). On BD data the torch alignment is off by 1.5 HR pixels and
    loses about 3 dB PSNR (all 120 carphone frames, Y, border 4: 22.6 dB vs
    25.7 dB), so use ``'bd'`` for a BD bicubic baseline.
    """
    x = to_float(lr)
    _check_image(x, "lr")
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    if align not in ("torch", "bd"):
        raise ValueError(f"align must be 'torch' or 'bd', got {align!r}")
    mh = _bicubic_matrix(x.shape[-3], int(scale), align)
    mw = _bicubic_matrix(x.shape[-2], int(scale), align)
    return _apply_axis_matrices(x, mh, mw).astype(np.float32)
