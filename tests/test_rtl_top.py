"""Generated SRNet top (Verilog) against golden, bit for bit, on crops of real
frames; the HDL-side fast path on a full 960x540 frame through a conv core;
lint of the cores and the top.

Bundle: $EGVSR_RTL_BUNDLE (e.g. the trained `tiny` bundle) or a random
`golden.synth` bundle (nf=16, nb=2, espcn tail).
"""
import json
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


@pytest.mark.slow
def test_top_cocotb_gaps_backpressure(bundle_path, real_frames, tmp_path):
    """The cocotb testbench (Python AXI-Stream, random gaps and back-pressure) on the top."""
    import json
    from egvsr.rtl.generate import generate_srnet
    from egvsr.rtl_tb import tb_cores  # noqa: F401  (import check)
    g = tmp_path / "gen"
    generate_srnet(bundle_path, g, board="pynq-z2", max_w=16)
    meta = json.loads((g / "manifest.json").read_text())
    x = np.stack(_srnet_inputs(real_frames, [(70, 90, 3, 6), (20, 30, 3, 6)]))
    np.save(tmp_path / "frames.npy", x)
    bdir = sim.build("verilator", "srnet_top", [g / s for s in meta["sources"]], {},
                     tag="srnet_top_cocotb")

    def prepare(tdir, case):
        for f in g.glob("*.mem"):
            (tdir / f.name).write_bytes(f.read_bytes())
    case = dict(core="srnet_top", params={}, bundle=bundle_path, frames_npy=str(tmp_path / "frames.npy"),
                out_pixels=meta["out_pixels"], scale=4, runs=[[3, 6, 2]], seed=5, gap=0.3, bp=0.3)
    sim.run_cocotb("verilator", "srnet_top", bdir, "egvsr.rtl_tb.tb_cores", case, name="top",
                   prepare=prepare)


@pytest.mark.slow
@pytest.mark.skipif(not sim.available("icarus"), reason="icarus not installed")
def test_top_icarus(bundle_path, real_frames, tmp_path):
    from egvsr.golden import load_bundle, run_srnet
    from egvsr.rtl_tb.backend import RtlSrnet
    r = RtlSrnet(bundle_path, simulator="icarus", workdir=tmp_path)
    x = _srnet_inputs(real_frames, [(50, 50, 3, 3)])[0]   # small: Icarus runs ~300 clocks/s
    assert np.array_equal(r(x), run_srnet(load_bundle(bundle_path), x))


@pytest.mark.slow
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


#: boards whose BRAM budget (90%) no design of the bundled model fits at the board's default LR
#: size: none, since the skip FIFOs hold exactly the beats they need (with the depths rounded up
#: to powers of two, the pynq-z2's leanest `tiny-anchor` design needed ~128.5 BRAM36 of 126)
BRAM_SHORT = {"tiny": set(), "tiny-anchor": set()}


