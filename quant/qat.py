"""``egvsr qat``: quantization-aware fine-tuning from a float checkpoint.

Uses the float training loop (same data, losses, progress bar, resume). The
Brevitas activation quantizers collect statistics during the first 300
training steps, then learn their power-of-two scales.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def qat_main(args) -> int:
    from egvsr.golden.bundle import file_sha256
    from egvsr.model.checkpoint import load_model
    from egvsr.model.data import dataset_from_config
    from egvsr.model.pretrained import DEFAULT_FLOAT
    from egvsr.model.train import run_training
    from egvsr.model.train_cli import clip_validator, config_from_args

    from .checkpoint import save_qcheckpoint
    from .qegvsr import QuantEGVSR
    cfg = config_from_args(args)  # every option checked before anything is loaded or written
    log = (lambda m: print(m, file=sys.stderr)) if os.environ.get("RANK", "0") == "0" else None  # torchrun: rank 0
    dataset = dataset_from_config(cfg, log=log)  # bad --data fails here
    src = Path(args.from_ckpt) if args.from_ckpt else DEFAULT_FLOAT
    fmodel = load_model(src, None if args.preset in (None, "auto") else args.preset)
    if fmodel.preset.degradation != args.degradation:
        raise ValueError(f"the float model {src} was built for {fmodel.preset.degradation} (its flow upsampler); "
                         f"QAT with --degradation {args.degradation} would train it on other data: "
                         f"pass --degradation {fmodel.preset.degradation}")
    qmodel = QuantEGVSR(fmodel.preset, args.quant).load_float(fmodel)
    parent = {"float_checkpoint": str(src), "float_sha256": file_sha256(src)}
    summary = run_training(qmodel, cfg, args.out, save_qcheckpoint,
                           validate=clip_validator(cfg.val_frames, cfg.degradation, cfg.val_clip),
                           resume=not args.no_resume, dataset=dataset, meta=parent)
    print(f"done: {summary['iterations']} QAT iterations in {summary['seconds']:.0f} s, "
          f"best val PSNR-Y {summary['best_psnr_y']:.3f} dB", file=sys.stderr)
    if args.publish:
        shutil.copyfile(Path(args.out) / "best.pth", args.publish)
    return 0
