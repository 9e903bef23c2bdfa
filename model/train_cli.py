"""``egvsr train``: arguments and entry (torch imported only when it runs)."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def add_train_args(sp, qat: bool = False):
    d = "QAT" if qat else "float"
    sp.add_argument("--preset", default="auto" if qat else "tiny",
                    help="architecture (default tiny)" if not qat else "taken from the float checkpoint")
    sp.add_argument("--out", default=f"runs/{'qat' if qat else 'train'}", help="run folder (checkpoints, summary.json)")
    sp.add_argument("--iterations", type=int, default=2000 if qat else 20000)
    sp.add_argument("--batch", type=int, default=8)
    sp.add_argument("--seq-len", type=int, default=10)
    sp.add_argument("--lr-size", type=int, default=32, help="LR crop size (GT crop is 4x)")
    sp.add_argument("--lr", type=float, default=5e-5 if qat else 5e-4)
    sp.add_argument("--warp-weight", type=float, default=1.0)
    sp.add_argument("--degradation", default="BD", choices=("BD", "BI"))
    sp.add_argument("--val-every", type=int, default=500 if qat else 1000)
    sp.add_argument("--val-frames", type=int, default=30)
    sp.add_argument("--workers", type=int, default=2)
    sp.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pth exists")
    sp.add_argument("--data", action="append", metavar="DIR",
                    help="training data instead of the built-in clips (repeatable): a REDS root (train_sharp/"
                         "<clip>/<frame>.png), a Vimeo-90K root (sequences/ + sep_trainlist.txt; 7-frame "
                         "septuplets: use --seq-len 7 or less), any folder of frame folders or video files, "
                         "or a video file; read lazily (a sample reads only its frames)")
    sp.add_argument("--moving-prob", type=float, default=0.25,
                    help="with --data: share of samples that are one frame moved by whole pixels (default 0.25)")
    sp.add_argument("--val", default="carphone",
                    help="validation clip (bundled name, video or frame folder; default carphone, held out "
                         "of the built-in data); keep it out of --data")
    sp.add_argument("--no-stills", action="store_true", help="built-in data: the video clips only")
    sp.add_argument("--time-limit", type=float, default=0.0, help="stop after this many seconds (with a checkpoint)")
    sp.add_argument("--publish", help="copy the best checkpoint here at the end")
    if not qat:
        sp.add_argument("--init", help="start from these weights (float checkpoint; a skip-none checkpoint "
                        "for an anchor preset gets its head refitted for the anchor; a smaller preset's "
                        "checkpoint, e.g. tiny for small, is grown to this preset with the same output; "
                        "with --iterations 0 the run only validates and keeps the init)")
        sp.add_argument("--freeze-grown", action="store_true",
                        help="with --init of a smaller preset: train only the weights growth added "
                        "(the smaller model's own stay fixed)")


def _check_options(args) -> None:
    """Every numeric option checked before anything is loaded or written (name in the message)."""
    import math
    # with --init, 0 iterations is a run too: the init validated and kept as best.pth
    ints = {"--iterations": (args.iterations, 0 if getattr(args, "init", None) else 1), "--batch": (args.batch, 1),
            "--seq-len": (args.seq_len, 2), "--lr-size": (args.lr_size, 8),
            "--val-every": (args.val_every, 1), "--val-frames": (args.val_frames, 2),
            "--workers": (args.workers, 0)}
    if getattr(args, "freeze_grown", False) and not args.init:
        raise ValueError("--freeze-grown needs --init with a smaller preset's checkpoint")
    for name, (v, lo) in ints.items():
        if v < lo:
            why = {"--seq-len": " (the recurrence needs a previous frame)",
                   "--lr-size": " (FNet pools three times: at least 8 LR pixels)",
                   "--val-frames": " (the recurrence needs a previous frame)"}.get(name, "")
            raise ValueError(f"{name} {v}: must be at least {lo}{why}")
    if not (math.isfinite(args.moving_prob) and 0 <= args.moving_prob <= 1):
        raise ValueError(f"--moving-prob {args.moving_prob}: must be between 0 and 1")
    if args.data and args.no_stills:
        raise ValueError("--no-stills applies to the built-in data; --data has no stills (see --moving-prob)")
    if args.data and os.path.exists(args.val):
        val = os.path.realpath(args.val)
        for d in args.data:
            root = os.path.realpath(d)
            if val == root or val.startswith(root + os.sep):
                raise ValueError(f"--val {args.val} lies inside --data {d}: a clip that trains the "
                                 "model can not also select it; validate on a clip outside the "
                                 "training folders")
    for name, v, positive in (("--lr", args.lr, True), ("--warp-weight", args.warp_weight, False),
                              ("--time-limit", args.time_limit, False)):
        if not math.isfinite(v) or v < 0 or (positive and v == 0):
            raise ValueError(f"{name} {v}: must be a finite number {'> 0' if positive else '>= 0'}")


def config_from_args(args):
    from .train import TrainConfig
    _check_options(args)
    return TrainConfig(iterations=args.iterations, batch=args.batch, seq_len=args.seq_len, lr_size=args.lr_size,
                       lr=args.lr, warp_weight=args.warp_weight, degradation=args.degradation,
                       val_every=args.val_every, val_frames=args.val_frames, ckpt_every=args.val_every,
                       seed=args.seed, workers=args.workers, device=args.device, stills=not args.no_stills,
                       time_limit=args.time_limit, data=[str(d) for d in args.data or []],
                       moving_prob=args.moving_prob, val_clip=args.val)


def clip_validator(frames: int, degradation: str, clip: str = "carphone"):
    """PSNR-Y on the held-out clip (carphone unless ``clip``) and its bicubic baseline.

    Works for any model with ``infer_frames(uint8 frames, device=...)``: the
    float model and the quantized twin.
    """
    import numpy as np

    from .data import val_sequence
    from .degrade import bicubic_upscale, to_uint8
    from .metrics import clip_metrics
    lr, gt = val_sequence(clip, frames=frames, degradation=degradation)
    bic = clip_metrics(to_uint8(bicubic_upscale(lr, align="bd" if degradation == "BD" else "torch")), gt)["psnr_y"]

    def validate(model):
        dev = next(model.parameters()).device
        sr = np.stack(list(model.infer_frames(list(lr), device=dev)))
        return {"psnr_y": clip_metrics(sr, gt)["psnr_y"], "bicubic_psnr_y": bic}
    return validate


def _log(msg):
    print(msg, file=sys.stderr)


def _anchor_init(sd: dict, init_preset, model, source, dataset, samples: int = 48) -> dict:
    """A ``skip: none`` checkpoint initialising an anchor model: rewrite its head so the start
    is the old model's quality (see :func:`~egvsr.model.srnet.fit_anchor_head`), fitted on the
    first ``samples`` sequences of the training ``dataset``."""
    from .checkpoint import load_into
    from .egvsr import EGVSR
    from .presets import get_preset
    from .srnet import fit_anchor_head
    if model.preset.skip != "anchor" or init_preset is None or get_preset(init_preset).skip != "none":
        return sd
    old = EGVSR(get_preset(init_preset))
    load_into(old, sd, source)
    w, b = fit_anchor_head(old, [dataset.tensors(i)[0] for i in range(samples)])
    sd = dict(sd)
    sd["srnet.conv_sub.weight"], sd["srnet.conv_sub.bias"] = w, b
    _log(f"init: {source} predicts absolute intensity (skip none); its head srnet.conv_sub is refitted "
         f"for the anchor skip (least squares on {samples} training sequences)")
    return sd


def _grow_init(sd: dict, init_preset, model, source) -> dict:
    """A checkpoint of a smaller preset initialising a larger one: grown so that the start
    computes the smaller model's output (see :mod:`egvsr.model.grow`)."""
    from .grow import grow_state_dict, needs_growth
    from .presets import get_preset
    if init_preset is None:
        return sd
    old = get_preset(init_preset)
    if not needs_growth(old, model.preset):
        return sd
    sd = grow_state_dict(sd, old, model)
    _log(f"init: {source} (preset {old.name}, nf {old.nf}, nb {old.nb}) grown into {model.preset.name} "
         f"(nf {model.preset.nf}, nb {model.preset.nb}): same output at the start, new channels and blocks "
         "begin at zero weight into the old ones")
    return sd


