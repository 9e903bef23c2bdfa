"""Clip sources read lazily, and finding the clips of a dataset folder (numpy only).

A *clip* is a sequence of same-sized RGB frames that can hand out a crop of
any few of its frames without reading the others:

- :class:`ArrayClip`: frames already in memory (the bundled clips, stills);
- :class:`FolderClip`: a folder of image files (one file read per frame asked
  for: REDS ``train_sharp/<clip>/<frame>.png``, Vimeo-90K
  ``sequences/<a>/<b>/im1..im7.png``, any folder of frames);
- :class:`VideoClip`: a video file (the packet timestamps are indexed once,
  without decoding; a read seeks to the keyframe before the first frame asked
  for and decodes forward to the last one).

:func:`find_clips` turns dataset folders into clips (the layouts it knows are
in its docstring) and :func:`find_clip_paths` does the same for evaluation
(names and paths only). Index memory is a file name per frame (folders) or a
timestamp per frame (videos); frames are read only when a sample asks for
them.

Every problem raises :class:`~egvsr.model.video.VideoError` (a
``ValueError``) whose message names the clip, the problem and the fix.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np

from .video import (BUNDLED_CLIPS, IMAGE_EXTENSIONS, VideoError, _open_video, _to_rgb_uint8,
                    natural_key, resolve_source)

__all__ = [
    "ArrayClip",
    "Clip",
    "FolderClip",
    "VIDEO_EXTENSIONS",
    "VideoClip",
    "find_clip_paths",
    "find_clips",
    "is_clip_source",
]

PathLike = Union[str, os.PathLike]

#: File extensions taken as video files when a dataset folder is searched.
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".y4m")

LAYOUTS_HELP = ("REDS (train_sharp/<clip>/<frame>.png), Vimeo-90K (sequences/<a>/<b>/im1.png..im7.png), "
                "folders of frames, or video files")


def _read_image(path: str) -> np.ndarray:
    """One image file as uint8 RGB (H, W, 3). Tests count the calls."""
    import imageio.v3 as iio
    try:
        img = iio.imread(path)
    except PermissionError as exc:
        raise VideoError(f"cannot read image {path!r} (permission denied); check its permissions") from exc
    except Exception as exc:  # imageio raises many types
        raise VideoError(f"cannot read image {path!r} ({exc}); replace or delete the file") from exc
    return _to_rgb_uint8(img, path)


def _image_size(path: str) -> tuple[int, int]:
    """(height, width) from the file header only (PIL opens lazily)."""
    from PIL import Image
    try:
        with Image.open(path) as im:
            w, h = im.size
    except Exception as exc:
        raise VideoError(f"cannot read image {path!r} ({exc}); replace or delete the file") from exc
    return h, w


class Clip:
    """A sequence of ``frames`` RGB frames of ``height`` x ``width``."""

    name: str = "?"
    frames: int = 0
    height: int = 0
    width: int = 0

    def read(self, indices: Sequence[int], y0: int = 0, x0: int = 0, h: int | None = None,
             w: int | None = None) -> np.ndarray:
        """Frames ``indices`` (increasing) cropped to ``[y0:y0+h, x0:x0+w]``: uint8 (len, h, w, 3)."""
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.frames, self.height, self.width, 3)

    def _box(self, y0, x0, h, w):
        h = self.height - y0 if h is None else h
        w = self.width - x0 if w is None else w
        if y0 < 0 or x0 < 0 or y0 + h > self.height or x0 + w > self.width:
            raise ValueError(f"crop {w}x{h}+{x0}+{y0} is outside the {self.width}x{self.height} clip {self.name}")
        return y0, x0, h, w

    def _check_indices(self, indices):
        for i in indices:
            if not 0 <= i < self.frames:
                raise IndexError(f"frame {i} is outside clip {self.name} ({self.frames} frames)")

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r}, {self.frames} frames, {self.width}x{self.height})"


class ArrayClip(Clip):
    """Frames held in memory: uint8 (N, H, W, 3)."""

    def __init__(self, array: np.ndarray, name: str = "array"):
        a = np.asarray(array)
        if a.ndim == 3:
            a = a[None]
        if a.ndim != 4 or a.shape[3] != 3 or a.dtype != np.uint8:
            raise ValueError(f"{name}: frames must be uint8 (N, H, W, 3), got {a.dtype} {a.shape}")
        if len(a) == 0:
            raise VideoError(f"clip {name!r} has no frames")
        self.array, self.name = a, name
        self.frames, self.height, self.width = a.shape[:3]

    @property
    def nbytes(self) -> int:
        return self.array.nbytes

    def read(self, indices, y0=0, x0=0, h=None, w=None):
        y0, x0, h, w = self._box(y0, x0, h, w)
        self._check_indices(indices)
        return self.array[list(indices), y0:y0 + h, x0:x0 + w]


class FolderClip(Clip):
    """A folder of image files, one frame per file, in natural name order.

    Construction reads every file's header (not its pixels) and refuses
    frames of different sizes; :meth:`read` reads only the files asked for.
    """

    nbytes = 0

    def __init__(self, folder: PathLike, files: Sequence[str] | None = None, name: str | None = None,
                 check_sizes: bool = True):
        self.folder = str(folder)
        if files is None:
            files = _list_images(Path(folder))
        self.files = tuple(files)  # names inside the folder: a few dozen bytes per frame
        self.name = name or self.folder
        if not self.files:
            raise VideoError(f"folder {self.folder!r} contains no images ({', '.join(IMAGE_EXTENSIONS)}); "
                             "put the frames there as numbered image files, or remove the folder")
        self.frames = len(self.files)
        self.height, self.width = _image_size(self._path(0))
        if check_sizes:
            for i in range(1, self.frames):
                hw = _image_size(self._path(i))
                if hw != (self.height, self.width):
                    raise VideoError(self._size_error(i, hw))

    def _path(self, i: int) -> str:
        return os.path.join(self.folder, self.files[i])

    def _size_error(self, i, hw):
        return (f"clip {self.name!r}: frame {self.files[i]} is {hw[1]}x{hw[0]} but {self.files[0]} is "
                f"{self.width}x{self.height}; all frames of a clip must have the same size: "
                "resize or crop them, or remove the clip")

    def read(self, indices, y0=0, x0=0, h=None, w=None):
        y0, x0, h, w = self._box(y0, x0, h, w)
        self._check_indices(indices)
        out = np.empty((len(indices), h, w, 3), np.uint8)
        for k, i in enumerate(indices):
            img = _read_image(self._path(i))
            if img.shape[:2] != (self.height, self.width):
                raise VideoError(self._size_error(i, img.shape[:2]))
            out[k] = img[y0:y0 + h, x0:x0 + w]  # the whole frame is let go here
        return out


class VideoClip(Clip):
    """A video file read by seeking (PyAV).

    The index holds one presentation timestamp per frame, gathered by
    demuxing the file once (packets are read, not decoded). A read seeks to
    the keyframe at or before the first frame asked for and decodes forward
    to the last one, cropping each frame as it is decoded.
    """

    nbytes = 0

    def __init__(self, path: PathLike, name: str | None = None):
        import av
        self.path = str(path)
        self.name = name or self.path
        with _open_video(Path(path)) as c:
            if not c.streams.video:
                raise VideoError(f"{self.path!r} has no video stream; pass a video file or a folder of images")
            s = c.streams.video[0]
            self.height, self.width = s.codec_context.height, s.codec_context.width
            pts, keys = [], []
            try:
                for p in c.demux(s):
                    if p.size == 0:  # the flush packet at the end
                        continue
                    pts.append(p.pts)
                    if p.is_keyframe:
                        keys.append(p.pts)
            except av.FFmpegError as exc:
                raise VideoError(f"reading {self.path!r} failed after {len(pts)} packets ({exc}); the file is "
                                 "truncated or corrupt: re-encode or re-download it") from exc
        if not pts:
            raise VideoError(f"{self.path!r} holds no video frames; re-encode or re-download it")
        self.seekable = all(p is not None for p in pts) and all(k is not None for k in keys)
        self.pts = np.sort(np.asarray(pts, np.int64)) if self.seekable else None
        self.keys = np.sort(np.asarray(keys, np.int64)) if self.seekable else None
        self.frames = len(pts)

    def read(self, indices, y0=0, x0=0, h=None, w=None):
        import av
        y0, x0, h, w = self._box(y0, x0, h, w)
        self._check_indices(indices)
        indices = list(indices)
        out = np.empty((len(indices), h, w, 3), np.uint8)
        got = 0
        with _open_video(Path(self.path)) as c:
            s = c.streams.video[0]
            try:
                if self.seekable:
                    want = {int(self.pts[i]): k for k, i in enumerate(indices)}
                    first, last = int(self.pts[indices[0]]), int(self.pts[indices[-1]])
                    before = self.keys[self.keys <= first]
                    c.seek(int(before[-1]) if len(before) else int(self.keys[0]), stream=s,
                           backward=True, any_frame=False)
                    for frame in c.decode(s):
                        if frame.pts in want:
                            out[want[frame.pts]] = frame.to_ndarray(format="rgb24")[y0:y0 + h, x0:x0 + w]
                            got += 1
                        if frame.pts is not None and frame.pts >= last:
                            break
                else:  # no timestamps: decode from the start, counting frames
                    want = {i: k for k, i in enumerate(indices)}
                    for n, frame in enumerate(c.decode(s)):
                        if n in want:
                            out[want[n]] = frame.to_ndarray(format="rgb24")[y0:y0 + h, x0:x0 + w]
                            got += 1
                        if n >= indices[-1]:
                            break
            except av.FFmpegError as exc:
                raise VideoError(f"decoding {self.path!r} failed ({exc}); the file is truncated or corrupt: "
                                 "re-encode or re-download it") from exc
        if got != len(indices):
            raise VideoError(f"{self.path!r}: frames {indices[0]}..{indices[-1]} could not all be decoded "
                             f"({got} of {len(indices)}); re-encode it (ffmpeg -i in -c:v libx264 out.mp4)")
        return out


# --------------------------------------------------------------------------
# finding clips
# --------------------------------------------------------------------------

def _list_images(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as it:
            names = [e.name for e in it if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS]
    except OSError as exc:
        raise VideoError(f"cannot list folder {str(folder)!r} ({exc.strerror or exc}); check its permissions") from exc
    return sorted(names, key=natural_key)


def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS


def _walk(root: Path) -> list[tuple[str, Path, list[str] | None]]:
    """(relative name, path, image names or None for a video) of every clip under ``root``."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames[:] = sorted((d for d in dirnames if not d.startswith(".")), key=natural_key)  # no hidden
        here = Path(dirpath)
        filenames = [f for f in filenames if not f.startswith(".")]
        images = sorted((f for f in filenames if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS),
                        key=natural_key)
        rel = here.relative_to(root).as_posix()
        if images:
            found.append((rel if rel != "." else here.name, here, images))
            dirnames[:] = []  # a clip folder's subfolders are not clips of their own
            continue
        for f in sorted(filenames, key=natural_key):
            p = here / f
            if p.suffix.lower() in VIDEO_EXTENSIONS:
                found.append(((here / p.stem).relative_to(root).as_posix(), p, None))
    return found


