"""Training data a user would use: REDS / Vimeo-90K folders and video files, read lazily.

Synthetic datasets in tmp_path (tiny PNG frames, a short H.264 file): layout
discovery, D4 augmentation applied alike to every frame, whole-pixel moving
first frames, bounded reads (file reads counted), clear errors.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
av = pytest.importorskip("av")
iio = pytest.importorskip("imageio.v3")

from egvsr.model import clips, data, degrade  # noqa: E402
from egvsr.model.video import VideoError, read_frames  # noqa: E402

H, W = 48, 56  # GT frames; lr_size 8 -> a 37-pixel BD crop


def _frames(n, seed, h=H, w=W):
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def _write_pngs(folder, frames, names=None):
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        iio.imwrite(folder / (names[i] if names else f"{i:08d}.png"), f)
    return frames


def _reds(root, n_clips=2, n=6):
    """REDS: train_sharp/<clip>/<frame>.png, plus the LR and val folders a download has beside it."""
    gt = {}
    for c in range(n_clips):
        gt[f"{c:03d}"] = _write_pngs(root / "train_sharp" / f"{c:03d}", _frames(n, c))
        _write_pngs(root / "train_sharp_bicubic" / "X4" / f"{c:03d}", _frames(n, 50 + c, 12, 14))
    _write_pngs(root / "val_sharp" / "000", _frames(n, 99))
    return gt


def _vimeo(root, lists=(("00001/0001", "00001/0002"), ("00002/0001",))):
    """Vimeo-90K septuplets: sequences/<a>/<b>/im1..im7.png, sep_trainlist.txt, sep_testlist.txt."""
    train, test = lists
    for k, rel in enumerate(train + test):
        _write_pngs(root / "sequences" / rel, _frames(7, 10 + k), [f"im{i}.png" for i in range(1, 8)])
    (root / "sep_trainlist.txt").write_text("\n".join(train) + "\n")
    (root / "sep_testlist.txt").write_text("\n".join(test) + "\n")


def _video(path, frames, gop=4):
    """H.264 with a keyframe every ``gop`` frames, so that reads really seek."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.codec_context.gop_size = gop
        s.options = {"keyint": str(gop), "min-keyint": str(gop), "scenecut": "0", "bframes": "0"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def test_reds_layout_uses_train_sharp_only(tmp_path):
    gt = _reds(tmp_path / "REDS")
    found = clips.find_clips([tmp_path / "REDS"])
    assert [c.name for c in found] == ["REDS/000", "REDS/001"]
    assert all(isinstance(c, clips.FolderClip) and c.shape == (6, H, W, 3) for c in found)
    np.testing.assert_array_equal(found[1].read([2, 3], 5, 7, 20, 30), gt["001"][2:4, 5:25, 7:37])
    # the train_sharp folder itself, or one clip folder, work too
    assert len(clips.find_clips([tmp_path / "REDS" / "train_sharp"])) == 2
    assert clips.find_clips([tmp_path / "REDS" / "train_sharp" / "000"])[0].frames == 6
    # as the REDS zip unpacks: REDS/train/train_sharp/<clip>
    (tmp_path / "unzipped" / "train").mkdir(parents=True)
    (tmp_path / "REDS" / "train_sharp").rename(tmp_path / "unzipped" / "train" / "train_sharp")
    (tmp_path / "REDS" / "train_sharp_bicubic").rename(tmp_path / "unzipped" / "train" / "train_sharp_bicubic")
    assert [c.name for c in clips.find_clips([tmp_path / "unzipped"])] == ["unzipped/000", "unzipped/001"]


def test_vimeo_septuplets_follow_the_train_list(tmp_path):
    _vimeo(tmp_path / "vimeo")
    found = clips.find_clips([tmp_path / "vimeo"])
    assert [c.name for c in found] == ["vimeo/00001/0001", "vimeo/00001/0002"]  # not the test list's 00002/0001
    assert all(c.frames == 7 for c in found)
    ds = data.folder_dataset([tmp_path / "vimeo"], seq_len=7, lr_size=8, length=4)
    lr, gt = ds[0]
    assert lr.shape == (7, 3, 8, 8) and gt.shape == (7, 3, 32, 32)
    with pytest.raises(ValueError, match=r"fewer frames than seq_len=10.*--seq-len 7.*Vimeo-90K"):
        data.folder_dataset([tmp_path / "vimeo"], seq_len=10, lr_size=8)
    (tmp_path / "vimeo" / "sep_trainlist.txt").write_text("00001/0001\n00009/0009\n")
    with pytest.raises(VideoError, match="names 00009/0009 but .* does not exist"):
        clips.find_clips([tmp_path / "vimeo"])


def test_video_file_reads_by_seeking(tmp_path):
    frames = _frames(13, 3, 48, 64)
    path = _video(tmp_path / "clip.mp4", frames)
    clip = clips.find_clips([path])[0]
    assert isinstance(clip, clips.VideoClip) and clip.seekable
    assert clip.shape == (13, 48, 64, 3) and len(clip.keys) >= 3
    ref = read_frames(path)  # decoded from the start: the window must be the same pixels
    for t0 in (0, 5, 9):
        np.testing.assert_array_equal(clip.read(range(t0, t0 + 4), 3, 6, 40, 50), ref[t0:t0 + 4, 3:43, 6:56])
    # a folder of videos: each file is a clip
    _video(tmp_path / "vids" / "a.mp4", frames[:8])
    (tmp_path / "vids" / "b").mkdir()
    _video(tmp_path / "vids" / "b" / "c.mkv", frames[:9])
    found = clips.find_clips([tmp_path / "vids"])
    assert [(c.name, c.frames) for c in found] == [("vids/a", 8), ("vids/b/c", 9)]
    ds = data.folder_dataset([tmp_path / "vids"], seq_len=5, lr_size=8, length=3, seed=1)
    assert ds[2][1].shape == (5, 3, 32, 32)


def test_d4_is_the_group_of_the_square():
    x = np.arange(2 * 3 * 3 * 1).reshape(2, 3, 3, 1)
    imgs = [data.d4(x, k) for k in range(8)]
    assert len({im.tobytes() for im in imgs}) == 8  # 8 distinct elements
    for k in range(8):  # every element has an inverse in the set
        assert any(np.array_equal(data.d4(imgs[k], j), x) for j in range(8))
    np.testing.assert_array_equal(data.d4(x, 1)[0, :, :, 0], np.rot90(x[0, :, :, 0]))
    np.testing.assert_array_equal(data.d4(x, 4)[1, :, :, 0], x[1, :, ::-1, 0])
    with pytest.raises(ValueError):
        data.d4(x, 8)


def test_augmentation_is_one_d4_element_for_every_frame(tmp_path):
    _reds(tmp_path / "REDS", n_clips=2, n=8)
    ds = data.folder_dataset([tmp_path / "REDS"], moving_prob=0.0, seq_len=4, lr_size=8, length=64, seed=5)
    by_name = {c.name: c for c in ds.clips}
    seen_d4, seen_rev = set(), set()
    for i in range(24):
        lr, gt, info = ds.sample_info(i)
        window = by_name[info["clip"]].read(range(info["t0"], info["t0"] + 4), info["y0"], info["x0"], 37, 37)
        want = data.d4(window, info["d4"])  # the same element on every frame
        if info["reversed"]:
            want = want[::-1]
        want_lr, want_gt = degrade.bd_degrade(degrade.to_float(np.ascontiguousarray(want)))
        np.testing.assert_array_equal(gt, want_gt)
        np.testing.assert_array_equal(lr, degrade.to_uint8(want_lr) / np.float32(255))
        seen_d4.add(info["d4"])
        seen_rev.add(info["reversed"])
    assert len(seen_d4) >= 6 and seen_rev == {True, False}


def test_moving_first_frame_shifts_by_whole_pixels(tmp_path):
    _reds(tmp_path / "REDS", n_clips=1, n=3)
    ds = data.folder_dataset([tmp_path / "REDS"], moving_prob=1.0, augment=False, seq_len=5, lr_size=8,
                             length=16, max_speed=2)
    moved = 0
    for i in range(16):
        _, gt, info = ds.sample_info(i)
        assert info["moving"]
        g = np.round(gt * 255)
        np.testing.assert_allclose(gt * 255, g, atol=1e-4)  # 8-bit pixels: no interpolation
        vy, vx = info["velocity"]
        assert max(abs(vy), abs(vx)) <= 2
        s = g.shape[1]
        for k in range(4):  # frame k+1 at (y, x) is frame k at (y + vy, x + vx)
            a = g[k + 1][max(0, -vy):s - max(0, vy), max(0, -vx):s - max(0, vx)]
            b = g[k][max(0, vy):s + min(0, vy), max(0, vx):s + min(0, vx)]
            np.testing.assert_array_equal(a, b)
        moved += (vy, vx) != (0, 0)
    assert moved == 16  # 48x56 frames have room for motion: every moving sample moves


def test_a_sample_reads_only_its_frames(tmp_path, monkeypatch):
    _reds(tmp_path / "REDS", n_clips=3, n=10)
    reads = []
    real = clips._read_image
    monkeypatch.setattr(clips, "_read_image", lambda p: reads.append(p) or real(p))
    ds = data.folder_dataset([tmp_path / "REDS"], moving_prob=0.5, seq_len=4, lr_size=8, length=40, seed=2)
    assert reads == [] and ds.nbytes == 0  # indexing reads headers only; nothing held
    for i in range(12):
        before = len(reads)
        _, _, info = ds.sample_info(i)
        assert len(reads) - before == (1 if info["moving"] else 4)
    assert len(reads) <= 12 * 4 < 3 * 10 * 12  # never the whole dataset per sample


def test_training_data_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="holds no frame sequences or videos.*REDS.*Vimeo-90K"):
        data.folder_dataset([tmp_path / "empty"])
    with pytest.raises(VideoError, match="does not exist"):
        data.folder_dataset([tmp_path / "missing"])
    mixed = tmp_path / "mixed" / "clip"
    _write_pngs(mixed, _frames(3, 0))
    iio.imwrite(mixed / "00000003.png", _frames(1, 1, 40, 56)[0])
    with pytest.raises(VideoError, match=r"frame 00000003.png is 56x40 but 00000000.png is 56x48.*same size"):
        data.folder_dataset([tmp_path / "mixed"])
    short = tmp_path / "short"
    _write_pngs(short / "a", _frames(6, 0))
    _write_pngs(short / "b", _frames(3, 1))
    with pytest.raises(ValueError,
                       match=r"1 of 2 clips have fewer frames than seq_len=5 \(first: 'short/b', 3 frames\)"):
        data.folder_dataset([short], seq_len=5, lr_size=8)
    with pytest.raises(ValueError, match=r"smaller than the 69-pixel GT crop.*--lr-size"):
        data.folder_dataset([short], seq_len=3, lr_size=16)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(VideoError, match="neither a folder nor a video"):
        data.folder_dataset([tmp_path / "notes.txt"])


