"""The ``egvsr`` command line.

Subcommands: ``upscale``, ``eval``, ``train``, ``qat``, ``export``, ``hls``,
``sim``, ``build``, ``bench``. Heavy packages are imported inside each
command so that ``egvsr eval --backend golden`` runs without torch.

Errors: every numeric option is checked when it is parsed, with its name in
the message; outputs are checked before any work. :func:`main` turns every
failure into one line ``egvsr CMD: error: ...`` on stderr and exit code 2
(130 when interrupted, 1 for an unexpected internal error); ``--debug``
adds the traceback. docs/bad_inputs.md lists the cases.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path

from egvsr.model.video import VideoWarning

from .backends import BACKENDS, BackendError, open_backend

#: Frames in flight between the decoder, the network and the encoder threads.
QUEUE_FRAMES = 4
MIN_LR = 8  # FNet pools three times
MAX_FPS = 1000.0


class CliError(Exception):
    pass


# --------------------------------------------------------------------------
# option parsing: every numeric option is checked here, with its name
# --------------------------------------------------------------------------

def positive_int(text: str) -> int:
    try:
        v = int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {v}")
    return v


def nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return v


def frame_rate(text: str) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a number of frames per second, got {text!r}") from None
    if not math.isfinite(v) or v <= 0 or v > MAX_FPS:
        raise argparse.ArgumentTypeError(f"must be > 0 and <= {MAX_FPS:g} frames per second, got {text!r}")
    return v


_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_size(text, minimum: int = 1) -> tuple[int, int]:
    """'WxH' -> (w, h), both >= ``minimum``; ValueError otherwise."""
    if isinstance(text, (tuple, list)) and len(text) == 2:
        w, h = (int(v) for v in text)
    else:
        m = _SIZE.match(str(text))
        if not m:
            raise ValueError(f"must be WxH with two whole numbers, e.g. 96x80, got {text!r}")
        w, h = int(m.group(1)), int(m.group(2))
    if w < minimum or h < minimum:
        raise ValueError(f"must be at least {minimum}x{minimum}, got {w}x{h}")
    return w, h


def size_option(minimum: int = 1, keep_text: bool = False):
    def parse(text):
        try:
            size = parse_size(text, minimum)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text if keep_text else size
    parse.__name__ = "WxH"
    return parse


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``egvsr upscale: error: argument --fps: ...``."""

    def error(self, message):
        if "expected one argument" in message:
            message += " (a value that starts with '-' is written --option=VALUE)"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def _progress_bar(total, desc):
    try:
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit="frame", dynamic_ncols=True, file=sys.stderr)
    except ImportError:  # on a board without tqdm
        class _Bar:
            def __init__(self):
                self.n = 0
                self.postfix = ""

            def update(self, k=1):
                self.n += k
                print(f"\r{desc}: {self.n}/{total if total else '?'} {self.postfix}", end="", file=sys.stderr)

            def set_postfix_str(self, s, refresh=True):
                self.postfix = s

            def close(self):
                print(file=sys.stderr)
        return _Bar()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_lr_size(w, h, what="input"):
    if h < MIN_LR or w < MIN_LR:
        raise CliError(f"{what} frames are {w}x{h} LR pixels; EGVSR needs at least {MIN_LR}x{MIN_LR} "
                       "(FNet pools three times). Use a larger input or crop.")


def _check_model_files(args):
    for opt in ("checkpoint", "bundle"):
        path = getattr(args, opt, None)
        if path and not Path(path).is_file():
            raise CliError(f"--{opt} {path}: no such file")


