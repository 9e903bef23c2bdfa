"""`EGVSR_VERILATOR_CFLAGS` (rtl_tb.sim, rtl_tb.harness): the C++ optimization of the
Verilator models reaches the build and is part of the build cache key, so models built
with other flags are never reused; Icarus builds ignore it."""
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