def _dataset_entries(root: Path, log=None) -> list[tuple[str, Path, list[str] | None]]:
    """Clips of one ``--data`` path, following the REDS and Vimeo-90K layouts."""
    say = log or (lambda msg: None)
    if _is_video(root):
        return [(root.stem, root, None)]
    if not root.exists():
        raise VideoError(f"training data {str(root)!r} does not exist; pass a folder laid out as {LAYOUTS_HELP}")
    if not root.is_dir():
        raise VideoError(f"training data {str(root)!r} is neither a folder nor a video file "
                         f"({', '.join(VIDEO_EXTENSIONS)}); pass a folder laid out as {LAYOUTS_HELP}")
    images = _list_images(root)
    if images:  # the folder is itself one clip
        return [(root.name, root, images)]
    for sharp in (root / "train_sharp", root / "train" / "train_sharp"):  # REDS (as unzipped: train/train_sharp)
        if sharp.is_dir():  # only the sharp training frames (not *_bicubic, *_blur, val_*)
            say(f"{root}: REDS layout, using {sharp}")
            return _walk(sharp)
    trainlist = root / "sep_trainlist.txt"
    if (root / "sequences").is_dir() and trainlist.is_file():  # Vimeo-90K septuplets: the official train split
        say(f"{root}: Vimeo-90K layout, using the clips of {trainlist.name}")
        entries = []
        for line in trainlist.read_text().split():
            folder = root / "sequences" / line
            if not folder.is_dir():
                raise VideoError(f"{trainlist} names {line} but {folder} does not exist; "
                                 "unpack the whole dataset or remove the line")
            entries.append((line, folder, _list_images(folder)))
        return entries
    return _walk(root)


