"""`verilator --lint-only -Wall` of every core (a few parameter sets) and of a generated top."""
from __future__ import annotations

import subprocess
from pathlib import Path

from egvsr.rtl import core_sources
from egvsr.rtl_tb import sim

#: parameter sets of the stream infrastructure; each op core's come from its op module
INFRA_LINT_SETS = {
    "axis_fifo": [{}, {"DEPTH_LOG2": 9, "DATA_W": 64}, {"DEPTH_LOG2": 12, "DEPTH": 2116, "DATA_W": 128}],
    "axis_fork": [{}],
    "frame_ctrl": [{}, {"USE_TUSER": 1, "TLAST_FRAME": 1, "P": 4, "MAX_W": 1024, "MAX_H": 2160}],
}


def lint_sets() -> dict:
    """Verilog module -> parameter sets to lint (the ops' `rtl_lint_params` + infrastructure)."""
    from egvsr.golden import oplib
    sets = {op.rtl_module: list(op.rtl_lint_params or ({},))
            for op in oplib.registry().values() if op.rtl_module}
    sets.update(INFRA_LINT_SETS)
    return sets


def lint_sources(files, top, params=None) -> str:
    """`verilator --lint-only -Wall` of `top` over `files` with `params`: its messages,
    "" when clean."""
    sim.setup_path()
    cmd = ["verilator", "--lint-only", "-Wall", "--top-module", top] + \
          [f"-G{k}={v}" for k, v in (params or {}).items()] + [str(f) for f in files]
    res = subprocess.run(cmd, capture_output=True, text=True)
    msgs = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.startswith("%")]
    return "\n".join(msgs) if (res.returncode or msgs) else ""


def lint_cores() -> dict:
    """{(module, params): messages} for every parameter set that is not clean."""
    bad = {}
    for mod, sets in lint_sets().items():
        for ps in sets:
            m = lint_sources(core_sources(mod), mod, ps)
            if m:
                bad[f"{mod} {ps}"] = m
    return bad


def lint_top(gen_dir) -> str:
    import json
    gen_dir = Path(gen_dir)
    meta = json.loads((gen_dir / "manifest.json").read_text())
    return lint_sources([gen_dir / s for s in meta["sources"]], meta["top"])
