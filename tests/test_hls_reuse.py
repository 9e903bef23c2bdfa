"""HLS reuse factors from the planner (`egvsr.plan.make_plan`, impl "hls") checked against hls4ml.

Independent references: hls4ml's own reuse-factor validity rule
(`get_valid_reuse_factors`) and the multipliers hls4ml's Resource strategy
unrolls in a converted project (its ``config<i>_mult`` n_in, n_out and
reuse_factor, and the ``block_factor`` loop of ``nnet_dense_resource.h``),
not the planner's own arithmetic.
"""
import math
import re

import pytest

pytest.importorskip("hls4ml")

from hls4ml.backends import get_backend  # noqa: E402

from egvsr.board.boards import BOARDS, get_board  # noqa: E402
from egvsr.golden.bundle import Bundle  # noqa: E402
from egvsr.golden.oplib.conv3x3 import valid_reuse_factors  # noqa: E402
from egvsr.golden.synth import random_bundle  # noqa: E402
from egvsr.hls.build import plan_estimate, plan_hls  # noqa: E402
from egvsr.hls.convert import hls_layer_map, reuse_factors  # noqa: E402
from egvsr.hls.cores import NET, TOP, build_core  # noqa: E402
from egvsr.plan import make_plan, node_env, plan_items  # noqa: E402

LR_W, LR_H = 960, 540


@pytest.fixture(scope="module")
def bundles():
    return {"tiny": Bundle(*random_bundle(nf=16, nb=2, seed=0)),
            "small": Bundle(*random_bundle(nf=32, nb=4, seed=0)),
            "cheap": Bundle(*random_bundle(nf=16, nb=1, tail="cheap", seed=0))}


def _plan(bundle, board, fps=60, P=4, frac=0.9):
    return plan_hls(bundle, get_board(board), LR_W, LR_H, fps, P, frac)


def _mult_size(node):
    """hls4ml's n_in, n_out of a 3x3 conv layer (`get_layer_mult_size`: n_chan*fh*fw, n_filt)."""
    return 9 * int(node.layer["cin"]), int(node.layer["cout"])


@pytest.mark.parametrize("n_in,n_out", [(459, 16), (144, 16), (144, 48), (36, 3), (288, 32), (27, 5)])
def test_valid_reuse_factors_match_hls4ml(n_in, n_out):
    assert valid_reuse_factors(n_in, n_out) == get_backend("Vitis").get_valid_reuse_factors(n_in, n_out)


@pytest.mark.parametrize("board", sorted(BOARDS))
@pytest.mark.parametrize("net", ["tiny", "small", "cheap"])
@pytest.mark.parametrize("P", [1, 4])
def test_plan_reuse_valid_and_within_budget(bundles, board, net, P):
    bundle = bundles[net]
    graph = bundle.graph(NET)
    b = get_board(board)
    budget = int(b.dsp * 0.9)
    plan = _plan(bundle, board, 60, P)
    assert plan["impl"] == "hls" and plan["dsp_budget"] == budget
    reuse = reuse_factors(graph, plan["folding"])
    convs = [n for n in graph.nodes if "weight" in n.layer]
    assert sorted(reuse) == sorted(n.name for n in convs) and convs
    vb = get_backend("Vitis")
    for node in convs:
        assert reuse[node.name] in vb.get_valid_reuse_factors(*_mult_size(node)), node.name
        assert plan["layers"][node.name]["fold"] == reuse[node.name]
    if plan["meets_target"]:
        assert plan["dsp"] <= budget and plan["fps"] >= 60 and plan["reason"] is None
    else:
        assert plan["reason"]  # the report says why
        if "even the most folded design" not in plan["reason"]:
            assert plan["dsp"] <= budget
    if plan["meets_target"] or not re.search("even the (most folded|slowest) design", plan["reason"]):
        assert plan["bram36"] <= plan["bram36_budget"] and plan["lut"] <= plan["lut_budget"]
    # the fewest DSPs for the reached throughput: no conv could take a larger valid RF
    for node in convs:
        env = node_env(graph, node, "hls", LR_W, LR_H, pixels_per_beat=P)
        rf = reuse[node.name]
        for bigger in (f for f in node.op.folds("hls", node, env) if f > rf):
            clocks = node.op.cost("hls", node, bigger, env).clocks_per_pixel * node.op.pixels("hls", node, env)
            assert clocks > plan["frame_clocks"], (node.name, rf, bigger)
            break


