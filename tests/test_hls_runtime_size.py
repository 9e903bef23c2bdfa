"""Run-time frame size of the HLS board IP (`egvsr.hls.board_top` + `egvsr.hls.runtime_top`).

One C-sim build per bundle, at the largest frame MAX_H x MAX_W LR, takes every
LR_HEIGHT x LR_WIDTH from regmap.MIN_LR up to it: frames of several sizes
(smaller, the maximum, odd and non-square, the minimum) back to back without
rebuilding, each bit-exact with golden on real carphone frames, for the bundled
published-form `tiny` bundle (ESPCN tail, no skip; the default `tiny-anchor` runs in
test_hls_board_top and test_hls_csim) and a synthetic anchor-skip bundle with
per-channel weights (and, marked slow, a
"cheap"-tail bundle: its hr_relu and conv_out run at 4h x 4w); sizes outside
[MIN_LR, MAX] set STATUS size error and take nothing; MAX_HEIGHT/MAX_WIDTH report
the build maximum; the overlay metadata `make bitstream` writes lets the driver send
the smaller sizes. Two g++ compiles without the slow case (one per bundle, module
fixtures).
"""
import numpy as np
import pytest

pytest.importorskip("hls4ml")

from egvsr.board import meta as bmeta  # noqa: E402
from egvsr.board import regmap  # noqa: E402
from egvsr.golden.bundle import Bundle, load_bundle  # noqa: E402
from egvsr.golden.graph import run_graph  # noqa: E402
from egvsr.golden.network import srnet_input  # noqa: E402
from egvsr.golden.synth import random_bundle  # noqa: E402
from egvsr.hls.board_top import PO, write_board_top  # noqa: E402
from egvsr.hls.cores import TOP, build_core  # noqa: E402

PART, CLK = "xck26-sfvc784-2LV-c", 3.333
MAX_H, MAX_W = 12, 16
#: back to back, one build: smaller, the maximum, odd non-square, smaller again after the
#: maximum (line buffers and counters left from a wider frame), the minimum, thin ones
SIZES = [(8, 12), (MAX_H, MAX_W), (9, 11), (8, 12), (regmap.MIN_LR, regmap.MIN_LR), (5, MAX_W), (MAX_H, 7)]
#: where the crops of the carphone frames (144 x 176) start
ORIGIN = (50, 70)


def _bundle(kind):
    if kind == "tiny":
        from egvsr.model.pretrained import BUNDLED_MODELS
        return load_bundle(BUNDLED_MODELS["tiny"][2])
    if kind == "cheap":
        return Bundle(*random_bundle(nf=16, nb=1, tail="cheap", seed=4))
    return Bundle(*random_bundle(nf=4, nb=1, skip="anchor", seed=3, own_add_exps=True, per_channel=True))


@pytest.fixture(scope="module", params=["tiny", "anchor", pytest.param("cheap", marks=pytest.mark.slow)])
def case(request, tmp_path_factory):
    """(bundle, board IP compiled once at MAX_H x MAX_W)."""
    bundle = _bundle(request.param)
    if request.param == "anchor":
        assert "anchor" in [n.name for n in bundle.graph("srnet").nodes]
    core = build_core(bundle, TOP, MAX_H, MAX_W, tmp_path_factory.mktemp(f"rt_{request.param}") / TOP,
                      PART, CLK, pixels_per_beat=4)
    return bundle, write_board_top(core, bundle.sha256).compile()


def _input(frames, k, h, w):
    """SRNet input of an h x w crop of real frame k: lr_curr + frame k-1 (x4) as the warped HR frame."""
    y0, x0 = ORIGIN
    lr, prev = (frames[i, y0:y0 + h, x0:x0 + w] for i in (k, k - 1))
    return srnet_input(lr, np.repeat(np.repeat(prev, 4, 0), 4, 1))


def _check_blocks(last, h, w):
    beats = 16 * w // PO
    assert len(last) == h * beats
    assert list(np.flatnonzero(last)) == [beats * (y + 1) - 1 for y in range(h)]


