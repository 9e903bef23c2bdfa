"""``egvsr eval`` over several clips: the float model against its quantized twin.

For each clip the table gives PSNR/SSIM on Y (as :func:`egvsr.flow.cli.evaluate`)
of the bicubic baseline, the float model and the quantized model (the
bundle, run by an integer backend: golden by default), the quantized
model's loss against its float parent, and the **colour check**: the mean
error of the quantized output against the float output in each of R, G and
B, in 8-bit levels (quantized minus float, over every pixel of every frame).
A Y-only PSNR does not see a uniform colour cast; this does. A clip whose
bias exceeds :data:`COLOUR_LIMIT` (0.5 levels) in any channel is flagged.

The clips come from GT sources that are degraded here (BD or BI), or in
*paired* mode from an LR set and a GT set as published Vid4 BD sets are
distributed (``BDx4/<clip>/*.png`` beside ``GT/<clip>/*.png``); the GT must
then be exactly 4x the LR.

numpy only, besides what the backends need (torch for the float model).
"""
from __future__ import annotations

import math
import numpy as np

#: Largest |mean error| of the quantized output against the float output, per
#: channel, in 8-bit levels, before a clip is flagged (issue 10's target).
COLOUR_LIMIT = 0.5
CHANNELS = ("r", "g", "b")
MIN_LR = 8  # FNet pools three times


class EvalError(ValueError):
    """A clip or a clip set cannot be evaluated (the message names the fix)."""


# --------------------------------------------------------------------------
# colour check
# --------------------------------------------------------------------------

def colour_bias(quant, ref) -> dict:
    """Mean error of ``quant`` against ``ref`` per channel, in 8-bit levels.

    ``quant``, ``ref``: uint8 frames ``(N, H, W, 3)`` (or one ``(H, W, 3)``).
    Returns ``{"r", "g", "b"}`` (mean of ``quant - ref`` over all pixels and
    frames), ``"max_abs"`` (the largest of the three in magnitude) and
    ``"rms"`` (root mean square of ``quant - ref`` over all values).
    Accumulated frame by frame in int64: exact whatever the clip length.
    """
    q, r = np.asarray(quant), np.asarray(ref)
    if q.shape != r.shape:
        raise ValueError(f"colour_bias: shapes differ, {q.shape} vs {r.shape}")
    if q.ndim == 3:
        q, r = q[None], r[None]
    if q.ndim != 4 or q.shape[-1] != 3:
        raise ValueError(f"colour_bias: expected RGB frames (N, H, W, 3), got {q.shape}")
    s = np.zeros(3, np.int64)
    s2 = 0
    for a, b in zip(q, r):
        d = a.astype(np.int64) - b.astype(np.int64)
        s += d.sum(axis=(0, 1))
        s2 += int((d * d).sum())
    n = q.shape[0] * q.shape[1] * q.shape[2]
    mean = s / n
    out = {c: float(m) for c, m in zip(CHANNELS, mean)}
    out["max_abs"] = float(np.abs(mean).max())
    out["rms"] = math.sqrt(s2 / (3 * n))
    return out


# --------------------------------------------------------------------------
# inputs: degraded GT, or an LR/GT pair
# --------------------------------------------------------------------------

def min_gt_size(degradation: str) -> int:
    """Smallest GT side that the degradation turns into the 8 LR pixels EGVSR needs."""
    from egvsr.model.degrade import bd_gt_size
    return bd_gt_size(MIN_LR) if degradation == "BD" else 4 * MIN_LR


def check_crop(crop, degradation):
    """``--crop WxH`` parsed and checked against the degradation: (w, h) or None."""
    if not crop:
        return None
    from .cli import parse_size
    try:
        cw, ch = parse_size(crop)
    except ValueError as exc:
        raise EvalError(f"--crop {exc}") from None
    need = min_gt_size(degradation)
    if cw < need or ch < need:
        raise EvalError(f"--crop {cw}x{ch} is too small: --degradation {degradation} needs at least "
                        f"{need}x{need} GT pixels to make the {MIN_LR}x{MIN_LR} LR frames EGVSR needs")
    return cw, ch


