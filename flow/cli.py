"""The ``egvsr`` command line.

Subcommands: ``upscale``, ``eval``, ``train``, ``qat``, ``export``, ``hls``,
``sim``, ``bench``. Heavy packages are imported inside each command so that
``egvsr eval --backend golden`` runs without torch.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .backends import BACKENDS, BackendError, open_backend


class CliError(Exception):
    pass


def _progress_bar(total, desc):
    try:
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit="frame", dynamic_ncols=True, file=sys.stderr)
    except ImportError:  # on a board without tqdm
        class _Bar:
            def __init__(self):
                self.n = 0

            def update(self, k=1):
                self.n += k
                print(f"\r{desc}: {self.n}/{total}", end="", file=sys.stderr)

            def close(self):
                print(file=sys.stderr)
        return _Bar()


def _check_lr_size(frames, what="input"):
    h, w = frames[0].shape[:2]
    if h < 8 or w < 8:
        raise CliError(f"{what} frames are {w}x{h} LR pixels; EGVSR needs at least 8x8 "
                       "(FNet pools three times). Use a larger input or crop.")


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


def cmd_upscale(args):
    from egvsr.model.video import read_frames, write_frames
    frames = read_frames(args.input, max_frames=args.frames)
    _check_lr_size(frames)
    out, dt = _run_backend(args, list(frames), "upscale")
    write_frames(out, args.output, fps=args.fps)
    print(f"wrote {len(out)} frames {out[0].shape[1]}x{out[0].shape[0]} to {args.output} "
          f"({len(out) / dt:.2f} fps, backend {args.backend})", file=sys.stderr)
    return 0


def _center_crop(frames, crop):
    if not crop:
        return frames
    w, h = (int(v) for v in crop.lower().split("x"))
    H, W = frames.shape[1:3]
    if w > W or h > H:
        raise CliError(f"--crop {crop} is larger than the {W}x{H} clip")
    y0, x0 = (H - h) // 2, (W - w) // 2
    return frames[:, y0:y0 + h, x0:x0 + w]


def evaluate(gt_src, backend, checkpoint=None, preset=None, bundle=None, degradation="BD",
             frames=None, crop=None, tof=False):
    """Degrade a GT clip, super-resolve it and score SR and bicubic (Y channel)."""
    from egvsr.model.degrade import bd_degrade, bi_degrade, bicubic_upscale, to_uint8
    from egvsr.model.metrics import clip_metrics
    from egvsr.model.video import read_frames
    gt = _center_crop(read_frames(gt_src, max_frames=frames), crop)
    lr, gt_c = (bd_degrade if degradation == "BD" else bi_degrade)(gt)
    lr_u8, gt_u8 = to_uint8(lr), to_uint8(gt_c)
    _check_lr_size(lr_u8, "degraded LR")
    ns = argparse.Namespace(backend=backend, checkpoint=checkpoint, preset=preset, bundle=bundle)
    sr, dt = _run_backend(ns, list(lr_u8), f"eval {backend}")
    sr = __import__("numpy").stack(sr)
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


def cmd_eval(args):
    res, _ = evaluate(args.gt_input, args.backend, args.checkpoint, args.preset, args.bundle,
                      args.degradation, args.frames, args.crop, args.tof)
    if args.plot:
        _plot(res, args.plot)
    if args.json:
        print(json.dumps(res))
    else:
        s, b = res["sr"], res["bicubic"]
        print(f"{res['clip']}: {res['frames']} frames, {res['degradation']}, backend {res['backend']}")
        print(f"  SR      PSNR-Y {s['psnr_y']:.3f} dB  SSIM-Y {s['ssim_y']:.4f}")
        print(f"  bicubic PSNR-Y {b['psnr_y']:.3f} dB  SSIM-Y {b['ssim_y']:.4f}")
        print(f"  gain    {s['psnr_y'] - b['psnr_y']:+.3f} dB   ({res['fps']:.2f} fps)")
    return 0


def _plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for key, label in (("sr", f"SR ({res['backend']})"), ("bicubic", "bicubic")):
        ax.plot([f["psnr_y"] for f in res[key]["per_frame"]], label=label)
    ax.set_xlabel("frame")
    ax.set_ylabel("PSNR-Y (dB)")
    ax.set_title(Path(res["clip"]).name)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def cmd_train(args):
    from egvsr.model.train_cli import train_main
    return train_main(args)


def cmd_qat(args):
    from egvsr.quant.qat import qat_main
    return qat_main(args)


def cmd_export(args):
    from egvsr.quant.export import export_main
    return export_main(args)


def cmd_hls(args):
    from egvsr.hls.build import run
    report = run(args.config, synth=args.synth)  # None: hls/configs/default.yaml
    return 0 if report.get("ok", True) else 1


def cmd_sim(args):
    from egvsr.golden.bundle import default_bundle_path
    from egvsr.rtl_tb.regression import main
    rest = list(args.rest)
    if "--bundle" not in rest:  # the bundled tiny W8A8 model by default
        rest = ["--bundle", str(default_bundle_path())] + rest
    return main(rest)


def cmd_build(args):
    from egvsr.flow.steps import Build, run_steps
    lr = None
    if args.lr:
        try:
            w, h = (int(v) for v in args.lr.lower().split("x"))
        except ValueError:
            raise CliError(f"--lr {args.lr!r}: give the LR frame size as WxH, e.g. 960x540") from None
        lr = (w, h)
    b = Build(args.impl, config=args.config, bundle=args.bundle, board=args.board, lr=lr,
              fps=args.fps, out=args.out)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else []
    recs = run_steps(b, steps)
    return 0 if all(r.get("ok", True) for r in recs) else 1


def cmd_bench(args):
    from egvsr.flow.bench import main
    return main(args.only)


def build_parser():
    p = argparse.ArgumentParser(prog="egvsr", description="EGVSR FPGA co-design toolkit")
    sub = p.add_subparsers(dest="cmd", required=True)

    def model_args(sp):
        sp.add_argument("--preset", help="architecture (paper, small, tiny, ...); needed for a raw published state dict")
        sp.add_argument("--checkpoint", help="weights (.pth); default: the bundled tiny model")
        sp.add_argument("--bundle", help="integer bundle (.json) for golden/hls/rtl/board; default: bundled tiny W8A8")
        sp.add_argument("--backend", default="torch", choices=BACKENDS, help="level that runs the network")

    sp = sub.add_parser("upscale", help="super-resolve a video or a folder of LR frames")
    sp.add_argument("input")
    sp.add_argument("-o", "--output", required=True, help=".mp4 file or a folder for PNG frames")
    sp.add_argument("--frames", type=int, help="at most this many frames")
    sp.add_argument("--fps", type=float, default=25.0)
    model_args(sp)
    sp.set_defaults(func=cmd_upscale)

    sp = sub.add_parser("eval", help="degrade a GT clip, super-resolve, report PSNR/SSIM (Y)")
    sp.add_argument("gt_input", help="GT video, folder of frames, or bundled clip name (bikes, carphone, bigbuckbunny)")
    sp.add_argument("--degradation", default="BD", choices=("BD", "BI"))
    sp.add_argument("--frames", type=int, help="at most this many frames")
    sp.add_argument("--crop", help="centre crop of the GT first, WxH (for slow backends)")
    sp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    sp.add_argument("--plot", help="per-frame PSNR plot (.png)")
    sp.add_argument("--tof", action="store_true", help="also the temporal tOF metric (slow)")
    model_args(sp)
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("train", help="train the float model (published stage 1 losses)")
    from egvsr.model.train_cli import add_train_args
    add_train_args(sp)
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("qat", help="quantization-aware fine-tuning from a float checkpoint")
    sp.add_argument("--from", dest="from_ckpt", help="float checkpoint (default: bundled tiny)")
    sp.add_argument("--quant", default="w8a8", help="quantization spec: w8a8 (default), w8a8-b16, w4a8")
    add_train_args(sp, qat=True)
    sp.set_defaults(func=cmd_qat)

    sp = sub.add_parser("export", help="QONNX + integer bundle from a quantized checkpoint")
    sp.add_argument("--checkpoint", help="QAT checkpoint (default: bundled tiny W8A8)")
    sp.add_argument("-o", "--out", required=True, help="output stem, e.g. build/export/tiny_w8a8")
    sp.add_argument("--lr-size", default="64x64", help="WxH the QONNX graphs are exported at")
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("hls", help="generate + C-simulate the hls4ml projects (make hls)")
    sp.add_argument("--config", help="build YAML (default hls/configs/default.yaml)")
    sp.add_argument("--synth", action="store_true", help="also run Vitis HLS synthesis (needs vitis_hls)")
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
    sp.add_argument("--bundle", help="integer bundle (.json); default: the config's or the bundled tiny")
    sp.add_argument("--board", help="board (pynq-z2, kv260, zcu104, u250); rtl default pynq-z2")
    sp.add_argument("--lr", help="LR frame size WxH to plan for (default: the board's target)")
    sp.add_argument("--fps", type=float, help="target frame rate (default: the board's / config's)")
    sp.add_argument("--out", help="build folder (default build/<name>)")
    sp.set_defaults(func=cmd_build)

    sp = sub.add_parser("bench", help="benchmarks -> bench/results/*.json (make bench)")
    sp.add_argument("--only", help="comma-separated subset: model,golden,hls,rtl,board")
    sp.set_defaults(func=cmd_bench)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.cmd == "sim":
        args.rest = extra  # every option belongs to the RTL regression's own parser
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args) or 0
    except (CliError, BackendError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"egvsr {args.cmd}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
