"""Growing a smaller preset's checkpoint into a larger preset (`egvsr train --init`)."""
import pytest
import torch

from egvsr.model.checkpoint import load_into
from egvsr.model.egvsr import EGVSR
from egvsr.model.grow import grow_state_dict, needs_growth
from egvsr.model.presets import get_preset
from egvsr.model.train_cli import _grow_init


def _trained_like(preset, seed=0):
    """A model whose every weight and bias is non-zero (as after training)."""
    torch.manual_seed(seed)
    m = EGVSR(get_preset(preset))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return m.eval()


def _run(model, seq):
    with torch.no_grad():
        out = model.forward_sequence(seq)
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("small,big", [("tiny", "small"), ("tiny-anchor", "small-anchor")])
def test_grown_model_computes_the_same_output(small, big):
    old = _trained_like(small)
    torch.manual_seed(1)
    new = EGVSR(get_preset(big)).eval()
    before = _run(new, torch.rand(1, 3, 3, 24, 32))
    load_into(new, grow_state_dict(old.state_dict(), old.preset, new))
    seq = torch.rand(1, 4, 3, 24, 32, generator=torch.Generator().manual_seed(2))
    want, got = _run(old, seq), _run(new, seq)
    assert torch.allclose(got, want, atol=1e-5), float((got - want).abs().max())
    assert not torch.allclose(before[:, :1], want[:, :1], atol=1e-3)  # the random big model differs
    # the old weights sit at the same indices; the extra blocks start as the identity
    sd = new.state_dict()
    assert torch.equal(sd["srnet.conv_in.0.weight"][:16], old.state_dict()["srnet.conv_in.0.weight"])
    assert not sd["srnet.resblocks.3.conv.2.weight"].any() and sd["srnet.resblocks.3.conv.0.weight"].any()
    assert not sd["fnet.encoder2.0.weight"][:16, 8:].any()


def test_the_zero_weights_of_a_grown_model_still_learn():
    old = _trained_like("tiny-anchor")
    new = EGVSR(get_preset("small-anchor"))
    load_into(new, grow_state_dict(old.state_dict(), old.preset, new))
    new.train()
    out = new.forward_sequence(torch.rand(1, 2, 3, 16, 16))
    (out[0] if isinstance(out, tuple) else out).square().mean().backward()
    w = dict(new.named_parameters())
    # new trunk channels into the old head, and the last conv of an appended (identity) block
    assert w["srnet.conv_sub.weight"].grad[:, 16:].abs().sum() > 0
    assert w["srnet.resblocks.3.conv.2.weight"].grad.abs().sum() > 0
    assert w["fnet.flow.2.weight"].grad[:, 8:].abs().sum() > 0


@pytest.mark.parametrize("small,big,match", [
    ("small", "tiny", "target is smaller"),
    ("tiny", "small-anchor", "skip differs"),
    ("tiny-cheap", "small-cheap", "espcn tail"),
])
def test_growth_that_cannot_keep_the_output_is_refused(small, big, match):
    old = EGVSR(get_preset(small))
    with pytest.raises(ValueError, match=match):
        grow_state_dict(old.state_dict(), old.preset, EGVSR(get_preset(big)))


def test_a_checkpoint_of_another_preset_is_named():
    old = EGVSR(get_preset("tiny"))
    sd = {k: v for k, v in old.state_dict().items() if not k.startswith("srnet.resblocks.1.")}
    with pytest.raises(KeyError, match="srnet.resblocks.1"):
        grow_state_dict(sd, get_preset("tiny"), EGVSR(get_preset("small")))


def test_train_init_grows_only_where_the_sizes_differ():
    tiny = get_preset("tiny")
    assert not needs_growth(tiny, get_preset("tiny-anchor")) and needs_growth(tiny, get_preset("small"))
    old = _trained_like("tiny")
    sd = old.state_dict()
    same = EGVSR(get_preset("tiny"))
    assert _grow_init(sd, tiny.to_dict(), same, "x.pth") is sd
    assert _grow_init(sd, None, EGVSR(get_preset("small")), "x.pth") is sd  # raw state dict: loaded as is
    grown = _grow_init(sd, tiny.to_dict(), EGVSR(get_preset("small")), "x.pth")
    assert grown["srnet.conv_in.0.weight"].shape[0] == 32 and "srnet.resblocks.3.conv.0.weight" in grown