def center_crop(frames, size):
    if not size:
        return frames
    w, h = size
    H, W = frames.shape[1:3]
    if w > W or h > H:
        raise EvalError(f"--crop {w}x{h} is larger than the {W}x{H} clip")
    y0, x0 = (H - h) // 2, (W - w) // 2
    return frames[:, y0:y0 + h, x0:x0 + w]


def degraded_pair(gt_src, degradation="BD", frames=None, crop=None):
    """(lr uint8, gt uint8) of a GT clip degraded here (BD or BI), after an optional centre crop."""
    from egvsr.model.degrade import bd_degrade, bi_degrade, to_uint8
    from egvsr.model.video import read_frames
    if degradation not in ("BD", "BI"):
        raise EvalError(f"--degradation {degradation!r}: choose BD or BI")
    size = check_crop(crop, degradation)
    gt = center_crop(read_frames(gt_src, max_frames=frames), size)
    H, W = gt.shape[1:3]
    need = min_gt_size(degradation)
    if H < need or W < need:
        raise EvalError(f"GT frames are {W}x{H}; --degradation {degradation} needs at least {need}x{need} "
                        f"GT pixels to make the {MIN_LR}x{MIN_LR} LR frames EGVSR needs: use a larger clip")
    lr, gt_c = (bd_degrade if degradation == "BD" else bi_degrade)(gt)
    return to_uint8(lr), to_uint8(gt_c)


def _check_sizes(name, h, w, H, W):
    if (H, W) != (4 * h, 4 * w):
        hint = ""
        if H >= 4 * h and W >= 4 * w:
            hint = (f" (the GT is {W - 4 * w}x{H - 4 * h} pixels larger: the GT the LR was made from "
                    f"cut to {4 * w}x{4 * h}?)")
        elif H * 4 == h and W * 4 == w:
            hint = " (the two folders look swapped: the GT is the positional input, the LR goes to --lr)"
        raise EvalError(
            f"clip {name}: GT frames are {W}x{H} but LR frames are {w}x{h}; the GT must be exactly 4x the LR "
            f"({4 * w}x{4 * h}){hint}. Pass the GT and the x4 LR set made from it (e.g. Vid4 GT/ with BDx4/), "
            "or crop the GT to 4x the LR")
    if h < MIN_LR or w < MIN_LR:
        raise EvalError(f"clip {name}: LR frames are {w}x{h}; EGVSR needs at least {MIN_LR}x{MIN_LR} "
                        "(FNet pools three times)")


def check_pair_sizes(name, lr_src, gt_src, frames=None):
    """Sizes and frame counts of an LR/GT pair from first frames and headers (the clips are not decoded)."""
    from egvsr.model.video import probe
    lr, gt = probe(lr_src), probe(gt_src)
    _check_sizes(name, lr["height"], lr["width"], gt["height"], gt["width"])
    n, N = lr["frames"], gt["frames"]  # 0: a video header that does not say
    if frames:
        n, N = min(n, frames) if n else 0, min(N, frames) if N else 0
    if n and N and n != N:
        raise EvalError(f"clip {name}: {n} LR frames but {N} GT frames; the sets must hold the same frames "
                        "(or limit both with --frames)")


def paired_frames(name, lr_src, gt_src, frames=None):
    """(lr, gt) uint8 read from an LR clip and its GT; GT must be exactly 4x the LR, frame for frame."""
    from egvsr.model.video import read_frames
    lr = read_frames(lr_src, max_frames=frames)
    gt = read_frames(gt_src, max_frames=frames)
    (n, h, w), (N, H, W) = lr.shape[:3], gt.shape[:3]
    _check_sizes(name, h, w, H, W)
    if n != N:
        raise EvalError(f"clip {name}: {n} LR frames but {N} GT frames; the sets must hold the same frames "
                        "(or limit both with --frames)")
    return lr, gt


