"""`EGVSR_VERILATOR_CFLAGS` (rtl_tb.sim, rtl_tb.harness): the C++ optimization of the
Verilator models reaches the build and is part of the build cache key, so models built
with other flags are never reused; Icarus builds ignore it. Parallel builds of one folder
take turns."""
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cocotb_tools.runner

from egvsr.rtl import core_sources
from egvsr.rtl_tb import harness, sim


class _FakeRunner:
    """Records what `sim.build` asks a cocotb runner to build (nothing is compiled)."""
    calls = []

    def build(self, **kw):
        _FakeRunner.calls.append(kw)


def test_verilator_cflags_reach_the_build_and_the_cache_key(tmp_path, monkeypatch):
    monkeypatch.setenv("EGVSR_SIM_BUILD", str(tmp_path))
    monkeypatch.setattr(cocotb_tools.runner, "get_runner", lambda name: _FakeRunner())
    src = core_sources("axis_fifo")
    dirs = {}
    for sim_name, flags in (("verilator", ""), ("verilator", "-O0"), ("verilator", "-O1"),
                            ("icarus", ""), ("icarus", "-O0")):
        if flags:
            monkeypatch.setenv("EGVSR_VERILATOR_CFLAGS", flags)
        else:
            monkeypatch.delenv("EGVSR_VERILATOR_CFLAGS", raising=False)
        _FakeRunner.calls.clear()
        dirs[sim_name, flags] = sim.build(sim_name, "axis_fifo", src, {"DATA_W": 8, "DEPTH_LOG2": 2})
        if (sim_name, flags) == ("icarus", "-O0"):  # Icarus has no C++ to optimize: the cached build
            assert not _FakeRunner.calls and dirs[sim_name, flags] == dirs["icarus", ""]
            continue
        (call,) = _FakeRunner.calls  # a new cache entry: built once
        args = call["build_args"]
        assert (args[-2:] == ["-CFLAGS", flags]) == (sim_name == "verilator" and bool(flags)), args
    verilator = [d for (s, _), d in dirs.items() if s == "verilator"]
    assert len(set(verilator)) == 3                                  # one cache entry per flag set


def test_harness_default_flags(monkeypatch):
    monkeypatch.delenv("EGVSR_VERILATOR_CFLAGS", raising=False)
    assert harness.default_vflags() == harness.VERILATOR_FLAGS == ["-CFLAGS", "-O2"]
    monkeypatch.setenv("EGVSR_VERILATOR_CFLAGS", "-O0")
    assert harness.default_vflags() == ["-CFLAGS", "-O0"]


class _SlowRunner:
    """A runner whose build and test take a while and record when they ran (nothing is compiled)."""

    def __init__(self, log):
        self.log = log

    def build(self, build_dir, **kw):
        self.log.append(("build", build_dir))
        time.sleep(0.3)

    def test(self, test_dir, **kw):
        t0 = time.monotonic()
        time.sleep(0.3)
        (Path(test_dir) / "report.json").write_text(json.dumps({"ok": True}))
        self.log.append(("test", t0, time.monotonic()))
        return "results.xml"


def test_parallel_builds_and_runs_of_one_folder_take_turns(tmp_path, monkeypatch):
    """Processes or threads asking for the same build (pytest -n, two shells) build it once; runs
    in one test folder never overlap (rtl_tb.sim locks the folder)."""
    monkeypatch.setenv("EGVSR_SIM_BUILD", str(tmp_path))
    log = []
    monkeypatch.setattr(cocotb_tools.runner, "get_runner", lambda name: _SlowRunner(log))
    monkeypatch.setattr(cocotb_tools.runner, "get_results", lambda xml: (1, 0))
    src = core_sources("axis_fifo")
    with ThreadPoolExecutor(3) as ex:
        dirs = list(ex.map(lambda _: sim.build("icarus", "axis_fifo", src, {"DATA_W": 8, "DEPTH_LOG2": 2}),
                           range(3)))
    assert len(set(dirs)) == 1 and (dirs[0] / ".built").exists()
    assert [e[0] for e in log] == ["build"]                      # built once, not three times
    with ThreadPoolExecutor(3) as ex:
        reps = list(ex.map(lambda _: sim.run_cocotb("icarus", "axis_fifo", dirs[0], "m", {}, name="same"),
                           range(3)))
    assert all(r["ok"] for r in reps)
    runs = sorted(e[1:] for e in log if e[0] == "test")
    assert len(runs) == 3 and all(b[0] >= a[1] for a, b in zip(runs, runs[1:]))  # one after another
