"""Float EGVSR: published layout, ops, odd sizes, training signal."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from egvsr.model.checkpoint import CheckpointError, load_into, load_model, save_checkpoint
from egvsr.model.egvsr import EGVSR, temporal_pad_indices
from egvsr.model.presets import PRESETS, get_preset
from egvsr.model.warp import BicubicUpsample, backward_warp, depth_to_space, keys_taps, space_to_depth

# Names and shapes of the published EGVSR generator (REFERENCE.md section 1).
PUBLISHED = {
    "upsample_func.kernels": (4, 4), "srnet.upsample_func.kernels": (4, 4),
    "srnet.conv_in.0.weight": (64, 51, 3, 3), "srnet.conv_in.0.bias": (64,),
    "srnet.conv_up.0.weight": (64, 64, 3, 3), "srnet.conv_up.0.bias": (64,),
    "srnet.conv_up.2.weight": (64, 64, 3, 3), "srnet.conv_up.2.bias": (64,),
    "srnet.conv_out.weight": (3, 4, 3, 3), "srnet.conv_out.bias": (3,),
    "fnet.flow.0.weight": (32, 64, 3, 3), "fnet.flow.0.bias": (32,),
    "fnet.flow.2.weight": (2, 32, 3, 3), "fnet.flow.2.bias": (2,),
}
for i, (name, cin, cout) in enumerate([("encoder1", 6, 32), ("encoder2", 32, 64), ("encoder3", 64, 128),
                                        ("decoder1", 128, 256), ("decoder2", 256, 128), ("decoder3", 128, 64)]):
    PUBLISHED[f"fnet.{name}.0.weight"] = (cout, cin, 3, 3)
    PUBLISHED[f"fnet.{name}.0.bias"] = (cout,)
    PUBLISHED[f"fnet.{name}.2.weight"] = (cout, cout, 3, 3)
    PUBLISHED[f"fnet.{name}.2.bias"] = (cout,)
for b in range(10):
    for j in (0, 2):
        PUBLISHED[f"srnet.resblocks.{b}.conv.{j}.weight"] = (64, 64, 3, 3)
        PUBLISHED[f"srnet.resblocks.{b}.conv.{j}.bias"] = (64,)


def published_state_dict(seed=0):
    g = torch.Generator().manual_seed(seed)
    sd = {k: torch.randn(s, generator=g) * 0.05 for k, s in PUBLISHED.items()}
    sd["upsample_func.kernels"] = keys_taps()
    sd["srnet.upsample_func.kernels"] = keys_taps()
    return sd


def test_published_layout_is_exact():
    sd = EGVSR("paper").state_dict()
    assert len(PUBLISHED) == 78
    assert {k: tuple(v.shape) for k, v in sd.items()} == PUBLISHED


@pytest.mark.parametrize("wrap", [None, "state_dict", "generator"])
def test_published_checkpoint_loads_strictly(tmp_path, wrap):
    sd = published_state_dict()
    path = tmp_path / "egvsr.pth"
    torch.save(sd if wrap is None else {wrap: sd}, path)
    model = load_model(path, preset="paper")
    for k, v in model.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_raw_checkpoint_needs_preset(tmp_path):
    path = tmp_path / "raw.pth"
    torch.save(published_state_dict(), path)
    with pytest.raises(CheckpointError, match="--preset"):
        load_model(path)


def test_wrong_shape_names_first_mismatching_key(tmp_path):
    path = tmp_path / "raw.pth"
    torch.save(published_state_dict(), path)
    with pytest.raises(CheckpointError, match=r"fnet\.encoder1\.0\.weight.*\(32, 6, 3, 3\).*\(8, 6, 3, 3\)"):
        load_model(path, preset="tiny")


def test_conv_up_is_optional_and_ignored():
    sd = published_state_dict()
    small = {k: v for k, v in sd.items() if "conv_up" not in k}
    load_into(EGVSR("paper"), small)  # missing conv_up accepted
    tiny = EGVSR("tiny")
    tsd = dict(tiny.state_dict())
    tsd["srnet.conv_up.0.weight"] = torch.zeros(64, 64, 3, 3)  # extra conv_up ignored
    load_into(tiny, tsd)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.pth"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_model(path, preset="tiny")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pth", preset="tiny")


def test_own_checkpoint_roundtrip_records_preset(tmp_path):
    m = EGVSR("tiny")
    save_checkpoint(tmp_path / "t.pth", m, meta={"note": "x"})
    m2 = load_model(tmp_path / "t.pth")
    assert m2.preset == get_preset("tiny")
    for (k, a), b in zip(m.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k


def test_zero_flow_warp_is_identity():
    x = torch.rand(2, 3, 13, 17)
    assert torch.allclose(backward_warp(x, torch.zeros(2, 2, 13, 17)), x, atol=1e-6)


def test_integer_flow_warp_shifts():
    x = torch.rand(1, 3, 10, 12)
    flow = torch.zeros(1, 2, 10, 12)
    flow[:, 0] = 2.0  # sample two pixels to the right
    y = backward_warp(x, flow)
    assert torch.allclose(y[..., :-2], x[..., 2:], atol=1e-5)
    assert torch.allclose(y[..., -2:], x[..., -1:].expand(-1, -1, -1, 2), atol=1e-5)  # border


def test_space_to_depth_inverts_and_matches_pixel_unshuffle():
    x = torch.rand(2, 3, 16, 24)
    d = space_to_depth(x, 4)
    assert d.shape == (2, 48, 4, 6)
    assert torch.equal(depth_to_space(d, 4), x)
    # TF order (DCR) is PixelUnshuffle (CRD) with the channel index permuted.
    u = F.pixel_unshuffle(x, 4)
    perm = [(k % 3) * 16 + k // 3 for k in range(48)]
    assert torch.equal(d, u[:, perm])
    assert torch.equal(F.pixel_shuffle(u, 4), x)


def test_bicubic_taps_and_constant_flow():
    k = keys_taps()
    assert torch.allclose(k.sum(1), torch.ones(4))
    assert torch.allclose(k * 256, torch.tensor([[0, 256, 0, 0], [-27, 225, 67, -9],
                                                 [-24, 152, 152, -24], [-9, 67, 225, -27]], dtype=torch.float32))
    up = BicubicUpsample()
    c = torch.full((1, 2, 5, 7), 1.5)
    assert torch.allclose(up(c), torch.full((1, 2, 20, 28), 1.5))
    # phase 0 reproduces the input samples
    x = torch.rand(1, 1, 6, 5)
    assert torch.allclose(up(x)[..., ::4, ::4], x, atol=1e-6)


@pytest.mark.parametrize("h,w", [(8, 8), (13, 21), (17, 9)])
def test_odd_frame_sizes(h, w):
    m = EGVSR("tiny").eval()
    with torch.no_grad():
        hr, flow = m.step(torch.rand(1, 3, h, w), torch.rand(1, 3, h, w), torch.rand(1, 3, 4 * h, 4 * w), return_flow=True)
    assert hr.shape == (1, 3, 4 * h, 4 * w) and flow.shape == (1, 2, h, w)
    if h % 8:  # reflect padding of the bottom rows
        h8 = h // 8 * 8
        assert torch.equal(flow[..., h8, :], flow[..., h8 - 2, :])


def test_too_small_frame_is_refused():
    m = EGVSR("tiny")
    with pytest.raises(ValueError, match="too small"):
        m.step(torch.rand(1, 3, 7, 12), torch.rand(1, 3, 7, 12), torch.rand(1, 3, 28, 48))


def test_sequence_inference_with_temporal_padding():
    assert temporal_pad_indices(8, 5) == ([5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7], 5)
    assert temporal_pad_indices(3, 5) == ([2, 1, 0, 1, 2], 2)
    m = EGVSR("tiny").eval()
    frames = [np.random.default_rng(i).integers(0, 256, (12, 16, 3), dtype=np.uint8) for i in range(3)]
    out = list(m.infer_frames(frames))
    assert len(out) == 3 and out[0].shape == (48, 64, 3) and out[0].dtype == np.uint8


def test_presets_and_cheap_tail_width():
    assert PRESETS["paper"].nf == 64 and PRESETS["paper"].nb == 10
    assert EGVSR("tiny-cheap").srnet.conv_out.weight.shape == (3, 1, 3, 3)  # nf 16 leaves one HR channel
    assert EGVSR("tiny").srnet.conv_sub.weight.shape == (48, 16, 3, 3)
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("huge")


def test_training_steps_lower_the_loss():
    from egvsr.model.train import sequence_loss
    torch.manual_seed(0)
    m = EGVSR("tiny")
    # a smooth moving pattern, 4 frames, LR 16x16
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    gt = torch.stack([torch.stack([0.5 + 0.4 * torch.sin((xx + 2 * t) / 5 + c) * torch.cos(yy / 7)
                                   for c in range(3)]) for t in range(4)])[None]
    lr = F.avg_pool2d(gt.view(4, 3, 64, 64), 4).view(1, 4, 3, 16, 16)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss, _ = sequence_loss(m, lr, gt, 1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_fnet_sees_the_whole_frame_like_the_published_code():
    """FNet runs on the full frame (floor-mode pools), not on a multiple-of-8 crop."""
    torch.manual_seed(0)
    m = EGVSR("tiny").eval()
    a, b = torch.rand(1, 3, 13, 21), torch.rand(1, 3, 13, 21)
    b2 = b.clone()
    b2[..., 8:, 16:] = 0.0  # only pixels outside the 8x16 crop change
    with torch.no_grad():
        assert not torch.equal(m.lr_flow(a, b), m.lr_flow(a, b2))


def test_qat_checkpoint_on_float_backend_is_a_clear_error():
    from egvsr.model.pretrained import DEFAULT_QAT
    with pytest.raises(CheckpointError, match="--backend brevitas"):
        load_model(DEFAULT_QAT, preset="tiny")
