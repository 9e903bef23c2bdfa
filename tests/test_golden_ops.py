"""golden.fixed / golden.ops against plain-Python references of docs/numerics.md."""
import math
from fractions import Fraction

import numpy as np
import pytest

from egvsr.golden import fixed, ops

RNG = np.random.default_rng(1234)


# ---------------------------------------------------------------- references
def ref_rshift(v: int, s: int) -> int:
    """The contract's q/r definition, in Python integers."""
    if s <= 0:
        return v * 2 ** (-s)
    q = v // 2**s  # floor
    r = v - q * 2**s
    half = 2 ** (s - 1)
    if r > half:
        return q + 1
    if r == half:
        return q + (q & 1)
    return q


def ref_requant(v, s, bits, signed):
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return min(max(ref_rshift(v, s), lo), hi)


def ref_conv(x, w, b, in_exp, w_exp, out_exp, bits, signed, act, ls):
    H, W, C = x.shape
    O = w.shape[0]
    s = out_exp - in_exp - w_exp
    out = np.zeros((H, W, O), np.int64)
    for y in range(H):
        for xx in range(W):
            for o in range(O):
                acc = int(b[o])
                for c in range(C):
                    for dy in range(3):
                        for dx in range(3):
                            yy, xc = y + dy - 1, xx + dx - 1
                            if 0 <= yy < H and 0 <= xc < W:
                                acc += int(w[o, c, dy, dx]) * int(x[yy, xc, c])
                if act == "relu":
                    acc = max(acc, 0)
                shift = s + ls if (act == "leaky" and acc < 0) else s
                out[y, xx, o] = ref_requant(acc, shift, bits, signed)
    return out


# ---------------------------------------------------------------- fixed
@pytest.mark.parametrize("v,s,want", [(3, 1, 2), (5, 1, 2), (-3, 1, -2), (-5, 1, -2), (1, 1, 0),
                                      (-1, 1, 0), (7, 1, 4), (-7, 1, -4), (6, 2, 2), (-6, 2, -2),
                                      (10, 2, 2), (-10, 2, -2), (11, 2, 3), (-11, 2, -3),
                                      (3, 0, 3), (3, -2, 12), (-3, -1, -6)])
def test_rshift_rne_corners(v, s, want):
    assert int(fixed.rshift_rne(np.int64(v), s)) == want
    assert ref_rshift(v, s) == want


def test_rshift_rne_random_vs_reference():
    v = RNG.integers(-(2**40), 2**40, 4000)
    for s in (1, 2, 3, 7, 13, 31):
        got = fixed.rshift_rne(v, s)
        assert got.dtype == np.int64
        assert got.tolist() == [ref_rshift(int(a), s) for a in v]
    # exact halves at every shift
    for s in range(1, 20):
        k = np.arange(-50, 50)
        halves = k * 2**s + 2 ** (s - 1)
        assert fixed.rshift_rne(halves, s).tolist() == [ref_rshift(int(a), s) for a in halves]


def test_rshift_rne_per_element_shift():
    v = RNG.integers(-(2**20), 2**20, 3000)
    s = RNG.integers(-4, 12, 3000)
    got = fixed.rshift_rne(v, s)
    assert got.tolist() == [ref_rshift(int(a), int(b)) for a, b in zip(v, s)]


def test_saturate_and_ranges():
    assert fixed.int_range(8, True) == (-128, 127)
    assert fixed.int_range(8, False) == (0, 255)
    assert fixed.int_range(16, True) == (-32768, 32767)
    v = np.array([-1000, -129, -128, -127, 0, 126, 127, 128, 1000])
    assert fixed.saturate(v, 8, True).tolist() == [-128, -128, -128, -127, 0, 126, 127, 127, 127]
    assert fixed.saturate(v, 8, False).tolist() == [0, 0, 0, 0, 0, 126, 127, 128, 255]
    assert fixed.requant(np.array([255, 256, 257, -257]), 1, 7, True).tolist() == [63, 63, 63, -64]
    assert fixed.storage_dtype(8, False) == np.uint8
    assert fixed.storage_dtype(12, True) == np.int16
    with pytest.raises(ValueError, match="bit width"):
        fixed.int_range(0, False)
    with pytest.raises(ValueError, match="integer"):
        fixed.rshift_rne(np.array([1.5]), 1)


