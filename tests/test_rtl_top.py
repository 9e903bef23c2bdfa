"""Generated SRNet top (Verilog) against golden, bit for bit, on crops of real
frames; the HDL-side fast path on a full 960x540 frame through a conv core;
lint of the cores and the top.

Bundle: $EGVSR_RTL_BUNDLE (e.g. the trained `tiny` bundle) or a random
`golden.synth` bundle (nf=16, nb=2, espcn tail).
"""
import os
import subprocess
import time

import numpy as np
import pytest

from egvsr.rtl_tb import sim

pytestmark = pytest.mark.skipif(not sim.available("verilator"), reason="verilator not installed")


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    p = os.environ.get("EGVSR_RTL_BUNDLE")
    if p:
        return p
    from egvsr.golden import write_bundle
    from egvsr.golden.synth import random_bundle
    d = tmp_path_factory.mktemp("rtl_bundle")
    return str(write_bundle(d / "synth", *random_bundle(nf=16, nb=2, tail="espcn", seed=3)))


def _srnet_inputs(frames, crops):
    """SRNet inputs from real frames: lr crop of frame 1 + space_to_depth of the
    4x-upscaled (nearest) crop of frame 0 as the warped previous output."""
    from egvsr.golden import srnet_input
    xs = []
    for y0, x0, H, W in crops:
        lr = frames[1, y0:y0 + H, x0:x0 + W]
        prev = frames[0, y0:y0 + H, x0:x0 + W]
        hr_prev = np.repeat(np.repeat(prev, 4, 0), 4, 1)
        xs.append(np.asarray(srnet_input(lr, hr_prev), np.uint8))
    return xs


@pytest.fixture(scope="module")
def rtl_srnet(bundle_path, tmp_path_factory):
    from egvsr.rtl_tb.backend import RtlSrnet
    return RtlSrnet(bundle_path, simulator="verilator")


def test_top_real_frames_bit_exact(rtl_srnet, bundle_path, real_frames):
    from egvsr.golden import load_bundle, run_srnet
    b = load_bundle(bundle_path)
    for x in _srnet_inputs(real_frames, [(40, 60, 12, 16), (0, 0, 9, 13), (100, 170, 5, 6)]):
        got = rtl_srnet(x)
        exp = run_srnet(b, x)
        assert got.shape == exp.shape
        bad = np.argwhere(got != exp)
        assert bad.size == 0, f"{len(bad)} mismatches, first (row, col, ch) {bad[:5].tolist()}"


def test_top_cocotb_gaps_backpressure(bundle_path, real_frames, tmp_path):
    """The cocotb testbench (Python AXI-Stream, random gaps and back-pressure) on the top."""
    import json
    from egvsr.rtl.generate import generate_srnet
    from egvsr.rtl_tb import tb_cores  # noqa: F401  (import check)
    g = tmp_path / "gen"
    generate_srnet(bundle_path, g, board="pynq-z2", max_w=16)
    meta = json.loads((g / "manifest.json").read_text())
    x = np.stack(_srnet_inputs(real_frames, [(70, 90, 4, 6), (20, 30, 4, 6)]))
    np.save(tmp_path / "frames.npy", x)
    bdir = sim.build("verilator", "srnet_top", [g / s for s in meta["sources"]], {},
                     tag="srnet_top_cocotb")

    def prepare(tdir, case):
        for f in g.glob("*.mem"):
            (tdir / f.name).write_bytes(f.read_bytes())
    case = dict(core="srnet_top", params={}, bundle=bundle_path, frames_npy=str(tmp_path / "frames.npy"),
                out_pixels=meta["out_pixels"], scale=4, runs=[[4, 6, 2]], seed=5, gap=0.3, bp=0.3)
    sim.run_cocotb("verilator", "srnet_top", bdir, "egvsr.rtl_tb.tb_cores", case, name="top",
                   prepare=prepare)


@pytest.mark.skipif(not sim.available("icarus"), reason="icarus not installed")
def test_top_icarus(bundle_path, real_frames, tmp_path):
    from egvsr.golden import load_bundle, run_srnet
    from egvsr.rtl_tb.backend import RtlSrnet
    r = RtlSrnet(bundle_path, simulator="icarus", workdir=tmp_path)
    x = _srnet_inputs(real_frames, [(50, 50, 3, 5)])[0]
    assert np.array_equal(r(x), run_srnet(load_bundle(bundle_path), x))


def test_conv_full_frame_fast_path():
    """960x540 through one conv core (HDL-side harness) checked against golden."""
    from egvsr.rtl_tb.fastpath import full_frame_conv
    rep = full_frame_conv("verilator", cin=4, cout=4)
    assert rep["match"], rep
    assert rep["cycles_per_frame"] <= 960 * 540 + 961 + 16
    print(rep)


def test_lint_cores_and_top(bundle_path, tmp_path):
    from egvsr.rtl.generate import generate_srnet
    from egvsr.rtl_tb.lint import lint_cores, lint_top
    assert lint_cores() == {}
    top = generate_srnet(bundle_path, tmp_path / "g", board="pynq-z2", max_w=64)
    assert lint_top(top.parent) == ""


def test_choose_parallelism(bundle_path):
    from egvsr.golden import load_bundle
    from egvsr.rtl.boards import BOARDS
    from egvsr.rtl.generate import choose_parallelism
    b = load_bundle(bundle_path)
    for name, bd in BOARDS.items():
        par = choose_parallelism(b, name)
        budget = bd["clock_mhz"] * 1e6 / (bd["lr_w"] * bd["lr_h"] * bd["fps"])
        for L in b.layers("srnet"):
            if L["op"] == "conv3x3":
                pi, po = par[L["name"]]
                fold = -(-L["cin"] // pi) * -(-L["cout"] // po)
                assert fold <= max(1, budget) or (pi, po) == (L["cin"], L["cout"])
