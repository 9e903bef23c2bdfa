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


# -- streaming, outputs, interruption -------------------------------------------------

def _lr_clip(path, n=3, h=24, w=32, fps=60, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)
    return write_frames(frames, path, fps=fps)


def _hidden(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_upscale_keeps_the_source_fps_in_every_container(tmp_path):
    from fractions import Fraction

    from egvsr.model.video import probe
    clip = _lr_clip(tmp_path / "in60.mp4", fps=60)
    for ext in (".mp4", ".mkv", ".mov", ".avi"):
        out = tmp_path / f"sr{ext}"
        assert main(["upscale", str(clip), "-o", str(out), "--backend", "golden"]) == 0
        assert probe(out)["fps"] == pytest.approx(60), ext
        assert read_frames(out).shape == (3, 96, 128, 3), ext
    assert main(["upscale", str(clip), "-o", str(tmp_path / "sr24.mp4"), "--backend", "golden", "--fps", "24"]) == 0
    assert probe(tmp_path / "sr24.mp4")["fps"] == pytest.approx(24)
    assert main(["upscale", "carphone", "--frames", "2", "-o", str(tmp_path / "ntsc.mp4"), "--backend", "golden"]) == 0
    assert probe(tmp_path / "ntsc.mp4")["rate"] == Fraction(30000, 1001) == probe("carphone")["rate"]
    assert not _hidden(tmp_path)


def test_streamed_frames_equal_the_backend_and_follow_the_umask(tmp_path):
    import os
    import stat

    from egvsr.flow.backends import open_backend
    lr = read_frames("carphone", max_frames=3)[:, :24, :40]
    write_frames(lr, tmp_path / "lr")
    old = os.umask(0o027)
    try:
        assert main(["upscale", str(tmp_path / "lr"), "-o", str(tmp_path / "sr"), "--backend", "golden"]) == 0
        assert main(["upscale", str(tmp_path / "lr"), "-o", str(tmp_path / "sr.mp4"), "--backend", "golden"]) == 0
    finally:
        os.umask(old)
    ref = np.stack(list(open_backend("golden").run(list(lr))))
    assert np.array_equal(read_frames(tmp_path / "sr"), ref)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "sr.mp4") == 0o640 and mode(tmp_path / "sr") == 0o750
    assert {mode(p) for p in (tmp_path / "sr").iterdir()} == {0o640}


def test_backends_consume_frames_lazily():
    """The recurrence holds only the temporal padding (pad + 1 = 6 frames) before its first output.

    golden runs ``golden.network.iter_sequence``; torch runs ``model.egvsr.run_recurrent``, which the
    brevitas backend shares."""
    from egvsr.flow.backends import open_backend
    lr = read_frames("carphone", max_frames=9)[:, :16, :16]
    for name in ("golden", "torch"):
        pulled = []

        def frames():
            for f in lr:
                pulled.append(1)
                yield f
        out = open_backend(name).run(frames())
        next(out)
        assert len(pulled) == 6, name
        assert len(list(out)) == 8 and len(pulled) == 9, name


