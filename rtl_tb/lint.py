"""`verilator --lint-only -Wall` of every core (a few parameter sets) and of a generated top."""
from __future__ import annotations

import subprocess
from pathlib import Path

from egvsr.rtl import core_sources
from egvsr.rtl_tb import sim

LINT_SETS = {
    "conv3x3": [{}, {"CIN": 5, "COUT": 3, "PI": 2, "PO": 2, "ACT": 2, "LEAKY_SHIFT": 2},
                {"CIN": 1, "COUT": 1, "ACT": 1, "SHIFT": -1, "MAX_W": 1, "IN_SIGNED": 1}],
    "pixel_shuffle": [{}, {"P": 2}, {"P": 16}, {"R": 2, "P": 8, "C": 2}],
    "residual_add": [{}, {"A_SIGNED": 0, "B_BITS": 10, "SHIFT": -1}],
    "relu": [{}, {"SHIFT": 2, "IN_BITS": 12}],
    "axis_fifo": [{}, {"DEPTH_LOG2": 9, "DATA_W": 64}],
    "axis_fork": [{}],
}


def _lint(files, top, params=None) -> str:
    sim.setup_path()
    cmd = ["verilator", "--lint-only", "-Wall", "--top-module", top] + \
          [f"-G{k}={v}" for k, v in (params or {}).items()] + [str(f) for f in files]
    res = subprocess.run(cmd, capture_output=True, text=True)
    msgs = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.startswith("%")]
    return "\n".join(msgs) if (res.returncode or msgs) else ""


def lint_cores() -> dict:
    """{(module, params): messages} for every parameter set that is not clean."""
    bad = {}
    for mod, sets in LINT_SETS.items():
        for ps in sets:
            m = _lint(core_sources(mod), mod, ps)
            if m:
                bad[f"{mod} {ps}"] = m
    return bad


def lint_top(gen_dir) -> str:
    import json
    gen_dir = Path(gen_dir)
    meta = json.loads((gen_dir / "manifest.json").read_text())
    return _lint([gen_dir / s for s in meta["sources"]], meta["top"])
