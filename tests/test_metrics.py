"""PSNR / SSIM on Y against scikit-image; tOF sanity."""

import numpy as np
import pytest

from egvsr.model import metrics


def _images(seed=0, h=48, w=60):
    skdata = pytest.importorskip("skimage.data")
    rng = np.random.default_rng(seed)
    gt = skdata.astronaut()[100:100 + h, 150:150 + w]
    noisy = np.clip(gt.astype(int) + rng.integers(-20, 21, gt.shape), 0, 255).astype(np.uint8)
    return noisy, gt


def test_rgb_to_y_matches_matlab_definition():
    color = pytest.importorskip("skimage.color")
    assert metrics.rgb_to_y(np.zeros(3, np.uint8)) == pytest.approx(16)
    assert metrics.rgb_to_y(np.full(3, 255, np.uint8)) == pytest.approx(235)
    img = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_allclose(metrics.rgb_to_y(img), color.rgb2ycbcr(img)[..., 0], atol=1e-9)
    np.testing.assert_allclose(metrics.rgb_to_y(img), metrics.rgb_to_y(img / 255.0), atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_psnr_y_vs_skimage(seed):
    skm = pytest.importorskip("skimage.metrics")
    sr, gt = _images(seed)
    b = 4
    y_sr, y_gt = metrics.rgb_to_y(sr)[b:-b, b:-b], metrics.rgb_to_y(gt)[b:-b, b:-b]
    ref = skm.peak_signal_noise_ratio(y_gt, y_sr, data_range=255)
    assert metrics.psnr_y(sr, gt, border=b) == pytest.approx(ref, abs=1e-9)
    assert metrics.psnr_y(gt, gt) == float("inf")


@pytest.mark.parametrize("seed,border", [(0, 4), (1, 0)])
def test_ssim_y_vs_skimage(seed, border):
    skm = pytest.importorskip("skimage.metrics")
    sr, gt = _images(seed)
    y_sr, y_gt = metrics.rgb_to_y(sr), metrics.rgb_to_y(gt)
    if border:
        y_sr, y_gt = y_sr[border:-border, border:-border], y_gt[border:-border, border:-border]
    ref = skm.structural_similarity(y_gt, y_sr, data_range=255, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False)
    got = metrics.ssim_y(sr, gt, border=border)
    assert got == pytest.approx(ref, abs=1e-6)
    assert 0 < got < 1
    assert metrics.ssim_y(gt, gt) == pytest.approx(1.0)


def test_float_and_uint8_agree():
    sr, gt = _images()
    assert metrics.psnr_y(sr / 255.0, gt / 255.0) == pytest.approx(metrics.psnr_y(sr, gt))
    assert metrics.ssim_y(sr / 255.0, gt) == pytest.approx(metrics.ssim_y(sr, gt))


def test_clip_metrics():
    sr, gt = _images()
    sr2, _ = _images(seed=5)
    res = metrics.clip_metrics(np.stack([sr, sr2]), np.stack([gt, gt]), border=4)
    assert len(res["per_frame"]) == 2
    assert res["per_frame"][0]["psnr_y"] == pytest.approx(metrics.psnr_y(sr, gt))
    assert res["psnr_y"] == pytest.approx(np.mean([p["psnr_y"] for p in res["per_frame"]]))
    assert res["ssim_y"] == pytest.approx(np.mean([p["ssim_y"] for p in res["per_frame"]]))
    with pytest.raises(ValueError, match="mismatch"):
        metrics.clip_metrics(np.stack([sr]), np.stack([gt, gt]))


def test_shape_errors():
    sr, gt = _images()
    with pytest.raises(ValueError, match="mismatch"):
        metrics.psnr_y(sr[:-1], gt)
    with pytest.raises(ValueError, match="border"):
        metrics.psnr_y(sr[:8, :8], gt[:8, :8], border=4)


def _moving_clip(n=3, size=64, speed=2):
    skdata = pytest.importorskip("skimage.data")
    img = skdata.chelsea()
    return np.stack([img[50:50 + size, 80 + speed * t:80 + speed * t + size] for t in range(n)])


def test_tof_identical_is_zero_and_degraded_is_positive():
    pytest.importorskip("skimage.registration")
    gt = _moving_clip()
    assert metrics.tof(gt, gt) == pytest.approx(0.0, abs=1e-9)
    # a temporally inconsistent output (frame-wise different noise) scores worse
    rng = np.random.default_rng(0)
    noisy = np.clip(gt.astype(int) + rng.integers(-40, 41, gt.shape), 0, 255).astype(np.uint8)
    static = np.repeat(gt[:1], len(gt), axis=0)  # no motion at all
    v_noisy, per = metrics.tof(noisy, gt, per_frame=True)
    assert len(per) == 2 and v_noisy > 0
    assert metrics.tof(static, gt) > 1.0  # misses the 2 px/frame motion


def test_tof_errors():
    gt = _moving_clip(n=2)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.tof(gt[:1], gt[:1])
    with pytest.raises(ValueError, match="method"):
        metrics.tof(gt, gt, method="farneback")


def test_numpy_modules_do_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, egvsr.model.metrics, egvsr.model.degrade, egvsr.model.video; "
            "bad = [m for m in ('torch', 'av', 'skimage') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