def test_sizes_back_to_back_bit_exact_on_real_frames(case, real_frames):
    bundle, board = case
    assert (board.lr_height, board.lr_width) == (MAX_H, MAX_W)
    for i, (h, w) in enumerate(SIZES):
        x = _input(real_frames, 1 + i % 3, h, w)
        want = run_graph(bundle, "srnet", x)
        assert want.shape == (4 * h, 4 * w, 3) and want.std() > 5  # a picture, not a flat output
        hr, regs, last = board.run_frame(x)
        np.testing.assert_array_equal(hr, want, err_msg=f"{h}x{w} (call {i})")
        _check_blocks(last, h, w)
        assert regs["STATUS"] == 0 and regs["ERR_COUNT"] == 0
        assert (regs["MAX_HEIGHT"], regs["MAX_WIDTH"]) == (MAX_H, MAX_W)
    assert board.pending() == 0


def test_size_error_outside_the_range(case, real_frames):
    """Above MAX_* or below MIN_LR: STATUS size error, nothing taken (the queued frame
    waits); MAX_HEIGHT/MAX_WIDTH report the build maximum; then the frame runs at its size."""
    bundle, board = case
    h, w = 9, 11
    x = _input(real_frames, 2, h, w)
    beats = np.zeros((h, w, 56), np.uint8)
    beats[..., :51] = x
    last = np.zeros((h, w), np.uint8)
    last[:, -1] = 1
    board.push(beats.reshape(-1, 56), last.reshape(-1))
    lo = regmap.MIN_LR
    for bad in ((0, 0), (MAX_H + 1, MAX_W), (MAX_H, MAX_W + 1), (lo - 1, w), (h, lo - 1), (h, 0xFFFF)):
        regs, data, _ = board.start(*bad)
        assert regs["STATUS"] == regmap.STATUS_SIZE_ERROR and len(data) == 0, bad
        assert (regs["MAX_HEIGHT"], regs["MAX_WIDTH"]) == (MAX_H, MAX_W)
        assert board.pending() == h * w
    regs, data, tl = board.start(h, w)
    assert regs["STATUS"] == 0 and board.pending() == 0
    _check_blocks(tl, h, w)
    hr = data.view(np.uint8).reshape(4 * h, 4 * w, 4)
    np.testing.assert_array_equal(hr[..., :3], run_graph(bundle, "srnet", x))


def test_generated_network_has_only_run_time_size_layers(case):
    """Every hls4ml layer of the top is one of egvsr_rt's (or not instantiated: the input,
    the zero padding the conv does itself); nothing of hls4ml's fixed-size stream layers."""
    _, board = case
    net = board.network
    src = board.files["rt_source"].read_text()
    for fixed in ("nnet::conv_2d_cl", "nnet::zeropad2d_cl", "nnet::clone_stream", "nnet::relu<",
                  "nnet::linear<", "nnet::add<", "nnet::depth_to_space_stream<", "nnet::anchor_add_stream<"):
        assert fixed not in src, fixed
    classes = {cls for _, cls, call in net.layers if call}
    assert {"Conv2D", "Activation", "Clone", "Merge", "DepthToSpace"} <= classes
    for name, cls, call in net.layers:
        assert bool(call) == (cls not in ("Input", "ZeroPadding2D")), name
        if call:
            assert call.startswith("egvsr_rt::") and (", h, w);" in call or ", h, w, " in call), call
            assert f"{call} // {name}" in src
    assert (net.max_height, net.max_width) == (MAX_H, MAX_W)
    # the layers behind a shuffle inside the net (the cheap tail) run at 4h x 4w
    inner_shuffle = net.layers[-1][1] != "DepthToSpace"
    assert sorted(n for n, s in net.scales.items() if s != 1) == \
        (["Conv2D_conv_out", "hr_relu"] if inner_shuffle else []), net.scales
    assert set(net.scales.values()) <= {1, 4}
    assert "#pragma HLS DATAFLOW" in src and "#pragma HLS PIPELINE II=1" in board.files["rt_layers"].read_text()


def test_overlay_metadata_admits_the_smaller_sizes(tmp_path):
    """`make bitstream`'s metadata: frames from 8x8 (FNet on the host) up to the build size,
    so the driver sends the sizes the core takes instead of refusing them."""
    from egvsr.board.bitstream import write_build
    write_build(str(tmp_path), "kv260", "ab" * 32, 540, 960, "/ip")
    m = bmeta.read_meta(str(tmp_path / "egvsr.bit"))
    assert bmeta.size_range(m) == ((8, 8), (540, 960))
    assert regmap.MIN_LR <= 8