def _check_new_file(path, overwrite: bool, option: str) -> Path:
    """An output file written at the end (--plot): parent folder, writability, no silent overwrite."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CliError(f"{option} {path}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"{option} {path}: cannot write in {parent} (permission denied)")
    if path.is_dir():
        raise CliError(f"{option} {path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise CliError(f"{option} {path} already exists; pass --overwrite to replace it")
    return path


def _check_out_stem(stem, option="-o"):
    """Output stem of files written later (export): the nearest existing folder must be writable."""
    p = Path(stem).parent.absolute()
    while not p.exists():
        p = p.parent
    if not p.is_dir():
        raise CliError(f"{option} {stem}: {p} is a file, not a folder")
    if not os.access(p, os.W_OK | os.X_OK):
        raise CliError(f"{option} {stem}: cannot write in {p} (permission denied)")


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM ends the command like Ctrl-C (temporary outputs are removed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt("SIGTERM")
    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _run_backend(args, lr_frames, desc):
    backend = open_backend(args.backend, checkpoint=args.checkpoint, preset=args.preset,
                           bundle=getattr(args, "bundle", None))
    print(f"backend {backend.name}: {backend.description}", file=sys.stderr)
    bar = _progress_bar(len(lr_frames), desc)
    t0 = time.time()
    try:
        out = list(backend.run(lr_frames, progress=lambda: bar.update(1)))
    finally:
        bar.close()
        backend.close()
    dt = time.time() - t0
    return out, dt


def stream_upscale(backend, frames, writer, total=None, desc="upscale", queue=QUEUE_FRAMES):
    """Decode -> network -> encode, one frame at a time; returns (frames, seconds).

    ``frames`` is decoded in a background thread at most ``queue`` frames
    ahead and ``writer`` (a :class:`~egvsr.model.video.FrameWriter`, made
    with ``queue=``) encodes in another, so memory does not grow with the
    length of the clip. The bar counts network frames, with the decoded and
    encoded counts beside it.
    """
    from egvsr.model.video import prefetch
    decoded = [0]

    def counted(it):
        for f in it:
            decoded[0] += 1
            yield f

    bar = _progress_bar(total, desc)
    src = prefetch(counted(frames), queue)
    n = 0
    t0 = time.time()
    try:
        for hr in backend.run(src):
            writer.write(hr)
            n += 1
            bar.set_postfix_str(f"decoded {decoded[0]}, encoded {writer.written}", refresh=False)
            bar.update(1)
        writer.wait()
        bar.set_postfix_str(f"decoded {decoded[0]}, encoded {writer.written}")
    finally:
        src.close()
        bar.close()
    return n, time.time() - t0


# --------------------------------------------------------------------------
# upscale
# --------------------------------------------------------------------------

UPSCALE_EPILOG = """\
Output: a video (.mp4, .mkv, .mov, .avi: H.264, yuv420p, crf 18) or a folder
of PNG frames (a name without an extension, or an existing empty folder).
It is checked before any work: the parent folder must exist and be
writable, it may not be (or be inside, or contain) the input, and an
existing output is replaced only with --overwrite. The output is atomic:
frames are decoded, upscaled and encoded one at a time into a hidden
temporary next to it, which is renamed into place when the last frame is
written; on an error or Ctrl-C it is removed and nothing is written (an
output being replaced stays as it was). The frame rate is the input's
unless --fps is given (25 for a folder of frames).
"""


def cmd_upscale(args):
    from fractions import Fraction

    from egvsr.model.video import FrameWriter, iter_frames, probe, resolve_source
    src = resolve_source(args.input)
    info = probe(args.input)  # opens the input: unreadable or corrupt files fail here
    _check_lr_size(info["width"], info["height"])
    _check_model_files(args)
    rate = Fraction(args.fps).limit_denominator(1001) if args.fps else (info["rate"] or Fraction(25))
    total = info["frames"] or None  # header count (None: unknown); a folder's count is exact
    if args.frames:
        total = min(total, args.frames) if total else args.frames
    with _sigterm_as_interrupt(), \
            FrameWriter(args.output, rate, overwrite=args.overwrite, protect=[src], queue=QUEUE_FRAMES) as writer:
        if args.fps and writer.kind == "png":
            warnings.warn("--fps has no effect on a folder of PNG frames")
        backend = open_backend(args.backend, checkpoint=args.checkpoint, preset=args.preset,
                               bundle=args.bundle)
        try:
            print(f"backend {backend.name}: {backend.description}", file=sys.stderr)
            n, dt = stream_upscale(backend, iter_frames(src, max_frames=args.frames), writer, total)
        finally:
            backend.close()
    h, w = writer.shape[:2]
    at = f" at {float(rate):.6g} fps" if writer.kind == "video" else ""
    print(f"wrote {n} frames {w}x{h} to {args.output}{at} ({n / max(dt, 1e-9):.2f} frames/s, "
          f"backend {args.backend})", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------
# eval
# --------------------------------------------------------------------------

def evaluate(gt_src, backend, checkpoint=None, preset=None, bundle=None, degradation="BD",
             frames=None, crop=None, tof=False):
    """Degrade a GT clip, super-resolve it and score SR and bicubic (Y channel).

    PSNR is ``inf`` for a frame the SR (or bicubic) reproduces exactly.
    """
    import numpy as np

    from egvsr.model.degrade import bicubic_upscale, to_uint8
    from egvsr.model.metrics import clip_metrics

    from .evalset import degraded_pair
    lr_u8, gt_u8 = degraded_pair(gt_src, degradation, frames, crop)
    _check_lr_size(lr_u8.shape[2], lr_u8.shape[1], "degraded LR")
    ns = argparse.Namespace(backend=backend, checkpoint=checkpoint, preset=preset, bundle=bundle)
    sr, dt = _run_backend(ns, list(lr_u8), f"eval {backend}")
    sr = np.stack(sr)
    bic = to_uint8(bicubic_upscale(lr_u8, align="bd" if degradation == "BD" else "torch"))
    res = {"backend": backend, "clip": str(gt_src), "degradation": degradation, "frames": int(len(sr)),
           "lr_size": [int(lr_u8.shape[2]), int(lr_u8.shape[1])],
           "sr": clip_metrics(sr, gt_u8), "bicubic": clip_metrics(bic, gt_u8),
           "seconds": dt, "fps": len(sr) / dt if dt > 0 else None,
           "checkpoint": str(checkpoint) if checkpoint else None, "bundle": str(bundle) if bundle else None}
    if tof:
        from egvsr.model.metrics import tof as tof_metric
        res["sr"]["tof"] = tof_metric(sr, gt_u8)
        res["bicubic"]["tof"] = tof_metric(bic, gt_u8)
    return res, sr


def json_safe(obj):
    """Non-finite floats -> None, so that the JSON is valid (no ``Infinity``/``NaN``)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return json_safe(obj.item())
    return obj