# ---------------------------------------------------------------- conv3x3
CONV_CASES = [  # H, W, C, O
    (1, 1, 3, 2), (1, 6, 2, 9), (5, 1, 4, 3), (4, 7, 3, 8), (3, 5, 6, 10),
]


@pytest.mark.parametrize("H,W,C,O", CONV_CASES)
@pytest.mark.parametrize("act", ["none", "relu", "leaky"])
def test_conv3x3_vs_reference(H, W, C, O, act):
    x = RNG.integers(-128, 128, (H, W, C)).astype(np.int8)
    w = RNG.integers(-127, 128, (O, C, 3, 3)).astype(np.int8)
    b = RNG.integers(-20000, 20000, O).astype(np.int32)
    for out_exp, bits, signed in ((-6, 8, True), (-4, 8, False), (-12, 16, True), (-17, 8, True)):
        got = ops.conv3x3(x, w, b, -7, -8, out_exp, bits, signed, act, 2)
        want = ref_conv(x, w, b, -7, -8, out_exp, bits, signed, act, 2)
        assert got.dtype == fixed.storage_dtype(bits, signed)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("xdt,wdt,xr,wr,path", [
    (np.uint8, np.int8, 255, 127, np.float32),
    (np.int16, np.int16, 32767, 32767, np.float64),
    (np.int64, np.int16, 2**40, 32767, np.int64),  # bound > 2**53
])
@pytest.mark.parametrize("O", [3, 9])  # planar and channels-last strip kernels
def test_conv3x3_all_accumulator_paths(xdt, wdt, xr, wr, path, O):
    from egvsr.golden.conv import _pick_dtype
    H, W, C = 3, 4, 5
    lo = 0 if xdt == np.uint8 else -xr
    x = RNG.integers(lo, xr, (H, W, C)).astype(xdt)
    w = RNG.integers(-wr, wr, (O, C, 3, 3)).astype(wdt)
    b = RNG.integers(-1000, 1000, O).astype(np.int32)
    assert _pick_dtype(x, w, b) == path
    acc = ops.conv3x3_acc(x, w, b)
    want_acc = ref_conv(x, w, b, 0, 0, 0, 63, True, "none", 0)
    np.testing.assert_array_equal(acc, want_acc)
    for act in ("none", "leaky"):
        for out_exp in (20, 45):
            got = ops.conv3x3(x, w, b, 0, 0, out_exp, 16, True, act, 3)
            np.testing.assert_array_equal(got, ref_conv(x, w, b, 0, 0, out_exp, 16, True, act, 3))


