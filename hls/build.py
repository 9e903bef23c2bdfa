"""`make hls`: generate, compile, verify and report the HLS cores of SRNet.

``run(config, synth=False, progress=print) -> report dict``:

1. validate the config (board, frame size, bundle, optional QONNX) before
   anything is written,
2. plan the folding for the board (`egvsr.plan.make_plan`, impl "hls"): a
   reuse factor per conv, the output shuffle's pixels per beat; the plan is
   written next to the report as ``plan.json``,
3. write the projects at the configured LR size to
   ``<out_dir>/<name>/<core>/`` (each conv layer, the pixel shuffle, the SRNet
   top) -- generated in a temporary directory and moved in place only when
   complete, so a failure leaves no partial project,
4. compile C simulations (g++) at a crop size and run them on crops of real
   frames, comparing with the golden model bit for bit,
5. write ``report.md``, ``report.json`` and ``plan.json``; with ``synth=True`` run Vitis HLS
   C synthesis + IP export of the top and fold its report in.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from egvsr.board.boards import get_board
from egvsr.golden.bundle import default_bundle_path
from egvsr.golden.oplib.memory import HLS_LUTRAM_DEPTH
from egvsr.plan import make_plan, node_env, write_plan

from .convert import QonnxMismatch  # noqa: F401  (re-exported for callers)
from .board_top import write_board_top
from .convert import reuse_factors
from .cores import NET, TOP
from .fifo import DEFAULT_CHAIN_DEPTH, DEFAULT_MARGIN

__all__ = ["run", "load_config", "ConfigError", "DEFAULTS", "REPO_ROOT", "csim_inputs", "srnet_inputs", "fifo_options",
           "plan_hls", "plan_estimate"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.yaml"


def _default_bundle() -> str:
    """The bundled default bundle, relative to REPO_ROOT when it lies under it."""
    p = default_bundle_path()
    try:
        return str(p.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)


class ConfigError(ValueError):
    """A build configuration that cannot be built (nothing was written)."""


DEFAULTS = {
    "name": "tiny-anchor-kv260", "preset": "tiny-anchor", "bundle": _default_bundle(), "qonnx": None,
    "qonnx_from": None, "plan": None,
    "board": "kv260", "lr_width": 960, "lr_height": 540, "target_fps": 60.0, "pixels_per_beat": 4,
    "dsp_budget_fraction": 0.9, "fifo_chain_depth": DEFAULT_CHAIN_DEPTH, "fifo_margin": DEFAULT_MARGIN, "cores": "all",
    "csim": {"clip": "carphone", "frames": 2, "crop": [24, 32], "odd_crop": [9, 13], "compile_full": True,
             "jobs": 2},
    "out_dir": "build/hls",
}
MIN_LR = 8  # FNet (host) needs H//8*8 >= 8 and W//8*8 >= 8 in the same EGVSR step
MAX_LR = 4096


def _resolve(p, base: Path) -> Path:
    p = Path(p).expanduser()
    return p if p.is_absolute() else (base / p)


def load_config(config) -> dict:
    """Merge `config` (YAML path or dict) over `DEFAULTS` and validate it (ConfigError)."""
    base = REPO_ROOT
    if isinstance(config, (str, os.PathLike)):
        import yaml
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"HLS config {path} not found (default: {DEFAULT_CONFIG})")
        try:
            user = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e})") from e
        where = str(path)
    elif isinstance(config, dict) or config is None:
        user, where = copy.deepcopy(config or {}), "config"
    else:
        raise ConfigError(f"config must be a YAML path or a dict, got {type(config).__name__}")
    if not isinstance(user, dict):
        raise ConfigError(f"{where}: the top level must be a mapping")
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(DEFAULTS)}")
    cfg = copy.deepcopy(DEFAULTS)
    csim = user.pop("csim", None) or {}
    if not isinstance(csim, dict) or set(csim) - set(DEFAULTS["csim"]):
        raise ConfigError(f"{where}: csim must be a mapping with keys {sorted(DEFAULTS['csim'])}")
    cfg.update(user)
    cfg["csim"].update(csim)
    try:
        board = get_board(cfg["board"])
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None
    cfg["_board"] = board
    for k in ("lr_width", "lr_height"):
        v = cfg[k]
        if not isinstance(v, int) or isinstance(v, bool) or not MIN_LR <= v <= MAX_LR:
            raise ConfigError(f"{where}: {k} = {v!r}; the SRNet cores take LR frames of {MIN_LR}..{MAX_LR} "
                              f"pixels per side (FNet on the host needs at least {MIN_LR}x{MIN_LR})")
    if cfg["pixels_per_beat"] not in (1, 2, 4):
        raise ConfigError(f"{where}: pixels_per_beat must be 1, 2 or 4 (a divisor of the x4 shuffle), "
                          f"got {cfg['pixels_per_beat']!r}")
    if not (isinstance(cfg["target_fps"], (int, float)) and cfg["target_fps"] > 0):
        raise ConfigError(f"{where}: target_fps must be a positive number, got {cfg['target_fps']!r}")
    f = cfg["dsp_budget_fraction"]
    if not isinstance(f, (int, float)) or isinstance(f, bool) or not 0 < f <= 1:
        raise ConfigError(f"{where}: dsp_budget_fraction must be a number in (0, 1], got {f!r}")
    if not isinstance(cfg["target_fps"], bool) and isinstance(cfg["target_fps"], (int, float)) \
            and cfg["target_fps"] != cfg["target_fps"]:
        raise ConfigError(f"{where}: target_fps must be a positive number, got nan")
    for key in ("fifo_chain_depth", "fifo_margin"):
        v = cfg[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(f"{where}: {key} must be an integer >= 1 (stream FIFO words), got {v!r}")
    if cfg["fifo_chain_depth"] >= HLS_LUTRAM_DEPTH:
        raise ConfigError(f"{where}: fifo_chain_depth = {cfg['fifo_chain_depth']}: from {HLS_LUTRAM_DEPTH} words "
                          "every straight stream becomes block RAM, which the planner does not count; "
                          f"use at most {HLS_LUTRAM_DEPTH - 1}")
    for key in ("frames", "jobs"):
        v = cfg["csim"][key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(f"{where}: csim.{key} must be an integer >= 1, got {v!r}")
    for key in ("crop", "odd_crop"):
        c = cfg["csim"][key]
        if c is None and key == "odd_crop":
            continue
        if (not isinstance(c, (list, tuple)) or len(c) != 2 or not all(isinstance(v, int) for v in c)
                or min(c) < MIN_LR):
            raise ConfigError(f"{where}: csim.{key} must be [H, W] with both >= {MIN_LR}, got {c!r}")
    name = str(cfg["name"])
    if not name or "/" in name or name.startswith("."):
        raise ConfigError(f"{where}: name {name!r} must be a plain directory name")
    cfg["_bundle_path"] = _resolve(cfg["bundle"], base)
    cfg["_qonnx_from"] = _resolve(cfg["qonnx_from"], base) if cfg["qonnx_from"] else None
    # Outputs go under the working directory (the repository root for `make hls`),
    # never into an installed package's folder.
    cfg["_qonnx_path"] = _resolve(cfg["qonnx"], Path.cwd()) if cfg["qonnx"] else None
    cfg["_out"] = _resolve(cfg["out_dir"], Path.cwd()) / name
    cfg["_plan_path"] = _resolve(cfg["plan"], Path.cwd()) if cfg.get("plan") else None
    cfg["_where"] = where
    return cfg


def _load_bundle(cfg):
    from egvsr.golden.bundle import BundleError, load_bundle
    path = cfg["_bundle_path"]
    try:
        bundle = load_bundle(path)
    except BundleError as e:
        raise ConfigError(f"{cfg['_where']}: bundle: {e}") from None
    preset = bundle.manifest.get("preset")
    if cfg["preset"] and preset != cfg["preset"]:
        raise ConfigError(f"{cfg['_where']}: preset is {cfg['preset']!r} but bundle {path} holds preset "
                          f"{preset!r}; fix one of them")
    return bundle


def srnet_inputs(bundle, frames, H: int, W: int) -> np.ndarray:
    """SRNet inputs (n, H, W, 51) from real frames (n, fh, fw, 3): golden EGVSR steps on centre crops.

    Frame k's SRNet input is what the EGVSR step feeds SRNet (lr_curr + the
    warped previous golden output), so the C-sim sees the real data path.
    """
    from egvsr.golden.network import step

    frames = np.asarray(frames, np.uint8)
    n, fh, fw, _ = frames.shape
    if H > fh or W > fw:
        raise ConfigError(f"crop {H}x{W} is larger than the frames ({fh}x{fw})")
    y0, x0 = (fh - H) // 2, (fw - W) // 2
    lr = frames[:, y0:y0 + H, x0:x0 + W]
    xs = []
    g = bundle.graph(NET)
    lr_prev, hr_prev = np.zeros_like(lr[0]), np.zeros(g.shapes(H, W)[g.output.name], np.uint8)
    for k in range(n):
        d = step(bundle, lr[k], lr_prev, hr_prev, details=True)
        xs.append(d["sr_input"])
        lr_prev, hr_prev = lr[k], d["hr"]
    return np.stack(xs)


def csim_inputs(bundle, H: int, W: int, clip: str = "carphone", frames: int = 2):
    """`srnet_inputs` on the first `frames` frames of a bundled real clip."""
    from egvsr.model.video import bundled_clip, read_frames

    return srnet_inputs(bundle, read_frames(bundled_clip(clip), max_frames=frames), H, W)


class _Progress:
    def __init__(self, progress, total):
        self.p, self.total, self.k, self.t0 = progress or (lambda *_: None), total, 0, time.perf_counter()
        self.times = {}

    def step(self, what):
        self.k += 1
        self._t = time.perf_counter()
        self._what = what
        self.p(f"[hls {self.k}/{self.total}] {what} ...")

    def done(self, extra=""):
        dt = time.perf_counter() - self._t
        self.times[self._what] = round(dt, 2)
        self.p(f"[hls {self.k}/{self.total}] {self._what}: done in {dt:.1f} s{(' ' + extra) if extra else ''}")


def _select_cores(cfg, bundle):
    from .cores import core_names
    names = core_names(bundle)
    want = cfg["cores"]
    if want in (None, "all"):
        return names
    if isinstance(want, str):
        want = [want]
    bad = [c for c in want if c not in names]
    if bad:
        raise ConfigError(f"{cfg['_where']}: unknown core(s) {bad}; this bundle has {names}")
    return list(want)


def _export_qonnx(cfg, progress):
    """QONNX of SRNet from the QAT checkpoint ``qonnx_from`` (Brevitas export_qonnx, quant/)."""
    src = cfg["_qonnx_from"]
    if not src.is_file():
        raise ConfigError(f"{cfg['_where']}: qonnx_from checkpoint {src} not found")
    from egvsr.quant.checkpoint import load_qmodel
    from egvsr.quant.export import export_qonnx_srnet
    t0 = time.perf_counter()
    export_qonnx_srnet(load_qmodel(src), cfg["_qonnx_path"], 24, 32)
    (progress or print)(f"[hls] exported the SRNet QONNX from {src.name} with Brevitas -> "
                        f"{cfg['_qonnx_path']} ({time.perf_counter() - t0:.1f} s)")


def run(config=None, synth: bool = False, progress=print) -> dict:
    """Build, verify and report (see module doc). Returns the report dict (``ok`` is the verdict)."""
    from . import cores as _cores

    build_core = _cores.build_core
    t_start = time.perf_counter()
    cfg = load_config(DEFAULT_CONFIG if config is None else config)
    if shutil.which("g++") is None:
        raise ConfigError("g++ is not on PATH: hls4ml compiles the C simulation of its projects "
                          "with g++ (apt-get install g++); nothing was written")
    if synth and shutil.which("vitis_hls") is None:
        msg = "vitis_hls is not on PATH: C synthesis and IP export need AMD Vitis HLS (source its settings64.sh)"
        (progress or print)(msg)
        return {"ok": False, "error": msg, "synth": {"status": "vitis_hls not found"}}
    board = cfg["_board"]
    H, W = cfg["lr_height"], cfg["lr_width"]
    P = cfg["pixels_per_beat"]
    pr = _Progress(progress, 6 + (1 if synth else 0))

    pr.step(f"check config, bundle {cfg['_bundle_path'].name}"
            + (f" and QONNX {cfg['_qonnx_path'].name}" if cfg["_qonnx_path"] else ""))
    bundle = _load_bundle(cfg)
    cores = _select_cores(cfg, bundle)
    qonnx = None
    if cfg["_qonnx_path"] is not None and not cfg["_qonnx_path"].is_file() and cfg["_qonnx_from"] is not None:
        _export_qonnx(cfg, progress)
    if cfg["_qonnx_path"] is not None:
        if not cfg["_qonnx_path"].is_file():
            raise ConfigError(f"{cfg['_where']}: QONNX file {cfg['_qonnx_path']} not found")
        from .convert import name_and_check
        from .qonnx_prep import prepare
        qonnx = prepare(cfg["_qonnx_path"])
        name_and_check(qonnx, bundle)  # QonnxMismatch before anything is written
    pr.done()

    pr.step(f"plan reuse factors for {board.name} ({board.part}, {board.clock_mhz:g} MHz, {board.dsp} DSP)")
    if cfg["_plan_path"] is not None:
        plan = _user_plan(cfg, bundle, board, W, H, P)
    else:
        plan = plan_hls(bundle, board, W, H, float(cfg["target_fps"]), P, cfg["dsp_budget_fraction"],
                        fifo_margin=cfg["fifo_margin"])
    budget = plan["dsp_budget"]
    graph = bundle.graph(NET)
    reuse = reuse_factors(graph, plan["folding"])
    est, est_layers = plan_estimate(plan, graph, P)
    pr.done(f"-> {est['fps']:.2f} fps estimated, {est['dsp']} DSP"
            + ("" if est["target_met"] else f" (target {cfg['target_fps']:g} fps not met)"))

    out = cfg["_out"]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        pr.step(f"write {len(cores)} projects at {H}x{W} to {out}")
        full = {}
        fifos = fifo_options(cfg)
        for c in cores:
            full[c] = build_core(bundle, c, H, W, tmp / c, board.part, board.clock_period_ns,
                                 reuse=reuse, pixels_per_beat=P,
                                 qonnx=qonnx if c == TOP else None, **fifos)
        if TOP in full:  # the board IP: AXI-Lite control, board beats, TLAST per line
            write_board_top(full[TOP], bundle.sha256)
        pr.done()

        ch, cw = cfg["csim"]["crop"]
        pr.step(f"write + compile C-sim projects (g++) at crop {ch}x{cw}"
                + (f", odd crop {cfg['csim']['odd_crop'][0]}x{cfg['csim']['odd_crop'][1]} (top)" if cfg["csim"]["odd_crop"] else ""))
        sims = {}
        for c in cores:
            sims[(c, ch, cw)] = build_core(bundle, c, ch, cw, tmp / "csim" / f"{c}_{ch}x{cw}", board.part,
                                           board.clock_period_ns, reuse=reuse, pixels_per_beat=P, **fifos)
        if cfg["csim"]["odd_crop"] and TOP in cores:
            oh, ow = cfg["csim"]["odd_crop"]
            sims[(TOP, oh, ow)] = build_core(bundle, TOP, oh, ow, tmp / "csim" / f"{TOP}_{oh}x{ow}", board.part,
                                             board.clock_period_ns, reuse=reuse, pixels_per_beat=P, **fifos)
        # the board IP (run-time frame size): one build at the crop; every top crop that fits it runs
        # through that one build (the odd crop at run time), a larger one gets its own build
        boards, board_runs = {}, []
        for key in sorted((k for k in sims if k[0] == TOP), key=lambda k: (k[1:] != (ch, cw), k)):
            _, h, w = key
            host = next((k for k in boards if h <= k[1] and w <= k[2]), None)
            if host is None:
                host = key
                boards[key] = write_board_top(sims[key], bundle.sha256)
            board_runs.append((boards[host], h, w))
        to_compile = list(sims.values()) + ([full[TOP]] if cfg["csim"]["compile_full"] and TOP in full else [])
        with ThreadPoolExecutor(max(1, int(cfg["csim"]["jobs"]))) as ex:
            list(ex.map(lambda core: core.compile(), to_compile + list(boards.values())))
        pr.done(f"({len(to_compile)} projects)")

        pr.step(f"run C-sim on {cfg['csim']['frames']} real {cfg['csim']['clip']} frame crops, compare with golden")
        from egvsr.golden.graph import run_graph
        verdicts = []
        for (c, h, w), core in sims.items():
            xs = csim_inputs(bundle, h, w, cfg["csim"]["clip"], int(cfg["csim"]["frames"]))
            t = time.perf_counter()
            if c == TOP:
                want = np.stack([run_graph(bundle, NET, x) for x in xs])
                got = core.run(xs)
            else:
                src = graph.node(c).inputs[0].name
                refs = [run_graph(bundle, NET, x, keep=True) for x in xs]
                want = np.stack([r[c] for r in refs])
                got = core.run(np.stack([r[src] for r in refs]))
            dt = time.perf_counter() - t
            same = bool(got.shape == want.shape and np.array_equal(got, want.astype(np.int64)))
            verdicts.append({"core": c, "crop": [h, w], "frames": int(len(xs)), "bit_exact": same,
                             "mismatches": 0 if same else int(np.sum(got != want)) if got.shape == want.shape else -1,
                             "csim_s": round(dt, 3), "compile_s": round(core.compile_s, 2)})
        for bt, h, w in board_runs:  # the board wrapper: beats in, beats out, as the DMA moves them
            xs = csim_inputs(bundle, h, w, cfg["csim"]["clip"], int(cfg["csim"]["frames"]))
            t = time.perf_counter()
            got = [bt.run_frame(x) for x in xs]
            dt = time.perf_counter() - t
            want = [run_graph(bundle, NET, x) for x in xs]
            same = all(g[1]["STATUS"] == 0 and int(g[2].sum()) == h and np.array_equal(g[0], y)
                       for g, y in zip(got, want))
            verdicts.append({"core": f"{bt.top} (board IP, max {bt.lr_height}x{bt.lr_width})", "crop": [h, w],
                             "frames": int(len(xs)),
                             "bit_exact": bool(same),
                             "mismatches": 0 if same else int(sum(np.sum(g[0] != y) for g, y in zip(got, want))),
                             "csim_s": round(dt, 3), "compile_s": round(bt.compile_s, 2)})
        ok = all(v["bit_exact"] for v in verdicts)
        pr.done("-> all bit-exact" if ok else "-> MISMATCH")

        pr.step("write report")
        if out.exists():
            shutil.rmtree(out)
        top_fifos = full[TOP].fifo_depths if TOP in full else {}
        for c, core in full.items():
            core.project_dir = out / c
        report = _report(cfg, bundle, board, budget, reuse, est, est_layers, full, verdicts, top_fifos,
                         pr.times, ok)
        report["total_s"] = round(time.perf_counter() - t_start, 1)
        write_plan(plan, tmp / "plan.json")
        _write_report(tmp, report)
        os.replace(tmp, out)
        tmp = None
        pr.done(f"{out / 'report.md'}")
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if synth:
        pr.step("Vitis HLS C synthesis + IP export of the SRNet top")
        report["synth"] = _synth(full.get(TOP), out / TOP)
        report["ok"] = report["ok"] and report["synth"].get("status") == "ok"
        _write_report(out, report)
        pr.done(report["synth"].get("status", ""))
    return report


def _synth(core, project_dir):
    """C synthesis + IP export of the board IP (the wrapper of `board_top`, exported as
    the VLNV the block design instantiates), run as hls4ml runs its own build script."""
    if core is None:
        return {"status": f"skipped: the {TOP} top is not among the configured cores"}
    import subprocess
    project_dir = Path(project_dir)
    if not (project_dir / "build_prj_board.tcl").is_file():
        return {"status": f"failed: {project_dir}/build_prj_board.tcl missing (rerun make hls)"}
    (project_dir / "build_opt.tcl").write_text(
        "array set opt {\n    reset 0\n    csim 0\n    synth 1\n    cosim 0\n    validation 0\n"
        "    export 1\n    vsynth 0\n    fifo_opt 0\n}\n")
    try:
        r = subprocess.run("vitis-run --tcl build_prj_board.tcl --mode hls", shell=True, cwd=project_dir,
                           capture_output=True, text=True)
    except OSError as e:
        return {"status": f"failed: {e}"}
    if r.returncode != 0:
        return {"status": f"failed: vitis-run exited {r.returncode}", "log_tail": (r.stdout + r.stderr)[-4000:]}
    # the exported IP where `egvsr build`'s bitstream step looks for it (IP_REPO = <hls>/ip)
    exported = project_dir / f"{core.hls_model.config.get_project_name()}_prj" / "solution1" / "impl" / "ip"
    if not (exported / "component.xml").is_file():
        return {"status": f"failed: vitis-run ran but wrote no IP ({exported}/component.xml)"}
    ip_repo = project_dir.parent / "ip"
    shutil.rmtree(ip_repo, ignore_errors=True)
    shutil.copytree(exported, ip_repo)
    return {"status": "ok", "ip": str(ip_repo)}


def _user_plan(cfg, bundle, board, W, H, P) -> dict:
    """A plan.json the user gave (`plan:`): checked against the bundle and this build
    (board, LR size, pixels per beat), its figures recomputed from its folding."""
    from egvsr.plan import PlanError, read_plan, refresh
    try:
        # costed with this build's skip-FIFO margin, whatever the plan was made with
        plan = refresh(dict(read_plan(cfg["_plan_path"], bundle, impl="hls"), fifo_margin=cfg["fifo_margin"]),
                       bundle)
    except PlanError as e:
        raise ConfigError(f"{cfg['_where']}: {e}") from None
    want = {"board": board.name, "lr": [W, H], "pixels_per_beat": P}
    got = {k: plan.get(k) for k in want}
    if got != want:
        raise ConfigError(f"{cfg['_where']}: plan {cfg['_plan_path']} was made for {got}, this "
                          f"build is {want}; plan again (egvsr build --steps plan) or fix the config")
    return plan


def fifo_options(cfg: dict) -> dict:
    """The config's stream-FIFO settings, as `cores.build_core` takes them."""
    return {k: cfg[k] for k in ("fifo_chain_depth", "fifo_margin")}


