"""The anchor skip (`anchor_add`, the ESPCN tail's LR skip) in the HLS flow.

One hls4ml SRNet top (nf 4, nb 1, ``skip='anchor'``) is compiled for the whole
file. Its C simulation equals golden bit for bit on real carphone crops and on
full-range random inputs; the QONNX the bundle writes runs in qonnx's executor
and equals golden; `name_and_check` refuses a QONNX whose anchor pattern is
wrong; the streaming header (`nnet_anchor_add_stream.h`) is checked alone
(g++) on every pair of input codes for three type combinations, both
alignments (residual finer and coarser than the skip) and a signed output.
"""
import ctypes
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hls4ml")
pytest.importorskip("qonnx")

from onnx import numpy_helper  # noqa: E402
from qonnx.core.modelwrapper import ModelWrapper  # noqa: E402

from egvsr.golden import ops  # noqa: E402
from egvsr.golden.bundle import Bundle  # noqa: E402
from egvsr.golden.fixed import rshift_rne  # noqa: E402
from egvsr.golden.graph import run_graph  # noqa: E402
from egvsr.golden.network import srnet_input  # noqa: E402
from egvsr.golden.synth import random_bundle  # noqa: E402
from egvsr.hls import bundle_qonnx  # noqa: E402
from egvsr.hls.convert import QonnxMismatch, name_and_check  # noqa: E402
from egvsr.hls.cores import TOP, build_core  # noqa: E402
from egvsr.hls.qonnx_prep import PROBE, prepare  # noqa: E402

PART, CLK = "xck26-sfvc784-2LV-c", 3.333
H, W = 8, 12
#: conv_sub of this synthetic bundle comes at exponent -9, finer than the net input's -8:
#: the anchor's requantization to -8 then rounds (every odd sum is a tie) and saturates
SEED = 3
CROPS = [(40, 60), (96, 20)]


@pytest.fixture(scope="module")
def bundle():
    b = Bundle(*random_bundle(nf=4, nb=1, skip="anchor", seed=SEED, own_add_exps=True, per_channel=True))
    assert b.layer("srnet", "conv_sub")["out_exp"] < b.manifest["srnet"]["input"]["exp"]
    return b


@pytest.fixture(scope="module")
def top(bundle, tmp_path_factory):
    """The one compiled SRNet top of this file."""
    core = build_core(bundle, TOP, H, W, tmp_path_factory.mktemp("hls_anchor") / TOP, PART, CLK,
                      pixels_per_beat=4)
    return core.compile()


@pytest.fixture(scope="module")
def xs(real_frames):
    """SRNet inputs from real frames: lr_curr + the previous frame, x4, as the warped HR frame."""
    out = []
    for y0, x0 in CROPS:
        for k in (1, 2):
            lr, prev = (real_frames[i, y0:y0 + H, x0:x0 + W] for i in (k, k - 1))
            out.append(srnet_input(lr, np.repeat(np.repeat(prev, 4, 0), 4, 1)))
    return np.stack(out).astype(np.uint8)


def _anchor_cases(bundle, x):
    """(ties, below 0, above max) of the anchor's requantization on input `x` (golden)."""
    t = run_graph(bundle, "srnet", x, keep=True)
    L = bundle.layer("srnet", "anchor")
    e_res, e_in = bundle.layer("srnet", "conv_sub")["out_exp"], bundle.manifest["srnet"]["input"]["exp"]
    e = min(e_res, e_in)
    s = np.left_shift(t["conv_sub"].astype(np.int64), e_res - e) + \
        np.left_shift(np.repeat(x[..., :3].astype(np.int64), 16, -1), e_in - e)
    sh = L["out_exp"] - e
    ties = int(np.sum(s % (1 << sh) == (1 << (sh - 1)))) if sh > 0 else 0
    q = rshift_rne(s, sh)
    return ties, int(np.sum(q < 0)), int(np.sum(q > 255))


# ------------------------------------------------------------------ (a) C simulation
def test_top_equals_golden_on_real_frames(top, bundle, xs):
    got = top.run(xs)
    want = np.stack([run_graph(bundle, "srnet", x) for x in xs])
    assert got.shape == (len(xs), 4 * H, 4 * W, 3)
    assert want.std() > 10  # a picture, not a flat output
    np.testing.assert_array_equal(got, want)
    # the anchor really rounds ties here (the skip is at the coarser exponent)
    assert sum(_anchor_cases(bundle, x)[0] for x in xs) > 100