# -- egvsr train / qat --data -----------------------------------------------------------

def _small_val(tmp_path):
    val = tmp_path / "val"
    _write_pngs(val, _frames(2, 77))
    return val


@pytest.mark.parametrize("cmd", ["train", "qat"])
def test_train_and_qat_on_a_reds_folder(tmp_path, capsys, cmd):
    from egvsr.flow.cli import main
    _reds(tmp_path / "REDS", n_clips=2, n=6)
    out = tmp_path / "run"
    argv = [cmd, "--data", str(tmp_path / "REDS"), "--out", str(out), "--iterations", "2", "--batch", "2",
            "--seq-len", "3", "--lr-size", "8", "--val", str(_small_val(tmp_path)), "--val-frames", "2",
            "--val-every", "2", "--workers", "0", "--device", "cpu"]
    assert main(argv) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "REDS layout" in err and "training data: 2 clips, 12 frames" in err
    assert (out / "best.pth").is_file()
    cfg = torch.load(out / "last.pth", weights_only=True)
    assert cfg["iteration"] == 2
    meta = torch.load(out / "best.pth", weights_only=True)["meta"]
    assert meta["config"]["iterations"] == 2
    if cmd == "qat":  # a QAT checkpoint names its float parent (the bundled default here)
        from egvsr.golden.bundle import file_sha256
        from egvsr.model.pretrained import DEFAULT_FLOAT
        assert meta["float_checkpoint"] == str(DEFAULT_FLOAT) and meta["float_sha256"] == file_sha256(DEFAULT_FLOAT)
    else:  # no --init: no origin recorded
        assert "init_checkpoint" not in meta