def _db(v, fmt=".3f"):
    return f"{v:{fmt}}" if v is not None and math.isfinite(v) else ("inf" if v == math.inf else "n/a")


def _check_plot(path, overwrite):
    path = _check_new_file(path, overwrite, "--plot")
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise CliError("--plot needs matplotlib: pip install matplotlib") from None
    kinds = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in kinds:
        raise CliError(f"--plot {path}: unsupported image type {path.suffix or '(none)'!r}; "
                       f"use one of {', '.join('.' + k for k in sorted(kinds))}")
    return path


def _table_mode(args) -> bool:
    """Several clips, a folder of clips, paired LR/GT, --compare or --max-colour-bias: the comparison table."""
    from egvsr.model.clips import is_clip_source
    return (len(args.gt_input) > 1 or args.lr is not None or args.compare or args.max_colour_bias is not None
            or not all(is_clip_source(s) or not Path(s).is_dir() for s in args.gt_input))


def cmd_eval(args):
    if _table_mode(args):
        return cmd_eval_table(args)
    backend = args.backend or "torch"
    if args.plot:
        _check_plot(args.plot, args.overwrite)
    _check_model_files(args)
    res, _ = evaluate(args.gt_input[0], backend, args.checkpoint, args.preset, args.bundle,
                      args.degradation, args.frames, args.crop, args.tof)
    if args.plot:
        _plot(res, args.plot)
    if args.json:
        print(json.dumps(json_safe(res), allow_nan=False))
    else:
        s, b = res["sr"], res["bicubic"]
        gain = s["psnr_y"] - b["psnr_y"] if math.isfinite(s["psnr_y"]) and math.isfinite(b["psnr_y"]) else None
        fps = f"{res['fps']:.2f} fps" if res["fps"] else "fps n/a"
        print(f"{res['clip']}: {res['frames']} frames, {res['degradation']}, backend {res['backend']}")
        print(f"  SR      PSNR-Y {_db(s['psnr_y'])} dB  SSIM-Y {_db(s['ssim_y'], '.4f')}")
        print(f"  bicubic PSNR-Y {_db(b['psnr_y'])} dB  SSIM-Y {_db(b['ssim_y'], '.4f')}")
        print(f"  gain    {_db(gain, '+.3f')} dB   ({fps})")
    return 0