def test_top_equals_golden_full_range(top, bundle):
    """Random codes over the whole input range: the anchor saturates at 0 and at 255."""
    rnd = np.random.default_rng(1).integers(0, 256, (3, H, W, 51)).astype(np.uint8)
    rnd[0, ..., :3] = 255   # bright anchor: pushes sums above 255
    rnd[1, ..., :3] = 0     # dark anchor: negative residuals fall below 0
    ties, low, high = (sum(v) for v in zip(*(_anchor_cases(bundle, x) for x in rnd)))
    assert ties and low and high, (ties, low, high)
    np.testing.assert_array_equal(top.run(rnd), np.stack([run_graph(bundle, "srnet", x) for x in rnd]))


def test_top_structure_and_skip_fifo(top):
    """clone(input) -> slice (51 -> 3) -> skip FIFO of 3 x 8 bits -> anchor add; II=1 loops."""
    layers = {L.name: L for L in top.hls_model.get_layers()}
    sl, add = layers["anchor_slice"], layers["anchor"]
    assert (sl.class_name, add.class_name) == ("AnchorSlice", "AnchorAdd")
    (clone,) = [L for L in layers.values() if L.class_name == "Clone" and sl.inputs[0] in L.outputs]
    assert layers[clone.inputs[0]].class_name == "Input"  # the slice sits right at the branch
    skip_var = sl.get_output_variable()
    assert list(skip_var.shape) == [H, W, 3] and skip_var.type.precision.width == 8
    assert add.inputs[1] == sl.outputs[0] == "anchor_slice_out"   # named after the layer, every build
    assert layers["pixel_shuffle"].inputs[0] == add.outputs[0]
    lag = 4 * (W + 2)  # conv_in, rb0_conv1, rb0_conv2, conv_sub: W + 2 pixels each
    fifo = top.fifo_depths[skip_var.name]
    assert fifo["depth"] == lag + 8 and fifo["reason"].startswith("skip to anchor"), fifo
    # the wide (51-channel) clone outputs stay shallow; the residual skip keeps its depth
    clone_in = [f for f in top.fifo_depths.values() if f["producer"] == "clone_global_in"]
    assert len(clone_in) == 2 and all(f["depth"] == 4 for f in clone_in)
    rb = [f for f in top.fifo_depths.values() if f["reason"].startswith("skip to rb0_add")]
    assert [f["depth"] for f in rb] == [2 * (W + 2) + 8]
    src = (top.project_dir / "firmware" / f"{top.hls_model.config.get_project_name()}.cpp").read_text()
    assert f"#pragma HLS STREAM variable={skip_var.name} depth={lag + 8}" in src
    assert "nnet::channel_slice_stream<" in src and "nnet::anchor_add_stream<" in src
    header = (top.project_dir / "firmware" / "nnet_utils" / "nnet_anchor_add_stream.h").read_text()
    assert header.count("#pragma HLS PIPELINE II=1") == 2


def test_hls_backend_sequence_equals_golden(top, bundle, real_frames, tmp_path):
    """`--backend hls` with the anchor: the C-sim SRNet inside the EGVSR recurrence == golden."""
    from egvsr.golden.network import run_sequence
    from egvsr.hls.backend import HlsSrnet
    clip = real_frames[:3, 40:40 + H, 60:60 + W]
    srnet = HlsSrnet(bundle, workdir=tmp_path)
    srnet._cores[(H, W)] = top  # the module's compiled top (same bundle, same size)
    for g, r in zip(run_sequence(bundle, clip, srnet=srnet), run_sequence(bundle, clip)):
        np.testing.assert_array_equal(g, r)


@pytest.mark.slow
def test_board_ip_with_anchor(top, bundle, xs):
    """The board wrapper (51-byte LR beats in, RGB beats out) around the anchor top: one more g++."""
    from egvsr.hls.board_top import write_board_top
    board = write_board_top(top, bundle.sha256).compile()
    for x in xs[:2]:
        hr, regs, _ = board.run_frame(x)
        np.testing.assert_array_equal(hr, run_graph(bundle, "srnet", x))
        assert regs["STATUS"] == 0