@pytest.mark.parametrize("O,r", [(4, 2), (12, 2), (48, 4)])  # planar and strip kernels
@pytest.mark.parametrize("xdt,xr", [(np.uint8, 255), (np.int64, 2**40)])  # float32 / int64
def test_conv3x3_fused_pixel_shuffle(O, r, xdt, xr, monkeypatch):
    from egvsr.golden import conv
    monkeypatch.setattr(conv, "_STRIP_BYTES", 1)  # one row per strip: many parallel strips
    monkeypatch.setattr(conv, "_MIN_PARALLEL_PIXELS", 0)
    H, W, C = 9, 7, 5
    lo = 0 if xdt == np.uint8 else -xr
    x = RNG.integers(lo, xr, (H, W, C)).astype(xdt)
    w = RNG.integers(-127, 128, (O, C, 3, 3)).astype(np.int16)
    b = RNG.integers(-20000, 20000, O).astype(np.int32)
    out_exp = -4 if xdt == np.uint8 else 40
    for act in ("none", "relu", "leaky"):
        want = ops.pixel_shuffle(ref_conv(x, w, b, -8, -8, out_exp, 8, False, act, 2), r)
        got = ops.conv3x3(x, w, b, -8, -8, out_exp, 8, False, act, 2, shuffle=r)
        assert got.dtype == np.uint8 and got.shape == (r * H, r * W, O // (r * r))
        np.testing.assert_array_equal(got, want)
    xb = np.stack([x, x[::-1]])
    np.testing.assert_array_equal(ops.conv3x3(xb, w, b, -8, -8, out_exp, 8, False, shuffle=r),
                                  ops.pixel_shuffle(ops.conv3x3(xb, w, b, -8, -8, out_exp, 8, False), r))
    with pytest.raises(ValueError, match="shuffle"):
        ops.conv3x3(x, w, b, -8, -8, out_exp, 8, False, shuffle=3)


@pytest.mark.parametrize("r", [1, 4])
def test_conv3x3_fused_rowwise_op(r, monkeypatch):
    """``then=``: a row-wise op (here the anchor add) on each strip, then the shuffle, equals
    the three ops one after another; a batch input is refused."""
    from egvsr.golden import conv
    monkeypatch.setattr(conv, "_STRIP_BYTES", 1)
    monkeypatch.setattr(conv, "_MIN_PARALLEL_PIXELS", 0)
    H, W, C, O = 9, 7, 5, 48
    x = RNG.integers(0, 256, (H, W, C)).astype(np.uint8)
    w = RNG.integers(-127, 128, (O, C, 3, 3)).astype(np.int16)
    b = RNG.integers(-20000, 20000, O).astype(np.int32)
    skip = RNG.integers(0, 256, (H, W, 51)).astype(np.uint8)
    seen = []

    def then(y0, codes):
        seen.append((y0, len(codes)))
        return ops.anchor_add(codes, skip[y0:y0 + len(codes)], -5, -8, 16, -8, 8, False)
    got = ops.conv3x3(x, w, b, -8, -8, -5, 8, True, "none", 0, shuffle=r, then=then, then_dtype=np.uint8)
    want = ops.anchor_add(ops.conv3x3(x, w, b, -8, -8, -5, 8, True), skip, -5, -8, 16, -8, 8, False)
    want = ops.pixel_shuffle(want, r) if r > 1 else want
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)
    assert sorted(seen)[1:] == [(y, 1) for y in range(H)]  # a probe row, then every row once
    with pytest.raises(ValueError, match="then="):
        ops.conv3x3(np.stack([x, x]), w, b, -8, -8, -5, 8, True, then=then, then_dtype=np.uint8)


def test_conv3x3_left_shift_and_batch():
    x = RNG.integers(0, 4, (2, 3, 4, 2)).astype(np.uint8)
    w = RNG.integers(-3, 4, (3, 2, 3, 3)).astype(np.int8)
    b = np.array([1, -2, 0], np.int32)
    got = ops.conv3x3(x, w, b, -2, -1, -5, 8, True, "relu")  # s = -2: exact left shift
    assert got.shape == (2, 3, 4, 3)
    for n in range(2):
        np.testing.assert_array_equal(got[n], ref_conv(x[n], w, b, -2, -1, -5, 8, True, "relu", 0))


def test_conv3x3_validation():
    x = np.zeros((4, 4, 3), np.uint8)
    w = np.zeros((2, 3, 3, 3), np.int8)
    b = np.zeros(2, np.int32)
    with pytest.raises(ValueError, match="channel mismatch"):
        ops.conv3x3(x, np.zeros((2, 4, 3, 3), np.int8), b, 0, 0, 0, 8, True)
    with pytest.raises(ValueError, match="integer"):
        ops.conv3x3(x.astype(np.float32), w, b, 0, 0, 0, 8, True)
    with pytest.raises(ValueError, match="OIHW"):
        ops.conv3x3(x, np.zeros((2, 3, 5, 5), np.int8), b, 0, 0, 0, 8, True)
    with pytest.raises(ValueError, match="bias"):
        ops.conv3x3(x, w, np.zeros(3, np.int32), 0, 0, 0, 8, True)
    with pytest.raises(ValueError, match="act"):
        ops.conv3x3(x, w, b, 0, 0, 0, 8, True, act="gelu")
    with pytest.raises(ValueError, match="H, W, C"):
        ops.conv3x3(np.zeros((4, 3), np.uint8), w, b, 0, 0, 0, 8, True)


