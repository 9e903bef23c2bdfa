"""Starting an anchor-skip model from a skip-none checkpoint (`egvsr train --init`)."""
import torch
import torch.nn.functional as F

from egvsr.model.egvsr import EGVSR
from egvsr.model.presets import get_preset
from egvsr.model.srnet import anchor, anchor_head_from_absolute, fit_anchor_head


def _old_model(seed=0):
    torch.manual_seed(seed)
    m = EGVSR(get_preset("tiny"))
    with torch.no_grad():  # an old head whose output sits near mid-grey, like a trained one
        m.srnet.conv_sub.bias.add_(0.5)
    return m.eval()


def _head_error(old, w, b, seqs):
    """Mean squared difference between the anchored head (w, b) + anchor and the old head,
    on the trunk features of every frame of the old model's recurrence on seqs (what the fit sees)."""
    feats, lrs = [], []
    h1 = old.srnet.register_forward_pre_hook(lambda m, args: lrs.append(args[0]))
    h2 = old.srnet.conv_sub.register_forward_hook(lambda m, args, out: feats.append((args[0], out)))
    with torch.no_grad():
        old.forward_sequence(torch.stack(seqs))
    h1.remove()
    h2.remove()
    err = [F.conv2d(f, w, b, padding=1) + anchor(lr, 4) - out for lr, (f, out) in zip(lrs, feats)]
    return float(torch.cat([e.flatten() for e in err]).pow(2).mean())


def test_mean_removal_is_exact_on_the_weights():
    old = _old_model()
    w, b = old.srnet.conv_sub.weight.detach(), old.srnet.conv_sub.bias.detach()
    w2, b2 = anchor_head_from_absolute(w, b, 4)
    assert torch.allclose(w2.reshape(3, 16, -1).mean(1), torch.zeros(3, w.shape[1] * 9), atol=1e-7)
    assert torch.allclose(b2.reshape(3, 16).mean(1), torch.zeros(3), atol=1e-7)
    # removed part = each colour's sub-pixel mean, broadcast back
    assert torch.allclose(w - w2, w.reshape(3, 16, -1).mean(1, keepdim=True).expand(3, 16, -1).reshape(w.shape))


def test_least_squares_head_reproduces_the_old_model_better_than_mean_removal():
    old = _old_model()
    g = torch.Generator().manual_seed(1)
    seqs = [torch.rand(3, 3, 12, 12, generator=g) * 0.6 + 0.2 for _ in range(4)]
    w0, b0 = anchor_head_from_absolute(old.srnet.conv_sub.weight.detach(), old.srnet.conv_sub.bias.detach(), 4)
    w, b = fit_anchor_head(old, seqs)
    assert w.shape == w0.shape and b.shape == b0.shape
    e_fit, e_mean = _head_error(old, w, b, seqs), _head_error(old, w0, b0, seqs)
    assert e_fit < 0.8 * e_mean, (e_fit, e_mean)
    # no data: the mean-removal head
    w1, b1 = fit_anchor_head(old, [])
    assert torch.equal(w1, w0) and torch.equal(b1, b0)


def test_anchor_repeats_each_colour_over_its_sub_pixels():
    lr = torch.arange(3.0).reshape(1, 3, 1, 1)
    assert anchor(lr, 4).flatten().tolist() == [0.0] * 16 + [1.0] * 16 + [2.0] * 16


def test_train_init_refits_only_a_skip_none_checkpoint_for_an_anchor_model(capsys):
    from egvsr.model.train_cli import _anchor_init
    old = _old_model()
    sd = old.state_dict()
    class Samples:  # a dataset's tensors(i): (lr, gt) as (T, 3, h, w) tensors
        def tensors(self, i):
            return torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(i)), None
    seqs = Samples()
    anchored = EGVSR(get_preset("tiny-anchor"))
    out = _anchor_init(sd, old.preset.to_dict(), anchored, "old.pth", seqs, samples=2)
    assert not torch.equal(out["srnet.conv_sub.weight"], sd["srnet.conv_sub.weight"])
    assert torch.equal(out["srnet.conv_in.0.weight"], sd["srnet.conv_in.0.weight"])  # trunk kept
    assert "refitted for the anchor skip (least squares on 2 training sequences)" in capsys.readouterr().err
    # a skip-none target, an already anchored init, or a raw state dict (no preset): unchanged
    assert _anchor_init(sd, old.preset.to_dict(), EGVSR(get_preset("tiny")), "x", seqs) is sd
    assert _anchor_init(sd, get_preset("tiny-anchor").to_dict(), anchored, "x", seqs) is sd
    assert _anchor_init(sd, None, anchored, "x", seqs) is sd


def test_train_with_init_and_zero_iterations_keeps_the_refitted_init(tmp_path, capsys):
    import json

    import imageio.v3 as iio
    import numpy as np

    from egvsr.flow.cli import main
    from egvsr.model.checkpoint import load_model, save_checkpoint
    rng = np.random.default_rng(0)
    for clip, n in (("data/a", 4), ("data/b", 4), ("val", 2)):
        (tmp_path / clip).mkdir(parents=True)
        for i in range(n):
            iio.imwrite(tmp_path / clip / f"{i}.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    old = _old_model()
    save_checkpoint(tmp_path / "old.pth", old)
    out = tmp_path / "run"
    argv = ["train", "--preset", "tiny-anchor", "--init", str(tmp_path / "old.pth"), "--data", str(tmp_path / "data"),
            "--iterations", "0", "--val", str(tmp_path / "val"), "--val-frames", "2", "--seq-len", "3",
            "--lr-size", "8", "--workers", "0", "--device", "cpu", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    cap = capsys.readouterr()
    assert "refitted for the anchor skip (least squares on 48 training sequences)" in cap.err
    assert "[0] val psnr_y" in cap.out + cap.err and "(start)" in cap.out + cap.err
    hist = json.loads((out / "summary.json").read_text())["history"]
    assert [h["iteration"] for h in hist] == [0]
    new = load_model(out / "best.pth")
    assert new.preset.skip == "anchor"
    assert torch.equal(new.srnet.conv_in[0].weight, old.srnet.conv_in[0].weight)
    assert not torch.equal(new.srnet.conv_sub.weight, old.srnet.conv_sub.weight)
    # without --init, 0 iterations is refused
    assert main(["train", "--iterations", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--iterations 0: must be at least 1" in capsys.readouterr().err