def gather(gt_inputs, lr_input=None):
    """The clips to evaluate: ``[(name, gt_path, lr_path or None)]``.

    Every GT input is a clip (bundled name, video, folder of frames) or a
    folder of clips; with ``lr_input`` (paired mode) there is one GT input,
    and clips are matched by name (their path below the set's folder).
    """
    from egvsr.model.clips import find_clip_paths
    if lr_input is None:
        out, seen = [], set()
        for src in gt_inputs:
            for name, path in find_clip_paths(src):
                if name in seen:
                    name = str(path)
                seen.add(name)
                out.append((name, path, None))
        return out
    if len(gt_inputs) != 1:
        raise EvalError(f"--lr pairs one LR set with one GT set, but {len(gt_inputs)} GT inputs were given: "
                        "pass the GT clip or GT folder of clips once (e.g. egvsr eval Vid4/GT --lr Vid4/BDx4)")
    gts, lrs = find_clip_paths(gt_inputs[0]), find_clip_paths(lr_input)
    if len(gts) == 1 and len(lrs) == 1:
        (name, gpath), (_, lpath) = gts[0], lrs[0]
        return [(name, gpath, lpath)]
    gmap, lmap = dict(gts), dict(lrs)
    missing = [n for n in gmap if n not in lmap]
    if missing or len(gts) == 1 or len(lrs) == 1:
        raise EvalError(
            f"the LR set {lr_input} and the GT set {gt_inputs[0]} do not hold the same clips "
            f"(GT: {', '.join(sorted(gmap))}; LR: {', '.join(sorted(lmap))}); pass two folders of clips "
            "with the same clip names (e.g. Vid4/GT and Vid4/BDx4), or one clip of each")
    extra = [n for n in lmap if n not in gmap]
    if extra:
        import warnings
        warnings.warn(f"LR clips without GT are not evaluated: {', '.join(extra)}")
    return [(n, gmap[n], lmap[n]) for n, _ in gts]


# --------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------

def _scores(sr, gt):
    from egvsr.model.metrics import clip_metrics
    m = clip_metrics(sr, gt)
    return {"psnr_y": m["psnr_y"], "ssim_y": m["ssim_y"]}