# ---------------------------------------------------------------- elementwise
def test_add_relu_vs_reference():
    a = RNG.integers(-128, 128, (3, 5, 4)).astype(np.int8)
    c = RNG.integers(-128, 128, (3, 5, 4)).astype(np.int8)
    for s, bits, signed in ((0, 8, True), (1, 8, True), (2, 4, False), (-1, 8, True)):
        got = ops.add(a, c, -5, -5 + s, bits, signed)
        want = [ref_requant(int(p) + int(q), s, bits, signed) for p, q in zip(a.ravel(), c.ravel())]
        assert got.ravel().tolist() == want
        got = ops.relu(a, -5, -5 + s, bits, signed)
        assert got.ravel().tolist() == [ref_requant(max(int(p), 0), s, bits, signed) for p in a.ravel()]
    wide = RNG.integers(-(2**30), 2**30, (2, 3, 2)).astype(np.int32)
    got = ops.add(wide, wide, 0, 3, 32, True)
    assert got.ravel().tolist() == [ref_requant(2 * int(p), 3, 32, True) for p in wide.ravel()]
    with pytest.raises(ValueError, match="shapes differ"):
        ops.add(a, c[:2], 0, 0, 8, True)


# ---------------------------------------------------------------- rearrangements
@pytest.mark.parametrize("H,W,r,C", [(1, 1, 2, 1), (2, 3, 2, 2), (3, 1, 4, 3), (2, 2, 3, 2)])
def test_shuffles_vs_reference(H, W, r, C):
    x = RNG.integers(0, 256, (H, W, C * r * r)).astype(np.uint8)
    ps = ops.pixel_shuffle(x, r)
    d2s = ops.depth_to_space(x, r)
    assert ps.shape == d2s.shape == (H * r, W * r, C)
    for y in range(H):
        for xx in range(W):
            for i in range(r):
                for j in range(r):
                    for c in range(C):
                        assert ps[y * r + i, xx * r + j, c] == x[y, xx, c * r * r + i * r + j]
                        assert d2s[y * r + i, xx * r + j, c] == x[y, xx, (i * r + j) * C + c]
    hr = RNG.integers(0, 256, (H * r, W * r, C)).astype(np.uint8)
    s2d = ops.space_to_depth(hr, r)
    for y in range(H):
        for xx in range(W):
            for i in range(r):
                for j in range(r):
                    for c in range(C):
                        assert s2d[y, xx, (i * r + j) * C + c] == hr[y * r + i, xx * r + j, c]
    np.testing.assert_array_equal(ops.depth_to_space(s2d, r), hr)
    np.testing.assert_array_equal(ops.space_to_depth(d2s, r), x)
    # batch axis
    np.testing.assert_array_equal(ops.pixel_shuffle(np.stack([x, x]), r)[1], ps)


def test_shuffle_validation():
    with pytest.raises(ValueError, match="not divisible"):
        ops.pixel_shuffle(np.zeros((2, 2, 5), np.uint8), 2)
    with pytest.raises(ValueError, match="multiple"):
        ops.space_to_depth(np.zeros((5, 4, 3), np.uint8), 4)


def test_maxpool2_vs_reference():
    x = RNG.integers(-128, 128, (4, 6, 3)).astype(np.int8)
    got = ops.maxpool2(x)
    for y in range(2):
        for xx in range(3):
            for c in range(3):
                assert got[y, xx, c] == max(x[2 * y + i, 2 * xx + j, c] for i in (0, 1) for j in (0, 1))
    odd = RNG.integers(-128, 128, (5, 7, 2)).astype(np.int8)  # floor mode: last row/column dropped
    assert np.array_equal(ops.maxpool2(odd), ops.maxpool2(odd[:4, :6]))
    with pytest.raises(ValueError, match="at least 2x2"):
        ops.maxpool2(np.zeros((1, 4, 1), np.int8))


@pytest.mark.parametrize("H,W", [(1, 1), (1, 4), (3, 1), (3, 5)])
@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int16, np.int32])  # int32 sums / int64 sums
def test_upsample2x_vs_reference(H, W, dt):
    info = np.iinfo(dt)
    x = RNG.integers(info.min, int(info.max) + 1, (H, W, 2), dtype=np.int64).astype(dt)
    x.flat[0], x.flat[-1] = info.min, info.max
    got = ops.upsample2x(x)
    assert got.dtype == dt and got.shape == (2 * H, 2 * W, 2)
    np.testing.assert_array_equal(ops.upsample2x(np.stack([x, x])), np.stack([got, got]))

    def taps(o, n):  # output index -> [(input index, weight)], weights sum to 4
        i = o // 2
        return [(max(i - 1, 0), 1), (i, 3)] if o % 2 == 0 else [(i, 3), (min(i + 1, n - 1), 1)]

    for oy in range(2 * H):
        for ox in range(2 * W):
            for c in range(2):
                acc = sum(wy * wx * int(x[iy, ix, c]) for iy, wy in taps(oy, H) for ix, wx in taps(ox, W))
                assert got[oy, ox, c] == ref_rshift(acc, 4)