def find_clips(paths: Iterable[PathLike], log=None) -> list[Clip]:
    """Index the clips of training data folders or video files, lazily.

    Each path may be

    - a REDS root (has ``train_sharp/`` or ``train/train_sharp/``: its
      ``<clip>/<frame>.png`` folders are used, not ``train_sharp_bicubic``,
      ``train_blur``, ``val_*`` or ``test_*``),
    - a Vimeo-90K root (``sequences/`` and ``sep_trainlist.txt``: the
      septuplets of the training list; ``sep_testlist.txt`` is left for
      testing),
    - any folder: every folder below it that holds images is one clip (its
      images in natural order) and every video file is one clip (hidden
      files and folders are skipped),
    - a video file.

    Frames are not read: folders list their files and read their headers
    (sizes are checked), videos index their packet timestamps.
    """
    clips: list[Clip] = []
    for p in paths:
        root = Path(p)
        entries = _dataset_entries(root, log)
        if not entries:
            raise VideoError(f"{str(root)!r} holds no frame sequences or videos; expected {LAYOUTS_HELP}")
        for rel, path, images in entries:
            name = f"{root.name}/{rel}" if rel != root.name else rel
            clips.append(VideoClip(path, name=name) if images is None else FolderClip(path, images, name=name))
    return clips