def test_overwrite_replaces_an_existing_output(tmp_path):
    clip = _lr_clip(tmp_path / "in.mp4")
    (tmp_path / "sr.mp4").write_bytes(b"old")
    assert main(["upscale", str(clip), "-o", str(tmp_path / "sr.mp4"), "--backend", "golden", "--overwrite"]) == 0
    assert read_frames(tmp_path / "sr.mp4").shape == (3, 96, 128, 3)
    write_frames(read_frames(clip)[:1], tmp_path / "sr_png")
    assert main(["upscale", str(clip), "-o", str(tmp_path / "sr_png"), "--backend", "golden", "--overwrite"]) == 0
    assert sorted(p.name for p in (tmp_path / "sr_png").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert not _hidden(tmp_path)


@pytest.mark.parametrize("exc,rc,msg", [(KeyboardInterrupt, 130, "interrupted; nothing was written"),
                                        (RuntimeError("the simulator died"), 2, "the simulator died")])
@pytest.mark.parametrize("out", ["sr.mp4", "sr"])
def test_a_failure_mid_clip_leaves_nothing(tmp_path, monkeypatch, capsys, exc, rc, msg, out):
    """Atomic output: a failure at frame 2 leaves no temporary and the old output as it was."""
    from egvsr.flow.backends import GoldenBackend
    clip = _lr_clip(tmp_path / "in.mp4", n=5)
    dst = tmp_path / out
    if out.endswith(".mp4"):
        dst.write_bytes(b"old")
    else:
        write_frames(read_frames(clip)[:1], dst)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    run = GoldenBackend.run

    def failing(self, frames, progress=None):
        for i, hr in enumerate(run(self, frames, progress)):
            if i == 2:
                raise exc
            yield hr
    monkeypatch.setattr(GoldenBackend, "run", failing)
    assert main(["upscale", str(clip), "-o", str(dst), "--backend", "golden", "--overwrite"]) == rc
    assert msg in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    if out.endswith(".mp4"):
        assert dst.read_bytes() == b"old"


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_while_writing_leaves_nothing(tmp_path, sig):
    import signal
    import time
    clip = _lr_clip(tmp_path / "in.mp4", n=400, h=48, w=64)
    out = tmp_path / "sr.mp4"
    # the child gets Ctrl-C's default disposition, as a foreground process has: a test run
    # started in the background (nohup, `&` in a script) passes SIGINT down ignored
    p = subprocess.Popen([sys.executable, "-m", "egvsr.flow.cli", "upscale", str(clip), "-o", str(out),
                          "--backend", "golden"], stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.time()
    while not _hidden(tmp_path) and p.poll() is None and time.time() - t0 < 120:
        time.sleep(0.05)
    time.sleep(1.5)  # frames are being upscaled and encoded into the hidden temporary
    assert p.poll() is None, "the upscale finished before it could be interrupted"
    p.send_signal(getattr(signal, sig))
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "interrupted; nothing was written" in err and "Traceback" not in err
    assert sorted(x.name for x in tmp_path.iterdir()) == ["in.mp4"]


def test_truncated_video_warns(tmp_path, capsys):
    import av
    from fractions import Fraction
    full = tmp_path / "full.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(full), "w", format="mp4", options={"movflags": "faststart"}) as c:  # index first
        s = c.add_stream("libx264", rate=Fraction(25))
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for _ in range(20):
            img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            for pk in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    with av.open(str(full)) as c:
        packets = [(q.pos, q.size) for q in c.demux(video=0) if q.size]
    cut = tmp_path / "cut.mp4"  # cut on a packet boundary: decodes without an error
    cut.write_bytes(full.read_bytes()[:packets[9][0] + packets[9][1]])
    assert main(["upscale", str(cut), "-o", str(tmp_path / "sr"), "--backend", "golden"]) == 0
    err = capsys.readouterr().err
    assert "egvsr upscale: warning:" in err and "yielded 10 frames but its header announces 20" in err
    assert len(list((tmp_path / "sr").iterdir())) == 10


def test_eval_json_is_valid_for_a_flat_clip(tmp_path, capsys):
    write_frames(np.full((3, 48, 48, 3), 128, np.uint8), tmp_path / "flat")
    assert main(["eval", str(tmp_path / "flat"), "--backend", "golden", "--json"]) == 0

    def no_constants(name):
        raise AssertionError(f"{name} is not JSON")
    res = json.loads(capsys.readouterr().out, parse_constant=no_constants)
    assert res["bicubic"]["psnr_y"] is None and res["frames"] == 3  # exact: infinite PSNR
    assert main(["eval", str(tmp_path / "flat"), "--backend", "golden"]) == 0
    assert "PSNR-Y inf dB" in capsys.readouterr().out
