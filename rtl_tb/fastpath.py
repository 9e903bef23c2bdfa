"""Full-frame checks through the HDL-side harness (the fast path)."""
from __future__ import annotations

import time

import numpy as np

from egvsr.rtl.streams import write_conv_mems
from egvsr.rtl_tb.harness import conv_harness


def full_frame_conv(simulator: str = "verilator", cin: int = 4, cout: int = 4, H: int = 540,
                    W: int = 960, pi: int | None = None, po: int | None = None, seed: int = 0,
                    frames: int = 1, vflags=None) -> dict:
    """Stream `frames` random HxW frames through a conv3x3 core and compare with golden.

    Returns match, cycles, cycles/s, II (cycles per pixel), and the wall times
    (build, simulate, golden, total verify = files + sim + golden + compare).
    """
    from egvsr.golden import ops
    pi, po = pi or cin, po or cout
    p = dict(CIN=cin, COUT=cout, IN_BITS=8, IN_SIGNED=0, W_BITS=8, B_BITS=32, OUT_BITS=8,
             OUT_SIGNED=1, SHIFT=9, ACT=1, LEAKY_SHIFT=0, PI=pi, PO=po,
             MAX_W=1 << (W - 1).bit_length(), DIM_BITS=12)
    t0 = time.time()
    h = conv_harness(simulator, p, tag=f"conv_full_{cin}x{cout}", vflags=vflags)
    build_s = time.time() - t0
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (cout, cin, 3, 3))
    b = rng.integers(-20000, 20000, cout)
    write_conv_mems(w, b, pi, po, 8, 32, h.dir / "conv_w.mem", h.dir / "conv_b.mem")
    x = rng.integers(0, 256, (frames, H, W, cin))
    t1 = time.time()
    out, st = h.stream(x, 8, cout, 8, True, tag=f"f{H}x{W}")
    t2 = time.time()
    exp = np.stack([ops.conv3x3(f, w, b, -8, -7, -6, 8, True, "relu") for f in x])
    t3 = time.time()
    match = bool(np.array_equal(out, exp))
    return dict(simulator=simulator, cin=cin, cout=cout, pi=pi, po=po, H=H, W=W, frames=frames,
                match=match, cycles=st["cycles"], cycles_per_frame=st["cycles_per_frame"],
                ii_cycles_per_pixel=st["cycles_per_frame"] / (H * W),
                cycles_per_s=st["cycles_per_s"], sim_s=st["sim_wall_s"], build_s=build_s,
                golden_s=t3 - t2, verify_s=time.time() - t1, write_s=st["write_s"],
                read_s=st["read_s"], vflags=h.vflags,
                frames_verified_per_s=frames / (time.time() - t1))