def test_target_met_on_u250_and_explained_on_kv260(bundles):
    tiny = bundles["tiny"]
    assert _plan(tiny, "u250", 30, 4)["meets_target"]
    # hls4ml's Resource strategy does not pipeline a conv's pixel loop: even at RF 1 every
    # output pixel costs 1 + 11 clocks, so 60 fps at 960x540 is out of reach at 300 MHz
    u = _plan(tiny, "u250", 60, 4)
    assert not u["meets_target"] and "even at its fastest folding (1)" in u["reason"]
    kv = _plan(tiny, "kv260", 60, 4)
    assert not kv["meets_target"]
    assert re.search(r"DSPs|BRAM36|LUTs", kv["reason"])   # the budget that stops it, by name
    assert kv["dsp"] <= kv["dsp_budget"] and kv["bram36"] <= kv["bram36_budget"]
    assert kv["lut"] <= kv["lut_budget"] == int(get_board("kv260").lut * 0.9)
    # one HR pixel per output word caps the pixel shuffle at clock / (16 * H * W)
    u1 = _plan(tiny, "u250", 60, 1)
    assert not u1["meets_target"] and "pixel_shuffle" in u1["reason"]


def _fits_any(fast, budgets) -> bool:
    """Whether some choice of one option per node (from the `fast` lists) keeps every sum
    within `budgets` (dsp, bram36, lut): exhaustive search with lower-bound pruning."""
    keys = ("dsp", "bram36", "lut")
    rest = [[sum(min(getattr(o, k) for o in f) for f in fast[i:]) for k in keys]
            for i in range(len(fast) + 1)]

    def go(i, acc):
        if any(a + r > b for a, r, b in zip(acc, rest[i], budgets)):
            return False
        if i == len(fast):
            return True
        return any(go(i + 1, [a + getattr(o, k) for a, k in zip(acc, keys)]) for o in fast[i])
    return go(0, [0, 0, 0])


@pytest.mark.parametrize("board", ["kv260", "zcu104", "u250"])
def test_fastest_design_within_all_budgets(bundles, board):
    """No faster frame time fits DSP, BRAM and LUT at once: with every node at a folding
    faster than the plan's bottleneck (any combination, searched exhaustively) some budget
    is exceeded, while the plan's own design fits all three."""
    tiny = bundles["tiny"]
    plan = _plan(tiny, board, 60, 4)
    budgets = (plan["dsp_budget"], plan["bram36_budget"], plan["lut_budget"])
    assert plan["dsp"] <= budgets[0] and plan["bram36"] <= budgets[1] and plan["lut"] <= budgets[2]
    items = plan_items(tiny.graph(NET), "hls", LR_W, LR_H, pixels_per_beat=4)
    faster = [[o for o in it.options if o.clocks < plan["frame_clocks"]] for it in items]
    assert not (all(faster) and _fits_any(faster, budgets)), board
    assert _fits_any([[o for o in it.options if o.clocks <= plan["frame_clocks"]] for it in items],
                     budgets)  # the search itself finds the plan's frame time
    assert plan["lut"] == sum(r["lut"] for r in plan["layers"].values()) > 0


def test_lut_budget_binds(bundles):
    """A board with few LUTs: the plan stays within them (here at a slower design) and the
    reason names the LUT budget."""
    tiny = bundles["tiny"]
    bd = dict(get_board("kv260").__dict__, name="kv260-small", bram36=10 ** 6)
    free = make_plan(tiny, bd, impl="hls", lr_w=LR_W, lr_h=LR_H, fps=60, pixels_per_beat=4,
                     dsp_budget=10 ** 6, lut_budget=10 ** 9)
    tight = make_plan(tiny, bd, impl="hls", lr_w=LR_W, lr_h=LR_H, fps=60, pixels_per_beat=4,
                      dsp_budget=10 ** 6, lut_budget=free["lut"] - 1)
    assert tight["lut"] <= free["lut"] - 1 < free["lut"]
    assert tight["fps"] < free["fps"] and "LUTs, over the budget" in tight["reason"]
    none = make_plan(tiny, bd, impl="hls", lr_w=LR_W, lr_h=LR_H, fps=60, pixels_per_beat=4,
                     dsp_budget=10 ** 6, lut_budget=1000)
    assert "even the slowest design exceeds the budget" in none["reason"] and "LUTs" in none["reason"]


