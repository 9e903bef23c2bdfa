"""The board IP wrapper around the hls4ml SRNet top (`egvsr.hls.board_top`) in C
simulation (g++): board beats in and out, bit-exact with golden on real carphone
frames, TLAST per LR line, the register outputs, size and frame-sync errors.
Run-time frame sizes below the build size: tests/test_hls_runtime_size.py."""
import numpy as np
import pytest

pytest.importorskip("hls4ml")

from egvsr.board import meta as bmeta  # noqa: E402
from egvsr.board import regmap  # noqa: E402
from egvsr.golden.graph import run_graph  # noqa: E402
from egvsr.hls import build as hls_build  # noqa: E402
from egvsr.hls.board_top import PO, write_board_top  # noqa: E402
from egvsr.hls.cores import TOP, build_core  # noqa: E402

PART, CLK = "xck26-sfvc784-2LV-c", 3.333
H, W = 12, 16
REUSE = {"conv_in": 27, "rb0_conv1": 8, "rb0_conv2": 16, "conv_sub": 4}


@pytest.fixture(scope="module")
def bundle():
    from egvsr.golden.bundle import Bundle, default_bundle_path, load_bundle
    from egvsr.golden.synth import random_bundle
    default = default_bundle_path()
    return load_bundle(default) if default.is_file() else Bundle(*random_bundle(seed=5))


@pytest.fixture(scope="module")
def board(bundle, tmp_path_factory):
    core = build_core(bundle, TOP, H, W, tmp_path_factory.mktemp("board_top") / TOP, PART, CLK,
                      reuse=REUSE, pixels_per_beat=4)
    return write_board_top(core, bundle.sha256).compile()


@pytest.fixture(scope="module")
def xs(bundle, real_frames):
    return hls_build.srnet_inputs(bundle, real_frames[:3], H, W)


def _line_beats(x):
    beats = np.zeros(x.shape[:2] + (56,), np.uint8)
    beats[..., :51] = x
    last = np.zeros(x.shape[:2], np.uint8)
    last[:, -1] = 1
    return beats, last


def _check_blocks(last, h, w):
    """TLAST exactly on the last beat of each LR line's 4 HR rows."""
    beats = 16 * w // PO
    assert len(last) == h * beats
    assert list(np.flatnonzero(last)) == [beats * (y + 1) - 1 for y in range(h)]


def test_bit_exact_on_real_frames_with_tlast_per_line(board, bundle, xs):
    for k, x in enumerate(xs):  # frames back to back, one call each, as the driver runs them
        hr, regs, last = board.run_frame(x)
        np.testing.assert_array_equal(hr, run_graph(bundle, "srnet", x), err_msg=f"frame {k}")
        _check_blocks(last, H, W)
        assert regs["STATUS"] == 0 and regs["ERR_COUNT"] == 0
    assert board.pending() == 0


def test_identify_call_and_size_error(board, bundle, xs):
    # a start with size 0: STATUS size error, the read-only registers valid, nothing taken
    regs, data, _ = board.start(0, 0)
    assert len(data) == 0 and regs["STATUS"] == regmap.STATUS_SIZE_ERROR
    assert (regs["ID_LO"], regs["ID_HI"]) == bmeta.id_words(bundle.sha256)
    assert (regs["MAX_HEIGHT"], regs["MAX_WIDTH"], regs["VERSION"]) == (H, W, regmap.REGMAP_VERSION)
    # a size this build cannot do (above MAX_*, below MIN_LR): refused, the frame stays queued
    beats, last = _line_beats(xs[0])
    board.push(beats.reshape(-1, 56), last.reshape(-1))
    for h, w in ((H, W + 1), (H + 1, W), (regmap.MIN_LR - 1, W), (H, regmap.MIN_LR - 1)):
        regs, data, _ = board.start(h, w)
        assert regs["STATUS"] == regmap.STATUS_SIZE_ERROR and len(data) == 0
        assert board.pending() == H * W
    regs, data, last = board.start(H, W)
    assert regs["STATUS"] == 0 and board.pending() == 0
    _check_blocks(last, H, W)
    hr = data.view(np.uint8).reshape(4 * H, 4 * W, 4)
    np.testing.assert_array_equal(hr[..., :3], run_graph(bundle, "srnet", xs[0]))
    assert not hr[..., 3].any()


def _faulty(x, kind, line=3):
    beats, last = _line_beats(x)
    b, t = list(beats.reshape(-1, 56)), list(last.reshape(-1))
    valid = [56] * len(b)
    i = line * W + 5
    if kind == "drop_beat":
        del b[i], t[i], valid[i]
    elif kind == "extra_beat":
        j = line * W + W - 1
        t[j] = 0  # the line's last pixel without TLAST, then one more beat with it
        b.insert(j + 1, b[j])
        t.insert(j + 1, 1)
        valid.insert(j + 1, 56)
    elif kind == "partial_beat":  # a lost 8-byte DMA word: the line's last beat is short
        valid[line * W + W - 1] = 48
    return np.array(b), np.array(t, np.uint8), np.array(valid, np.uint8)


@pytest.mark.parametrize("kind", ["drop_beat", "extra_beat", "partial_beat"])
def test_frame_sync_error_then_next_frame_exact(board, bundle, xs, kind):
    """A line of the wrong length: STATUS frame error and ERR_COUNT + 1, the whole frame
    still comes out (every block with its TLAST), and the next frame is bit-exact:
    the core resynchronises on TLAST without a reset."""
    n0 = board.start(0, 0)[0]["ERR_COUNT"]
    board.push(*_faulty(xs[0], kind))
    regs, data, last = board.start(H, W)
    assert regs["STATUS"] == regmap.STATUS_FRAME_ERROR and regs["ERR_COUNT"] == n0 + 1
    _check_blocks(last, H, W)
    assert board.pending() == 0
    hr, regs, last = board.run_frame(xs[1])
    assert regs["STATUS"] == 0 and regs["ERR_COUNT"] == n0 + 1
    np.testing.assert_array_equal(hr, run_graph(bundle, "srnet", xs[1]))


def test_generated_files(board):
    src = board.files["source"].read_text()
    assert "hls::stream<in_beat_t> &s_axis" in src and "hls::stream<out_beat_t> &m_axis" in src
    assert "egvsr_srnet_rt(net_in, net_out, h, w);" in src and "#pragma HLS DATAFLOW" in src
    tcl = board.files["tcl"].read_text()
    assert "set_top egvsr_srnet_axi\n" in tcl
    assert "add_files firmware/egvsr_srnet_axi.cpp" in tcl
    # the run-time size network, not hls4ml's fixed-size top (both define the weight arrays)
    assert "add_files firmware/egvsr_srnet_rt.cpp" in tcl and "firmware/${project_name}.cpp" not in tcl
    assert "-vendor xilinx.com -library hls -ipname egvsr_srnet -version 1.0" in tcl
    # the C-simulation stand-in header is not a synthesis source
    assert "ap_axi_sdata" not in tcl and "csim/" not in tcl
