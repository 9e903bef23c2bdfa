"""Exact integer 3x3 convolution (docs/numerics.md, op ``conv3x3``).

Speed without giving up exactness: the products and partial sums of an
integer convolution are integers, so a float BLAS matmul computes them
exactly as long as every partial sum stays below the mantissa limit
(2**24 for float32, 2**53 for float64). `_pick_dtype` proves that bound
from the data (``max_o sum|w[o]| * max|x| + max|b|``, which is <= the
bit-width bound ``9*cin*max|w|*max|x| + max|b|``) and falls back to int64
arithmetic otherwise. Requantization is also exact in float: scaling by a
power of two is exact, ``np.rint`` rounds half to even, and clipping then
casting integral values is exact.

The image is processed in row strips (bounded memory, cache friendly):
per strip the three horizontal taps are gathered into a (rows+2, W, 3*C)
block, and the three vertical taps are three matmuls on contiguous row
ranges of that block. Convs with few output channels (the HR ``conv_out``)
use a planar im2col with the weights on the left instead.
"""
from __future__ import annotations

import numpy as np

from ._par import map_strips, n_workers
from .fixed import int_range, rshift_rne, storage_dtype

__all__ = ["conv3x3", "conv3x3_acc", "requant_float", "ACTS"]

ACTS = ("none", "relu", "leaky")
_STRIP_BYTES = 2 << 20  # target size of one strip's tap block


def _absmax(a: np.ndarray) -> int:
    if a.size == 0:
        return 0
    return max(abs(int(a.max())), abs(int(a.min())))


def _check_int(name: str, a: np.ndarray) -> None:
    if a.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array, got dtype {a.dtype}")


def _validate(x, w, b):
    x = np.asarray(x)
    w = np.asarray(w)
    _check_int("conv3x3 input", x)
    _check_int("conv3x3 weight", w)
    if x.ndim not in (3, 4):
        raise ValueError(f"conv3x3 input must be (H, W, C) or (N, H, W, C), got shape {x.shape}")
    if w.ndim != 4 or w.shape[2:] != (3, 3):
        raise ValueError(f"conv3x3 weight must be OIHW (Cout, Cin, 3, 3), got shape {w.shape}")
    if w.shape[1] != x.shape[-1]:
        raise ValueError(
            f"conv3x3 channel mismatch: input has {x.shape[-1]} channels, weight expects {w.shape[1]}")
    if x.shape[-3] < 1 or x.shape[-2] < 1:
        raise ValueError(f"conv3x3 input has an empty spatial size {x.shape}")
    if b is None:
        b = np.zeros(w.shape[0], np.int64)
    b = np.asarray(b)
    _check_int("conv3x3 bias", b)
    if b.shape != (w.shape[0],):
        raise ValueError(f"conv3x3 bias must have shape ({w.shape[0]},), got {b.shape}")
    return x, w, b


def _pick_dtype(x, w, b) -> np.dtype:
    """Cheapest dtype in which every partial sum is provably exact."""
    l1 = int(np.abs(w.astype(np.int64)).reshape(w.shape[0], -1).sum(axis=1).max()) if w.size else 0
    bound = l1 * _absmax(x) + _absmax(b)
    if bound < 2**24:
        return np.dtype(np.float32)
    if bound < 2**53:
        return np.dtype(np.float64)
    if bound < 2**62:
        return np.dtype(np.int64)
    raise ValueError(f"conv3x3 accumulator bound {bound} overflows int64; reduce weight/activation widths")


def _strips(x, w, b, dt, consume, scale=1.0) -> None:
    """Call ``consume(y0, rows, acc)`` for every row strip (in parallel, see `_par`).

    acc is the exact (rows*W, Cout) accumulator incl. bias. Float kernels
    fold the power-of-two `scale` into weights and bias: every partial sum
    is then an integer times `scale`, still exact (same mantissa).
    """
    if w.shape[0] < 8:
        fn, starts = _strips_planar(x, w, b, dt, scale, consume)
    else:
        fn, starts = _strips_rows(x, w, b, dt, scale, consume)
    map_strips(fn, starts)


#: below this many pixels a conv runs as one strip on the calling thread: handing strips to
#: the pool costs more than it saves (FNet's coarse levels, small frames)
_MIN_PARALLEL_PIXELS = 6000


