"""The bad-input catalogue of the egvsr command line (docs/bad_inputs.md).

Each case builds its files in a fresh folder, runs the command and checks:
the exit code, one clear error line naming the problem (no traceback), no
file left behind and the inputs unchanged (every file's bytes and mode).
Cases marked ``early`` must fail before the backend is opened (outputs and
options are checked before any work). Cases marked ``unprivileged`` need
permissions to bite: they run in a subprocess, as user ``nobody`` when the
suite runs as root.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from egvsr.flow import cli
from egvsr.flow.cli import main

pytest.importorskip("av")

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad_inputs.md"


@dataclass
class Case:
    argv: list
    msg: str  # regular expression the error line must match
    rc: int = 2
    early: bool = True  # fails before the backend is opened
    unprivileged: bool = False
    extra: dict = field(default_factory=dict)


CASES = {}


def case(cid, **kw):
    def deco(fn):
        CASES[cid] = (fn, kw)
        return fn
    return deco


# -- inputs ---------------------------------------------------------------------

def _frames(n=3, h=24, w=32, value=None, seed=0):
    if value is not None:
        return np.full((n, h, w, 3), value, np.uint8)
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def lr_video(path, **kw):
    from egvsr.model.video import write_frames
    return str(write_frames(_frames(**kw), path, fps=30))


def lr_folder(path, names=None, **kw):
    import imageio.v3 as iio
    path = Path(path)
    path.mkdir(parents=True)
    frames = _frames(**kw)
    for i, f in enumerate(frames):
        iio.imwrite(path / (names[i] if names else f"{i:06d}.png"), f)
    return str(path)


# -- upscale: outputs -------------------------------------------------------------

@case("upscale-output-is-input-video")
def _(d):
    clip = lr_video(d / "in.mp4")
    return Case(["upscale", clip, "-o", clip, "--overwrite"], r"output .*in\.mp4' is the input")


@case("upscale-output-is-input-folder")
def _(d):
    lr = lr_folder(d / "lr")
    return Case(["upscale", lr, "-o", lr, "--overwrite"], r"is the input")


@case("upscale-output-inside-input")
def _(d):
    lr = lr_folder(d / "lr")
    return Case(["upscale", lr, "-o", f"{lr}/sr.mp4"], r"is inside the input")


@case("upscale-output-contains-input")
def _(d):
    lr = lr_folder(d / "out" / "lr")
    return Case(["upscale", lr, "-o", str(d / "out"), "--overwrite"], r"contains the input")


@case("upscale-existing-video")
def _(d):
    clip = lr_video(d / "in.mp4")
    (d / "sr.mp4").write_bytes(b"precious")
    return Case(["upscale", clip, "-o", str(d / "sr.mp4")], r"already exists; pass --overwrite")


@case("upscale-existing-frames")
def _(d):
    clip = lr_video(d / "in.mp4")
    lr_folder(d / "sr", n=2)
    return Case(["upscale", clip, "-o", str(d / "sr")], r"already holds 2 frames; pass --overwrite")


@case("upscale-existing-numbered-frames")
def _(d):
    clip = lr_video(d / "in.mp4")
    lr_folder(d / "sr", names=["1.png", "2.png", "10.png"])
    return Case(["upscale", clip, "-o", str(d / "sr"), "--overwrite"], r"holds other files \(1\.png, 10\.png, 2\.png\)")


@case("upscale-folder-with-other-files")
def _(d):
    clip = lr_video(d / "in.mp4")
    (d / "sr").mkdir()
    (d / "sr" / "notes.txt").write_text("mine")
    return Case(["upscale", clip, "-o", str(d / "sr"), "--overwrite"], r"holds other files \(notes\.txt")


@case("upscale-missing-parent")
def _(d):
    clip = lr_video(d / "in.mp4")
    return Case(["upscale", clip, "-o", str(d / "nope" / "sr.mp4")], r"nope' does not exist; create it first")


@case("upscale-parent-is-file")
def _(d):
    clip = lr_video(d / "in.mp4")
    (d / "file.txt").write_text("x")
    return Case(["upscale", clip, "-o", str(d / "file.txt" / "sr.mp4")], r"is a file, not a folder")


@case("upscale-video-name-is-folder")
def _(d):
    clip = lr_video(d / "in.mp4")
    (d / "sr.mp4").mkdir()
    return Case(["upscale", clip, "-o", str(d / "sr.mp4"), "--overwrite"], r"is a folder; choose a file name")


@case("upscale-folder-name-is-file")
def _(d):
    clip = lr_video(d / "in.mp4")
    (d / "sr").write_text("x")
    return Case(["upscale", clip, "-o", str(d / "sr"), "--overwrite"], r"is a file; a PNG clip is written as a folder")


@case("upscale-unsupported-extension")
def _(d):
    clip = lr_video(d / "in.mp4")
    return Case(["upscale", clip, "-o", str(d / "sr.webm")], r"'\.webm' is not a supported output.*\.avi")


@case("upscale-unwritable-folder", unprivileged=True)
def _(d):
    clip = lr_video(d / "in.mp4")
    (d / "ro").mkdir()
    os.chmod(d / "ro", 0o555)
    return Case(["upscale", clip, "-o", str(d / "ro" / "sr.mp4"), "--backend", "golden"],
                r"cannot write in folder .*ro' \(permission denied\)")


# -- upscale: inputs and options ----------------------------------------------------

@case("upscale-unreadable-input", unprivileged=True)
def _(d):
    clip = lr_video(d / "in.mp4")
    os.chmod(clip, 0)
    return Case(["upscale", clip, "-o", str(d / "sr.mp4"), "--backend", "golden"],
                r"cannot read .*in\.mp4' \(permission denied\)")


@case("upscale-missing-input")
def _(d):
    return Case(["upscale", str(d / "missing.mp4"), "-o", str(d / "sr.mp4")], r"missing\.mp4' does not exist")


@case("upscale-corrupt-input")
def _(d):
    (d / "bad.mp4").write_bytes(b"\x00" * 100)
    return Case(["upscale", str(d / "bad.mp4"), "-o", str(d / "sr.mp4")], r"bad\.mp4.*corrupt")


@case("upscale-too-small")
def _(d):
    lr = lr_folder(d / "lr", h=7, w=30)
    return Case(["upscale", lr, "-o", str(d / "sr")], r"30x7 LR pixels; EGVSR needs at least 8x8")


for _v in ("0", "-1", "nan", "inf", "abc"):
    @case(f"upscale-fps-{_v}")
    def _(d, v=_v):
        return Case(["upscale", "carphone", "-o", str(d / "sr.mp4"), "--fps", v], r"argument --fps: must be (> 0|a number of frames per second)")

for _v, _name in (("-3", "negative"), ("0", "zero"), ("1.5", "fraction")):
    @case(f"upscale-frames-{_name}")
    def _(d, v=_v):
        return Case(["upscale", "carphone", "-o", str(d / "sr.mp4"), "--frames", v],
                    r"argument --frames: must be a whole number >= 1")


@case("upscale-board-without-board")
def _(d):
    clip = lr_video(d / "in.mp4")
    return Case(["upscale", clip, "-o", str(d / "sr.mp4"), "--backend", "board"],
                r"--backend board needs a PYNQ board.*use --backend board-sim", early=False)


@case("upscale-nan-checkpoint")
def _(d):
    torch = pytest.importorskip("torch")
    from egvsr.model.checkpoint import save_checkpoint
    from egvsr.model.egvsr import EGVSR
    m = EGVSR("tiny")
    with torch.no_grad():
        m.srnet.conv_in[0].weight[0, 0, 0, 0] = float("nan")
    save_checkpoint(d / "nan.pth", m)
    clip = lr_video(d / "in.mp4")
    return Case(["upscale", clip, "-o", str(d / "sr.mp4"), "--checkpoint", str(d / "nan.pth")],
                r"srnet\.conv_in\.0\.weight' holds 1 non-finite value", early=False)


@case("upscale-missing-checkpoint")
def _(d):
    clip = lr_video(d / "in.mp4")
    return Case(["upscale", clip, "-o", str(d / "sr.mp4"), "--checkpoint", str(d / "no.pth")],
                r"--checkpoint .*no\.pth: no such file")


@case("upscale-golden-with-float-checkpoint")
def _(d):
    clip = lr_video(d / "in.mp4")
    return Case(["upscale", clip, "-o", str(d / "sr.mp4"), "--backend", "golden",
                 "--checkpoint", "pretrained/tiny_float.pth"], r"runs an integer bundle", early=False)


# -- eval ----------------------------------------------------------------------------

@case("eval-frames-zero")
def _(d):
    return Case(["eval", "carphone", "--frames", "0"], r"argument --frames: must be a whole number >= 1, got 0")


@case("eval-crop-text")
def _(d):
    return Case(["eval", "carphone", "--crop", "abc"], r"argument --crop: must be WxH .* got 'abc'")


@case("eval-crop-one-number")
def _(d):
    return Case(["eval", "carphone", "--crop", "10"], r"argument --crop: must be WxH .* got '10'")


@case("eval-crop-negative")
def _(d):
    return Case(["eval", "carphone", "--crop", "-8x-8"], r"argument --crop: expected one argument.*--option=VALUE")


@case("eval-crop-negative-equals")
def _(d):
    return Case(["eval", "carphone", "--crop=-8x-8"], r"argument --crop: must be WxH .* got '-8x-8'")


@case("eval-crop-too-small")
def _(d):
    return Case(["eval", "carphone", "--crop", "10x10"], r"--crop 10x10 is too small: .* at least 37x37 GT pixels")


@case("eval-crop-too-large")
def _(d):
    return Case(["eval", "carphone", "--frames", "1", "--crop", "999x99"], r"--crop 999x99 is larger than the 176x144 clip")


@case("eval-gt-too-small")
def _(d):
    gt = lr_folder(d / "gt", h=30, w=40)
    return Case(["eval", gt], r"GT frames are 40x30; --degradation BD needs at least 37x37 GT pixels")


@case("eval-gt-too-small-bi")
def _(d):
    gt = lr_folder(d / "gt", h=30, w=40)
    return Case(["eval", gt, "--degradation", "BI"], r"GT frames are 40x30; --degradation BI needs at least 32x32")


@case("eval-plot-missing-folder")
def _(d):
    return Case(["eval", "carphone", "--plot", str(d / "nope" / "p.png")], r"--plot .*nope/p.png: the folder .*nope does not exist; create it first")


@case("eval-plot-unsupported")
def _(d):
    return Case(["eval", "carphone", "--plot", str(d / "p.xyz")], r"unsupported image type '\.xyz'")


@case("eval-plot-exists")
def _(d):
    (d / "p.png").write_bytes(b"precious")
    return Case(["eval", "carphone", "--plot", str(d / "p.png")], r"p\.png already exists; pass --overwrite")


@case("eval-plot-unwritable", unprivileged=True)
def _(d):
    (d / "ro").mkdir()
    os.chmod(d / "ro", 0o555)
    return Case(["eval", "carphone", "--backend", "golden", "--plot", str(d / "ro" / "p.png")],
                r"cannot write in .*ro \(permission denied\)")


# -- export, build -------------------------------------------------------------------------

@case("export-lr-size-small")
def _(d):
    return Case(["export", "-o", str(d / "e" / "x"), "--lr-size", "4x4"], r"argument --lr-size: must be at least 8x8")


@case("export-out-under-file")
def _(d):
    (d / "f").write_text("x")
    return Case(["export", "-o", str(d / "f" / "sub" / "x")], r"-o .*: .*f is a file, not a folder")


@case("export-unwritable", unprivileged=True)
def _(d):
    (d / "ro").mkdir()
    os.chmod(d / "ro", 0o555)
    return Case(["export", "-o", str(d / "ro" / "sub" / "x")], r"cannot write in .*ro \(permission denied\)")


@case("build-lr-text")
def _(d):
    return Case(["build", "--impl", "rtl", "--lr", "big", "--out", str(d / "b")], r"argument --lr: must be WxH")


@case("build-fps-zero")
def _(d):
    return Case(["build", "--impl", "rtl", "--fps", "0", "--out", str(d / "b")], r"argument --fps: must be (> 0|a number of frames per second)")


# -- the runner ---------------------------------------------------------------------------

def snapshot(root: Path) -> dict:
    """Every path under root (hidden ones too) -> (mode, sha256 of a file's bytes)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else None
            out[str(p.relative_to(root))] = (stat.S_IMODE(st.st_mode), digest)
    return out


@pytest.fixture
def world_tmp():
    """A folder user nobody can enter (pytest's tmp_path is private to the user)."""
    d = Path(tempfile.mkdtemp(prefix="egvsr-bad-"))
    os.chmod(d, 0o755)
    yield d
    for dirpath, dirnames, _ in os.walk(d):
        for name in dirnames:
            os.chmod(Path(dirpath) / name, 0o755)
    shutil.rmtree(d, ignore_errors=True)


def _run_unprivileged(argv, cwd):
    cmd = [sys.executable, "-m", "egvsr.flow.cli", *argv]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    home = tempfile.mkdtemp(prefix="egvsr-home-")
    os.chmod(home, 0o777)
    env = dict(os.environ, HOME=home, MPLCONFIGDIR=home)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return r.returncode, r.stderr


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("cid", sorted(CASES))
def test_bad_input(cid, world_tmp, capsys, monkeypatch):
    fn, kw = CASES[cid]
    c = fn(world_tmp)
    for k, v in kw.items():
        setattr(c, k, v)
    argv = [str(a) for a in c.argv]
    before = snapshot(world_tmp)
    if c.unprivileged:
        rc, err = _run_unprivileged(argv, cwd=str(Path(__file__).resolve().parents[1]))
    else:
        if c.early:
            def no_backend(*a, **k):
                raise AssertionError("the backend was opened before the inputs and outputs were checked")
            monkeypatch.setattr(cli, "open_backend", no_backend)
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse
            rc = e.code
        err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if re.match(r"egvsr( \w+)?: error: ", line)]
    assert rc == c.rc, err
    assert len(errors) == 1, err
    assert re.search(c.msg, errors[0]), errors[0]
    assert "Traceback" not in err
    assert snapshot(world_tmp) == before, "a file was left behind or an input changed"


def test_catalogue_is_documented():
    """docs/bad_inputs.md has one table row per case."""
    text = DOC.read_text()
    rows = set(re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.M))
    assert rows == set(CASES), (sorted(set(CASES) - rows), sorted(rows - set(CASES)))


def test_debug_prints_the_traceback(tmp_path, capsys):
    assert main(["upscale", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o.mp4")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["--debug", "upscale", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o.mp4")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "VideoError" in err and err.rstrip().splitlines()[-1].startswith("egvsr upscale: error:")
    assert main(["upscale", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o.mp4"), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_unexpected_error_is_one_line(monkeypatch, capsys):
    def boom(args):
        raise KeyError("surprise")
    monkeypatch.setattr(cli, "cmd_bench", boom)
    assert main(["bench"]) == 1
    err = capsys.readouterr().err
    assert "internal error: KeyError" in err and "--debug" in err and "Traceback" not in err