@pytest.mark.parametrize("model", sorted(BRAM_SHORT))
def test_choose_parallelism_fits_every_board(model):
    """Every board: the chosen design fits its DSP budget (10% headroom) and the
    BRAM estimate (or, on the boards of `BRAM_SHORT`, the reason says that even the
    slowest design does not); no stage does more MACs per clock than it has
    multipliers, so the fps cannot beat the DSP count; II = slowest stage; the
    target is met exactly when the fps reaches it."""
    from egvsr.golden import load_bundle
    from egvsr.board.boards import BOARDS
    from egvsr.model.pretrained import BUNDLED_MODELS
    from egvsr.rtl.generate import choose_parallelism
    b = load_bundle(BUNDLED_MODELS[model][2])
    convs = {L["name"]: L for L in b.layers("srnet") if L["op"] == "conv3x3"}
    short = set()
    for name, bd in BOARDS.items():
        par, rep = choose_parallelism(b, name, report=True)
        assert set(par) == set(convs)
        # a DSP48E2 (UltraScale+) takes two INT8 products of one activation, a DSP48E1 one
        per_dsp = 2 if bd["dsp48"] == "E2" else 1
        # (pi, po): multipliers in DSPs; (pi, po, n): all 9*pi*po in fabric
        dsps = sum(9 * f[0] * (-(-f[1] // per_dsp)) for f in par.values() if len(f) == 2)
        assert rep["dsp"] == dsps <= rep["dsp_budget"] <= 0.9 * bd["dsp"], (name, rep)
        if rep["bram36"] > rep["bram36_budget"]:
            short.add(name)
            assert "even the slowest design exceeds the budget" in rep["reason"], (name, rep["reason"])
            assert "BRAM36, over the budget" in rep["reason"] and not rep["meets_target"]
            assert rep["bram36"] <= bd["bram36"], (name, rep)  # but the board holds it
        for k, (pi, po, *fab) in par.items():
            assert fab in ([], [9 * pi * po])
            L, row = convs[k], rep["layers"][k]
            assert 1 <= pi <= L["cin"] and 1 <= po <= L["cout"]
            assert row["macs_per_lr_pixel"] == 9 * L["cin"] * L["cout"]
            # 9*pi*po multipliers cannot do a pixel's MACs in fewer clocks
            assert row["cycles_per_lr_pixel"] * 9 * pi * po >= row["macs_per_lr_pixel"], (name, k, row)
        ii = max([r["cycles_per_lr_pixel"] for r in rep["layers"].values()] +
                 [rep["output_cycles_per_lr_pixel"]])
        assert rep["ii_cycles_per_lr_pixel"] == ii
        clk, pixels = bd["clock_mhz"] * 1e6, bd["lr_w"] * bd["lr_h"]
        macs = sum(9 * L["cin"] * L["cout"] for L in convs.values())
        assert rep["fps"] * pixels * ii <= clk * (1 + 1e-12)            # one LR pixel per II at best
        # at most per_dsp MACs per DSP per clock
        assert rep["fps"] * pixels * macs <= clk * rep["dsp"] * per_dsp * (1 + 1e-12)
        assert rep["meets_target"] == (rep["fps"] >= bd["fps"] - 1e-9), (name, rep["fps"], bd["fps"])
        if rep["meets_target"]:
            assert rep["fps"] >= bd["fps"] and rep["reason"] is None
        else:
            assert rep["reason"]
    assert short == BRAM_SHORT[model]
    # zcu104 / u250 meet their default targets with the trained bundle
    assert choose_parallelism(b, "zcu104", report=True)[1]["meets_target"]
    assert choose_parallelism(b, "u250", report=True)[1]["meets_target"]
    # kv260 at 45 fps (issue target): two INT8 products per DSP48E2, adder trees that
    # grow one bit a level and borrows counted per pair: within the DSP and LUT budgets
    from egvsr.plan import make_plan
    rep = choose_parallelism(b, "kv260", fps=45, report=True)[1]
    assert rep["meets_target"] and rep["fps"] >= 45, rep["reason"]
    assert rep["dsp"] <= rep["dsp_budget"] and rep["lut"] <= rep["lut_budget"], rep
    # a LUT budget the design can not meet: the plan says which budget stops it
    tight = make_plan(b, "kv260", "rtl", fps=45, lut_budget=40000)
    assert not tight["meets_target"] and "LUT" in tight["reason"], tight["reason"]
    assert tight["lut"] <= 40000
    # DSPs run out: multipliers move to fabric (whole layers), within the LUT budget,
    # and the MACs per clock stay within DSP lanes + fabric multipliers
    few = make_plan(b, "kv260", "rtl", fps=30, dsp_budget=500)
    fabric = {k: f for k, f in few["folding"].items() if isinstance(f, list) and len(f) == 3}
    assert few["meets_target"] and fabric and few["dsp"] <= 500 and few["lut"] <= few["lut_budget"]
    lanes = few["dsp"] * 2 + sum(f[2] for f in fabric.values())
    assert few["fps"] * 960 * 540 * sum(9 * L["cin"] * L["cout"] for L in convs.values()) \
        <= 300e6 * lanes


def test_choose_parallelism_reports_unmet_target():
    from egvsr.golden import load_bundle
    from egvsr.golden.bundle import default_bundle_path
    from egvsr.rtl.generate import plan_parallelism
    b = load_bundle(default_bundle_path())
    # pynq-z2 at 2 fps: 23472 MACs per LR pixel need > 198 multipliers (a balanced design
    # of 198 DSPs reaches at most 1.62 fps), and the default's memories exceed the BRAM budget
    rep = plan_parallelism(b, "pynq-z2")
    assert not rep["meets_target"], rep["reason"]
    assert "design of 198 DSPs at 1 MAC(s) per DSP" in rep["reason"] and "at most 1.62 fps" in rep["reason"]
    assert "BRAM36, over the budget of 126" in rep["reason"]
    assert rep["dsp"] <= rep["dsp_budget"] and rep["fps"] < 2
    # faster than one LR pixel per clock: impossible on any budget
    rep = plan_parallelism(b, "u250", fps=1000)
    assert not rep["meets_target"] and "even at its fastest folding" in rep["reason"], rep["reason"]
    assert rep["dsp"] <= rep["dsp_budget"]
    # an easy target is met with few multipliers
    rep = plan_parallelism(b, "zcu104", fps=1)
    assert rep["meets_target"] and rep["fps"] >= 1 and rep["dsp"] < 300


@pytest.mark.slow
def test_top_board_io_real_frame(bundle_path, real_frames, tmp_path):
    """Board IP (`egvsr_srnet`: AXI-Lite set-up, 56-byte input beats with TLAST
    per LR line, P=2 HR pixels x (R,G,B,0) per 64-bit output beat, TLAST at the
    end of each LR line's 4 HR rows), packed / unpacked with
    `egvsr.board.streams`, equals golden on a real-frame crop."""
    from egvsr.golden import load_bundle, run_srnet
    from egvsr.rtl_tb.backend import RtlSrnet
    r = RtlSrnet(bundle_path, simulator="verilator", board_io=True, workdir=tmp_path)
    x = _srnet_inputs(real_frames, [(40, 60, 8, 12)])[0]
    got = r(x)
    assert np.array_equal(got, run_srnet(load_bundle(bundle_path), x))
    st = r.last_stats
    nbeats = 8 * 4 * 12 * 4 // 2
    assert st["tlast_count"] == 8 and st["tlast_last_beat"] == nbeats - 1, st
    assert (st["out_buf"][..., 3] == 0).all()
    meta = json.loads((r._get(12)[1] / "manifest.json").read_text())
    assert meta["board_io"] and meta["in_bits"] == 56 * 8 and meta["out_bits"] == 64
    assert meta["top"] == "egvsr_srnet" and meta["core_top"] == "srnet_top"


def _full_parallel_top(tmp_root):
    from egvsr.golden import Bundle
    from egvsr.golden.synth import random_bundle
    from egvsr.rtl.generate import generate_srnet
    from egvsr.rtl_tb.harness import Harness, dut_instance
    b = Bundle(*random_bundle(nf=2, nb=1, tail="espcn", seed=7))
    g = tmp_root / "full"
    generate_srnet(b, g, max_w=32)       # no board / parallelism: every conv fully parallel
    meta = json.loads((g / "manifest.json").read_text())
    # -O0: ~1.8k unrolled multipliers compile several times faster; 3 small frames run in a second
    h = Harness("verilator", [g / s for s in meta["sources"]], dut_instance("srnet_top", {}),
                meta["in_bits"], meta["out_bits"], tag="srnet_full_ii", vflags=["-CFLAGS", "-O0"])
    return b, g, meta, h


@pytest.mark.slow
def test_top_full_parallel_ii1(tmp_path):
    """Fully parallel SRNet top: one LR pixel per clock. The extra frame of a
    3-frame run costs exactly H*W + W + 1 clocks (the convs' flush
    positions); the whole run stays within that plus the pipeline latency."""
    from egvsr.rtl_tb.iimeasure import measure_top_ii
    b, g, meta, h = _full_parallel_top(tmp_path)
    assert meta["cycles_per_lr_pixel"] == 1 and meta["out_pixels"] == 16
    rep = measure_top_ii(h, meta, g, H=8, W=32, bundle=b)
    H, W = 8, 32
    assert rep["match"]
    assert rep["steady_cycles_per_frame"] == H * W + W + 1, rep
    assert rep["cycles"][0] <= H * W + 5 * (W + 1 + 16), rep
    assert rep["ii_cycles_per_lr_pixel"] < 1.15, rep
    print(rep)




# ------------------------------------------------------------- the anchor skip
@pytest.fixture(scope="module")
def anchor_top(tmp_path_factory):
    """The RTL SRNet top of a random nf=4, nb=1 bundle with the LR anchor skip
    (`anchor_add`: the net input fans out to conv_in and to the anchor core's skip
    FIFO), pynq-z2 folding, 16-pixel line buffers; one Verilator build (cached by
    content), a harness timeout so that a stalled top fails instead of hanging."""
    from egvsr.golden import Bundle
    from egvsr.golden.synth import random_bundle
    from egvsr.rtl.generate import generate_srnet
    from egvsr.rtl_tb.harness import Harness, dut_instance
    b = Bundle(*random_bundle(nf=4, nb=1, skip="anchor", seed=3, own_add_exps=True, per_channel=True))
    g = tmp_path_factory.mktemp("anchor_top")
    generate_srnet(b, g, board="pynq-z2", max_w=16)
    meta = json.loads((g / "manifest.json").read_text())
    h = Harness("verilator", [g / s for s in meta["sources"]], dut_instance("srnet_top", {}),
                meta["in_bits"], meta["out_bits"], dim_bits=meta["dim_bits"], tag="srnet_anchor_top",
                timeout=2_000_000)
    return b, g, meta, h


def test_top_anchor_structure(anchor_top):
    """The net input forks (axis_fork) to conv_in and the anchor core; the anchor
    core's own skip FIFO (3 channels x 8 bits) is sized from the graph's skip lag
    as a residual add's is, and the top puts no 51-channel FIFO in front of it."""
    from egvsr.golden.oplib.memory import skip_depth, skip_depth_log2
    b, g, meta, _ = anchor_top
    node = b.graph("srnet").node("anchor")
    k, lag = node.skip
    assert k == 1 and lag == 4
    text = (g / "srnet_top.v").read_text()
    assert "u_input_fork" in text and "u_anchor_skip" not in text
    layer = next(m for m in meta["layers"] if m["name"] == "anchor")
    p = layer["params"]
    assert layer["skip_depth_log2"] == p["SKIP_DEPTH_LOG2"] == skip_depth_log2(lag, 16)
    # exactly the entries the lag needs, not the next power of two: 4 x (16 + 2) + 64
    assert layer["skip_depth"] == p["SKIP_DEPTH"] == skip_depth(lag, 16) == 136
    assert p["SKIP_DEPTH_LOG2"] == 8
    # the residual adds' skip FIFOs in front of their cores: sized the same way
    for m in (m for m in meta["layers"] if m["op"] == "add"):
        assert f"u_{m['name']}_skip" in text and f".DEPTH({m['skip_depth']})" in text
        assert m["skip_depth"] == skip_depth(2, 16) == 100 and m["skip_depth_log2"] == 7
    assert (p["SKIP_C"], p["REPEAT"], p["B_C"]) == (3, 16, 51)
    assert (p["A_SHIFT"], p["B_SHIFT"]) == (0, 1) and p["SHIFT"] == 1   # conv_sub at -9, input at -8
    assert "anchor_add.v" in meta["sources"]


def test_skip_fifo_bram_is_counted_at_its_depth():
    """A residual add's skip FIFO at 1024-pixel lines (2 rows + 64 = 2,116 entries of
    128 + 2 bits) costs 4 BRAM18 across x 5 deep = 10 BRAM36; rounded up to 4,096
    entries it would be 15. The anchor's (6 rows, 24 + 2 bits): 6,220 entries, 6."""
    from egvsr.golden.oplib.memory import bram18, skip_depth, skip_depth_log2, skip_fifo_bram36
    assert skip_depth(2, 1024) == 2116 and skip_depth_log2(2, 1024) == 12
    assert skip_fifo_bram36(128, 2, 1024) == 10 < bram18(130, 4096) / 2 == 15
    assert skip_depth(6, 1024) == 6220 and skip_fifo_bram36(24, 6, 1024) == 6


def test_top_anchor_real_frames_bit_exact(anchor_top, real_frames):
    """The anchor top on real carphone crops equals golden `run_srnet` bit for bit:
    two 8x12 frames back to back under random input gaps and output back-pressure
    (the net input's fork and the skip FIFO under back-pressure), then a 5x7 frame."""
    from egvsr.golden import run_srnet
    from egvsr.golden.graph import run_graph
    from egvsr.golden import ops
    b, g, meta, h = anchor_top
    frames = np.stack([_srnet_inputs(real_frames[i:i + 2], [(40, 60, 8, 12)])[0] for i in (0, 1)])
    small = _srnet_inputs(real_frames[2:4], [(90, 100, 5, 7)])[0]
    # the skip matters: without lr_curr the anchor's output would differ almost everywhere
    keep = run_graph(b, "srnet", frames[0], keep=True)
    L = b.layer("srnet", "anchor")
    no_skip = ops.anchor_add(keep["conv_sub"], np.zeros_like(frames[0]), b.layer("srnet", "conv_sub")["out_exp"],
                             -8, 16, L["out_exp"], L["out_bits"], L["out_signed"])
    assert np.mean(no_skip != keep["anchor"]) > 0.5
    for xs, gap, bp, tag in ((frames, 30, 40, "bp"), (small[None], 0, 0, "small")):
        out, st = h.stream(xs.astype(np.int64), 8, 3, 8, False, out_pixels=meta["out_pixels"],
                           scale=meta["scale"], cwd=g, gap=gap, bp=bp, tag=tag)
        for i, x in enumerate(xs):
            exp = run_srnet(b, x)
            bad = np.argwhere(out[i] != exp)
            assert bad.size == 0, f"{tag} frame {i}: {len(bad)} mismatches, first {bad[:5].tolist()}"
        H, W = xs.shape[1:3]
        assert st["tlast_count"] == len(xs) * 4 * H, st


def test_lint_anchor_top(tmp_path):
    """verilator --lint-only -Wall of a generated anchor top (the net input's fork,
    the anchor core with its skip FIFO): clean."""
    from egvsr.golden import Bundle
    from egvsr.golden.synth import random_bundle
    from egvsr.rtl.generate import generate_srnet
    from egvsr.rtl_tb.lint import lint_top
    b = Bundle(*random_bundle(nf=4, nb=1, skip="anchor", seed=3, own_add_exps=True, per_channel=True))
    top = generate_srnet(b, tmp_path / "g", board="pynq-z2", max_w=64)
    assert lint_top(top.parent) == ""