def _rows(H: int, rows: int, W: int) -> int:
    """Strip height: about `rows`, strip count a multiple of the worker count (balance);
    the whole image when it has fewer than `_MIN_PARALLEL_PIXELS` pixels (H x `W`)."""
    if H * W < _MIN_PARALLEL_PIXELS:
        return H
    n = -(-H // int(max(1, min(H, rows))))
    k = n_workers()
    if n < 4 * k:
        n = min(H, -(-n // k) * k)
    return -(-H // n)


def _scaled(a, dt, scale):
    a = a.astype(dt)
    if scale != 1.0:
        a *= dt.type(scale)
    return a


def _fill_h3(dst, src, C, W):
    """dst (n, W, 3C) = the three horizontal taps (dx = 0, 1, 2) of rows `src` (n, W, C)."""
    dst[:, 1:, 0:C] = src[:, :W - 1]
    dst[:, 0, 0:C] = 0
    dst[:, :, C:2 * C] = src
    dst[:, :W - 1, 2 * C:] = src[:, 1:]
    dst[:, W - 1, 2 * C:] = 0


def _strips_rows(x, w, b, dt, scale, consume):
    """Channels-last strips: acc = sum_dy taps[dy] (rows*W, 3C) @ w3[dy] (3C, Cout).

    (Measured faster than one (rows*W, 9C) im2col matmul for 16..64 channels.)
    """
    H, W, C = x.shape
    O = w.shape[0]
    bias = _scaled(b, dt, scale)
    w3 = _scaled(w.transpose(2, 3, 1, 0).reshape(3, 3 * C, O), dt, scale)
    rows = _rows(H, _STRIP_BYTES // max(1, W * 3 * C * dt.itemsize), W)

    def one(y0):
        s = min(rows, H - y0)
        blk = np.empty((s + 2, W, 3 * C), dt)  # image rows y0-1 .. y0+s, zero outside the image
        r0, r1 = max(y0 - 1, 0), min(y0 + s + 1, H)
        b0 = r0 - (y0 - 1)
        if y0 == 0:
            blk[0] = 0
        if y0 + s == H:
            blk[s + 1] = 0
        _fill_h3(blk[b0:b0 + r1 - r0], x[r0:r1], C, W)
        acc = np.matmul(blk[0:s].reshape(-1, 3 * C), w3[0])
        t = np.empty_like(acc)
        for dy in (1, 2):
            np.matmul(blk[dy:dy + s].reshape(-1, 3 * C), w3[dy], out=t)
            acc += t
        acc += bias
        consume(y0, s, acc)
    return one, range(0, H, rows)


def _strips_planar(x, w, b, dt, scale, consume):
    """Few output channels (e.g. the HR conv_out): acc.T = w (Cout, 9C) @ cols (9C, rows*W)."""
    H, W, C = x.shape
    O = w.shape[0]
    wm = _scaled(w.reshape(O, 9 * C), dt, scale)
    bias = _scaled(b, dt, scale)
    xp = np.zeros((C, H + 2, W + 2), dt)
    xp[:, 1:-1, 1:-1] = np.moveaxis(x, -1, 0)
    rows = _rows(H, (_STRIP_BYTES * 2 // 3) // max(1, 9 * C * W * dt.itemsize), W)

    def one(y0):
        s = min(rows, H - y0)
        cols = np.empty((C, 3, 3, s, W), dt)
        for dy in range(3):
            for dx in range(3):
                cols[:, dy, dx] = xp[:, y0 + dy:y0 + dy + s, dx:dx + W]
        acc = (wm @ cols.reshape(9 * C, s * W)).T
        acc += bias
        consume(y0, s, acc)
    return one, range(0, H, rows)


def conv3x3_acc(x, w_oihw, b=None) -> np.ndarray:
    """Exact int64 accumulator ``b[o] + sum w[o,c,dy,dx] * x[y+dy-1, x+dx-1, c]``.

    `x` is (H, W, C) or (N, H, W, C), `w_oihw` is (Cout, Cin, 3, 3); zero
    padding 1. Returns int64 of shape (..., H, W, Cout).
    """
    x, w, b = _validate(x, w_oihw, b)
    if x.ndim == 4:
        return np.stack([conv3x3_acc(f, w, b) for f in x])
    H, W, _ = x.shape
    dt = _pick_dtype(x, w, b)
    out = np.empty((H, W, w.shape[0]), np.int64)

    def consume(y0, s, acc):
        out[y0:y0 + s] = acc.reshape(s, W, -1)
    _strips(x, w, b, dt, consume)
    return out


def requant_float(acc, s: int, leaky, lo: int, hi: int) -> np.ndarray:
    """Exact in-place requant of an integral float array (see module doc).

    ``rint(acc * 2**-s)`` (``2**-(s+leaky)`` where acc < 0 if `leaky` is
    not None) then clip to [lo, hi]. Returns a float array, or int64 when
    the clip bounds are not exactly representable in the float type.
    """
    one = acc.dtype.type
    if s != 0:
        acc *= one(2.0 ** -s)
    if leaky is not None:
        np.multiply(acc, one(2.0 ** -leaky), out=acc, where=acc < 0)
    np.rint(acc, out=acc)
    limit = 2 ** (np.finfo(acc.dtype).nmant + 1)
    if -limit <= lo and hi <= limit:
        return np.clip(acc, lo, hi, out=acc)
    np.clip(acc, -(2.0**62), 2.0**62, out=acc)
    return np.clip(acc.astype(np.int64), lo, hi)


def conv3x3(x, w_oihw, b, in_exp: int, w_exp: int, out_exp: int, out_bits: int,
            out_signed: bool, act: str = "none", leaky_shift: int = 0,
            shuffle: int = 1, then=None, then_dtype=None) -> np.ndarray:
    """Quantized conv3x3 exactly as docs/numerics.md.

    ``acc`` (exponent ``in_exp + w_exp``, bias already at that exponent),
    ``s = out_exp - acc_exp``, then by `act`: ``none``: requant(acc, s);
    ``relu``: requant(max(acc, 0), s); ``leaky``: requant(acc, s) where
    acc >= 0 else requant(acc, s + leaky_shift). Output dtype is the
    smallest integer dtype for `out_bits`/`out_signed`, shape (..., H, W, Cout).

    ``shuffle=r > 1`` fuses a following ``pixel_shuffle(r)`` (CRD): the
    result equals ``pixel_shuffle(conv3x3(...), r)``, shape
    (..., r*H, r*W, Cout // r**2), written in place without the shuffle copy.

    ``then(y0, codes)`` fuses a following row-wise op (one whose output rows
    depend only on the same rows of its inputs, e.g. a residual or anchor add):
    it gets the conv's output codes of image rows ``y0 .. y0 + len(codes)``
    (rows, W, Cout) and returns that op's codes for those rows (dtype
    `then_dtype`, the channels it has), which are stored (and shuffled) instead.
    It runs on each row strip while the strip is in cache; (H, W, C) input only.
    """
    if act not in ACTS:
        raise ValueError(f"conv3x3 act must be one of {ACTS}, got {act!r}")
    leaky_shift = int(leaky_shift)
    if act == "leaky" and leaky_shift < 0:
        raise ValueError(f"conv3x3 leaky_shift must be >= 0, got {leaky_shift}")
    x, w, b = _validate(x, w_oihw, b)
    odt = storage_dtype(out_bits, out_signed)
    if x.ndim == 4:
        if then is not None:
            raise ValueError("conv3x3: a fused row-wise op (then=) needs an (H, W, C) input")
        return np.stack([conv3x3(f, w, b, in_exp, w_exp, out_exp, out_bits, out_signed,
                                 act, leaky_shift, shuffle) for f in x])
    lo, hi = int_range(out_bits, out_signed)
    s = int(out_exp) - (int(in_exp) + int(w_exp))
    leaky = leaky_shift if act == "leaky" else None
    H, W, _ = x.shape
    O = w.shape[0]
    r = int(shuffle)
    if r < 1 or O % (r * r):
        raise ValueError(f"conv3x3 shuffle: {O} output channels not divisible by r*r = {r * r}")
    if then is None:
        fdt, Of = odt, O
    else:  # the fused op's output: its dtype, and its channels from a one-row probe
        fdt = np.dtype(then_dtype)
        Of = then(0, np.zeros((1, W, O), odt)).shape[-1]
        if Of % (r * r):
            raise ValueError(f"conv3x3 shuffle: the fused op's {Of} channels not divisible by r*r = {r * r}")
    Cs = Of // (r * r)
    if r > 1 and then is None:
        # output channels reordered from (c, i, j) to (i, j, c): then each strip
        # lands in the shuffled image as contiguous runs of r*C' codes
        perm = np.arange(O).reshape(Cs, r * r).T.reshape(-1)
        w, b = w[perm], b[perm]
    final = np.empty((H * r, W * r, Cs), fdt)
    out = final.reshape(H, r, W, r * Cs) if then is None else final.reshape(H, r, W, r, Cs)

    def store(y0, rows, res):
        if then is not None:
            res = then(y0, res.reshape(rows, W, O).astype(odt, copy=False))
            if r > 1:  # (c, i, j) channels -> HR rows y*r + i, columns x*r + j
                out[y0:y0 + rows] = res.reshape(rows, W, Cs, r, r).transpose(0, 3, 1, 4, 2)
            else:
                out[y0:y0 + rows] = res.reshape(rows, 1, W, 1, Cs)
        elif r > 1:
            out[y0:y0 + rows] = res.reshape(rows, W, r, r * Cs).transpose(0, 2, 1, 3)
        else:
            out[y0:y0 + rows] = res.reshape(rows, r, W, r * Cs)
    dt = _pick_dtype(x, w, b)
    if abs(s) + leaky_shift > 60:
        dt = np.dtype(np.int64)  # keep float scaling far from its exponent range
    if dt.kind == "f":
        # 2**-s is folded into the kernel; relu == clipping at 0 after rounding
        lo_f = max(lo, 0) if act == "relu" else lo

        def consume_f(y0, rows, acc):
            store(y0, rows, requant_float(acc, 0, leaky, lo_f, hi))
        _strips(x, w, b, dt, consume_f, 2.0 ** -s)
        return final

    def consume_i(y0, rows, acc):
        if act == "relu":
            np.maximum(acc, 0, out=acc)
        if leaky is None:
            res = rshift_rne(acc, s)
        else:
            res = np.where(acc < 0, rshift_rne(acc, s + leaky), rshift_rne(acc, s))
        store(y0, rows, np.clip(res, lo, hi))
    _strips(x, w, b, dt, consume_i)
    return final
