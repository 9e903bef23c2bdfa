"""Recurrent training (published stage 1): Charbonnier pixel + warping loss.

One loop serves float training (``egvsr train``) and QAT fine-tuning
(``egvsr qat``): the model only needs ``forward_sequence`` and ``lr_flow``-
style outputs, and validation is a callable. Runs on CUDA when present, on
several GPUs through ``torchrun`` (DDP), deterministic for a given seed.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist

from .checkpoint import atomic_torch_save
from .warp import backward_warp


@dataclass
class TrainConfig:
    iterations: int = 20000
    batch: int = 8
    seq_len: int = 10
    lr_size: int = 32
    lr: float = 5e-4
    lr_min_ratio: float = 0.1
    warp_weight: float = 1.0
    degradation: str = "BD"
    val_every: int = 1000
    val_frames: int = 30
    ckpt_every: int = 1000
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    stills: bool = True
    max_side: int = 720
    time_limit: float = 0.0  # seconds; 0 = none. Stops early with a checkpoint.
    data: list = field(default_factory=list)  # --data folders / videos (read lazily); empty: built-in data
    moving_prob: float = 0.25  # share of moving-first-frame samples with --data
    val_clip: str = "carphone"
    extra: dict = field(default_factory=dict)


def charbonnier(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return torch.sqrt((x - y) ** 2 + eps * eps).mean()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def sequence_loss(model, lr_seq, gt_seq, warp_weight: float):
    """Pixel loss on every HR output + warping loss of lr_prev by the LR flow."""
    hr_seq, lr_flow = model.forward_sequence(lr_seq)
    n, t, c, h, w = lr_seq.shape
    pix = charbonnier(hr_seq, gt_seq)
    lr_prev = lr_seq[:, :-1].reshape(-1, c, h, w)
    lr_curr = lr_seq[:, 1:].reshape(-1, c, h, w)
    wrp = charbonnier(backward_warp(lr_prev, lr_flow.reshape(-1, 2, h, w)), lr_curr)
    return pix + warp_weight * wrp, {"pix": pix.item(), "warp": wrp.item()}


def _dist_info():
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
    return 0, 1, 0


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def run_training(model: torch.nn.Module, cfg: TrainConfig, out_dir, save_fn: Callable,
                 validate: Callable | None = None, resume: bool = True, dataset=None,
                 params=None, log=print, validate_start: bool = False, meta: dict | None = None) -> dict:
    """Train ``model`` in place; returns a summary dict.

    ``save_fn(path, model, meta)`` writes a checkpoint atomically; ``meta`` (e.g. where the
    starting weights came from) goes into every checkpoint's meta beside the config;
    ``validate(model) -> dict`` (rank 0 only) must hold ``psnr_y``.
    ``validate_start``: a fresh run (not resumed) validates its starting weights first, as
    iteration 0, so a fine-tune never selects a checkpoint worse than its init; with
    ``cfg.iterations == 0`` that is the whole run (``best.pth`` = the init).
    """
    from tqdm import tqdm

    from .data import dataset_from_config

    rank, world, local_rank = _dist_info()
    seed_everything(cfg.seed + rank)
    device = pick_device(cfg.device, local_rank)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.to(device)
    params = list(params if params is not None else model.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda it: cfg.lr_min_ratio + (1 - cfg.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * min(it, cfg.iterations) / max(cfg.iterations, 1))))
    start, history, best = 0, [], -1.0
    last = out_dir / "last.pth"
    if resume and last.exists():
        state = torch.load(last, map_location="cpu", weights_only=True)
        model.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start, history, best = state["iteration"], list(state.get("history", [])), state.get("best_psnr", -1.0)
        log(f"resumed from {last} at iteration {start}")
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None)
    if dataset is None:
        dataset = dataset_from_config(cfg, log=log if rank == 0 else None)
    sampler = torch.utils.data.distributed.DistributedSampler(dataset, seed=cfg.seed) if world > 1 else None
    gen = torch.Generator().manual_seed(cfg.seed + start)
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch, shuffle=sampler is None, sampler=sampler,
                                         num_workers=cfg.workers, drop_last=True, generator=gen,
                                         pin_memory=device.type == "cuda", persistent_workers=cfg.workers > 0)
    t0 = time.time()
    it = start
    bar = tqdm(total=cfg.iterations, initial=start, disable=rank != 0, dynamic_ncols=True, desc="train")
    model.train()
    meta_base = {"config": asdict(cfg), **(meta or {})}
    end = cfg.iterations  # lowered to the current iteration when the time limit stops the run

    def validate_and_keep(it: int, loss, note: str = ""):
        """Validate, log, record; a new best is saved as best.pth."""
        nonlocal best
        model.eval()
        res = validate(model)
        model.train()
        res.update(iteration=it, loss=loss, seconds=time.time() - t0)
        history.append(res)
        log(f"[{it}] val psnr_y {res['psnr_y']:.3f} dB" + (f" (bicubic {res['bicubic_psnr_y']:.3f})" if "bicubic_psnr_y" in res else "") + note)
        if res["psnr_y"] > best:
            best = res["psnr_y"]
            save_fn(out_dir / "best.pth", model, {**meta_base, "iteration": it, "val": res})

    if validate_start and start == 0 and rank == 0 and validate is not None:
        validate_and_keep(0, None, " (start)")  # a fresh run: best is -1, so the start is kept
    while it < end:
        for lr_seq, gt_seq in loader:
            lr_seq = lr_seq.to(device, non_blocking=True)
            gt_seq = gt_seq.to(device, non_blocking=True)
            loss, parts = sequence_loss(net_forward(net), lr_seq, gt_seq, cfg.warp_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            it += 1
            if rank == 0:
                bar.update(1)
                frames_s = (it - start) * cfg.batch * cfg.seq_len * world / max(time.time() - t0, 1e-9)
                bar.set_postfix(loss=f"{loss.item():.4f}", pix=f"{parts['pix']:.4f}", fps=f"{frames_s:.0f}")
            if cfg.time_limit and it < end and _stop_all(time.time() - t0 > cfg.time_limit, world, device):
                log(f"time limit {cfg.time_limit:.0f} s reached at iteration {it}; stopping")
                end = it  # the final validation and checkpoints below run now
            if rank == 0 and validate is not None and (it % cfg.val_every == 0 or it == end):
                validate_and_keep(it, loss.item())
            if rank == 0 and (it % cfg.ckpt_every == 0 or it == end):
                atomic_torch_save({"state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                                   "scheduler": sched.state_dict(), "iteration": it, "history": history,
                                   "best_psnr": best}, last)
                save_fn(out_dir / "final.pth", model, {**meta_base, "iteration": it})
            if it >= end:
                break
    bar.close()
    summary = {"iterations": it, "seconds": time.time() - t0, "best_psnr_y": best, "history": history,
               "device": str(device), "world_size": world}
    if rank == 0:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if world > 1:
        dist.destroy_process_group()
    return summary


def _stop_all(local: bool, world: int, device) -> bool:
    """Rank 0's time-limit decision, shared by every rank (no rank stops alone)."""
    if world == 1:
        return local
    flag = torch.tensor([1.0 if local else 0.0], device=device)
    dist.broadcast(flag, src=0)
    return bool(flag.item())


class _Forward:
    """Lets ``sequence_loss`` call ``forward_sequence`` through DDP's forward."""

    def __init__(self, net):
        self.net = net

    def forward_sequence(self, lr_seq):
        if isinstance(self.net, torch.nn.parallel.DistributedDataParallel):
            return self.net(lr_seq, mode="sequence")
        return self.net.forward_sequence(lr_seq)


def net_forward(net):
    return _Forward(net)
