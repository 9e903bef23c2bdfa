"""Hex memory files for the Verilog cores: stream beats and weight ROMs.

A beat (or ROM word) of K fields of `bits` bits each is one hex line, field k
at bits ``[k*bits, (k+1)*bits)`` (little-endian fields, so the line reads
most significant field first), negative values in two's complement. This is
the format of `$readmemh` / `$fscanf("%h")` and of the `%h` the harness writes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from egvsr.golden.oplib.conv3x3 import pack_field_bits

__all__ = ["pack_words", "unpack_words", "write_hex", "read_hex", "conv_mem_words",
           "write_conv_mems"]


def pack_words(vals, bits: int) -> list[str]:
    """(N, K) integers -> N hex strings of K*bits bits each."""
    v = np.asarray(vals)
    if v.ndim == 1:
        v = v[:, None]
    n, k = v.shape
    digits = (k * bits + 3) // 4
    if bits in (8, 16, 32) and (k * bits) % 8 == 0:
        dt = np.dtype(f"<u{bits // 8}")
        raw = (v.astype(np.int64) & ((1 << bits) - 1)).astype(dt)
        b = raw.view(np.uint8).reshape(n, k * bits // 8)[:, ::-1]
        h = np.ascontiguousarray(b).tobytes().hex()
        step = k * bits // 4
        return [h[i:i + step] for i in range(0, len(h), step)]
    mask = (1 << bits) - 1
    out = []
    for row in v.tolist():
        word = 0
        for j, x in enumerate(row):
            word |= (int(x) & mask) << (j * bits)
        out.append(format(word, f"0{digits}x"))
    return out


def unpack_words(lines, k: int, bits: int, signed: bool = False) -> np.ndarray:
    """Hex strings -> (N, K) int64 fields (inverse of `pack_words`)."""
    lines = [ln for ln in (s.strip() for s in lines) if ln and not ln.startswith("//")]
    n = len(lines)
    if bits == 8 and n:
        nb = k
        raw = bytes.fromhex("".join(ln[-2 * nb:].rjust(2 * nb, "0") for ln in lines))
        a = np.frombuffer(raw, np.uint8).reshape(n, nb)[:, ::-1].astype(np.int64)
    else:
        mask = (1 << bits) - 1
        a = np.array([[(int(ln, 16) >> (j * bits)) & mask for j in range(k)] for ln in lines],
                     dtype=np.int64).reshape(n, k)
    if signed:
        a = np.where(a >= 1 << (bits - 1), a - (1 << bits), a)
    return a


def write_hex(path, vals, bits: int) -> Path:
    """Fields of `bits` bits, one word a line ($readmemh). A value that does not fit
    (signed or unsigned) is an error, not a silently masked field."""
    v = np.asarray(vals, np.int64)
    if v.size and (int(v.min()) < -(1 << (bits - 1)) or int(v.max()) >= (1 << bits)):
        raise ValueError(f"{path}: values [{int(v.min())}, {int(v.max())}] do not fit "
                         f"{bits}-bit fields")
    path = Path(path)
    path.write_text("\n".join(pack_words(vals, bits)) + "\n")
    return path


def read_hex(path, k: int, bits: int, signed: bool = False) -> np.ndarray:
    with open(path) as f:
        lines = f.read().split()
    if any(("x" in ln or "z" in ln) for ln in lines):
        raise ValueError(f"{path}: output contains X/Z values")
    return unpack_words(lines, k, bits, signed)


def conv_mem_words(w_oihw, b, pi: int, po: int, pack: bool = False, w_bits: int = 8):
    """Weight ROM (one row per fold step) and bias ROM (one row per output group) fields.

    Weight step ``co_g*NI + ci_g`` holds ``w[co_g*PO+po, ci_g*PI+pi, ky, kx]`` as
    field ``(po*PI + pi)*9 + ky*3 + kx`` (``pack``: the operand ``w[2j]*2**18 + w[2j+1]``
    stored as ``(w[2j] - (w[2j+1] < 0)) * 2**w_bits + (w[2j+1] mod 2**w_bits)``, a
    ``2*w_bits + 1``-bit field ``(j*PI + pi)*9 + ky*3 + kx`` that conv3x3.v ``PACK = 1``
    sign-extends into the operand); bias group ``co_g`` holds
    ``b[co_g*PO + po]`` as field ``po`` (zeros for padding channels).
    """
    w = np.asarray(w_oihw, np.int64)
    cout, cin = w.shape[:2]
    ni, no = -(-cin // pi), -(-cout // po)
    wp = np.zeros((no * po, ni * pi, 3, 3), np.int64)
    wp[:cout, :cin] = w
    # (no, po, ni, pi, 9) -> (no, ni, po, pi, 9)
    words = wp.reshape(no, po, ni, pi, 9).transpose(0, 2, 1, 3, 4)     # (no, ni, po, pi, 9)
    if pack:
        # pairs of output channels share a multiplier, j = 0 .. ceil(po/2) - 1, the odd
        # one padded with 0: {w[2j] - borrow, w[2j+1]} (the operand's upper field
        # absorbs the sign of the lower one)
        npair = -(-po // 2)
        pw = np.zeros((no, ni, 2 * npair, pi, 9), np.int64)
        pw[:, :, :po] = words
        hi, lo = pw[:, :, 0::2], pw[:, :, 1::2]
        words = (hi - (lo < 0)) * (1 << w_bits) + (lo & ((1 << w_bits) - 1))
        return words.reshape(no * ni, npair * pi * 9), _bias(b, cout, no, po)
    words = words.reshape(no * ni, po * pi * 9)
    return words, _bias(b, cout, no, po)


def _bias(b, cout, no, po):
    bp = np.zeros(no * po, np.int64)
    bp[:cout] = np.asarray(b, np.int64) if b is not None else 0
    return bp.reshape(no, po)


def write_conv_mems(w_oihw, b, pi: int, po: int, w_bits: int, b_bits: int, w_path, b_path,
                    pack: bool = False):
    words, bias = conv_mem_words(w_oihw, b, pi, po, pack, w_bits)
    write_hex(w_path, words, pack_field_bits(w_bits) if pack else w_bits)
    write_hex(b_path, bias, b_bits)
    return Path(w_path), Path(b_path)