def _mean(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return float(np.mean(vals)) if all(math.isfinite(v) for v in vals) else math.inf


def check_clips(clips, degradation="BD", frames=None, crop=None) -> None:
    """What can be checked before any network runs: --crop, and the sizes and counts of every LR/GT pair."""
    if degradation not in ("BD", "BI"):
        raise EvalError(f"--degradation {degradation!r}: choose BD or BI")
    if crop and any(lr is not None for _, _, lr in clips):
        raise EvalError("--crop cuts the GT before it is degraded; with --lr crop both sets beforehand "
                        "(or limit the frames with --frames)")
    if crop:
        check_crop(crop, degradation)
    for name, gt_path, lr_path in clips:
        if lr_path is not None:
            check_pair_sizes(name, lr_path, gt_path, frames)


def evaluate_table(clips, float_backend, quant_backend, *, degradation="BD", frames=None, crop=None,
                   colour_limit=COLOUR_LIMIT, progress=None) -> dict:
    """Evaluate ``clips`` (from :func:`gather`) with both backends; the per-clip rows and their mean.

    ``float_backend``/``quant_backend`` are open :class:`~egvsr.flow.backends.Backend`
    objects (each clip restarts the recurrence). ``progress(name, stage)``
    is called before each run.
    """
    from egvsr.model.degrade import bicubic_upscale, to_uint8
    say = progress or (lambda *a: None)
    check_clips(clips, degradation, frames, crop)
    rows = []
    for name, gt_path, lr_path in clips:
        if lr_path is None:
            lr, gt = degraded_pair(gt_path, degradation, frames, crop)
        else:
            lr, gt = paired_frames(name, lr_path, gt_path, frames)
        say(name, "float")
        fsr = np.stack(list(float_backend.run(list(lr))))
        say(name, "quantized")
        qsr = np.stack(list(quant_backend.run(list(lr))))
        bic = to_uint8(bicubic_upscale(lr, align="bd" if degradation == "BD" else "torch"))
        row = {"clip": name, "gt": str(gt_path), "lr": str(lr_path) if lr_path is not None else None,
               "frames": int(len(gt)), "lr_size": [int(lr.shape[2]), int(lr.shape[1])],
               "bicubic": _scores(bic, gt), "float": _scores(fsr, gt), "quant": _scores(qsr, gt),
               "colour_bias": colour_bias(qsr, fsr)}
        f, q = row["float"]["psnr_y"], row["quant"]["psnr_y"]
        row["quant_minus_float_db"] = q - f if math.isfinite(f) and math.isfinite(q) else None
        row["colour_flag"] = row["colour_bias"]["max_abs"] > colour_limit
        rows.append(row)
        del lr, gt, fsr, qsr, bic
    mean = {"frames": int(sum(r["frames"] for r in rows))}
    for key in ("bicubic", "float", "quant"):
        mean[key] = {m: _mean([r[key][m] for r in rows]) for m in ("psnr_y", "ssim_y")}
    mean["quant_minus_float_db"] = _mean([r["quant_minus_float_db"] for r in rows])
    mean["colour_bias"] = {c: float(np.mean([r["colour_bias"][c] for r in rows])) for c in CHANNELS}
    mean["colour_bias"]["max_abs"] = float(max(r["colour_bias"]["max_abs"] for r in rows))
    mean["colour_bias"]["rms"] = float(np.sqrt(np.mean([r["colour_bias"]["rms"] ** 2 for r in rows])))
    return {"mode": "paired" if any(r["lr"] for r in rows) else "degrade", "degradation": degradation,
            "colour_limit": colour_limit, "clips": rows, "mean": mean,
            "colour_flagged": [r["clip"] for r in rows if r["colour_flag"]]}


def _db(v, fmt=".3f"):
    if v is None:
        return "n/a"
    return f"{v:{fmt}}" if math.isfinite(v) else "inf"


def format_table(res: dict, quant_label: str = "W8A8") -> str:
    """The per-clip table and the mean row as text (PSNR-Y in dB, colour in levels)."""
    rows = res["clips"]
    w = max([len("clip"), len("mean")] + [len(r["clip"]) for r in rows])
    head = (f"{'clip':<{w}}  frames  {'LR':>9}  {'bicubic':>8}  {'float':>8}  {quant_label:>8}  "
            f"{quant_label + '-float':>11}  colour R/G/B (levels)")
    lines = [head, "-" * len(head)]

    def line(name, r, lr_size=""):
        cb = r["colour_bias"]
        flag = "  ! colour" if cb["max_abs"] > res["colour_limit"] else ""
        return (f"{name:<{w}}  {r['frames']:>6}  {lr_size:>9}  {_db(r['bicubic']['psnr_y']):>8}  "
                f"{_db(r['float']['psnr_y']):>8}  {_db(r['quant']['psnr_y']):>8}  "
                f"{_db(r['quant_minus_float_db'], '+.3f'):>11}  "
                f"{cb['r']:+.2f} {cb['g']:+.2f} {cb['b']:+.2f}{flag}")
    for r in rows:
        lines.append(line(r["clip"], r, f"{r['lr_size'][0]}x{r['lr_size'][1]}"))
    lines.append("-" * len(head))
    lines.append(line("mean", res["mean"]))
    lines.append(f"PSNR-Y in dB ({res['degradation']}{', paired LR/GT' if res['mode'] == 'paired' else ''}); "
                 f"colour: mean error of the {quant_label} output against the float output per channel, "
                 f"in 8-bit levels; '!' marks a clip above {res['colour_limit']:g} levels "
                 f"({len(res['colour_flagged'])} of {len(rows)} clips)")
    return "\n".join(lines)


__all__ = ["COLOUR_LIMIT", "EvalError", "colour_bias", "degraded_pair", "evaluate_table", "format_table",
           "gather", "paired_frames"]
