"""`egvsr eval` over several clips, paired LR/GT sets (Vid4 layout) and the colour check.

Small real frames: 48x48 crops of carphone (BD -> 10x10 LR), three frames.
"""
import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("av")

from egvsr.flow.cli import evaluate, main  # noqa: E402
from egvsr.flow.evalset import COLOUR_LIMIT, colour_bias  # noqa: E402
from egvsr.model.degrade import bd_degrade, to_uint8  # noqa: E402
from egvsr.model.video import read_frames, write_frames  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")


def test_colour_bias_of_a_known_offset():
    rng = np.random.default_rng(0)
    ref = rng.integers(10, 246, size=(3, 20, 24, 3), dtype=np.uint8)
    quant = (ref.astype(np.int16) + np.array([1, 0, -3])).astype(np.uint8)
    cb = colour_bias(quant, ref)
    assert (cb["r"], cb["g"], cb["b"]) == (1.0, 0.0, -3.0)
    assert cb["max_abs"] == 3.0 and cb["rms"] == pytest.approx(np.sqrt((1 + 0 + 9) / 3))
    # an offset on half the pixels of one channel is half a level; noise without offset is ~0
    half = ref.copy()
    half[:, :10, :, 1] += 1
    assert colour_bias(half, ref)["g"] == 0.5 and colour_bias(half, ref)["max_abs"] == 0.5
    assert COLOUR_LIMIT == 0.5  # a clip is flagged above 0.5, so exactly 0.5 passes
    noise = (ref.astype(np.int16) + rng.choice([-1, 1], size=ref.shape)).astype(np.uint8)
    assert colour_bias(noise, ref)["max_abs"] < 0.05
    assert colour_bias(quant[0], ref[0])["b"] == -3.0  # one frame
    with pytest.raises(ValueError, match="shapes differ"):
        colour_bias(quant, ref[:2])