def plan_hls(bundle, board, lr_w: int, lr_h: int, fps: float, pixels_per_beat: int,
             dsp_budget_fraction: float = 0.9, net: str = NET, fifo_margin: int = DEFAULTS["fifo_margin"]) -> dict:
    """The HLS plan (`egvsr.plan.make_plan`, impl "hls") of `net` on `board` (a `Board`):
    reuse factors within ``dsp_budget_fraction`` of the board's DSPs, the output shuffle at
    `pixels_per_beat` HR pixels per word, skip FIFOs `fifo_margin` words beyond their lag."""
    return make_plan(bundle, board.name, impl="hls", lr_w=lr_w, lr_h=lr_h, fps=fps, net=net,
                     pixels_per_beat=pixels_per_beat, fifo_margin=fifo_margin,
                     dsp_budget=int(board.dsp * float(dsp_budget_fraction)))


def _num(x):
    """An integral count as an int (clocks, BRAM36), anything else as it is."""
    return int(x) if float(x).is_integer() else x


def plan_estimate(plan: dict, graph, pixels_per_beat: int) -> tuple[dict, list]:
    """(totals, per-layer rows) of the report's estimate, read from an HLS `plan` of `graph`.

    Per layer: input size, channels, MACs per LR pixel, reuse factor (convs), DSP,
    BRAM36, LUT, II (clocks per pixel of its input map, from the op's cost model;
    a conv's counts the zero-padded map), frame clocks and the fps the layer alone
    would allow at the board clock.
    """
    clk = float(plan["clock_mhz"]) * 1e6
    lr_w, lr_h = plan["lr"]
    reuse = reuse_factors(graph, plan["folding"])
    rows = []
    for node in graph.nodes:
        r = plan["layers"][node.name]
        env = node_env(graph, node, "hls", lr_w, lr_h, max_w=plan["max_w"], pixels_per_beat=pixels_per_beat,
                       fifo_margin=plan.get("fifo_margin", DEFAULT_MARGIN))
        cost = node.op.cost("hls", node, r["fold"], env)
        h, w = r["in_hw"]
        rows.append({"name": node.name, "op": node.op.name, "h": h, "w": w,
                     "cin": node.inputs[0].channels, "cout": node.output.channels,
                     "macs_per_lr_pixel": round(r["macs_per_lr_pixel"], 3), "rf": reuse.get(node.name),
                     "dsp": r["dsp"], "bram36": _num(r["bram36"]), "lut": int(r.get("lut", 0)),
                     "ii_clocks_per_pixel": _num(round(cost.clocks_per_pixel, 3)),
                     "frame_clocks": _num(r["clocks_per_frame"]),
                     "fps_alone": round(clk / r["clocks_per_frame"], 2)})
    est = {"fps": round(plan["fps"], 3), "dsp": plan["dsp"], "bram36": _num(plan["bram36"]),
           "lut": int(plan.get("lut", 0)), "lut_budget": plan.get("lut_budget"),
           "bottleneck": plan["bottleneck"], "frame_clocks": _num(plan["frame_clocks"]),
           "macs_per_lr_pixel": round(plan["macs_per_lr_pixel"], 3),
           "target_met": bool(plan["meets_target"]), "why_not": plan["reason"]}
    return est, rows


