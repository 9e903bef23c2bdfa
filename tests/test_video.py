"""Video I/O: bundled clips, PNG folders, mp4 round trip, error messages."""

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("imageio")

from egvsr.model import video  # noqa: E402
from egvsr.model.video import VideoError  # noqa: E402


def _skip_without_clips():
    try:
        video.bundled_clip("carphone")
    except VideoError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("name,w,h,n", [("carphone", 176, 144, 120),
                                         ("bikes", 640, 272, 250),
                                         ("bigbuckbunny", 1280, 720, 132)])
def test_bundled_clip_found_and_decodes(name, w, h, n):
    _skip_without_clips()
    path = video.bundled_clip(name)
    assert path.is_file() and path.name == video.BUNDLED_CLIPS[name]
    info = video.probe(name)
    assert (info["width"], info["height"], info["frames"]) == (w, h, n)
    frames = video.read_frames(name, max_frames=3)
    assert frames.shape == (3, h, w, 3) and frames.dtype == np.uint8
    assert frames.std() > 5  # real content, not a blank decode


def test_start_step_and_iter():
    _skip_without_clips()
    allf = video.read_frames("carphone", max_frames=10)
    sub = video.read_frames("carphone", max_frames=3, start=2, step=3)
    np.testing.assert_array_equal(sub, allf[[2, 5, 8]])
    it = list(video.iter_frames("carphone", max_frames=2))
    assert len(it) == 2 and it[0].shape == (144, 176, 3)
    with pytest.raises(VideoError, match="no frames selected"):
        video.read_frames("carphone", start=10_000)


def test_unknown_clip_name():
    with pytest.raises(VideoError, match="choose one of"):
        video.bundled_clip("foreman")
    with pytest.raises(VideoError, match="does not exist"):
        video.read_frames("foreman")


def _random_clip(n=4, h=36, w=52, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def test_png_folder_round_trip(tmp_path):
    clip = _random_clip()
    out = video.write_frames(clip, tmp_path / "clip")
    assert sorted(p.name for p in out.iterdir()) == [f"{i:06d}.png" for i in range(4)]
    np.testing.assert_array_equal(video.read_frames(out), clip)
    # overwrite replaces the folder (no stale frames left behind)
    video.write_frames(clip[:2], out, overwrite=True)
    assert len(list(out.iterdir())) == 2
    with pytest.raises(VideoError, match="--overwrite"):
        video.write_frames(clip, out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_float_frames_are_scaled(tmp_path):
    clip = _random_clip(n=2)
    out = video.write_frames(clip.astype(np.float32) / 255, tmp_path / "f")
    np.testing.assert_array_equal(video.read_frames(out), clip)


def test_grey_and_rgba_images_become_rgb(tmp_path):
    import imageio.v3 as iio

    d = tmp_path / "mixed_kinds"
    d.mkdir()
    g = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)
    iio.imwrite(d / "a.png", g)
    iio.imwrite(d / "b.png", np.dstack([g, g, g, np.full_like(g, 255)]))
    frames = video.read_frames(d)
    assert frames.shape == (2, 20, 30, 3)
    np.testing.assert_array_equal(frames[0], frames[1])


def test_mp4_round_trip(tmp_path):
    # smooth content compresses well: a lossy round trip stays close
    yy, xx = np.mgrid[0:64, 0:96]
    clip = np.stack([np.stack([(xx * 2 + 8 * t) % 256, yy * 3, (xx + yy) % 256], -1)
                     for t in range(6)]).astype(np.uint8)
    out = video.write_frames(clip, tmp_path / "c.mp4", fps=25)
    back = video.read_frames(out)
    assert back.shape == clip.shape
    err = np.abs(back.astype(float) - clip.astype(float)).mean()
    assert err < 6, err
    info = video.probe(out)
    assert info["fps"] == pytest.approx(25) and info["frames"] == 6
    assert [p.name for p in tmp_path.iterdir()] == ["c.mp4"]


def test_mp4_odd_size_refused(tmp_path):
    with pytest.raises(VideoError, match="even"):
        video.write_frames(_random_clip(h=35), tmp_path / "odd.mp4")
    assert list(tmp_path.iterdir()) == []


def test_missing_file(tmp_path):
    with pytest.raises(VideoError, match="does not exist"):
        video.read_frames(tmp_path / "nope.mp4")


def test_corrupt_file(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoError, match="corrupt"):
        video.read_frames(bad)


def test_truncated_file(tmp_path):
    _skip_without_clips()
    data = video.bundled_clip("carphone").read_bytes()
    bad = tmp_path / "trunc.mp4"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError):
        video.read_frames(bad)


def test_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(VideoError, match="no images"):
        video.read_frames(tmp_path)


def test_mixed_sizes(tmp_path):
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "0.png", np.zeros((8, 8, 3), np.uint8))
    iio.imwrite(tmp_path / "1.png", np.zeros((8, 10, 3), np.uint8))
    with pytest.raises(VideoError, match="same size"):
        video.read_frames(tmp_path)


def test_bad_frame_array(tmp_path):
    with pytest.raises(VideoError, match=r"\(N, H, W, 3\)"):
        video.write_frames(np.zeros((2, 8, 8), np.uint8)[..., None], tmp_path / "x")
    with pytest.raises(VideoError, match="at least one"):
        video.write_frames(np.zeros((0, 8, 8, 3), np.uint8), tmp_path / "x")
