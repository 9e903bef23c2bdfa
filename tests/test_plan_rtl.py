"""The RTL planner's cost model against an independent count: the clocks per
frame the generated top takes in Verilator (back-to-back frames, no stalls)
equal the plan's `frame_clocks` for folded and parallel designs, and the
frames are golden's."""
import json

import pytest

from egvsr.rtl_tb import sim

pytestmark = pytest.mark.skipif(not sim.available("verilator"), reason="verilator not installed")


@pytest.mark.parametrize("fps", [500, 20000])
def test_planned_frame_clocks_are_what_the_rtl_takes(tmp_path, fps):
    from egvsr.golden import Bundle
    from egvsr.golden.synth import random_bundle
    from egvsr.plan import make_plan
    from egvsr.rtl.generate import generate_top
    from egvsr.rtl_tb.harness import Harness, dut_instance
    from egvsr.rtl_tb.iimeasure import measure_top_ii
    b = Bundle(*random_bundle(nf=8, nb=1, tail="espcn", seed=7))
    H, W = 8, 32
    plan = make_plan(b, "pynq-z2", "rtl", lr_w=W, lr_h=H, fps=fps)
    convs = {k: v for k, v in plan["folding"].items() if isinstance(v, list)}
    assert convs and any(v != [b.layer("srnet", k)["cin"], b.layer("srnet", k)["cout"]]
                         for k, v in convs.items()), "a folded design"
    g = tmp_path / "top"
    generate_top(b, g, plan=plan, max_w=W)
    meta = json.loads((g / "manifest.json").read_text())
    assert meta["parallelism"] == convs
    h = Harness("verilator", [g / s for s in meta["sources"]], dut_instance("srnet_top", {}),
                meta["in_bits"], meta["out_bits"], tag=f"plan_ii_{fps}")
    rep = measure_top_ii(h, meta, g, H=H, W=W, bundle=b)
    assert rep["match"]
    assert rep["steady_cycles_per_frame"] == plan["frame_clocks"], (rep, plan["frame_clocks"])