def cmd_eval_table(args):
    """Per-clip table: bicubic, float (torch, --checkpoint) and quantized (--backend, --bundle), colour check."""
    from .backends import INT_BACKENDS, TorchBackend
    from .evalset import COLOUR_LIMIT, check_clips, evaluate_table, format_table, gather
    quant = args.backend or "golden"
    if quant not in INT_BACKENDS or quant == "brevitas":
        raise CliError(f"--backend {quant}: the comparison table runs the float model (--checkpoint) against "
                       "the quantized bundle (--bundle) on an integer backend: choose one of "
                       f"{', '.join(b for b in INT_BACKENDS if b != 'brevitas')} (default golden; brevitas "
                       "takes a checkpoint: export it with egvsr export and pass --bundle)")
    for opt in ("plot", "tof"):
        if getattr(args, opt):
            raise CliError(f"--{opt} works on one clip; run egvsr eval CLIP --{opt} for each clip")
    if args.checkpoint and str(args.checkpoint).endswith((".json", ".npz")):
        raise CliError(f"--checkpoint {args.checkpoint} is a bundle; in the table --checkpoint is the float "
                       "model (.pth) and --bundle the quantized one")
    _check_model_files(args)
    try:
        import torch  # noqa: F401
    except ImportError:
        raise CliError("the comparison table runs the float model in torch, which is not installed: "
                       "pip install 'egvsr[train]', or evaluate one clip with --backend golden") from None
    clips = gather(args.gt_input, args.lr)
    check_clips(clips, args.degradation, args.frames, args.crop)  # before any model is loaded
    print(f"eval: {len(clips)} clip{'s' if len(clips) != 1 else ''}: {', '.join(c[0] for c in clips)}",
          file=sys.stderr)
    fl = TorchBackend(args.checkpoint, args.preset)
    q = open_backend(quant, bundle=args.bundle)
    print(f"float: {fl.description}\nquantized: backend {q.name}: {q.description}", file=sys.stderr)
    try:
        res = evaluate_table(clips, fl, q, degradation=args.degradation, frames=args.frames, crop=args.crop,
                             progress=lambda name, stage: print(f"  {name}: {stage}", file=sys.stderr))
    finally:
        fl.close()
        q.close()
    res.update(float={"backend": "torch", "checkpoint": str(args.checkpoint) if args.checkpoint else None,
                      "description": fl.description},
               quant={"backend": q.name, "bundle": str(args.bundle) if args.bundle else None,
                      "description": q.description})
    limit = args.max_colour_bias
    res["max_colour_bias"] = limit
    if args.json:
        print(json.dumps(json_safe(res), allow_nan=False))
    else:
        print(format_table(res))
    worst = max(res["clips"], key=lambda r: r["colour_bias"]["max_abs"])
    if limit is not None and worst["colour_bias"]["max_abs"] > limit:
        over = [r["clip"] for r in res["clips"] if r["colour_bias"]["max_abs"] > limit]
        cb = worst["colour_bias"]
        raise CliError(f"colour check failed: {len(over)} of {len(res['clips'])} clips have a mean error of the "
                       f"quantized output against the float output above --max-colour-bias {limit:g} levels "
                       f"(worst {worst['clip']}: R {cb['r']:+.2f}, G {cb['g']:+.2f}, B {cb['b']:+.2f}); "
                       f"the documented limit is {COLOUR_LIMIT:g}")
    return 0


