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


def test_folder_frames_in_natural_order(tmp_path):
    import imageio.v3 as iio

    for i, name in enumerate(["frame1.png", "frame2.png", "frame10.png", "Frame11.png"]):
        iio.imwrite(tmp_path / name, np.full((8, 8, 3), i, np.uint8))
    assert [int(f[0, 0, 0]) for f in video.read_frames(tmp_path)] == [0, 1, 2, 3]
    assert sorted(["b10", "a2", "b9", "a10"], key=video.natural_key) == ["a2", "a10", "b9", "b10"]


@pytest.mark.parametrize("ext", sorted(video.VIDEO_CONTAINERS))
def test_every_container_round_trips(tmp_path, ext):
    clip = _random_clip(n=5, h=32, w=48)
    out = video.write_frames(iter(list(clip)), tmp_path / f"c{ext}", fps=50)  # a generator streams
    assert video.read_frames(out).shape == clip.shape
    assert video.probe(out)["fps"] == pytest.approx(50)
    assert [p.name for p in tmp_path.iterdir()] == [f"c{ext}"]


def test_unsupported_output_refused(tmp_path):
    for name in ("c.webm", "c.gif", "c.png", "frames.v2"):
        with pytest.raises(VideoError, match="not a supported output"):
            video.write_frames(_random_clip(n=1), tmp_path / name)
    assert video.output_kind(str(tmp_path / "frames.v2") + "/") == "png"
    assert list(tmp_path.iterdir()) == []


def test_output_never_the_input(tmp_path):
    src = video.write_frames(_random_clip(n=2), tmp_path / "lr")
    for dst in (src, src / "sr.mp4", tmp_path):
        with pytest.raises(VideoError, match="the input"):
            video.write_frames(_random_clip(n=1), dst, overwrite=True, protect=[src])
    assert sorted(p.name for p in src.iterdir()) == ["000000.png", "000001.png"]


@pytest.mark.parametrize("queue", [0, 2])
@pytest.mark.parametrize("name", ["c.mp4", "c"])
def test_writer_interrupted_leaves_the_old_output(tmp_path, queue, name):
    old = video.write_frames(_random_clip(n=1, seed=1), tmp_path / name)
    before = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(KeyboardInterrupt):
        with video.FrameWriter(old, fps=25, overwrite=True, queue=queue) as w:
            for f in _random_clip(n=3):
                w.write(f)
            raise KeyboardInterrupt
    assert {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_background_writer_equals_direct(tmp_path):
    clip = _random_clip(n=6)
    with video.FrameWriter(tmp_path / "a", queue=2) as w:
        for f in clip:
            w.write(f)
    assert w.written == 6
    np.testing.assert_array_equal(video.read_frames(tmp_path / "a"), clip)
    with pytest.raises(VideoError, match="same size"):  # an encoder error reaches the caller
        with video.FrameWriter(tmp_path / "b", queue=2) as w:
            w.write(clip[0])
            w.write(clip[0][:10])
            w.write(clip[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_prefetch_passes_items_and_errors():
    assert list(video.prefetch(iter(range(10)), 2)) == list(range(10))

    def broken():
        yield 1
        raise VideoError("decoding failed")
    it = video.prefetch(broken(), 2)
    assert next(it) == 1
    with pytest.raises(VideoError, match="decoding failed"):
        next(it)
    pulled = []

    def endless():
        while True:
            pulled.append(1)
            yield 0
    it = video.prefetch(endless(), 3)
    next(it)
    it.close()  # stops and joins the thread
    n = len(pulled)
    assert n <= 6 and len(pulled) == n


def test_bad_fps_refused(tmp_path):
    for fps in (0, -1, float("nan"), float("inf"), "25"):
        with pytest.raises(VideoError, match="fps"):
            video.write_frames(_random_clip(n=1), tmp_path / "c.mp4", fps=fps)
    assert list(tmp_path.iterdir()) == []