def test_freeze_grown_moves_only_what_growth_added():
    from egvsr.model.grow import freeze_grown
    old = _trained_like("tiny-anchor")
    new = EGVSR(get_preset("small-anchor"))
    load_into(new, grow_state_dict(old.state_dict(), old.preset, new))
    n = freeze_grown(new, old.state_dict())
    assert n == sum(p.numel() for p in old.parameters())
    before = {k: v.clone() for k, v in new.state_dict().items()}
    opt = torch.optim.Adam(new.parameters(), lr=1e-2)
    new.train()
    for _ in range(2):
        opt.zero_grad()
        out = new.forward_sequence(torch.rand(1, 2, 3, 16, 16))
        (out[0] if isinstance(out, tuple) else out).square().mean().backward()
        opt.step()
    after = new.state_dict()
    w0, w1 = before["srnet.conv_sub.weight"], after["srnet.conv_sub.weight"]
    assert torch.equal(w1[:, :16], w0[:, :16]) and not torch.equal(w1[:, 16:], w0[:, 16:])
    assert torch.equal(after["fnet.flow.2.bias"], before["fnet.flow.2.bias"])
    assert not torch.equal(after["srnet.resblocks.2.conv.0.weight"], before["srnet.resblocks.2.conv.0.weight"])
    w0, w1 = before["srnet.resblocks.0.conv.0.weight"], after["srnet.resblocks.0.conv.0.weight"]
    assert torch.equal(w1[:16, :16], w0[:16, :16]) and not torch.equal(w1[16:], w0[16:])


def test_freeze_grown_needs_a_grown_init(capsys):
    from egvsr.flow.cli import main
    assert main(["train", "--freeze-grown", "--out", "unused"]) != 0
    assert "needs --init" in capsys.readouterr().err


def test_train_grows_the_init_and_freeze_grown_keeps_its_weights(tmp_path, capsys):
    import json

    import imageio.v3 as iio
    import numpy as np

    from egvsr.flow.cli import main
    from egvsr.model.checkpoint import save_checkpoint
    rng = np.random.default_rng(0)
    for clip, n in (("data/a", 4), ("val", 2)):
        (tmp_path / clip).mkdir(parents=True)
        for i in range(n):
            iio.imwrite(tmp_path / clip / f"{i}.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    old = _trained_like("tiny-anchor")
    save_checkpoint(tmp_path / "tiny.pth", old)
    common = ["--data", str(tmp_path / "data"), "--val", str(tmp_path / "val"), "--val-frames", "2", "--seq-len", "3",
              "--lr-size", "8", "--batch", "2", "--workers", "0", "--device", "cpu"]
    # 0 iterations: the grown start validates as the tiny model itself
    assert main(["train", "--preset", "tiny-anchor", "--init", str(tmp_path / "tiny.pth"), "--iterations", "0",
                 *common, "--out", str(tmp_path / "same")]) == 0
    assert main(["train", "--preset", "small-anchor", "--init", str(tmp_path / "tiny.pth"), "--iterations", "2",
                 "--val-every", "2", "--freeze-grown", "--lr", "1e-2", *common, "--out", str(tmp_path / "grown")]) == 0
    err = capsys.readouterr().err
    assert "grown into small-anchor (nf 32, nb 4)" in err and "stay fixed" in err
    same = json.loads((tmp_path / "same" / "summary.json").read_text())["history"][0]["psnr_y"]
    hist = json.loads((tmp_path / "grown" / "summary.json").read_text())["history"]
    assert [h["iteration"] for h in hist] == [0, 2]
    assert abs(hist[0]["psnr_y"] - same) < 1e-3
    # a skip-none checkpoint for a larger anchor preset: its head is refitted first, then it grows
    plain = _trained_like("tiny")
    save_checkpoint(tmp_path / "plain.pth", plain)
    assert main(["train", "--preset", "small-anchor", "--init", str(tmp_path / "plain.pth"), "--iterations", "0",
                 *common, "--out", str(tmp_path / "plain_grown")]) == 0
    err = capsys.readouterr().err
    assert "refitted for the anchor skip" in err and "grown into small-anchor" in err
    from egvsr.model.checkpoint import load_model
    m = load_model(tmp_path / "plain_grown" / "best.pth")
    assert m.preset.name == "small-anchor"
    assert torch.equal(m.srnet.conv_in[0].weight[:16], plain.srnet.conv_in[0].weight)
    assert "srnet.resblocks.3.conv.0.weight" in m.state_dict()
    # every checkpoint records where its start came from
    meta = torch.load(tmp_path / "plain_grown" / "best.pth", weights_only=True)["meta"]
    assert meta["init_checkpoint"] == str(tmp_path / "plain.pth") and meta["init_preset"] == "tiny"
    assert meta["init_steps"] == ["anchor head refit", "grown"] and meta["freeze_grown"] is False
    from egvsr.golden.bundle import file_sha256
    assert meta["init_sha256"] == file_sha256(tmp_path / "plain.pth")
    grown_meta = torch.load(tmp_path / "grown" / "best.pth", weights_only=True)["meta"]
    assert grown_meta["init_steps"] == ["grown"] and grown_meta["freeze_grown"] is True
    sd = torch.load(tmp_path / "grown" / "last.pth", weights_only=True)["state_dict"]
    w_old = old.state_dict()["srnet.resblocks.1.conv.2.weight"]
    assert torch.equal(sd["srnet.resblocks.1.conv.2.weight"][:16, :16], w_old)  # frozen through the CLI
    assert sd["srnet.resblocks.1.conv.2.weight"][:16, 16:].abs().sum() > 0  # grown from zero: it learns
