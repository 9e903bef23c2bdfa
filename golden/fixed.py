"""Exact fixed-point primitives of the numerical contract (docs/numerics.md).

Every function works on integer numpy arrays (any integer dtype in, int64
out) and is exact: no floating point is involved.
"""
from __future__ import annotations

import numpy as np

__all__ = ["int_range", "storage_dtype", "rshift_rne", "rshift_rne_inplace", "saturate", "requant"]


def int_range(bits: int, signed: bool) -> tuple[int, int]:
    """Inclusive code range of a `bits`-wide activation (not narrow range).

    signed: ``[-2**(bits-1), 2**(bits-1) - 1]``; unsigned: ``[0, 2**bits - 1]``.
    """
    bits = int(bits)
    if bits < 1 or bits > 63 or (signed and bits < 2):
        raise ValueError(f"unsupported bit width {bits} (signed={signed}); use 2..63 bits")
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def storage_dtype(bits: int, signed: bool) -> np.dtype:
    """Smallest numpy integer dtype holding every `bits`/`signed` code."""
    int_range(bits, signed)
    for n in (8, 16, 32, 64):
        if bits <= n:
            return np.dtype(f"{'int' if signed else 'uint'}{n}")
    raise AssertionError("unreachable")


def _as_int64(v) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype.kind not in "iub":
        raise ValueError(f"expected an integer array, got dtype {a.dtype}")
    if a.dtype == np.uint64 and a.size and int(a.max()) >= 1 << 63:
        raise ValueError("uint64 values >= 2**63 do not fit the int64 arithmetic")
    return a.astype(np.int64, copy=False)


def rshift_rne(v, s) -> np.ndarray:
    """``v * 2**-s`` rounded half to even, exact, for integer `v`.

    `s` is an int or an integer array broadcastable against `v`; elements
    with ``s <= 0`` are an exact left shift by ``-s`` (the caller keeps the
    result inside int64). Negative `v` round on the floor grid (not
    truncation): ``rshift_rne(-3, 1) == -2``, ``rshift_rne(-5, 1) == -2``.

    For ``s > 0`` this uses the identity
    ``rne(v / 2**s) = (v + 2**(s-1) - 1 + ((v >> s) & 1)) >> s`` with
    arithmetic (flooring) shifts, equivalent to the contract's q/r form.
    """
    v = _as_int64(v)
    if np.ndim(s) == 0:
        s = int(s)
        if s > 62:
            raise ValueError(f"shift {s} too large (max 62)")
        if s <= 0:
            return np.left_shift(v, -s)
        return (v + (((v >> s) & 1) + ((1 << (s - 1)) - 1))) >> s
    s = _as_int64(s)
    if s.size and int(s.max()) > 62:
        raise ValueError(f"shift {int(s.max())} too large (max 62)")
    pos = np.maximum(s, 0)
    half_m1 = np.where(pos > 0, np.left_shift(1, np.maximum(pos - 1, 0)) - 1, 0)
    odd = np.where(pos > 0, (v >> pos) & 1, 0)
    right = (v + odd + half_m1) >> pos
    return np.where(s > 0, right, np.left_shift(v, np.maximum(-s, 0)))


def rshift_rne_inplace(v: np.ndarray, s: int) -> np.ndarray:
    """`rshift_rne(v, s)` for ``s >= 1`` in `v`'s own integer dtype, in place (no int64 copy of
    a large array); the caller guarantees ``v + 2**(s-1)`` fits that dtype. Returns `v`."""
    t = v.dtype.type
    v += ((v >> t(s)) & t(1)) + t((1 << (s - 1)) - 1)
    v >>= t(s)
    return v


def saturate(v, bits: int, signed: bool) -> np.ndarray:
    """Clip integer `v` to the `bits`/`signed` code range (int64 result)."""
    lo, hi = int_range(bits, signed)
    return np.clip(_as_int64(v), lo, hi)


def requant(v, s, bits: int, signed: bool) -> np.ndarray:
    """``saturate(rshift_rne(v, s), bits, signed)`` (int64 result)."""
    return saturate(rshift_rne(v, s), bits, signed)
