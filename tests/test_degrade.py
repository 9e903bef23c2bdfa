"""BD / BI degradations and the bicubic baseline upscaler."""

import numpy as np
import pytest

from egvsr.model import degrade


def test_gaussian_kernel():
    k = degrade.gaussian_kernel(1.5)
    assert k.shape == (9, 9)
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(k, k.T)
    assert k.argmax() == 40  # centre
    assert degrade.gaussian_kernel(1.0).shape == (7, 7)
    assert degrade.gaussian_kernel(0.5).shape == (3, 3)


@pytest.mark.parametrize("H,W", [(128 + 5, 128 + 5), (144, 176), (37, 50)])
def test_bd_shapes(H, W):
    gt = np.random.default_rng(0).random((2, H, W, 3), dtype=np.float32)
    lr, gtc = degrade.bd_degrade(gt)
    h, w = (H - 9) // 4 + 1, (W - 9) // 4 + 1
    assert lr.shape == (2, h, w, 3) and gtc.shape == (2, 4 * h, 4 * w, 3)
    assert lr.dtype == np.float32 and gtc.dtype == np.float32
    np.testing.assert_array_equal(gtc, gt[:, 4:4 + 4 * h, 4:4 + 4 * w])
    assert degrade.bd_lr_size(H) == h
    # single frame form
    lr1, gtc1 = degrade.bd_degrade(gt[0])
    np.testing.assert_allclose(lr1, lr[0], atol=1e-7)
    assert gtc1.shape == gtc.shape[1:]


def test_bd_gt_size_inverse():
    for s in (1, 8, 32, 33):
        assert degrade.bd_lr_size(degrade.bd_gt_size(s)) == s
    assert degrade.bd_gt_size(32) == 133


def test_bd_constant_stays_constant():
    gt = np.full((41, 45, 3), 0.37, np.float32)
    lr, _ = degrade.bd_degrade(gt)
    np.testing.assert_allclose(lr, 0.37, atol=1e-6)


@pytest.mark.parametrize("dy,dx", [(0, 0), (1, 3), (2, 1), (3, 2)])
def test_bd_impulse_gives_kernel(dy, dx):
    # impulse at (16+dy, 16+dx): LR[i, j] = K[16+dy-4i, 16+dx-4j]
    gt = np.zeros((41, 41, 1), np.float32)
    gt[16 + dy, 16 + dx] = 1.0
    lr, _ = degrade.bd_degrade(gt)
    k = degrade.gaussian_kernel(1.5)
    got = lr[4:1:-1, 4:1:-1, 0]
    want = k[dy::4, dx::4]
    np.testing.assert_allclose(got[:want.shape[0], :want.shape[1]], want, atol=1e-7)
    assert lr.sum() == pytest.approx(want.sum(), abs=1e-6)