def test_report_rows_from_plan(bundles):
    """The report's estimate rows (`plan_estimate`) read the plan: MACs, DSPs, II, BRAM."""
    tiny = bundles["tiny"]
    plan = _plan(tiny, "kv260", 60, 4)
    est, rows = plan_estimate(plan, tiny.graph(NET), 4)
    rows = {r["name"]: r for r in rows}
    assert rows["conv_in"]["macs_per_lr_pixel"] == 9 * 51 * 16
    assert rows["conv_in"]["dsp"] == math.ceil(9 * 51 * 16 / rows["conv_in"]["rf"])
    # RF + 11 clocks per pixel with a full 3x3 window, 4 per border pixel of the padded map
    rf, h, w = rows["conv_in"]["rf"], LR_H, LR_W
    assert rows["conv_in"]["frame_clocks"] == h * w * (rf + 11) + (2 * h + 2 * w + 4) * 4
    assert rows["conv_in"]["ii_clocks_per_pixel"] == pytest.approx(
        rows["conv_in"]["frame_clocks"] / ((h + 2) * (w + 2)), abs=1e-3)
    # weights: RF words of block_factor * 8 bits in block RAM; line buffers: SRL LUTs
    rb = rows["rb0_conv1"]
    assert rb["bram36"] == math.ceil(rb["dsp"] * 8 / 72)
    assert rb["lut"] >= 2 * 16 * 8 * math.ceil((LR_W + 2) / 32)
    assert est["lut"] == sum(r["lut"] for r in rows.values()) == plan["lut"]
    assert rows["pixel_shuffle"]["ii_clocks_per_pixel"] == 4 and rows["pixel_shuffle"]["rf"] is None
    assert est["macs_per_lr_pixel"] == 9 * (51 * 16 + 4 * 16 * 16 + 16 * 48)
    assert est["dsp"] == sum(r["dsp"] for r in rows.values()) == plan["dsp"]
    assert est["frame_clocks"] == max(r["frame_clocks"] for r in rows.values())
    assert est["target_met"] is False and est["why_not"] == plan["reason"]


def test_cheap_inner_shuffle_plan(bundles):
    """The shuffle inside the cheap tail moves one HR pixel per word; the HR conv runs at 4H x 4W."""
    cheap = bundles["cheap"]
    plan = make_plan(cheap, "kv260", impl="hls", lr_w=LR_W, lr_h=LR_H, fps=60, pixels_per_beat=4)
    assert plan["folding"]["pixel_shuffle"] == 1
    assert plan["layers"]["conv_out"]["in_hw"] == [4 * LR_H, 4 * LR_W]


_MULT = re.compile(r"struct (config\d+)_mult : nnet::dense_config \{\s*static const unsigned n_in = (\d+);\s*"
                   r"static const unsigned n_out = (\d+);\s*static const unsigned reuse_factor = (\d+);"
                   r".*?using kernel = (nnet::\w+)<", re.S)


@pytest.mark.parametrize("board,fps", [("kv260", 60), ("pynq-z2", 0.2)])
def test_dsp_equals_hls4ml_multipliers(bundles, tmp_path, board, fps):
    """DSP per conv in the plan == multipliers hls4ml's Resource strategy unrolls at that RF.

    One small SRNet top (4x6) is converted at the plan's reuse factors; per conv
    layer hls4ml's own n_in, n_out (`get_layer_mult_size`) and reuse_factor give
    the unrolled MultLoop of ``nnet_dense_resource.h``: block_factor =
    DIV_ROUNDUP(n_in * n_out, reuse_factor) multipliers. The pynq-z2 plan at
    0.2 fps takes RF > n_in (the rf_gt_nin kernels), kv260 RF <= n_in.
    """
    tiny = bundles["tiny"]
    b = get_board(board)
    plan = _plan(tiny, board, fps, 4)
    reuse = reuse_factors(tiny.graph(NET), plan["folding"])
    core = build_core(tiny, TOP, 4, 6, tmp_path / "top", b.part, b.clock_period_ns, reuse=reuse,
                      pixels_per_beat=4)
    fw = core.project_dir / "firmware"
    header = (fw / "nnet_utils" / "nnet_dense_resource.h").read_text()
    # every Resource kernel unrolls block_factor multipliers
    assert header.count("const int block_factor = DIV_ROUNDUP(CONFIG_T::n_in * CONFIG_T::n_out, "
                        "CONFIG_T::reuse_factor);") == 3
    mults = {m[0]: (int(m[1]), int(m[2]), int(m[3]), m[4]) for m in _MULT.findall((fw / "parameters.h").read_text())}
    vb = get_backend("Vitis")
    names = hls_layer_map(core.hls_model)
    seen = set()
    for layer in core.hls_model.get_layers():
        if layer.class_name != "Conv2D":
            continue
        name = names[layer.name]
        n_in, n_out = vb.get_layer_mult_size(layer)
        rf = int(layer.get_attr("reuse_factor"))
        assert rf == reuse[name]  # hls4ml kept the planned reuse factor (it replaces invalid ones)
        assert str(layer.get_attr("strategy")).lower() == "resource"
        c_in, c_out, c_rf, kernel = mults[f"config{layer.index}"]
        assert (c_in, c_out, c_rf) == (n_in, n_out, rf)
        assert kernel.startswith("nnet::DenseResource_rf_")
        assert kernel.endswith("leq_nin") == (rf <= n_in)
        block_factor = -(-(n_in * n_out) // rf)
        assert plan["layers"][name]["dsp"] == block_factor, (name, rf)
        seen.add(name)
    assert seen == set(reuse)