def _plot(res, path):
    """Per-frame PSNR plot, written atomically (temp file beside it, then renamed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path = Path(path)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for key, label in (("sr", f"SR ({res['backend']})"), ("bicubic", "bicubic")):
        ax.plot([f["psnr_y"] for f in res[key]["per_frame"]], label=label)
    ax.set_xlabel("frame")
    ax.set_ylabel("PSNR-Y (dB)")
    ax.set_title(Path(res["clip"]).name)
    ax.legend()
    fig.tight_layout()
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100, format=path.suffix.lower().lstrip("."))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)


EVAL_EPILOG = """\
examples:
  egvsr eval carphone --backend golden             one clip, one backend
  egvsr eval carphone bikes bigbuckbunny --frames 20
                                                   table: bicubic, float, W8A8, colour
  egvsr eval clips/ --json                         every clip under clips/
  egvsr eval Vid4/GT --lr Vid4/BDx4                paired: published BD LR, no degradation here
  egvsr eval carphone --compare --max-colour-bias 0.5
                                                   colour check as a gate (exit 2 above it)
"""


def cmd_train(args):
    from egvsr.model.train_cli import train_main
    return train_main(args)


def cmd_qat(args):
    from egvsr.quant.qat import qat_main
    return qat_main(args)


def cmd_export(args):
    from egvsr.quant.export import export_main
    _check_out_stem(args.out)
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise CliError(f"--checkpoint {args.checkpoint}: no such file")
    return export_main(args)


def cmd_hls(args):
    from egvsr.hls.build import run
    report = run(args.config, synth=args.synth)  # None: hls/configs/default.yaml
    return 0 if report.get("ok", True) else 1


def cmd_sim(args):
    from egvsr.golden.bundle import default_bundle_path
    from egvsr.rtl_tb.regression import main
    rest = list(args.rest)
    if "--bundle" not in rest:  # the bundled tiny-anchor W8A8 model by default
        rest = ["--bundle", str(default_bundle_path())] + rest
    return main(rest)


def cmd_build(args):
    from egvsr.flow.steps import Build, run_steps
    b = Build(args.impl, config=args.config, bundle=args.bundle, board=args.board, lr=args.lr,
              fps=args.fps, out=args.out)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else []
    recs = run_steps(b, steps)
    return 0 if all(r.get("ok", True) for r in recs) else 1


def cmd_bench(args):
    from egvsr.flow.bench import main
    return main(args.only)


#: the specs of `egvsr.quant.quantizers.QUANT_SPECS` (named here: the parser imports no torch)
QUANT_HELP = ("w8a8 (default), w8a8-b16, w4a8, w8a8-f16 (16-bit flow head), and on top of it -ia "
              "(independent add exponents, unsigned after ReLU), -t16 (16-bit trunk), -pc (per-channel "
              "weight scales), -ia-pc; README 'Quantizer options'")


def build_parser():
    p = Parser(prog="egvsr", description="EGVSR FPGA co-design toolkit")
    p.add_argument("--debug", action="store_true", help="print the traceback of an error")
    sub = p.add_subparsers(dest="cmd", required=True)

    def debug_arg(sp):
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print the traceback of an error")

    def model_args(sp, table=False):
        sp.add_argument("--preset", help="architecture (paper, small, tiny, ...); needed for a raw published state dict")
        sp.add_argument("--checkpoint", help="weights (.pth); default: the bundled tiny-anchor model")
        sp.add_argument("--bundle", help="integer bundle (.json) for golden/hls/rtl/board; default: bundled tiny-anchor W8A8")
        sp.add_argument("--backend", default=None if table else "torch", choices=BACKENDS,
                        help="level that runs the network (board needs a PYNQ board; board-sim simulates one)"
                        + ("; default torch for one clip, golden (the quantized side) in the table" if table
                           else ""))
        debug_arg(sp)

    sp = sub.add_parser("upscale", help="super-resolve a video or a folder of LR frames",
                        description="Super-resolve a video, a folder of LR frames or a bundled clip 4x.",
                        epilog=UPSCALE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("input", help="video file, folder of frames, or bundled clip name (bikes, carphone, bigbuckbunny)")
    sp.add_argument("-o", "--output", required=True,
                    help="video (.mp4, .mkv, .mov, .avi) or a folder for PNG frames (no extension)")
    sp.add_argument("--overwrite", action="store_true", help="replace an existing output")
    sp.add_argument("--frames", type=positive_int, help="at most this many frames (>= 1)")
    sp.add_argument("--fps", type=frame_rate, help="frame rate of the output video (default: the input's)")
    model_args(sp)
    sp.set_defaults(func=cmd_upscale)

    sp = sub.add_parser("eval", help="degrade GT clips (or take paired LR), super-resolve, report PSNR/SSIM (Y)",
                        description="One clip: PSNR/SSIM-Y of one backend against bicubic. Several clips, a "
                        "folder of clips, --lr, --compare or --max-colour-bias: a table per clip and the mean "
                        "of bicubic, the float model (--checkpoint) and the quantized bundle (--backend, "
                        "default golden; --bundle), with the colour check (mean error of the quantized "
                        "output against the float output in R, G, B, in levels; flagged above 0.5).",
                        epilog=EVAL_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("gt_input", nargs="+",
                    help="GT video, folder of frames, bundled clip name (bikes, carphone, bigbuckbunny), "
                         "or a folder of clips (subfolders of frames or video files); several allowed")
    sp.add_argument("--lr", metavar="LR",
                    help="paired mode: the LR clip or folder of clips made from the GT (e.g. Vid4/BDx4 with "
                         "GT Vid4/GT), instead of degrading the GT here; GT must be exactly 4x the LR")
    sp.add_argument("--compare", action="store_true",
                    help="the float-vs-quantized table with the colour check, also for one clip")
    sp.add_argument("--max-colour-bias", type=nonneg_float, metavar="LEVELS",
                    help="exit with an error when a clip's colour bias exceeds this many levels "
                         "(the documented limit is 0.5; default: report only)")
    sp.add_argument("--degradation", default="BD", choices=("BD", "BI"))
    sp.add_argument("--frames", type=positive_int, help="at most this many frames (>= 1)")
    sp.add_argument("--crop", type=size_option(keep_text=True),
                    help="centre crop of the GT first, WxH (for slow backends; at least 37x37 for BD, 32x32 for BI)")
    sp.add_argument("--json", action="store_true",
                    help="one JSON object on stdout (PSNR null where it is infinite: an exact match); "
                         "the table: clips, mean, colour_flagged")
    sp.add_argument("--plot", help="per-frame PSNR plot (.png, .pdf, .svg, ...)")
    sp.add_argument("--overwrite", action="store_true", help="replace an existing --plot file")
    sp.add_argument("--tof", action="store_true", help="also the temporal tOF metric (slow)")
    model_args(sp, table=True)
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("train", help="train the float model (published stage 1 losses)")
    from egvsr.model.train_cli import add_train_args
    add_train_args(sp)
    debug_arg(sp)
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("qat", help="quantization-aware fine-tuning from a float checkpoint")
    sp.add_argument("--from", dest="from_ckpt", help="float checkpoint (default: bundled tiny-anchor)")
    sp.add_argument("--quant", default="w8a8", help="quantization spec: " + QUANT_HELP)
    add_train_args(sp, qat=True)
    debug_arg(sp)
    sp.set_defaults(func=cmd_qat)

    sp = sub.add_parser("export", help="QONNX + integer bundle from a quantized checkpoint")
    sp.add_argument("--checkpoint", help="QAT checkpoint (default: bundled tiny-anchor W8A8)")
    sp.add_argument("-o", "--out", required=True, help="output stem, e.g. build/export/tiny_w8a8")
    sp.add_argument("--lr-size", default="64x64", type=size_option(MIN_LR, keep_text=True),
                    help="WxH the QONNX graphs are exported at (at least 8x8)")
    debug_arg(sp)
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("hls", help="generate + C-simulate the hls4ml projects (make hls)")
    sp.add_argument("--config", help="build YAML (default hls/configs/default.yaml)")
    sp.add_argument("--synth", action="store_true", help="also run Vitis HLS synthesis (needs vitis_hls)")
    debug_arg(sp)
    sp.set_defaults(func=cmd_hls)

    sp = sub.add_parser("sim", help="RTL regression (make sim); options go to the regression (egvsr sim -h)",
                        add_help=False)
    sp.set_defaults(func=cmd_sim, rest=[])

    sp = sub.add_parser("build", help="the flow as named steps over one build folder "
                        "(export, plan, hls|rtl, verify, regression, bitstream)")
    sp.add_argument("--impl", default="hls", choices=("hls", "rtl"), help="hardware implementation")
    sp.add_argument("--steps", help="comma-separated steps (default: hls export,plan,hls,verify; "
                    "rtl plan,rtl,verify)")
    sp.add_argument("--config", help="HLS build YAML (--impl hls; default hls/configs/default.yaml)")
    sp.add_argument("--bundle", help="integer bundle (.json); default: the config's or the bundled tiny-anchor")
    sp.add_argument("--board", help="board (pynq-z2, kv260, zcu104, u250); rtl default pynq-z2")
    sp.add_argument("--lr", type=size_option(MIN_LR), help="LR frame size WxH to plan for (default: the board's target)")
    sp.add_argument("--fps", type=frame_rate, help="target frame rate (default: the board's / config's)")
    sp.add_argument("--out", help="build folder (default build/<name>)")
    debug_arg(sp)
    sp.set_defaults(func=cmd_build)

    sp = sub.add_parser("bench", help="benchmarks -> bench/results/*.json (make bench)")
    sp.add_argument("--only", help="comma-separated subset: model,golden,hls,rtl,board,io")
    debug_arg(sp)
    sp.set_defaults(func=cmd_bench)
    return p


#: Failures the commands expect (bad input, missing files, unwritable outputs,
#: tool errors): one line and exit code 2.
EXPECTED_ERRORS = (CliError, BackendError, ValueError, RuntimeError, OSError, ImportError)

_INTERRUPTED = {"upscale": "interrupted; nothing was written (the output appears only when complete)"}


def describe_error(exc: BaseException) -> str:
    """One line for an exception: OSErrors as 'PATH: reason', the rest as their message."""
    if isinstance(exc, OSError) and exc.strerror:
        names = " -> ".join(str(n) for n in (exc.filename, exc.filename2) if n)
        return f"{names}: {exc.strerror.lower()}" if names else exc.strerror.lower()
    if isinstance(exc, ModuleNotFoundError):
        return (f"{exc}: install the extra that provides it, e.g. pip install 'egvsr[video]' "
                "(or egvsr[train], egvsr[hls], egvsr[sim], egvsr[dev])")
    msg = str(exc).strip()
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        msg = f"missing key {exc.args[0]!r}"
    return msg or type(exc).__name__


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.cmd == "sim":
        if "--debug" in extra:
            extra.remove("--debug")
            args.debug = True
        args.rest = extra  # every other option belongs to the RTL regression's own parser
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    debug = bool(getattr(args, "debug", False))
    prog = f"egvsr {args.cmd}"

    def show_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        warnings.simplefilter("always", VideoWarning)
        try:
            return args.func(args) or 0
        except KeyboardInterrupt:
            if debug:
                traceback.print_exc()
            print(f"{prog}: {_INTERRUPTED.get(args.cmd, 'interrupted')}", file=sys.stderr)
            return 130
        except EXPECTED_ERRORS as exc:
            if debug:
                traceback.print_exc()
            print(f"{prog}: error: {describe_error(exc)}", file=sys.stderr)
            return 2
        except Exception as exc:  # a bug: still one line, the traceback with --debug
            if debug:
                traceback.print_exc()
            print(f"{prog}: internal error: {type(exc).__name__}: {describe_error(exc)}"
                  f"{'' if debug else ' (rerun with --debug for the traceback, and please report it)'}",
                  file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
