"""Random test cases for the cores (parameters, frame sizes incl. 1-pixel
edges, input gaps, output back-pressure) and their runner; shared by pytest
(`tests/test_rtl_cores.py`) and the regression (`regression.py`)."""
from __future__ import annotations

import math
import os
import random

import numpy as np

from egvsr.rtl import core_sources
from egvsr.rtl.streams import write_conv_mems
from egvsr.rtl_tb import sim

TB = "egvsr.rtl_tb.tb_cores"


def base_seed() -> int:
    return int(os.environ.get("EGVSR_RTL_SEED", "20240605"))


def _runs(rng: random.Random, max_w: int, n_big: int = 1):
    """Frame sizes: a couple of random ones (back to back frames) + 1-pixel edges."""
    runs = []
    for _ in range(n_big):
        runs.append([rng.randint(2, 7), rng.randint(2, max_w), 2])
    runs += [[1, 1, 1], [rng.randint(2, 4), 1, 2], [1, rng.randint(2, max_w), 1],
             [rng.randint(2, 4), 2, 1]]
    rng.shuffle(runs)
    return runs


# ------------------------------------------------------------------ conv3x3
def conv_case(seed: int, full: bool = False, max_w: int = 12, small: bool = False,
              pack: bool = False, in_bits: int | None = None) -> dict:
    """Random conv3x3 parameters. `full`: PI=CIN, PO=COUT (II = 1). `pack`: two
    INT8 products per multiplier (PACK = 1, operands of at most 8 bits, PO >= 2).
    `in_bits`: the input width (random 6..8 otherwise; 16: a conv on a 16-bit trunk)."""
    rng = random.Random(seed)
    cin = rng.randint(1, 4 if small else 6)
    cout = rng.randint(2 if pack else 1, 3 if small else 5)
    pi = cin if full else rng.randint(1, cin)
    po = cout if full else rng.randint(2 if pack else 1, cout)
    in_bits = (rng.choice([8, 8, 7]) if pack else rng.choice([8, 8, 6])) if in_bits is None else in_bits
    in_signed = rng.choice([0, 1])
    w_bits = rng.choice([8, 8, 6]) if pack else rng.choice([8, 8, 5])
    out_bits = rng.choice([8, 8, 10])
    out_signed = rng.choice([0, 1])
    act = rng.choice(["none", "relu", "leaky"])
    leaky = rng.randint(1, 3) if act == "leaky" else 0
    # aim the shift so that outputs mostly land inside the output range
    std = math.sqrt(9 * cin) * 2 ** (in_bits - 1) * 2 ** (w_bits - 2) / 2
    shift = max(-1, round(math.log2(std)) - (out_bits - 2) + rng.randint(-1, 1))
    in_exp = -8
    w_exp = -(w_bits - 1)
    out_exp = in_exp + w_exp + shift
    b_bits = rng.choice([16, 24])
    params = dict(CIN=cin, COUT=cout, IN_BITS=in_bits, IN_SIGNED=in_signed, W_BITS=w_bits,
                  B_BITS=b_bits, OUT_BITS=out_bits, OUT_SIGNED=out_signed, SHIFT=shift,
                  ACT={"none": 0, "relu": 1, "leaky": 2}[act], LEAKY_SHIFT=leaky, PI=pi, PO=po,
                  MAX_W=max_w, DIM_BITS=8, PACK=1 if pack else rng.choice([0, 1]))
    if not pack and not full and rng.random() < 0.5:
        # some (or all) multipliers in fabric (mul_lut), which turns packing off
        params["LUT_MULTS"] = rng.randint(1, 9 * pi * po)
    wmax = 2 ** (w_bits - 1) - 1
    nrng = np.random.default_rng(seed)
    w = nrng.integers(-wmax, wmax + 1, size=(cout, cin, 3, 3))
    if pack:
        w.flat[::5] = -wmax - 1          # the most negative weight in both lanes
    bmax = min(int(2 * std), 2 ** (b_bits - 1) - 1)   # the bias must fit its B_BITS field
    b = nrng.integers(-bmax, bmax + 1, size=cout)
    return dict(core="conv3x3", params=params, seed=seed, runs=_runs(rng, max_w),
                gap=rng.choice([0.0, 0.2, 0.5]), bp=rng.choice([0.0, 0.2, 0.5]),
                conv=dict(in_exp=in_exp, w_exp=w_exp, out_exp=out_exp, act=act, leaky_shift=leaky),
                weights=w.tolist(), bias=b.tolist())


def _prepare_conv(tdir, case):
    p = case["params"]
    w, b = np.array(case["weights"]), np.array(case["bias"])
    from egvsr.golden.oplib.conv3x3 import can_pack
    pack = (bool(p.get("PACK", 0)) and not p.get("LUT_MULTS", 0)
            and can_pack(p["IN_BITS"], p["W_BITS"], p["PO"]))   # fabric multipliers never pack
    write_conv_mems(w, b, p["PI"], p["PO"], p["W_BITS"], p["B_BITS"], tdir / "conv_w.mem",
                    tdir / "conv_b.mem", pack=pack)
    np.save(tdir / "w.npy", w)
    np.save(tdir / "b.npy", b)
    case = {k: v for k, v in case.items() if k not in ("weights", "bias")}
    case.update(w_npy=str(tdir / "w.npy"), b_npy=str(tdir / "b.npy"))
    return case


