"""The egvsr command line on the bundled clips and models."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from egvsr.flow.cli import main
from egvsr.model.egvsr import EGVSR
from egvsr.model.video import read_frames, write_frames

pytestmark = pytest.mark.filterwarnings("ignore")


def test_upscale_clip_to_mp4_and_pngs(tmp_path, capsys):
    assert main(["upscale", "carphone", "-o", str(tmp_path / "sr.mp4"), "--frames", "3"]) == 0
    out = read_frames(tmp_path / "sr.mp4")
    assert out.shape == (3, 576, 704, 3)
    lr = read_frames("carphone", max_frames=2)[:, :40, :48]
    write_frames(lr, tmp_path / "lr")
    assert main(["upscale", str(tmp_path / "lr"), "-o", str(tmp_path / "sr_png"), "--backend", "golden"]) == 0
    pngs = sorted((tmp_path / "sr_png").glob("*.png"))
    assert len(pngs) == 2 and read_frames(tmp_path / "sr_png").shape == (2, 160, 192, 3)
    assert "fps" in capsys.readouterr().err


def test_eval_json_golden_equals_brevitas(capsys):
    res = {}
    for backend in ("golden", "brevitas"):
        assert main(["eval", "carphone", "--frames", "4", "--crop", "96x80", "--backend", backend, "--json"]) == 0
        res[backend] = json.loads(capsys.readouterr().out)
    for r in res.values():
        assert {"backend", "frames", "sr", "bicubic"} <= set(r) and r["frames"] == 4
        assert {"psnr_y", "ssim_y"} <= set(r["sr"]) and {"psnr_y", "ssim_y"} <= set(r["bicubic"])
    assert [f["psnr_y"] for f in res["golden"]["sr"]["per_frame"]] == [f["psnr_y"] for f in res["brevitas"]["sr"]["per_frame"]]
    from egvsr.flow.cli import evaluate
    frames = {b: evaluate("carphone", b, frames=3, crop="64x64")[1] for b in ("golden", "brevitas")}
    assert np.array_equal(frames["golden"], frames["brevitas"])


def test_eval_torch_text_and_plot(tmp_path, capsys):
    assert main(["eval", "carphone", "--frames", "3", "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "PSNR-Y" in out and "bicubic" in out
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_clear_errors(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4" in capsys.readouterr().err
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 100)
    assert main(["upscale", str(tmp_path / "bad.mp4"), "-o", str(tmp_path / "o.mp4")]) == 2
    assert "bad.mp4" in capsys.readouterr().err and not (tmp_path / "o.mp4").exists()
    wrong = tmp_path / "paper_raw.pth"
    torch.save(EGVSR("small").state_dict(), wrong)
    assert main(["eval", "carphone", "--frames", "2", "--checkpoint", str(wrong), "--preset", "tiny"]) == 2
    assert "fnet.encoder1.0.weight" in capsys.readouterr().err
    tiny = read_frames("carphone", max_frames=2)[:, :7, :30]
    write_frames(tiny, tmp_path / "small_lr")
    assert main(["upscale", str(tmp_path / "small_lr"), "-o", str(tmp_path / "x")]) == 2
    assert "at least 8x8" in capsys.readouterr().err
    assert main(["eval", "carphone", "--backend", "golden", "--checkpoint", "pretrained/tiny_float.pth"]) == 2
    assert "bundle" in capsys.readouterr().err


def test_golden_cli_runs_without_torch(tmp_path):
    code = ("import sys; sys.modules['torch'] = None; from egvsr.flow.cli import main; "
            f"sys.exit(main(['upscale', 'carphone', '--frames', '2', '-o', r'{tmp_path / 'o'}', '--backend', 'golden']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "o").glob("*.png"))) == 2


@pytest.mark.slow
def test_every_integer_backend_gives_identical_frames():
    """`egvsr eval` on one real crop: golden, brevitas, hls (C-sim), rtl (Verilator), board-sim."""
    from egvsr.flow.cli import evaluate
    ref = evaluate("carphone", "golden", frames=2, crop="48x48")[1]
    assert ref.shape == (2, 40, 40, 3) and ref.std() > 10  # BD: 48 -> 10 LR pixels -> 40 HR
    for backend in ("brevitas", "hls", "rtl", "board-sim"):
        out = evaluate("carphone", backend, frames=2, crop="48x48")[1]
        assert np.array_equal(out, ref), backend


def test_sim_forwards_its_options_to_the_regression(capsys):
    with pytest.raises(SystemExit) as e:
        main(["sim", "-h"])
    assert e.value.code == 0 and "--quick" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["eval", "carphone", "--no-such-option"])