# ---------------------------------------------------------------- flow
def keys_taps(a=Fraction(-3, 4)):
    M = [[0, a, -2 * a, a], [1, 0, -(a + 3), a + 2], [0, -a, 2 * a + 3, -(a + 2)], [0, 0, a, -a]]
    rows = []
    for p in range(4):
        s = Fraction(p, 4)
        v = [1, s, s * s, s * s * s]
        rows.append([sum(M[k][j] * v[j] for j in range(4)) * 256 for k in range(4)])
    return rows


def bilinear_taps():
    """align_corners=False x4: source = (o + 1/2)/4 - 1/2 = i + (2p - 3)/8; taps on pad[i-1..i+2]."""
    rows = []
    for p in range(4):
        off = Fraction(2 * p - 3, 8)
        base = math.floor(off)  # -1 or 0 relative to i
        frac = off - base
        t = [Fraction(0)] * 4
        t[base + 1] += (1 - frac) * 256
        t[base + 2] += frac * 256
        rows.append(t)
    return rows


def test_flow_taps_match_formulas():
    for name, want in (("bicubic", keys_taps()), ("bilinear", bilinear_taps())):
        assert all(v.denominator == 1 for row in want for v in row)
        assert ops.FLOW_TAPS[name].tolist() == [[int(v) for v in row] for row in want]
        assert (ops.FLOW_TAPS[name].sum(axis=1) == 256).all()


@pytest.mark.parametrize("H,W", [(1, 1), (2, 3), (3, 1)])
@pytest.mark.parametrize("up", ["bicubic", "bilinear"])
def test_flow_upsample4_vs_reference(H, W, up):
    f = RNG.integers(-6000, 6000, (H, W, 2)).astype(np.int16)
    T = ops.FLOW_TAPS[up].tolist()
    got = ops.flow_upsample4(f, up, 8, 4)
    assert got.dtype == np.int16 and got.shape == (4 * H, 4 * W, 2)

    def pad(i, j, c):  # replicate pad 1 top/left, 2 bottom/right
        return int(f[min(max(i - 1, 0), H - 1), min(max(j - 1, 0), W - 1), c])

    for i in range(H):
        for j in range(W):
            for py in range(4):
                for px in range(4):
                    for c in range(2):
                        acc = sum(T[py][k] * T[px][m] * pad(i + k, j + m, c)
                                  for k in range(4) for m in range(4))
                        assert got[4 * i + py, 4 * j + px, c] == ref_requant(acc, 16 + 8 - 4 - 2, 16, True)


def test_flow_upsample4_constant_flow_scales_by_4():
    f = np.full((3, 4, 2), 256, np.int16)  # 1.0 LR px at lr_frac_bits 8
    for up in ops.FLOW_TAPS:
        got = ops.flow_upsample4(f, up, 8, 4)
        assert (got == 4 * 16).all()  # 4 HR px at hr_frac_bits 4


def test_tanh_lut():
    lut = ops.tanh_flow_lut(-5, 8, 24, 8)
    assert lut.dtype == np.int16 and lut.shape == (256,)
    for code in range(-128, 128):
        assert lut[code + 128] == round(24 * math.tanh(code * 2.0**-5) * 256)
    x = np.array([[[-128, 0]], [[5, 127]]], np.int8)
    np.testing.assert_array_equal(ops.tanh_flow(x, lut), lut[x.astype(int) + 128])
    assert ops.tanh_flow(np.zeros((1, 1, 2), np.int8), lut).tolist() == [[[0, 0]]]
    with pytest.raises(ValueError, match="int16"):
        ops.tanh_flow_lut(0, 8, 24, 12)


def test_flow_pad_reflect():
    f = RNG.integers(-100, 100, (8, 16, 2)).astype(np.int16)
    got = ops.flow_pad(f, 13, 20)
    for y in range(13):
        for x in range(20):
            sy = y if y < 8 else 2 * 7 - y
            sx = x if x < 16 else 2 * 15 - x
            assert (got[y, x] == f[sy, sx]).all()
    with pytest.raises(ValueError, match="smaller"):
        ops.flow_pad(f, 4, 16)


