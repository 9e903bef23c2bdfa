"""MAC counting and the golden SRNet speed benchmark."""
from __future__ import annotations

import time

import numpy as np

from .graph import infer_shapes
from .network import run_srnet
from .validate import SRNET_IN_CHANNELS

__all__ = ["count_macs", "bench_srnet"]


def count_macs(bundle, net: str, H: int, W: int) -> int:
    """Multiply-accumulates of the conv3x3 layers of `net` for an H x W input.

    Each conv costs ``h * w * 9 * cin * cout`` at its own resolution (one
    MAC = one multiply + one add; FLOPs are twice this).
    """
    shapes = infer_shapes(bundle, net, H, W)
    total = 0
    for L in bundle.layers(net):
        if L["op"] == "conv3x3":
            h, w, _ = shapes[L["name"]]
            total += h * w * 9 * L["cin"] * L["cout"]
    return total


def bench_srnet(bundle, H: int = 135, W: int = 240, repeats: int = 3, seed: int = 0) -> dict:
    """Time `run_srnet` on a random uint8 (H, W, 51) input; best of `repeats` runs.

    Returns ``dict(seconds, macs, macs_per_s, fps, H, W, repeats, times)``
    (`seconds` is the fastest run, `times` all runs, after one warm-up).
    """
    x = np.random.default_rng(seed).integers(0, 256, (H, W, SRNET_IN_CHANNELS), dtype=np.uint8)
    run_srnet(bundle, x)
    times = []
    for _ in range(max(1, int(repeats))):
        t0 = time.perf_counter()
        run_srnet(bundle, x)
        times.append(time.perf_counter() - t0)
    best = min(times)
    macs = count_macs(bundle, "srnet", H, W)
    return {"seconds": best, "macs": macs, "macs_per_s": macs / best, "fps": 1.0 / best,
            "H": H, "W": W, "repeats": len(times), "times": times}