def _report(cfg, bundle, board, budget, reuse, est, layers, full, verdicts, fifos, times, ok):
    graph = bundle.graph(NET)
    hr_h, hr_w, _ = graph.shapes(cfg["lr_height"], cfg["lr_width"])[graph.output.name]
    fifo_rows = [{"stream": k, **{kk: v[kk] for kk in ("producer", "consumers", "depth", "default", "reason")}}
                 for k, v in fifos.items()]
    return {
        "ok": bool(ok),
        "name": cfg["name"], "preset": bundle.manifest.get("preset"), "bundle": str(cfg["_bundle_path"]),
        "bundle_sha256": bundle.sha256, "qonnx": str(cfg["_qonnx_path"]) if cfg["_qonnx_path"] else None,
        "board": {"name": board.name, "part": board.part, "clock_mhz": board.clock_mhz, "dsp": board.dsp,
                  "dsp_budget": budget, "bram36": board.bram36, "lut": board.lut,
                  "lut_budget": est.get("lut_budget")},
        "lr": [cfg["lr_height"], cfg["lr_width"]], "hr": [hr_h, hr_w],
        "target_fps": float(cfg["target_fps"]), "pixels_per_beat": cfg["pixels_per_beat"],
        "estimate": est,
        "layers": layers,
        "reuse": reuse,
        "plan": str(cfg["_out"] / "plan.json"),
        "fifos": fifo_rows,
        "projects": {c: str(cfg["_out"] / c) for c in full},
        "csim": verdicts,
        "full_top_compiled_s": round(full[TOP].compile_s, 2) if TOP in full and full[TOP].compiled else None,
        "step_times_s": times,
        "synth": {"status": "not run (make hls-synth)"},
    }


