"""MAC counting and the golden SRNet speed benchmark."""
from __future__ import annotations

import time

import numpy as np

from . import ops
from .graph import infer_shapes
from .network import run_fnet, run_srnet, srnet_input
from .validate import SRNET_IN_CHANNELS

__all__ = ["count_macs", "time_runs", "bench_srnet", "bench_step"]


def time_runs(fn, repeats: int) -> tuple[list, object]:
    """(seconds of each of `repeats` back-to-back calls of `fn` after one untimed warm-up
    call, the last call's result)."""
    out = fn()
    times = []
    for _ in range(max(1, int(repeats))):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


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
    times, _ = time_runs(lambda: run_srnet(bundle, x), repeats)
    best = min(times)
    macs = count_macs(bundle, "srnet", H, W)
    return {"seconds": best, "macs": macs, "macs_per_s": macs / best, "fps": 1.0 / best,
            "H": H, "W": W, "repeats": len(times), "times": times}


def bench_step(bundle, H: int = 135, W: int = 240, repeats: int = 10, seed: int = 0) -> dict:
    """Milliseconds of each stage of one golden EGVSR step on random uint8 frames (best of
    `repeats` back-to-back runs each, after one warm-up): ``fnet``, ``flow_upsample``,
    ``warp``, ``srnet_input`` (space-to-depth + concat) and ``srnet``; ``host`` is the
    stages a board's CPU runs when SRNet is in the fabric (all but ``srnet``)."""
    rng = np.random.default_rng(seed)
    cur, prev = (rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(2))
    hr_prev = rng.integers(0, 256, (4 * H, 4 * W, 3), dtype=np.uint8)
    f = bundle.flow
    res = {}

    def timed(name, fn):
        times, out = time_runs(fn, repeats)
        res[name] = 1e3 * min(times)
        return out
    lr_flow = timed("fnet", lambda: run_fnet(bundle, cur, prev))
    hr_flow = timed("flow_upsample", lambda: ops.flow_upsample4(lr_flow, f["upsampler"], f["lr_frac_bits"],
                                                               f["hr_frac_bits"]))
    warped = timed("warp", lambda: ops.warp(hr_prev, hr_flow, f["hr_frac_bits"]))
    x = timed("srnet_input", lambda: srnet_input(cur, warped))
    timed("srnet", lambda: run_srnet(bundle, x))
    res["host"] = sum(v for k, v in res.items() if k != "srnet")
    res["step"] = res["host"] + res["srnet"]
    return {"H": H, "W": W, "repeats": repeats, "ms": res}
