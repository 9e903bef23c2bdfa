"""The folding search (plan/search.py) on hand-made items: fabric alternatives
are taken only to fit the DSP budget, most DSPs saved per LUT first, never
past the LUT budget."""
from egvsr.plan.search import Item, Option, search


def _item(name, dsp, lut, alt_lut, clocks=100.0):
    return Item(name, [Option((1, 1), clocks, dsp, 1.0, lut, (dsp,)),
                       Option((1, 1, 9), clocks, 0, 1.0, alt_lut, (0,), alt=True)])


def test_dsp_design_when_it_fits():
    items = [_item("a", 50, 100, 5000), _item("b", 50, 100, 5000)]
    r = search(items, 100.0, dsp_budget=100, bram_budget=10)
    assert r["meets_target"] and all(not o.alt for o in r["design"].values())


def test_fabric_by_dsp_saved_per_lut():
    # a saves 60 DSPs for 6000 LUTs (0.01/LUT), b saves 40 for 1000 (0.04/LUT):
    # b moves first, and that is enough
    items = [_item("a", 60, 0, 6000), _item("b", 40, 0, 1000)]
    r = search(items, 100.0, dsp_budget=70, bram_budget=10, lut_budget=10000)
    d = r["design"]
    assert r["meets_target"] and d["b"].alt and not d["a"].alt


def test_fabric_never_past_the_lut_budget():
    items = [_item("a", 60, 0, 6000), _item("b", 40, 0, 1000)]
    # b alone does not fit 30 DSPs; a would, but not within 5000 LUTs: no fabric design
    r = search(items, 100.0, dsp_budget=30, bram_budget=10, lut_budget=5000)
    assert not r["meets_target"]
    assert "DSP" in " ".join(r["reasons"])
    assert all(not o.alt for o in r["design"].values())
    # with room for both, both move
    r = search(items, 100.0, dsp_budget=0, bram_budget=10, lut_budget=7000)
    assert r["meets_target"] and all(o.alt for o in r["design"].values())