def _write_report(out: Path, rep: dict):
    (out / "report.json").write_text(json.dumps(rep, indent=1, default=str) + "\n")
    e = rep["estimate"]
    b = rep["board"]
    L = [f"# HLS build `{rep['name']}`: {'OK' if rep['ok'] else 'FAILED'}", "",
         f"- preset `{rep['preset']}`, bundle `{rep['bundle']}` (sha256 {rep['bundle_sha256'][:12]})",
         f"- board {b['name']}: {b['part']} at {b['clock_mhz']:g} MHz, {b['dsp']} DSP (budget {b['dsp_budget']})",
         f"- LR {rep['lr'][1]}x{rep['lr'][0]} -> HR {rep['hr'][1]}x{rep['hr'][0]}, target {rep['target_fps']:g} fps, "
         f"pixel shuffle {rep['pixels_per_beat']} HR pixel(s) per output word",
         f"- estimate: **{e['fps']:.2f} fps**, {e['dsp']} DSP, {e['bram36']} BRAM36, ~{e['lut']:,} LUT, "
         f"bottleneck `{e['bottleneck']}` "
         f"({e['frame_clocks']} clocks/frame), {e['macs_per_lr_pixel']:.0f} MACs per LR pixel",
         f"- target {'met' if e['target_met'] else 'NOT met: ' + str(e['why_not'])}",
         f"- BRAM36 estimate {e['bram36']} of {b['bram36']} on the part"
         + ("" if e["bram36"] <= b["bram36"] else " (**does not fit**: lower lr_width or use URAM)"),
         f"- LUT estimate ~{e['lut']:,} of {b['lut']:,} on the part"
         + ("" if b.get("lut_budget") is None else f", budget {b['lut_budget']:,}"
            + ("" if e["lut"] <= b["lut_budget"] else " (**over the budget**)"))
         + " (line buffers as SRL shift registers, operand muxes, accumulators; multipliers in DSPs)",
         f"- full-size SRNet top C-sim compiled with g++: "
         + (f"yes ({rep['full_top_compiled_s']} s)" if rep.get("full_top_compiled_s") is not None else "no"), "",
         "## Layers (estimates; DSP = one per parallel multiplier, II in clocks per pixel of the input "
         "map; a conv's II is per pixel of its zero-padded map: RF + 11 clocks where the 3x3 window is "
         "full, 4 on the border, as hls4ml's Resource strategy does not pipeline the pixel loop)", "",
         "| layer | op | in HxW | MACs/LR px | RF | DSP | BRAM36 | LUT | II | fps alone |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rep["layers"]:
        L.append(f"| {r['name']} | {r['op']} | {r['h']}x{r['w']} | {r['macs_per_lr_pixel']:.0f} | "
                 f"{r['rf'] if r['rf'] is not None else '-'} | {r['dsp']} | {r['bram36']} | "
                 f"{r.get('lut', 0):,} | {r['ii_clocks_per_pixel']} | {r['fps_alone']:.1f} |")
    L += ["", "## Stream FIFOs of the SRNet top (depth from pipeline latency; hls4ml default = whole tensor)", "",
          "| stream | producer -> consumer | depth | hls4ml default | why |", "|---|---|---|---|---|"]
    for f in rep["fifos"]:
        L.append(f"| {f['stream']} | {f['producer']} -> {', '.join(f['consumers'])} | {f['depth']} | "
                 f"{f['default']} | {f['reason']} |")
    L += ["", "## C simulation vs golden (real frame crops)", "",
          "| core | crop HxW | frames | bit-exact | C-sim s | compile s |", "|---|---|---|---|---|---|"]
    for v in rep["csim"]:
        L.append(f"| {v['core']} | {v['crop'][0]}x{v['crop'][1]} | {v['frames']} | "
                 f"{'yes' if v['bit_exact'] else 'NO (' + str(v['mismatches']) + ' differ)'} | {v['csim_s']} | "
                 f"{v['compile_s']} |")
    L += ["", "## Projects", ""] + [f"- `{c}`: {p}" for c, p in rep["projects"].items()]
    L += ["", f"## Synthesis", "", f"{rep['synth'].get('status')}"]
    if isinstance(rep["synth"].get("report"), dict):
        L += ["", "```", json.dumps(rep["synth"]["report"], indent=1, default=str), "```"]
    L += ["", "## Step times (s)", ""] + [f"- {k}: {v}" for k, v in rep["step_times_s"].items()]
    (out / "report.md").write_text("\n".join(L) + "\n")
