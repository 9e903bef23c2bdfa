"""``egvsr bench --only skip``: the LR skip forms measured against each other (issue 10).

One short recipe per form, all from the bundled ``tiny`` float checkpoint, on
the still-image set of `egvsr.model.stills_set` (so carphone, bikes and
bigbuckbunny are held out of this training and of its checkpoint selection;
the init checkpoint itself was trained on bikes and bigbuckbunny, which the
JSON records):

1. float fine-tune, ``egvsr train --preset <p> --init pretrained/tiny_float.pth
   --data <stills>/train --moving-prob 1 --val <stills>/val_rocket
   --time-limit T`` (one thread),
2. QAT (W8A8; ``anchor-f16``: spec w8a8-f16 from the ``anchor`` float run;
   ``anchor-f16-ia`` / ``-t16`` / ``-pc`` / ``-ia-pc``: the quantizer options,
   and ``-s1`` forms: another QAT seed; same float run, anchor-f16's iteration
   count) from its best checkpoint, same data (not
   for ``bicubic``: float only, the hardware flow has no HR bicubic op),
3. ``egvsr export`` of the QAT checkpoint (the integer bundle),
4. ``egvsr eval <clips> --compare --frames F --json`` with the float
   checkpoint and the bundle (golden).

Steps whose output exists under the run folder (``build/skip/<form>/``) are
reused, so a run interrupted after training resumes at the evaluation. The
results go to ``bench/results/skip.json``.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path("build/skip")
CLIPS = ("carphone", "bikes", "bigbuckbunny")
#: form -> (preset, quantization spec or None for float only, form whose float run it reuses);
#: ``none`` is the published form; ``anchor-f16`` adds the 16-bit flow head (spec w8a8-f16)
FORMS = {"none": ("tiny", "w8a8", None), "anchor": ("tiny-anchor", "w8a8", None),
         "anchor-f16": ("tiny-anchor", "w8a8-f16", "anchor"), "bicubic": ("tiny-bicubic", None, None),
         # issue 10's quantizer options on top of anchor-f16 (README "Quantizer options"):
         # independent exponents at the residual adds + unsigned after conv_in's ReLU; 16-bit trunk;
         # per-output-channel power-of-two weight scales
         "anchor-f16-ia": ("tiny-anchor", "w8a8-f16-ia", "anchor"),
         "anchor-f16-t16": ("tiny-anchor", "w8a8-f16-t16", "anchor"),
         "anchor-f16-pc": ("tiny-anchor", "w8a8-f16-pc", "anchor"),
         "anchor-f16-ia-pc": ("tiny-anchor", "w8a8-f16-ia-pc", "anchor"),
         # the baseline and the cheapest option again with another QAT seed: how much of a
         # difference between two forms is the run's own noise
         "anchor-f16-s1": ("tiny-anchor", "w8a8-f16", "anchor"),
         "anchor-f16-ia-s1": ("tiny-anchor", "w8a8-f16-ia", "anchor")}
#: forms that differ from anchor-f16 in quantizers only get its QAT iterations (1,055), not a
#: wall-clock budget, so a busier machine does not give them fewer steps
QAT_ITERATIONS = {f: 1055 for f in ("anchor-f16-ia", "anchor-f16-t16", "anchor-f16-pc", "anchor-f16-ia-pc",
                                     "anchor-f16-s1", "anchor-f16-ia-s1")}
#: QAT seed (sampling order and crops) of a form; 0 otherwise
QAT_SEEDS = {"anchor-f16-s1": 1, "anchor-f16-ia-s1": 1}


def _cli(*args, log=None):
    cmd = [sys.executable, "-m", "egvsr.flow.cli", *map(str, args)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.time()
    with open(log, "w") if log else open(os.devnull, "w") as f:
        r = subprocess.run(cmd, stdout=subprocess.PIPE if log is None else f, stderr=f, text=True, env=env)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed (rc {r.returncode}); see {log}")
    return r, time.time() - t0


def _summary(run: Path) -> dict:
    p = run / "summary.json"
    return json.loads(p.read_text()) if p.is_file() else {}


#: where a form's fabric cost is planned: the RTL SRNet top on kv260 at 960x540 LR, 30 fps
HW = {"board": "kv260", "impl": "rtl", "lr": (960, 540), "target_fps": 30}


def hardware_cost(bundle) -> dict:
    """The planner's estimate (`plan.make_plan`) for a form's bundle at `HW`: what a
    quantizer choice costs in the fabric (a 16-bit trunk loses the INT8 DSP packing)."""
    from egvsr.golden.bundle import load_bundle
    from egvsr.plan.planner import make_plan
    p = make_plan(load_bundle(bundle), HW["board"], HW["impl"], *HW["lr"], fps=HW["target_fps"])
    return {"estimate": "plan.make_plan cost model, not synthesis", **HW, "lr": list(HW["lr"]),
            **{k: p[k] for k in ("fps", "dsp", "bram36", "lut", "bottleneck", "meets_target")}}


def run(out, train_s: int = 3000, qat_s: int = 1500, frames: int = 20, forms=tuple(FORMS)) -> int:
    from egvsr.golden.bundle import PRETRAINED
    from egvsr.model.stills_set import write_stills_set
    data = ROOT / "stills"
    if not (data / "val_rocket").is_dir():
        write_stills_set(data)
    res = {"what": "LR skip forms of tiny, each fine-tuned for a fixed time from the bundled tiny float "
                   "checkpoint on the still set, QAT W8A8 on the same, evaluated (float and golden W8A8) "
                   f"on the first {frames} frames of the three bundled clips, BD x4, PSNR-Y",
           "host": platform.node(), "init": "pretrained/tiny_float.pth",
           "init_trained_on": ["bikes", "bigbuckbunny", "skimage stills"],
           "trained_on": "model/stills_set.py TRAIN_STILLS", "selected_on": "rocket moved by whole pixels",
           "time_limits_of_new_runs_s": {"train": train_s, "qat": qat_s},
           "note": "reused runs keep their own budget: see each form's train/qat seconds and iterations",
           "forms": {}}
    for form in forms:
        preset, spec, float_of = FORMS[form]
        d = ROOT / form
        fd = ROOT / (float_of or form)   # the float run (shared by forms that differ in quantization only)
        d.mkdir(parents=True, exist_ok=True)
        common = ["--data", data / "train", "--moving-prob", 1, "--val", data / "val_rocket", "--val-every", 250]
        if not (fd / "train" / "best.pth").is_file():
            _cli("train", "--preset", preset, "--out", fd / "train", "--init", PRETRAINED / "tiny_float.pth",
                 "--time-limit", train_s, "--iterations", 100000, *common, log=fd / "train.log")
        entry = {"preset": preset, "quant": spec, "float_run": fd.name, "qat_seed": QAT_SEEDS.get(form, 0),
                 "train": _summary(fd / "train")}
        bundle = None
        if spec is not None:
            if not (d / "qat" / "best.pth").is_file():
                iters = QAT_ITERATIONS.get(form)
                budget = (["--time-limit", qat_s, "--iterations", 100000] if iters is None else
                          ["--time-limit", 3 * qat_s, "--iterations", iters])
                _cli("qat", "--from", fd / "train" / "best.pth", "--quant", spec, "--out", d / "qat",
                     *budget, "--seed", QAT_SEEDS.get(form, 0), *common, log=d / "qat.log")
            entry["qat"] = _summary(d / "qat")
            bundle = d / "export" / f"{preset.replace('-', '_')}_{spec.replace('-', '_')}.json"
            if not bundle.is_file():
                _cli("export", "--checkpoint", d / "qat" / "best.pth", "-o", bundle.with_suffix(""),
                     log=d / "export.log")
        if bundle is not None:
            entry["hardware"] = hardware_cost(bundle)
        args = ["eval", *CLIPS, "--compare", "--json", "--frames", frames, "--checkpoint", fd / "train" / "best.pth"]
        if bundle is not None:
            args += ["--bundle", bundle]
        r, secs = _cli(*args)
        ev = json.loads(r.stdout)
        if bundle is None:   # float only: the table's quantized column is the bundled default bundle
            for c in ev["clips"]:
                for k in ("quant", "colour_bias", "quant_minus_float_db", "colour_flag"):
                    c.pop(k, None)
            ev.pop("colour_flagged", None)
            for k in list(ev.get("mean", {})):
                if k.startswith("quant") or k.startswith("colour"):
                    ev["mean"].pop(k)
        entry.update(eval=ev, eval_seconds=round(secs, 1))
        res["forms"][form] = entry
        Path(out).write_text(json.dumps(res, indent=1, default=str))  # partial results survive a failure
    return 0


def main(out) -> int:
    return run(out, train_s=int(os.environ.get("EGVSR_SKIP_TRAIN_S", 3000)),
               qat_s=int(os.environ.get("EGVSR_SKIP_QAT_S", 1500)))