def test_train_data_errors_before_anything_is_written(tmp_path, capsys):
    from egvsr.flow.cli import main
    (tmp_path / "empty").mkdir()
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "empty"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "egvsr train: error:" in err and "holds no frame sequences or videos" in err
    assert "Traceback" not in err and not out.exists()
    _vimeo(tmp_path / "vimeo")
    assert main(["qat", "--data", str(tmp_path / "vimeo"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "fewer frames than seq_len=10" in err and "--seq-len 7" in err and not out.exists()
    assert main(["train", "--data", str(tmp_path / "vimeo"), "--moving-prob", "2", "--out", str(out)]) == 2
    assert "--moving-prob 2.0: must be between 0 and 1" in capsys.readouterr().err
    # the validation clip inside the training data
    _reds(tmp_path / "REDS", n_clips=2, n=6)
    inside = next((tmp_path / "REDS").rglob("*.png")).parent
    assert main(["train", "--data", str(tmp_path / "REDS"), "--val", str(inside), "--out", str(out)]) == 2
    assert "lies inside --data" in capsys.readouterr().err and not out.exists()


def test_sampling_memory_is_one_frame_not_the_clip(tmp_path):
    """tracemalloc peak of one sample: about one decoded frame, not the clip (numpy buffers are traced)."""
    import pickle
    import tracemalloc
    h, w, n = 360, 480, 12
    yy, xx = np.mgrid[0:h, 0:w]
    folder = tmp_path / "big" / "clip"
    folder.mkdir(parents=True)
    for i in range(n):  # smooth frames: fast to write
        f = np.stack([(xx + 7 * i) % 256, (yy + 3 * i) % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)
        iio.imwrite(folder / f"{i:04d}.png", f)
    peaks = {}
    for t in (2, 8):
        ds = data.folder_dataset([tmp_path / "big"], moving_prob=0.0, seq_len=t, lr_size=8, length=4)
        assert len(pickle.dumps(ds)) < 4096  # what a loader worker gets: the index, no pixels
        ds.sample(0)  # warm-up (imports)
        tracemalloc.start()
        try:
            ds.sample(1)
            peaks[t] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    frame = h * w * 3
    # decoding one frame costs a few frame-sized buffers (PIL -> numpy); a window of 8 costs no more than 2
    assert peaks[8] < peaks[2] + frame / 4, peaks
    # and less than holding the window's 8 decoded frames (4 would already be too many)
    assert peaks[8] < 4 * frame, (peaks, frame)