def test_bd_matches_torch_strided_conv():
    torch = pytest.importorskip("torch")
    gt = np.random.default_rng(1).random((30, 47, 3), dtype=np.float32)
    lr, _ = degrade.bd_degrade(gt)
    k = torch.from_numpy(degrade.gaussian_kernel(1.5).astype(np.float32))[None, None]
    x = torch.from_numpy(gt).permute(2, 0, 1)[:, None]
    ref = torch.nn.functional.conv2d(x, k, stride=4)[:, 0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(lr, ref, atol=1e-6)


def test_bd_uint8_input():
    gt = np.random.default_rng(2).integers(0, 256, (21, 21, 3), dtype=np.uint8)
    lr_u, _ = degrade.bd_degrade(gt)
    lr_f, _ = degrade.bd_degrade(gt.astype(np.float32) / 255)
    np.testing.assert_allclose(lr_u, lr_f, atol=1e-7)


def test_to_uint8():
    x = np.array([-0.1, 0.0, 0.5 / 255, 1.5 / 255, 0.5, 1.0, 1.2])
    np.testing.assert_array_equal(degrade.to_uint8(x), [0, 0, 0, 2, 128, 255, 255])


def test_bi_shapes_constant_and_ramp():
    gt = np.full((2, 50, 63, 3), 0.6, np.float32)
    lr, gtc = degrade.bi_degrade(gt)
    assert lr.shape == (2, 12, 15, 3) and gtc.shape == (2, 48, 60, 3)
    np.testing.assert_allclose(lr, 0.6, atol=1e-6)
    # a linear ramp is reproduced exactly (symmetric weights) away from edges:
    # LR pixel j is the mean position 4j + 1.5 of its 4x4 block
    ramp = np.broadcast_to(np.arange(64, dtype=np.float32)[None, :, None] / 64, (64, 64, 3))
    lr, _ = degrade.bi_degrade(ramp)
    want = (4 * np.arange(16) + 1.5) / 64
    np.testing.assert_allclose(lr[5, 2:-2, 0], want[2:-2], atol=1e-6)


def test_bi_matches_pil_antialiased_bicubic_interior():
    # PIL's BICUBIC reduce is the same antialiased Keys(a=-0.5) filter; it
    # differs only at the borders (PIL truncates the kernel, MATLAB mirrors).
    Image = pytest.importorskip("PIL.Image")
    img = np.random.default_rng(3).random((64, 80), dtype=np.float32)
    lr, _ = degrade.bi_degrade(img[:, :, None])
    ref = np.asarray(Image.fromarray(img, mode="F").resize((20, 16), Image.BICUBIC))
    np.testing.assert_allclose(lr[2:-2, 2:-2, 0], ref[2:-2, 2:-2], atol=1e-5)


def test_bi_antialias_smooths_aliasing():
    # a checkerboard at the Nyquist rate averages out to grey
    cb = (np.indices((64, 64)).sum(0) % 2).astype(np.float32)[:, :, None]
    lr, _ = degrade.bi_degrade(cb)
    np.testing.assert_allclose(lr, 0.5, atol=0.02)


@pytest.mark.parametrize("shape", [(7, 9, 3), (2, 12, 5, 3), (1, 1, 2)])
def test_bicubic_upscale_matches_torch(shape):
    torch = pytest.importorskip("torch")
    lr = np.random.default_rng(4).random(shape, dtype=np.float32)
    up = degrade.bicubic_upscale(lr, 4)
    x = torch.from_numpy(lr if lr.ndim == 4 else lr[None]).permute(0, 3, 1, 2)
    ref = torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
    ref = ref.permute(0, 2, 3, 1).numpy()
    if lr.ndim == 3:
        ref = ref[0]
    assert up.shape == ref.shape and up.dtype == np.float32
    np.testing.assert_allclose(up, ref, atol=1e-5)


def test_bicubic_upscale_scale2_matches_torch():
    torch = pytest.importorskip("torch")
    lr = np.random.default_rng(5).random((10, 6, 3), dtype=np.float32)
    x = torch.from_numpy(lr).permute(2, 0, 1)[None]
    ref = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    np.testing.assert_allclose(degrade.bicubic_upscale(lr, 2), ref[0].permute(1, 2, 0).numpy(), atol=1e-5)


def test_bad_shapes():
    with pytest.raises(ValueError):
        degrade.bd_degrade(np.zeros((8, 8, 3), np.float32))  # smaller than the kernel
    with pytest.raises(ValueError):
        degrade.bicubic_upscale(np.zeros((8, 8), np.float32))


def test_bicubic_bd_alignment_matches_egvsr_tap_table():
    # REFERENCE: phase p taps = M @ [1, s, s^2, s^3], s = p/4, a = -0.75, on the
    # input replicate-padded by 1 (left) and 2 (right); in 1/256 units
    # p0 (0,256,0,0), p1 (-27,225,67,-9), p2 (-24,152,152,-24), p3 (-9,67,225,-27)
    a = -0.75
    M = np.array([[0, a, -2 * a, a], [1, 0, -(a + 3), a + 2],
                  [0, -a, 2 * a + 3, -(a + 2)], [0, 0, a, -a]])
    taps = np.array([M @ np.array([1, s, s * s, s ** 3]) for s in (0, .25, .5, .75)])
    np.testing.assert_allclose(np.round(taps * 256),
                               [[0, 256, 0, 0], [-27, 225, 67, -9], [-24, 152, 152, -24], [-9, 67, 225, -27]])
    x = np.random.default_rng(6).random(11)
    pad = np.concatenate([x[:1], x, x[-1:], x[-1:]])
    want = np.array([taps[p] @ pad[i:i + 4] for i in range(11) for p in range(4)])
    img = np.broadcast_to(x[None, :, None], (3, 11, 1)).astype(np.float32)
    got = degrade.bicubic_upscale(img, 4, align="bd")[5, :, 0]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_bicubic_bd_alignment_beats_torch_alignment_on_bd_data():
    skdata = pytest.importorskip("skimage.data")
    from egvsr.model import metrics

    gt = skdata.astronaut()[100:261, 100:261]
    lr, gtc = degrade.bd_degrade(gt)
    p_bd = metrics.psnr_y(degrade.to_uint8(degrade.bicubic_upscale(lr, align="bd")), degrade.to_uint8(gtc))
    p_torch = metrics.psnr_y(degrade.to_uint8(degrade.bicubic_upscale(lr)), degrade.to_uint8(gtc))
    assert p_bd > p_torch + 1.0
    with pytest.raises(ValueError, match="align"):
        degrade.bicubic_upscale(lr, align="centre")