def train_main(args) -> int:
    from .checkpoint import load_into, read_checkpoint, save_checkpoint, split_checkpoint
    from .data import dataset_from_config
    from .egvsr import EGVSR
    from .train import run_training
    cfg = config_from_args(args)
    # bad --data fails here, before anything is written; under torchrun only rank 0 logs the set-up
    dataset = dataset_from_config(cfg, log=_log if os.environ.get("RANK", "0") == "0" else None)
    from dataclasses import replace

    from .presets import get_preset
    # The degradation also picks the flow upsampler (BD: bicubic, BI: bilinear).
    model = EGVSR(replace(get_preset(args.preset), degradation=args.degradation))
    origin = None
    if args.init:
        sd, init_preset, _ = split_checkpoint(read_checkpoint(args.init))
        # where the start came from, in every checkpoint of the run (as QAT records its float parent)
        from ..golden.bundle import file_sha256
        origin = {"init_checkpoint": str(args.init), "init_sha256": file_sha256(args.init),
                  "init_preset": (init_preset or {}).get("name"), "init_steps": [],
                  "freeze_grown": bool(args.freeze_grown)}
        refit = _anchor_init(sd, init_preset, model, args.init, dataset)
        if refit is not sd:  # the head now predicts for the anchor skip
            sd, init_preset = refit, {**init_preset, "skip": "anchor"}
            origin["init_steps"].append("anchor head refit")
        grown = _grow_init(sd, init_preset, model, args.init)
        if grown is not sd:
            origin["init_steps"].append("grown")
        load_into(model, grown, args.init)
        if args.freeze_grown:
            if grown is sd:
                raise ValueError(f"--freeze-grown: {args.init} has this preset's own size, so nothing was grown "
                                 "to train; drop the option or --init a smaller preset's checkpoint")
            from .grow import freeze_grown
            _log(f"--freeze-grown: {freeze_grown(model, sd)} weights taken from {args.init} stay fixed")
    summary = run_training(model, cfg, args.out, save_checkpoint,
                           validate=clip_validator(cfg.val_frames, cfg.degradation, cfg.val_clip),
                           resume=not args.no_resume, dataset=dataset, validate_start=bool(args.init), meta=origin)
    print(f"done: {summary['iterations']} iterations in {summary['seconds']:.0f} s on {summary['device']}, "
          f"best val PSNR-Y {summary['best_psnr_y']:.3f} dB", file=sys.stderr)
    if args.publish:
        shutil.copyfile(Path(args.out) / "best.pth", args.publish)
    return 0