# ------------------------------------------------------------- other cores
def shuffle_case(seed: int, max_w: int = 12, **_) -> dict:
    rng = random.Random(seed)
    r = rng.choice([2, 2, 4])
    p = rng.choice([q for q in (1, 2, 4, 8) if (r % q == 0) or (q % r == 0 and q <= 2 * r)])
    g = p // r if p > r else 1
    runs = [[h, max(g, (w // g) * g), n] for h, w, n in _runs(rng, max_w)]
    return dict(core="pixel_shuffle", seed=seed, scale=r,
                params=dict(C=rng.randint(1, 3), R=r, BITS=8, P=p, MAX_W=max_w, DIM_BITS=8),
                runs=runs, gap=rng.choice([0.0, 0.3]), bp=rng.choice([0.0, 0.3]))


def add_case(seed: int, **_) -> dict:
    rng = random.Random(seed)
    a_bits, b_bits = rng.choice([8, 6]), rng.choice([8, 10])
    case = dict(core="residual_add", seed=seed,
                params=dict(C=rng.randint(1, 4), A_BITS=a_bits, A_SIGNED=rng.choice([0, 1]),
                            B_BITS=b_bits, B_SIGNED=1, OUT_BITS=8,
                            OUT_SIGNED=rng.choice([0, 1]), SHIFT=rng.choice([-1, 0, 1, 2])),
                runs=[[rng.randint(1, 5), rng.randint(1, 9), 2], [1, 1, 1]],
                gap=rng.choice([0.2, 0.5]), bp=rng.choice([0.0, 0.3]))
    # inputs at one exponent, or (independent_add_exps) one of them shifted to the finer one
    sh = rng.choice([0, 0, 1, 3])
    a_shift, b_shift = (sh, 0) if rng.random() < 0.5 else (0, sh)
    case["params"].update(A_SHIFT=a_shift, B_SHIFT=b_shift)
    return case


def anchor_case(seed: int, **_) -> dict:
    """Random anchor_add: SKIP_C of B_C skip channels, each repeated REPEAT times, one of
    the two inputs shifted left (the finer exponent), a rounding or a left output shift,
    a shallow or a block-RAM skip FIFO."""
    rng = random.Random(seed)
    skip_c = rng.randint(1, 3)
    sh = rng.randint(1, 3)
    a_shift, b_shift = (sh, 0) if rng.random() < 0.5 else (0, sh)
    runs = [[rng.randint(2, 5), rng.randint(2, 9), 2], [1, 1, 1], [rng.randint(1, 3), 1, 1]]
    return dict(core="anchor_add", seed=seed,
                params=dict(SKIP_C=skip_c, REPEAT=rng.choice([1, 2, 4]), B_C=skip_c + rng.randint(0, 3),
                            A_BITS=rng.choice([8, 6]), A_SIGNED=rng.choice([0, 1]),
                            B_BITS=rng.choice([8, 7]), B_SIGNED=rng.choice([0, 1]),
                            A_SHIFT=a_shift, B_SHIFT=b_shift, OUT_BITS=8,
                            OUT_SIGNED=rng.choice([0, 1]), SHIFT=rng.choice([-1, 0, 1, 2, 3]),
                            **_depth(rng, "SKIP_DEPTH_LOG2", "SKIP_DEPTH")),
                runs=runs, gap=rng.choice([0.2, 0.5]), bp=rng.choice([0.2, 0.5]),
                timeout_cycles=1000 + 20 * max(h * w for h, w, _ in runs))


def _depth(rng: random.Random, log2_name: str, depth_name: str, exact: bool | None = None) -> dict:
    """A FIFO's address width and depth, shallow or block RAM: a power of two
    (depth 0), or (``exact``) one that is not (the pointers wrap early); random
    when ``exact`` is None."""
    if exact is None:
        exact = rng.random() < 0.5
    dl2 = rng.choice([2, 3, 6, 7]) if exact else rng.choice([1, 2, 3, 6, 7])
    depth = rng.randint((1 << (dl2 - 1)) + 1, (1 << dl2) - 1) if exact else 0
    return {log2_name: dl2, depth_name: depth}


def fifo_case(seed: int, exact: bool | None = None, **_) -> dict:
    """Random width and depth; the FIFO first shows its capacity (depth + the output
    register) with the output stalled, passing more beats than it holds (both pointers
    wrap), then streams frames under gaps and back-pressure."""
    rng = random.Random(seed)
    params = dict(DATA_W=rng.choice([1, 8, 13, 40]), **_depth(rng, "DEPTH_LOG2", "DEPTH", exact))
    entries = params["DEPTH"] or 1 << params["DEPTH_LOG2"]
    return dict(core="axis_fifo", seed=seed, params=params, capacity=entries + 1,
                runs=[[rng.randint(1, 6), rng.randint(1, 12), 3], [1, 1, 1]],
                gap=rng.choice([0.0, 0.5]), bp=rng.choice([0.3, 0.6]))


def run_case(sim_name: str, case: dict, name: str = "case") -> dict:
    """Build (cached) and run one core case; returns the report (raises on mismatch)."""
    core = case["core"]
    bdir = sim.build(sim_name, core, core_sources(core), case["params"])
    prepare = _prepare_conv if core == "conv3x3" else None
    rep = sim.run_cocotb(sim_name, core, bdir, TB, case, name=name, prepare=prepare)
    rep["build_s"] = float((bdir / ".built").read_text())
    return rep
