"""Reuse-factor chooser: DSP budget of every board, hls4ml's validity rules, estimates."""
import pytest

pytest.importorskip("hls4ml")

from hls4ml.backends import get_backend  # noqa: E402

from egvsr.golden.bundle import Bundle  # noqa: E402
from egvsr.golden.synth import random_bundle  # noqa: E402
from egvsr.hls import estimate  # noqa: E402
from egvsr.hls.boards import BOARDS, get_board  # noqa: E402


@pytest.fixture(scope="module")
def bundles():
    return {"tiny": Bundle(*random_bundle(nf=16, nb=2, seed=0)),
            "small": Bundle(*random_bundle(nf=32, nb=4, seed=0)),
            "cheap": Bundle(*random_bundle(nf=16, nb=1, tail="cheap", seed=0))}


@pytest.mark.parametrize("n_in,n_out", [(459, 16), (144, 16), (144, 48), (36, 3), (288, 32), (27, 5)])
def test_valid_reuse_factors_match_hls4ml(n_in, n_out):
    assert estimate.valid_reuse_factors(n_in, n_out) == get_backend("Vitis").get_valid_reuse_factors(n_in, n_out)


@pytest.mark.parametrize("board", sorted(BOARDS))
@pytest.mark.parametrize("net", ["tiny", "small", "cheap"])
@pytest.mark.parametrize("P", [1, 4])
def test_chooser_respects_budget_and_validity(bundles, board, net, P):
    b = get_board(board)
    if net == "cheap" and P != 1:
        P = 1
    sts = estimate.stages(bundles[net], 540, 960, P)
    budget = int(b.dsp * 0.9)
    res = estimate.choose_reuse(sts, budget, b.clock_mhz * 1e6, 60)
    ev = estimate.evaluate(sts, b.clock_mhz * 1e6, (540, 960))
    vb = get_backend("Vitis")
    for s in sts:
        if s.op == "conv3x3":
            assert res["reuse"][s.name] == s.rf
            assert s.rf in vb.get_valid_reuse_factors(s.n_in, s.n_out)
    if res["target_met"]:
        assert ev["dsp"] <= budget and ev["fps"] >= 60 and res["why"] is None
    else:
        assert res["why"]  # the report says why
        if "even the largest reuse factors" not in res["why"]:
            assert ev["dsp"] <= budget
    # the fewest DSPs for the reached throughput: no conv could take a larger valid RF
    for s in sts:
        if s.op == "conv3x3":
            bigger = [rf for rf in s.valid_rf if rf > s.rf and s.frame_clocks(rf) <= ev["frame_clocks"]]
            assert not bigger, (s.name, s.rf, bigger)


def test_target_met_on_u250_and_explained_on_kv260(bundles):
    tiny = bundles["tiny"]
    u = get_board("u250")
    sts = estimate.stages(tiny, 540, 960, 4)
    assert estimate.choose_reuse(sts, int(u.dsp * 0.9), u.clock_mhz * 1e6, 60)["target_met"]
    k = get_board("kv260")
    sts = estimate.stages(tiny, 540, 960, 4)
    res = estimate.choose_reuse(sts, int(k.dsp * 0.9), k.clock_mhz * 1e6, 60)
    assert not res["target_met"] and "DSP" in res["why"]
    # one HR pixel per output word caps the pixel shuffle at clock / (16 * H * W)
    sts = estimate.stages(tiny, 540, 960, 1)
    res = estimate.choose_reuse(sts, int(u.dsp * 0.9), u.clock_mhz * 1e6, 60)
    assert not res["target_met"] and "pixel_shuffle" in res["why"]


def test_estimates_per_layer(bundles):
    sts = estimate.stages(bundles["tiny"], 540, 960, 4)
    for s in sts:
        s.rf = s.valid_rf[0] if s.op == "conv3x3" else 1
    ev = estimate.evaluate(sts, 300e6, (540, 960))
    rows = {r["name"]: r for r in ev["layers"]}
    assert rows["conv_in"]["macs_per_lr_pixel"] == 9 * 51 * 16
    assert rows["conv_in"]["dsp"] == 9 * 51 * 16
    assert rows["rb0_conv1"]["bram36_buffers"] > 0  # 2 rows of 962 x 16 x 8 bits
    assert rows["pixel_shuffle"]["ii_clocks_per_pixel"] == 4
    assert ev["macs_per_lr_pixel"] == 9 * (51 * 16 + 4 * 16 * 16 + 16 * 48)