def ref_warp(img, flow, fb):
    H, W, C = img.shape
    F = 2**fb
    out = np.zeros_like(img)
    for y in range(H):
        for x in range(W):
            X = min(max(x * F + int(flow[y, x, 0]), 0), (W - 1) * F)
            Y = min(max(y * F + int(flow[y, x, 1]), 0), (H - 1) * F)
            x0, ax, y0, ay = X // F, X % F, Y // F, Y % F
            x1, y1 = min(x0 + 1, W - 1), min(y0 + 1, H - 1)
            for c in range(C):
                acc = ((F - ax) * (F - ay) * int(img[y0, x0, c]) + ax * (F - ay) * int(img[y0, x1, c])
                       + (F - ax) * ay * int(img[y1, x0, c]) + ax * ay * int(img[y1, x1, c]))
                out[y, x, c] = ref_rshift(acc, 2 * fb)
    return out


@pytest.mark.parametrize("H,W", [(1, 1), (1, 7), (6, 1), (5, 9)])
def test_warp_vs_reference(H, W):
    img = RNG.integers(0, 256, (H, W, 3)).astype(np.uint8)
    flow = RNG.integers(-60, 60, (H, W, 2)).astype(np.int16)
    np.testing.assert_array_equal(ops.warp(img, flow, 4), ref_warp(img, flow, 4))


def test_warp_zero_flow_identity_and_integer_shift():
    img = RNG.integers(0, 256, (7, 9, 3)).astype(np.uint8)
    np.testing.assert_array_equal(ops.warp(img, np.zeros((7, 9, 2), np.int16), 4), img)
    flow = np.zeros((7, 9, 2), np.int16)
    flow[..., 0] = 2 * 16  # sample 2 px to the right, border clamped
    want = img[:, np.minimum(np.arange(9) + 2, 8)]
    np.testing.assert_array_equal(ops.warp(img, flow, 4), want)
    with pytest.raises(ValueError, match="sizes differ"):
        ops.warp(img, np.zeros((7, 8, 2), np.int16), 4)
    with pytest.raises(ValueError, match="uint8"):
        ops.warp(img.astype(np.int16), flow, 4)


@pytest.mark.parametrize("big_bias", [0, 2**30, 2**55])  # float32, float64, int64 paths
@pytest.mark.parametrize("act", ["none", "leaky"])
def test_conv3x3_exact_ties(big_bias, act):
    k = np.arange(-40, 41)
    w = np.zeros((k.size, 1, 3, 3), np.int64)
    w[:, 0, 1, 1] = k
    b = np.zeros(k.size, np.int64)
    b[0] = big_bias
    x = np.ones((1, 1, 1), np.uint8)
    for s in (1, 2, 3):
        got = ops.conv3x3(x, w, b, 0, 0, s, 62, True, act, 1)[0, 0]
        accs = [int(a) + int(c) for a, c in zip(k, b)]
        want = [ref_rshift(a, s + 1 if (act == "leaky" and a < 0) else s) for a in accs]
        assert got.tolist() == want


def test_wide_outputs_left_shift_saturate():
    x = np.ones((1, 1, 1), np.uint8)
    w = np.full((9, 1, 3, 3), 0, np.int8)
    w[:, 0, 1, 1] = np.arange(-4, 5) * 30
    b = np.zeros(9, np.int32)
    got = ops.conv3x3(x, w, b, 0, 0, -25, 32, True)[0, 0]  # s = -25: values up to 120 * 2**25
    want = [ref_requant(int(v), -25, 32, True) for v in w[:, 0, 1, 1]]
    assert got.dtype == np.int32 and got.tolist() == want
    a = np.array([[[100, -100, 3]]], np.int16)
    assert ops.add(a, a, 0, -24, 32, True).ravel().tolist() == [ref_requant(2 * int(v), -24, 32, True) for v in a.ravel()]


@pytest.mark.parametrize("fb", [0, 1, 4, 8, 13])  # uint16 / uint32 / uint64 internal paths
def test_warp_frac_bits(fb):
    img = RNG.integers(0, 256, (6, 8, 3)).astype(np.uint8)
    flow = RNG.integers(-3 * 2**fb, 3 * 2**fb + 1, (6, 8, 2)).astype(np.int64)
    np.testing.assert_array_equal(ops.warp(img, flow, fb), ref_warp(img, flow, fb))
    assert ops.warp(np.full((2, 2, 1), 255, np.uint8), flow[:2, :2], fb).min() == 255


