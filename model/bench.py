"""Float inference speed -> bench/results/model.json (``make bench``)."""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

from .egvsr import EGVSR
from .presets import PRESETS


def bench_preset(name: str, w: int = 960, h: int = 540, frames: int = 2) -> dict:
    """Seconds per recurrent step at LR ``w`` x ``h`` (CPU float32, random weights)."""
    torch.manual_seed(0)
    model = EGVSR(name).eval()
    lr = torch.rand(1, 3, h, w)
    hr = torch.zeros(1, 3, 4 * h, 4 * w)
    times = []
    with torch.inference_mode():
        for _ in range(frames):
            t0 = time.perf_counter()
            hr = model.step(lr, lr, hr)
            times.append(time.perf_counter() - t0)
    best = min(times)
    params = sum(p.numel() for n, p in model.named_parameters() if "conv_up" not in n)
    return {"preset": name, "lr_size": [w, h], "frames": frames, "seconds_per_frame": best,
            "fps": 1.0 / best, "times": times, "params_used": params, "threads": torch.get_num_threads()}


def main(out="bench/results/model.json", presets=("tiny-anchor", "tiny", "paper"), frames: int = 2) -> int:
    res = {"what": "float EGVSR inference, one recurrent step (FNet + warp + SRNet) at 960x540 LR -> 3840x2160, "
                   "CPU float32, best of the frames", "host": platform.node(), "cpus": os.cpu_count(),
           "torch": torch.__version__, "results": {}}
    for p in presets:
        if p not in PRESETS:
            raise ValueError(f"unknown preset {p}")
        print(f"[bench model] {p} at 960x540 ...", flush=True)
        res["results"][p] = r = bench_preset(p, frames=frames)
        print(f"[bench model] {p}: {r['seconds_per_frame']:.2f} s/frame ({r['fps']:.3f} fps)", flush=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(res, indent=1))
    return 0
