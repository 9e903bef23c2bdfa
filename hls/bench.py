"""HLS benchmark -> bench/results/hls.json.

- C-sim frames/s of the default (`tiny-anchor`) SRNet top at 240x135 (LR),
- project generation and g++ compile time,
- estimated fps, DSP, BRAM36 and LUT for each board at 960x540 (reuse factors
  planned per board within its DSP, BRAM and LUT budgets, `egvsr.plan.make_plan`
  with impl "hls", as `make hls` does).
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from egvsr.board.boards import BOARDS, get_board

from .build import REPO_ROOT, fifo_options, load_config, plan_estimate, plan_hls
from .convert import reuse_factors

__all__ = ["main", "run_bench"]


def _bundle(cfg):
    from egvsr.golden.bundle import Bundle, load_bundle
    from egvsr.golden.synth import random_bundle
    if cfg["_bundle_path"].is_file():
        return load_bundle(cfg["_bundle_path"]), str(cfg["_bundle_path"])
    return Bundle(*random_bundle(seed=0)), "golden.synth.random_bundle(seed=0) (bundled default model not found)"


def run_bench(H: int = 135, W: int = 240, frames: int = 2, workdir=None) -> dict:
    from .cores import NET
    cfg = load_config(None)
    bundle, source = _bundle(cfg)
    graph = bundle.graph(NET)
    P = cfg["pixels_per_beat"]
    frac = cfg["dsp_budget_fraction"]
    boards = {}
    for name in BOARDS:
        b = get_board(name)
        plan = plan_hls(bundle, b, 960, 540, float(cfg["target_fps"]), P, frac, fifo_margin=cfg["fifo_margin"])
        est, _ = plan_estimate(plan, graph, P)
        boards[name] = {"part": b.part, "clock_mhz": b.clock_mhz, "dsp_budget": plan["dsp_budget"],
                        "fps_960x540": est["fps"], "dsp": est["dsp"], "bram36": est["bram36"],
                        "lut": est["lut"], "lut_budget": est["lut_budget"],
                        "bottleneck": est["bottleneck"], "target_met": est["target_met"],
                        "why_not": est["why_not"], "reuse": reuse_factors(graph, plan["folding"])}
    kv = get_board(cfg["board"])
    reuse = reuse_factors(graph, plan_hls(bundle, kv, W, H, 60, P, frac, fifo_margin=cfg["fifo_margin"])["folding"])
    own = None if workdir else tempfile.TemporaryDirectory(prefix="egvsr_hls_bench_")
    try:
        return _csim_bench(bundle, source, graph, boards, kv, reuse, P, H, W, frames,
                           Path(workdir or own.name), fifo_options(cfg))
    finally:
        if own is not None:
            own.cleanup()      # the projects of a benchmark run are not kept


def _csim_bench(bundle, source, graph, boards, kv, reuse, P, H, W, frames, tmp, fifos) -> dict:
    from .cores import TOP, build_core
    t = time.perf_counter()
    core = build_core(bundle, TOP, H, W, tmp / TOP, kv.part, kv.clock_period_ns, reuse=reuse,
                      pixels_per_beat=P, **fifos)
    gen_s = time.perf_counter() - t
    core.compile()
    rng = np.random.default_rng(0)
    xs = rng.integers(0, 256, (frames, H, W, graph.input.channels)).astype(np.uint8)
    core.run(xs[:1])  # warm
    t = time.perf_counter()
    core.run(xs)
    csim_s = (time.perf_counter() - t) / frames
    return {
        "bundle": source, "preset": bundle.manifest.get("preset"),
        "csim": {"lr": [H, W], "frames": frames, "s_per_frame": round(csim_s, 3),
                 "fps": round(1.0 / csim_s, 3), "generate_s": round(gen_s, 2), "compile_s": round(core.compile_s, 2),
                 "board_for_reuse": kv.name, "reuse": reuse, "pixels_per_beat": P},
        "estimated_fps_960x540": boards,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }


def main(out=None) -> int:
    res = run_bench()
    out = Path(out) if out else REPO_ROOT / "bench" / "results" / "hls.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    c = res["csim"]
    print(f"hls: C-sim {c['fps']} frames/s at {c['lr'][1]}x{c['lr'][0]} (generate {c['generate_s']} s, "
          f"compile {c['compile_s']} s); 960x540 estimates: "
          + ", ".join(f"{k} {v['fps_960x540']:.1f} fps" for k, v in res["estimated_fps_960x540"].items())
          + f" -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