@pytest.mark.parametrize("a_dt,a_exp,b_dt,b_exp", [
    (np.int8, -7, np.uint8, -8),     # 8-bit codes, 1-bit shift: int32
    (np.int16, 0, np.int16, -14),    # 16 + 14 bits = 30: the last int32 case
    (np.int16, 0, np.int16, -15),    # 16 + 15 bits: int64
    (np.int32, -3, np.int8, -5),     # 32-bit codes: int64
    (np.uint64, -2, np.int8, -2),    # no shift, 64-bit unsigned codes
])
def test_aligned_sum_exact_at_the_int32_edge(a_dt, a_exp, b_dt, b_exp):
    """`aligned_sum` against Python integers at the extremes of both codes, where the
    int32/int64 choice and the shift would overflow if chosen wrongly."""
    def extremes(dt):
        i = np.iinfo(dt)
        return np.array([i.min, i.min + 1, -1 if i.min < 0 else 0, 1, i.max - 1, i.max], dtype=dt)
    a = np.repeat(extremes(a_dt), 6)[:, None]          # every pair of extremes
    b = np.tile(extremes(b_dt), 6)[:, None]
    if a_dt == np.uint64:
        a = (a >> 2).astype(np.uint64)                     # sums must fit int64 to be representable
    s, e = ops.aligned_sum(a, a_exp, b, b_exp)
    assert e == min(a_exp, b_exp)
    want = [int(x) * 2 ** (a_exp - e) + int(y) * 2 ** (b_exp - e) for x, y in zip(a[:, 0], b[:, 0])]
    assert [int(v) for v in s[:, 0]] == want
    # the anchor's broadcast: b of one channel added to every channel of a
    s2, _ = ops.aligned_sum(np.concatenate([a, a], 1), a_exp, b, b_exp)
    assert [int(v) for v in s2[:, 1]] == want


def test_conv3x3_small_images_run_as_one_strip(monkeypatch):
    """Below `_MIN_PARALLEL_PIXELS` a conv is one strip on the calling thread (the pool costs
    more than it saves); the codes are the same either way."""
    from egvsr.golden import conv
    x = RNG.integers(0, 256, (20, 30, 8)).astype(np.uint8)
    w = RNG.integers(-127, 128, (16, 8, 3, 3)).astype(np.int8)
    b = RNG.integers(-999, 999, 16).astype(np.int32)
    strips = []

    def spy(fn, starts):
        strips.append(list(starts))
        for s in strips[-1]:
            fn(s)
    monkeypatch.setattr(conv, "map_strips", spy)
    monkeypatch.setattr(conv, "_STRIP_BYTES", 1)
    one = ops.conv3x3(x, w, b, -8, -8, -6, 8, False, "leaky", 3)
    assert strips == [[0]]
    monkeypatch.setattr(conv, "_MIN_PARALLEL_PIXELS", 0)
    many = ops.conv3x3(x, w, b, -8, -8, -6, 8, False, "leaky", 3)
    assert len(strips[-1]) > 1
    np.testing.assert_array_equal(one, many)


@pytest.mark.parametrize("dt", [np.int16, np.uint16, np.int32, np.uint32, np.int64])
@pytest.mark.parametrize("s", [1, 4, 9])
def test_rshift_rne_inplace_matches_rshift_rne(dt, s):
    """The narrow in-place form (upsample2x, flow_upsample4, warp) rounds as rshift_rne does,
    halves and negative values included, and keeps the dtype."""
    from egvsr.golden.fixed import rshift_rne, rshift_rne_inplace
    info = np.iinfo(dt)
    lo, hi = max(int(info.min), -(1 << 14)), min(int(info.max), 1 << 14) - (1 << (s - 1))
    v = np.concatenate([RNG.integers(lo, hi, 500), np.arange(lo, lo + 64), (np.arange(-8, 8) << s) + (1 << (s - 1))])
    v = v[(v >= lo) & (v <= hi)].astype(dt)
    want = rshift_rne(v, s)
    got = rshift_rne_inplace(v.copy(), s)
    assert got.dtype == dt
    np.testing.assert_array_equal(got.astype(np.int64), want)