def is_clip_source(src: PathLike) -> bool:
    """True for a bundled clip name, a video file or a folder that holds images itself."""
    if isinstance(src, str) and src in BUNDLED_CLIPS and not Path(src).exists():
        return True
    p = Path(src)
    if p.is_file():
        return True
    return p.is_dir() and bool(_list_images(p))


def find_clip_paths(src: PathLike) -> list[tuple[str, Path]]:
    """Evaluation clips of ``src`` as ``(name, path)``.

    A bundled clip name, a video file or a folder of frames is one clip; a
    folder without frames of its own is a *set* of clips: every folder below
    it that holds images and every video file (Vid4: ``GT/calendar/*.png``,
    ``GT/city/*.png``, ...), named by their path relative to ``src``.
    """
    if is_clip_source(src):
        path = resolve_source(src)
        if not Path(src).exists():  # a bundled clip: its name
            return [(str(src), path)]
        return [(path.stem if path.is_file() else path.name, path)]
    root = resolve_source(src)
    found = [(rel, path) for rel, path, _ in _walk(root)]
    if not found:
        raise VideoError(f"folder {str(src)!r} holds no clips: no images and no subfolders of images or video "
                         f"files ({', '.join(VIDEO_EXTENSIONS)}); pass a clip, or a folder of clips")
    return found
