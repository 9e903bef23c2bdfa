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


def test_over_the_bram_budget_takes_the_fastest_design_the_board_holds():
    """No design fits the BRAM budget (90%): the fastest one within the DSPs that still
    fits the board's own BRAM is taken, not a faster one the board can not hold."""
    # one node, three foldings: 100 clocks / 150 BRAM, 200 / 135, 400 / 128 (budget 126, board 140)
    items = [Item("a", [Option(f, c, 10, bram, 0, (10, bram)) for f, c, bram in
                        ((1, 100.0, 150.0), (2, 200.0, 135.0), (4, 400.0, 128.0))])]
    r = search(items, 50.0, dsp_budget=100, bram_budget=126, board=(140, 10 ** 6))
    text = " ".join(r["reasons"])
    assert not r["meets_target"] and r["design"]["a"].fold == 2
    assert "even the slowest design exceeds the budget: ~128.0 BRAM36" in text
    assert "fits the board's own BRAM and LUTs (200 clocks a frame: ~135.0 BRAM36" in text
    # no board given, or none the board holds: the fastest within the DSPs, as before
    for board in (None, (120, 10 ** 6)):
        r = search(items, 50.0, dsp_budget=100, bram_budget=126, board=board)
        text = " ".join(r["reasons"])
        assert r["design"]["a"].fold == 1 and "taking the fastest design within the DSPs" in text
        assert ("no design fits the board's own BRAM and LUTs" in text) == (board is not None)
