"""``make bench``: every stage's benchmark -> bench/results/*.json.

Suites: ``model`` (float fps at 960x540), ``golden`` (golden vs qonnx vs
onnxruntime), ``hls`` (C-sim fps, compile time, estimated board fps), ``rtl``
(simulated cycles/s, II, yosys figures; the long regression), ``board``
(simulated-device throughput), ``io`` (peak RSS of ``egvsr upscale`` on short
and long clips: streaming keeps memory flat), ``quality`` (each bundled model on
the bundled clips and on the held-out real-video clips of `flow.quality_sets`
present under the data root), ``pretrained`` (each bundled model's training
record, read from its checkpoints) and, opt-in, ``skip`` (`flow.skip_compare`: the LR skip
forms trained and measured against each other). Each writes its own JSON file.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path("bench/results")


def _board(out):
    from egvsr.board.driver import EgvsrAccel
    from egvsr.golden.bundle import default_bundle_path
    res = {"what": "PYNQ driver on the simulated device (golden behind the DMA, one DMA transfer per "
                   "LR line each way through a ring of 2 line buffers), the default (tiny-anchor) W8A8 bundle; a measure of "
                   "the host side, not of hardware",
           "host": platform.node(), "results": {}}
    for h, w in ((34, 42), (68, 120)):
        acc = EgvsrAccel(default_bundle_path(), simulate=True)
        try:
            res["results"][f"{w}x{h}"] = acc.throughput_test(n_frames=4, lr_size=(h, w))
        finally:
            acc.close()
    Path(out).write_text(json.dumps(res, indent=1, default=str))
    return 0


def _rtl(out):
    from egvsr.golden.bundle import default_bundle_path
    from egvsr.rtl_tb.regression import main as regression
    return regression(["--bundle", str(default_bundle_path()), "--out", str(out)])


#: the bundled clips and whether they trained the bundled default's init checkpoint (README "Quality")
QUALITY_CLIPS = {"carphone": False, "bikes": True, "bigbuckbunny": True}


def _quality(out):
    """`egvsr eval --compare --json` of each bundled model (float checkpoint and W8A8 bundle) on
    every frame of the bundled clips and of the held-out real-video clips present under the
    data root (`flow.quality_sets`; BD x4): bicubic / float / W8A8 PSNR-Y and the colour check."""
    from egvsr.flow.quality_sets import HELDOUT, data_root, heldout_present
    from egvsr.model.pretrained import BUNDLED_MODELS
    found, missing = heldout_present()
    clips = [*QUALITY_CLIPS, *map(str, found.values())]
    res = {"what": "egvsr eval --compare on every frame of the bundled clips and of the held-out "
                   "real-video clips (BD x4, PSNR-Y, 4-pixel border); per bundled model: float "
                   "checkpoint and W8A8 bundle (golden). Held-out clips trained and selected no "
                   "bundled model; the bundled clips' 'trained_on' says whether they trained it or "
                   "its init checkpoint",
           "host": platform.node(), "data_root": str(data_root()), "heldout_missing": missing,
           "heldout_sources": {n: src for n, (_, src) in HELDOUT.items()}, "models": {}}
    for name, (ckpt, _, bundle) in BUNDLED_MODELS.items():
        cmd = [sys.executable, "-m", "egvsr.flow.cli", "eval", *clips, "--compare", "--json",
               "--checkpoint", str(ckpt), "--bundle", str(bundle)]
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr[-3000:], file=sys.stderr)
            return r.returncode
        ev = json.loads(r.stdout)
        for c in ev["clips"]:
            c["heldout"] = c["clip"] in found
            c["trained_on"] = False if c["heldout"] else QUALITY_CLIPS.get(c["clip"])
        ho = [c for c in ev["clips"] if c["heldout"]]
        if ho:  # per-clip average over the held-out clips (every clip counts once)
            avg = lambda f: sum(f(c) for c in ho) / len(ho)  # noqa: E731
            ev["heldout_mean"] = {"clips": len(ho), **{k: avg(lambda c: c[k]["psnr_y"]) for k in ("bicubic", "float", "quant")},
                                  "quant_minus_float_db": avg(lambda c: c["quant_minus_float_db"]),
                                  "max_colour_bias": max(c["colour_bias"]["max_abs"] for c in ho)}
        ev.update(command=" ".join(cmd[2:]), seconds=time.time() - t0)
        res["models"][name] = ev
    Path(out).write_text(json.dumps(res, indent=1))
    return 0


def _pretrained(out):
    """What each bundled model is and how it was made, read from its files: preset, quant
    spec, bundle hash, and the training record its checkpoints carry (data, iterations,
    the selected iteration, validation PSNR, seconds to it)."""
    import torch

    from egvsr.golden.bundle import load_bundle
    from egvsr.model.pretrained import BUNDLED_MODELS

    def record(path):
        obj = torch.load(path, map_location="cpu", weights_only=True)
        meta = obj.get("meta", {})
        cfg = meta.get("config", {})
        keep = ("iterations", "batch", "seq_len", "lr_size", "lr", "data", "val_clip", "time_limit", "moving_prob")
        return {"file": path.name, "preset": obj.get("preset"), "quant": obj.get("quant"),
                "config": {k: cfg[k] for k in keep if k in cfg}, "selected_iteration": meta.get("iteration"),
                "val": meta.get("val"), "float_checkpoint_sha256": meta.get("float_sha256")}
    res = {"what": "the bundled models' own records (checkpoint meta and bundle manifest)", "models": {}}
    for name, (ckpt, qat, bundle) in BUNDLED_MODELS.items():
        b = load_bundle(bundle)
        res["models"][name] = {"float": record(ckpt), "qat": record(qat),
                               "bundle": {"file": bundle.name, "sha256": b.sha256,
                                          "schema_version": b.manifest["schema_version"],
                                          "preset": b.manifest.get("preset")}}
    Path(out).write_text(json.dumps(res, indent=1, default=str))
    return 0


# peak RSS (KiB, Linux ru_maxrss) of one child process, measured from a fresh parent
_PEAK_RSS = ("import json, resource, subprocess, sys, time; t = time.time(); "
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(json.dumps({'rc': r.returncode, 'seconds': time.time() - t, 'stderr': r.stderr[-2000:], "
             "'peak_rss_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))")


def _io_clip(path, n, w=320, h=180, fps=30):
    """A moving, textured w x h clip of n frames (H.264), written once."""
    import numpy as np

    from egvsr.model.video import write_frames
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 24, size=(h, w, 3), dtype=np.uint8)

    def frames():
        for t in range(n):
            img = np.stack([(xx * 2 + 3 * t) % 256, (yy * 3 + 2 * t) % 256, ((xx + yy) // 2 + t) % 256], -1)
            yield (img.astype(np.uint8) // 2 + np.roll(noise, t, axis=1))
    return write_frames(frames(), path, fps=fps, overwrite=True)


def _io(out, lengths=(20, 200), long=400, kinds=("png", "mp4")):
    """Peak RSS of ``egvsr upscale --backend golden`` on 320x180 clips of 20 and 200 frames.

    Each run is its own process (``python -m egvsr.flow.cli``) under a fresh
    parent that reads ``RUSAGE_CHILDREN``. Both outputs are measured, a PNG
    folder and an H.264 mp4, and the mp4 also at ``long`` frames. libx264
    holds a fixed window of frames (``video.X264_OPTIONS``: rc-lookahead 10,
    plus B-frames and frame threads) that fills within the first ~20 frames.
    """
    import shutil

    import av
    work = Path("build/bench_io")
    work.mkdir(parents=True, exist_ok=True)
    runs = {}
    for n in sorted(set(lengths) | {long}):
        clip = _io_clip(work / f"clip{n}.mp4", n)
        for kind in kinds:
            if kind == "png" and n == long:
                continue
            dst = work / (f"sr{n}.mp4" if kind == "mp4" else f"sr{n}_png")
            shutil.rmtree(dst, ignore_errors=True) if dst.is_dir() else dst.unlink(missing_ok=True)
            cmd = [sys.executable, "-c", _PEAK_RSS, sys.executable, "-m", "egvsr.flow.cli", "upscale", str(clip),
                   "-o", str(dst), "--backend", "golden"]
            r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
            if r["rc"] != 0:
                print(r["stderr"], file=sys.stderr)
                raise RuntimeError(f"egvsr upscale on {n} frames to {kind} failed (exit {r['rc']})")
            runs[f"{kind}_{n}"] = {"frames": n, "output": kind, "peak_rss_mib": round(r["peak_rss_kib"] / 1024, 1),
                                   "seconds": round(r["seconds"], 1)}
            print(f"  {kind} {n} frames: peak RSS {runs[f'{kind}_{n}']['peak_rss_mib']} MiB, "
                  f"{r['seconds']:.0f} s", flush=True)
            shutil.rmtree(dst, ignore_errors=True) if dst.is_dir() else dst.unlink(missing_ok=True)

    def compare(a, b):
        ra, rb = runs[a]["peak_rss_mib"], runs[b]["peak_rss_mib"]
        growth = (rb - ra) / ra
        return {"runs": [a, b], "peak_rss_mib": [ra, rb], "growth": round(growth, 4), "ok": abs(growth) < 0.10}
    short, longer = min(lengths), max(lengths)
    checks = {f"{k}_{short}_vs_{longer}": compare(f"{k}_{short}", f"{k}_{longer}") for k in kinds}
    if "mp4" in kinds:
        checks[f"mp4_{longer}_vs_{long}"] = compare(f"mp4_{longer}", f"mp4_{long}")
    from egvsr.model.video import X264_OPTIONS
    res = {"what": "peak RSS of `egvsr upscale --backend golden` on a 320x180 H.264 clip (HR 1280x720), "
                   "one process per run; criterion: within 10% between clip lengths",
           "host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
           "pyav": av.__version__, "x264_options": X264_OPTIONS, "runs": runs, "checks": checks,
           "ok": all(c["ok"] for c in checks.values())}
    Path(out).write_text(json.dumps(res, indent=1))
    return 0 if res["ok"] else 1


SUITES = {
    "model": lambda out: __import__("egvsr.model.bench", fromlist=["main"]).main(out),
    "golden": lambda out: __import__("egvsr.quant.bench", fromlist=["main"]).main(out),
    "hls": lambda out: __import__("egvsr.hls.bench", fromlist=["main"]).main(out),
    "board": _board,
    "rtl": _rtl,
    "io": _io,
    "quality": _quality,
    "pretrained": _pretrained,
    # opt-in (hours of CPU training unless build/skip/ holds the runs): egvsr bench --only skip
    "skip": lambda out: __import__("egvsr.flow.skip_compare", fromlist=["main"]).main(out),
}
OPT_IN = ("skip",)


def main(only=None) -> int:
    names = [s.strip() for s in only.split(",")] if only else [n for n in SUITES if n not in OPT_IN]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"egvsr bench: unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    rc = 0
    for n in names:
        t0 = time.time()
        print(f"== bench {n}", flush=True)
        r = SUITES[n](RESULTS / f"{n}.json") or 0
        print(f"== bench {n}: {'ok' if r == 0 else 'FAILED'} in {time.time() - t0:.0f} s -> {RESULTS / (n + '.json')}", flush=True)
        rc = rc or r
    return rc