@pytest.fixture(scope="module")
def clip_set(tmp_path_factory):
    """clips/a, clips/b: two 48x48 GT crops of carphone; vid4/GT + vid4/BDx4: their BD pairs."""
    root = tmp_path_factory.mktemp("evalset")
    full = read_frames("carphone", max_frames=3)
    gts = {"a": full[:, 10:58, 20:68], "b": full[:, 80:128, 100:148]}
    for d in ("clips", "vid4/BDx4", "vid4/GT"):
        (root / d).mkdir(parents=True)
    for name, gt in gts.items():
        write_frames(gt, root / "clips" / name)
        lr, gt_c = bd_degrade(gt)
        write_frames(to_uint8(lr), root / "vid4" / "BDx4" / name)
        write_frames(to_uint8(gt_c), root / "vid4" / "GT" / name)
    return root


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_several_clips_table_json_and_colour(clip_set, capsys):
    assert main(["eval", str(clip_set / "clips"), "--json"]) == 0
    res = _json(capsys)
    assert [r["clip"] for r in res["clips"]] == ["a", "b"] and res["mode"] == "degrade"
    assert res["quant"]["backend"] == "golden" and res["colour_limit"] == 0.5
    for r in res["clips"][1:]:  # clip b alone, by the single-backend eval
        path = clip_set / "clips" / r["clip"]
        f_res, f_sr = evaluate(str(path), "torch")
        q_res, q_sr = evaluate(str(path), "golden")
        assert r["frames"] == 3 and r["lr_size"] == [10, 10]
        assert r["float"]["psnr_y"] == f_res["sr"]["psnr_y"] and r["quant"]["psnr_y"] == q_res["sr"]["psnr_y"]
        assert r["bicubic"]["psnr_y"] == f_res["bicubic"]["psnr_y"]
        assert r["quant_minus_float_db"] == pytest.approx(q_res["sr"]["psnr_y"] - f_res["sr"]["psnr_y"])
        assert r["colour_bias"] == colour_bias(q_sr, f_sr)
        assert r["colour_flag"] == (r["colour_bias"]["max_abs"] > 0.5)
    m = res["mean"]
    assert m["frames"] == 6
    assert m["float"]["psnr_y"] == pytest.approx(np.mean([r["float"]["psnr_y"] for r in res["clips"]]))
    assert m["colour_bias"]["b"] == pytest.approx(np.mean([r["colour_bias"]["b"] for r in res["clips"]]))
    assert res["colour_flagged"] == [r["clip"] for r in res["clips"] if r["colour_flag"]]
    # the same clips named one by one give the same table, as text
    assert main(["eval", str(clip_set / "clips" / "a"), str(clip_set / "clips" / "b")]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split()[:6] == ["clip", "frames", "LR", "bicubic", "float", "W8A8"]
    row_a = next(ln for ln in lines if ln.startswith("a "))
    assert f"{res['clips'][0]['float']['psnr_y']:.3f}" in row_a and "10x10" in row_a
    assert any(ln.startswith("mean ") for ln in lines) and "colour: mean error of the W8A8 output" in text


def test_paired_vid4_layout_equals_degrading_here(clip_set, capsys):
    assert main(["eval", str(clip_set / "vid4" / "GT"), "--lr", str(clip_set / "vid4" / "BDx4"), "--json"]) == 0
    paired = _json(capsys)
    assert main(["eval", str(clip_set / "clips"), "--json"]) == 0
    here = _json(capsys)
    assert paired["mode"] == "paired" and [r["clip"] for r in paired["clips"]] == ["a", "b"]
    for p, h in zip(paired["clips"], here["clips"]):
        for key in ("bicubic", "float", "quant", "colour_bias", "lr_size", "frames"):
            assert p[key] == h[key], key
    # one clip of each
    assert main(["eval", str(clip_set / "vid4" / "GT" / "b"), "--lr", str(clip_set / "vid4" / "BDx4" / "b"),
                 "--json", "--frames", "2"]) == 0
    one = _json(capsys)
    assert len(one["clips"]) == 1 and one["clips"][0]["frames"] == 2


def test_paired_errors_name_the_fix(clip_set, tmp_path, capsys):
    def err(*argv):
        assert main(["eval", *map(str, argv)]) == 2
        e = capsys.readouterr().err
        assert e.startswith("egvsr eval: error:") and len(e.strip().splitlines()) == 1, e
        return e
    v = clip_set / "vid4"
    # uncut GT (48x48) against 10x10 LR: not 4x
    e = err(clip_set / "clips", "--lr", v / "BDx4")
    assert "GT frames are 48x48 but LR frames are 10x10" in e and "exactly 4x the LR (40x40)" in e
    assert "8x8 pixels larger" in e
    e = err(v / "BDx4", "--lr", v / "GT")
    assert "look swapped" in e
    (tmp_path / "GT").mkdir()
    write_frames(read_frames(v / "GT" / "a"), tmp_path / "GT" / "a")
    write_frames(read_frames(v / "GT" / "a"), tmp_path / "GT" / "c")
    e = err(tmp_path / "GT", "--lr", v / "BDx4")
    assert "do not hold the same clips" in e and "GT: a, c" in e and "LR: a, b" in e
    e = err(v / "GT" / "a", v / "GT" / "b", "--lr", v / "BDx4")
    assert "one GT set" in e
    e = err(v / "GT", "--lr", v / "BDx4", "--crop", "40x40")
    assert "crop both sets beforehand" in e
    write_frames(read_frames(v / "BDx4" / "a")[:2], tmp_path / "lr2")
    e = err(v / "GT" / "a", "--lr", tmp_path / "lr2")
    assert "2 LR frames but 3 GT frames" in e
    e = err(clip_set / "clips", "--backend", "torch")
    assert "--backend torch" in e and "golden" in e
    e = err(clip_set / "clips", "--plot", tmp_path / "p.png")
    assert "--plot works on one clip" in e
    (tmp_path / "empty").mkdir()
    e = err(tmp_path / "empty")
    assert "holds no clips" in e


def test_max_colour_bias_turns_the_check_into_an_error(clip_set, capsys):
    a = str(clip_set / "clips" / "a")
    assert main(["eval", a, "--compare", "--json"]) == 0
    bias = _json(capsys)["clips"][0]["colour_bias"]["max_abs"]
    assert bias > 0
    assert main(["eval", a, "--max-colour-bias", f"{bias * 0.9}"]) == 2
    cap = capsys.readouterr()
    assert "clip " in cap.out and "egvsr eval: error: colour check failed: 1 of 1 clips" in cap.err
    assert "the documented limit is 0.5" in cap.err
    assert main(["eval", a, "--max-colour-bias", f"{bias + 0.01}"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["eval", a, "--max-colour-bias=-1"])
    assert "must be a number >= 0" in capsys.readouterr().err


def test_clip_sets_hold_frame_folders_and_videos(tmp_path):
    from egvsr.flow.evalset import gather
    from egvsr.model.clips import find_clip_paths
    f = read_frames("carphone", max_frames=2)[:, :48, :48]
    (tmp_path / "set" / "sub").mkdir(parents=True)
    write_frames(f, tmp_path / "set" / "frames")
    write_frames(f, tmp_path / "set" / "sub" / "clip.mp4")
    (tmp_path / "set" / "notes.txt").write_text("not a clip")
    assert [n for n, _ in find_clip_paths(tmp_path / "set")] == ["frames", "sub/clip"]
    assert find_clip_paths("carphone")[0][0] == "carphone"
    assert find_clip_paths(tmp_path / "set" / "frames")[0][0] == "frames"
    assert find_clip_paths(tmp_path / "set" / "sub" / "clip.mp4")[0][0] == "clip"
    names = [n for n, _, lr in gather(["carphone", str(tmp_path / "set")])]
    assert names == ["carphone", "frames", "sub/clip"]