# ------------------------------------------------------------------ (b) QONNX
def _qonnx_run(model, x, in_exp=-8, out_exp=-8):
    from qonnx.core.onnx_exec import execute_onnx
    feed = {model.graph.input[0].name: (x.transpose(2, 0, 1)[None] * 2.0 ** in_exp).astype(np.float32)}
    y = execute_onnx(model, feed)[model.graph.output[0].name][0].transpose(1, 2, 0)
    q = y.astype(np.float64) * 2.0 ** -out_exp
    assert np.array_equal(q, np.rint(q))
    return q.astype(np.int64)


def test_qonnx_pattern_and_executor_equals_golden(bundle, xs):
    from qonnx.util.cleanup import cleanup_model
    m = cleanup_model(ModelWrapper(bundle_qonnx.srnet_qonnx(bundle, H, W)))
    (ga,) = [n for n in m.graph.node if n.op_type == "Gather"]
    assert next(a.i for a in ga.attribute if a.name == "axis") == 1
    assert m.get_initializer(ga.input[1]).dtype == np.int64
    np.testing.assert_array_equal(m.get_initializer(ga.input[1]), np.arange(48) // 16)
    qin = m.find_producer(ga.input[0])
    assert qin.op_type == "Quant" and qin.input[0] == m.graph.input[0].name  # the net input's quantizer
    (add,) = m.find_consumers(ga.output[0])
    assert add.op_type == "Add" and add.input[1] == ga.output[0]
    assert m.find_producer(add.input[0]).op_type == "Quant"  # conv_sub's output quantizer
    assert [c.op_type for c in m.find_consumers(add.output[0])] == ["Quant"]
    rnd = np.random.default_rng(4).integers(0, 256, (H, W, 51)).astype(np.uint8)
    for x in list(xs[:2]) + [rnd]:
        np.testing.assert_array_equal(_qonnx_run(m, x), run_graph(bundle, "srnet", x))


# ------------------------------------------------------------------ (c) name_and_check
def _model(bundle):
    return bundle_qonnx.srnet_qonnx(bundle, *PROBE)


def _gather(model):
    (ga,) = [n for n in model.graph.node if n.op_type == "Gather"]
    return ga


def _set_indices(model, idx):
    ga = _gather(model)
    init = next(i for i in model.graph.initializer if i.name == ga.input[1])
    init.CopyFrom(numpy_helper.from_array(np.asarray(idx, np.int64), init.name))
    return model


def test_name_and_check_accepts_and_names_the_pattern(bundle):
    assert name_and_check(ModelWrapper(_model(bundle)), bundle)["anchor"] == "anchor"  # NCHW, as exported
    m = prepare(_model(bundle))
    mapping = name_and_check(m, bundle)
    assert mapping["anchor"] == "anchor"
    names = {n.name: n for n in m.graph.node}
    assert names["anchor"].op_type == "Add"
    assert names["anchor_gather"].op_type == "Gather" and names["anchor_gather"].domain == "egvsr.channels_last"
    assert names["anchor_quant"].op_type == "Quant"
    assert m.find_producer(names["anchor_gather"].input[0]).name == "input_quant"
    assert "Transpose" not in [n.op_type for n in m.graph.node]  # the net input stays channels-last


@pytest.mark.parametrize("idx,what", [
    (np.arange(48) % 3, "DCR order (k % 3)"),
    (np.arange(48) // 16 + 1, "the wrong colours"),
    (np.arange(48) // 12 % 3, "a repeat of 12"),
])
def test_name_and_check_refuses_wrong_gather_indices(bundle, idx, what):
    m = prepare(_set_indices(_model(bundle), idx))
    with pytest.raises(QonnxMismatch, match=r"anchor_add 'anchor': the Gather takes channels .* each of its "
                                            r"first 3 channels 16 times"):
        name_and_check(m, bundle)


def test_name_and_check_refuses_wrong_wiring(bundle):
    # the Gather reads the raw graph input, not the input quantizer's codes
    m = _model(bundle)
    _gather(m).input[0] = m.graph.input[0].name
    with pytest.raises(QonnxMismatch, match=r"Gather reads .* not the quantized 'input'"):
        name_and_check(prepare(m), bundle)
    # no Gather at all: the anchor's Add adds conv_sub's output to itself (checked in NCHW, as
    # exported: qonnx's channels-last conversion does not take an Add of one tensor twice)
    m = _model(bundle)
    (add,) = [n for n in m.graph.node if n.op_type == "Add" and n.name == "anchor"]
    add.input[1] = add.input[0]
    ga = _gather(m)
    m.graph.node.remove(ga)
    m.graph.initializer.remove(next(i for i in m.graph.initializer if i.name == ga.input[1]))
    with pytest.raises(QonnxMismatch, match=r"must be Add\(<conv_sub>, Gather\(<input>\)\)"):
        name_and_check(ModelWrapper(m), bundle)


def test_name_and_check_refuses_anchor_qonnx_for_a_plain_bundle(bundle):
    """A bundle without the anchor (conv_sub straight into the shuffle) and the anchor's QONNX."""
    plain = Bundle(*random_bundle(nf=4, nb=1, seed=SEED))
    with pytest.raises(QonnxMismatch, match=r"the QONNX computes \[.*'Conv', 'Add', 'DepthToSpace'\] but"):
        name_and_check(prepare(_model(bundle)), plain)


# ------------------------------------------------------------------ (d) the header alone
_HARNESS = r"""
#include <cmath>
#include "ap_fixed.h"
#include "hls_stream.h"
#include "nnet_types.h"
#include "nnet_anchor_add_stream.h"

static const unsigned N = 256 * 256;  // every (residual code, skip code) pair on channel 0

template <unsigned NS, unsigned REP> struct cfg : nnet::anchor_add_config {
    static const unsigned n_pixels = N;
    static const unsigned n_chan = NS * REP;
    static const unsigned n_skip = NS;
    static const unsigned repeat = REP;
};

template <class RV, class SV, class OV, int ER, int ES, int EO>
void run(const int *res, const int *skip, int *out) {
    typedef nnet::array<RV, 4> r_t;
    typedef nnet::array<SV, 2> s_t;
    typedef nnet::array<OV, 4> o_t;
    hls::stream<r_t> rs;
    hls::stream<s_t> ss;
    hls::stream<o_t> os;
    for (unsigned i = 0; i < N; i++) {
        r_t r;
        s_t s;
        for (int k = 0; k < 4; k++) r[k] = std::ldexp((double)res[4 * i + k], ER);
        for (int c = 0; c < 2; c++) s[c] = std::ldexp((double)skip[2 * i + c], ES);
        rs.write(r);
        ss.write(s);
    }
    nnet::anchor_add_stream<r_t, s_t, o_t, cfg<2, 2> >(rs, ss, os);
    for (unsigned i = 0; i < N; i++) {
        o_t o = os.read();
        for (int k = 0; k < 4; k++) out[4 * i + k] = (int)std::ldexp(o[k].to_double(), -EO);
    }
}

typedef ap_ufixed<8, 0, AP_RND_CONV, AP_SAT> u8_m8;  // uint8 at exp -8 (pixels)
extern "C" {
// residual int8 at -9 (finer than the skip): one rounding bit
void case_finer(const int *r, const int *s, int *o) {
    run<ap_fixed<8, -1, AP_RND_CONV, AP_SAT>, u8_m8, u8_m8, -9, -8, -8>(r, s, o);
}
// residual int8 at -7 (coarser): the residual is shifted left, no rounding
void case_coarser(const int *r, const int *s, int *o) {
    run<ap_fixed<8, 1, AP_RND_CONV, AP_SAT>, u8_m8, u8_m8, -7, -8, -8>(r, s, o);
}
// residual int8 at -10 into a signed int8 at -7: three rounding bits, signed saturation
void case_signed(const int *r, const int *s, int *o) {
    run<ap_fixed<8, -2, AP_RND_CONV, AP_SAT>, u8_m8, ap_fixed<8, 1, AP_RND_CONV, AP_SAT>, -10, -8, -7>(r, s, o);
}
}
"""

# name, residual exp, skip exp, out exp, out bits, out signed
_HEADER_CASES = [("case_finer", -9, -8, -8, 8, False), ("case_coarser", -7, -8, -8, 8, False),
                 ("case_signed", -10, -8, -7, 8, True)]


@pytest.fixture(scope="module")
def header_lib(tmp_path_factory):
    import hls4ml

    from egvsr.hls.anchor_ext import HEADER
    tpl = Path(hls4ml.__file__).resolve().parent / "templates" / "vivado"
    d = tmp_path_factory.mktemp("anchor_header")
    (d / "harness.cpp").write_text(_HARNESS)
    lib = d / "libanchor.so"
    cmd = ["g++", "-O1", "-std=c++14", "-fPIC", "-shared", "-w", f"-I{HEADER.parent}", f"-I{tpl / 'nnet_utils'}",
           f"-I{tpl / 'ap_types'}", str(d / "harness.cpp"), "-o", str(lib)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return ctypes.CDLL(str(lib))


@pytest.mark.parametrize("case", _HEADER_CASES, ids=[c[0] for c in _HEADER_CASES])
def test_header_every_code_pair_equals_golden(header_lib, case):
    name, e_res, e_skip, e_out, bits, signed = case
    i = np.arange(256 * 256)
    res = np.stack([(i + 37 * k) % 256 - 128 for k in range(4)], -1)     # channel 0: every residual code ...
    skip = np.stack([i // 256, (i // 256 * 7 + 101) % 256], -1)          # ... against every skip code
    out = np.zeros((len(i), 4), np.int32)
    ptr = ctypes.POINTER(ctypes.c_int)
    getattr(header_lib, name)(np.ascontiguousarray(res, np.int32).ctypes.data_as(ptr),
                              np.ascontiguousarray(skip, np.int32).ctypes.data_as(ptr), out.ctypes.data_as(ptr))
    want = ops.anchor_add(res.reshape(256, 256, 4), skip.reshape(256, 256, 2), e_res, e_skip, 2, e_out, bits,
                          signed).reshape(-1, 4)
    np.testing.assert_array_equal(out, want)
    # the table holds ties (where there are rounding bits) and saturation
    e = min(e_res, e_skip)
    total = np.left_shift(res, e_res - e) + np.left_shift(np.repeat(skip, 2, -1), e_skip - e)
    sh = e_out - e
    if sh > 0:
        assert np.sum(total % (1 << sh) == 1 << (sh - 1)) > 1000
    q = rshift_rne(total, sh)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    assert (q > hi).any() and (signed or (q < lo).any())


@pytest.mark.slow
def test_top_from_brevitas_anchor_export_equals_golden(xs, tmp_path):
    """Main path: the Brevitas anchor model's QONNX (quant.export) -> hls4ml, checked against its bundle;
    with the quantizer options of w8a8-f16-ia and w8a8-f16-t16 together: the residual adds take
    inputs at their own exponents, conv_in's output is unsigned, the trunk is 16 bits wide."""
    torch = pytest.importorskip("torch")
    from egvsr.quant.bundle import build_bundle
    from egvsr.quant.export import export_qonnx_srnet
    from egvsr.quant.qegvsr import QuantEGVSR
    from egvsr.quant.quantizers import QuantSpec
    torch.manual_seed(5)
    spec = QuantSpec("ia-t16", flow_bits=16, independent_add_exps=True, unsigned_after_relu=True, trunk_bits=16)
    m = QuantEGVSR("tiny-anchor", spec).eval()
    b = Bundle(*build_bundle(m))
    assert not b.layer("srnet", "conv_in")["out_signed"] and b.layer("srnet", "rb0_add")["out_bits"] == 16
    assert b.layer("srnet", "rb0_add")["in_exp"] != b.layer("srnet", "rb0_conv2")["out_exp"]
    q = export_qonnx_srnet(m, tmp_path / "srnet.onnx", H, W)
    core = build_core(b, TOP, H, W, tmp_path / "prj", PART, CLK, qonnx=str(q), pixels_per_beat=4).compile()
    want = np.stack([run_graph(b, "srnet", x) for x in xs])
    assert want.std() > 10
    np.testing.assert_array_equal(core.run(xs), want)
