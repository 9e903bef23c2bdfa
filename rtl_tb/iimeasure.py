"""II of a generated SRNet top measured in simulation (HDL-side harness)."""
from __future__ import annotations

import numpy as np

from egvsr.golden.validate import SRNET_IN_CHANNELS


def measure_top_ii(h, meta, gdir, H: int = 8, W: int = 32, frames=(1, 3), seed: int = 0,
                   bundle=None) -> dict:
    """Stream 1 and 3 random frames back to back through the top `h` (a built
    `Harness`); the difference gives the steady-state clocks per frame.

    Returns cycles per run, `steady_cycles_per_frame`, `ii_cycles_per_lr_pixel`
    (steady clocks per frame / (H*W)), `latency` (single-frame clocks beyond
    the steady frame) and `match` (every output frame == golden when `bundle`
    is given, else None).
    """
    rng = np.random.default_rng(seed)
    n = max(frames)
    x = rng.integers(0, 256, (n, H, W, SRNET_IN_CHANNELS)).astype(np.uint8)
    cyc, match = [], True
    for k in frames:
        out, st = h.stream(x[:k].astype(np.int64), 8, 3, 8, False, out_pixels=meta["out_pixels"],
                           scale=meta["scale"], cwd=gdir, tag=f"ii{k}")
        cyc.append(st["cycles"])
        if bundle is not None:
            from egvsr.golden import run_srnet
            match &= all(np.array_equal(out[i], run_srnet(bundle, x[i])) for i in range(k))
    steady = (cyc[-1] - cyc[0]) / (frames[-1] - frames[0])
    return {"H": H, "W": W, "frames": list(frames), "cycles": cyc,
            "steady_cycles_per_frame": steady, "ii_cycles_per_lr_pixel": steady / (H * W),
            "latency": cyc[0] - steady, "match": bool(match) if bundle is not None else None}
