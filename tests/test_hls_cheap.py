"""SRNet top with the published "cheap" tail (pixel_shuffle -> hr_relu -> conv_out at HR).

The shuffle sits inside the network: qonnx wraps its channels-first
DepthToSpace in NHWC<->NCHW transposes, `qonnx_prep.prepare` folds them into
the channels-last extension node, and the shuffle emits one HR pixel per
stream word (P = 1) into the HR conv, whatever the top's `pixels_per_beat`.
The C simulation equals the golden model bit for bit, on real frame crops
(through the golden EGVSR step) and odd sizes, from the bundle's QONNX and
from the Brevitas export of a QAT `tiny-cheap` model.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("hls4ml")

from egvsr.golden.bundle import Bundle  # noqa: E402
from egvsr.golden.graph import run_graph  # noqa: E402
from egvsr.golden.synth import random_bundle  # noqa: E402
from egvsr.hls import build as hls_build  # noqa: E402
from egvsr.hls import bundle_qonnx  # noqa: E402
from egvsr.hls.cores import TOP, build_core  # noqa: E402
from egvsr.hls.qonnx_prep import PROBE, prepare  # noqa: E402
from egvsr.plan import make_plan  # noqa: E402

PART, CLK = "xck26-sfvc784-2LV-c", 3.333
# (key, H, W, pixels_per_beat of the top's output)
CASES = [("crop", 12, 16, 4), ("odd", 9, 11, 2)]
REUSE = {"conv_in": 27, "rb0_conv1": 8, "rb0_conv2": 16, "conv_out": 3}


@pytest.fixture(scope="module")
def cheap_bundle():
    return Bundle(*random_bundle(nf=16, nb=1, tail="cheap", seed=0))


@pytest.fixture(scope="module")
def cheap_tops(cheap_bundle, tmp_path_factory):
    root = tmp_path_factory.mktemp("hls_cheap")
    built = {key: build_core(cheap_bundle, TOP, h, w, root / key, PART, CLK, reuse=REUSE, pixels_per_beat=p)
             for key, h, w, p in CASES}
    with ThreadPoolExecutor(2) as ex:
        list(ex.map(lambda c: c.compile(), built.values()))
    return built


def _golden(bundle, xs):
    return np.stack([run_graph(bundle, "srnet", x) for x in xs])


def test_prepare_folds_transposes_around_inner_shuffle(cheap_bundle):
    m = prepare(bundle_qonnx.srnet_qonnx(cheap_bundle, *PROBE))
    ops = [n.op_type for n in m.graph.node if n.op_type != "Quant"]
    assert "Transpose" not in ops  # NHWC->NCHW, NCHW->NHWC pairs and the output transpose are gone
    (d2s,) = [n for n in m.graph.node if n.op_type == "DepthToSpace"]
    assert d2s.domain == "egvsr.channels_last"
    (relu,) = m.find_consumers(d2s.output[0])
    assert relu.op_type == "Relu"
    h, w = PROBE
    assert m.get_tensor_shape(d2s.output[0]) == [1, 4 * h, 4 * w, 1]


def test_inner_shuffle_is_one_pixel_per_word(cheap_tops, cheap_bundle):
    core = cheap_tops["crop"]
    h, w = core.in_shape[:2]
    layers = {L.name: L for L in core.hls_model.get_layers()}
    ps = layers["pixel_shuffle"]
    assert ps.get_attr("pixels_per_beat") == 1  # feeds the HR conv, not the output
    assert list(ps.get_output_variable().shape) == [4 * h, 4 * w, 1]
    assert core.out_shape == (4 * h, 4 * w, 3)
    src = (core.project_dir / "firmware" / f"{core.hls_model.config.get_project_name()}.cpp").read_text()
    assert "nnet::depth_to_space_stream<" in src
    assert all(f["depth"] == 4 for f in core.fifo_depths.values() if f["reason"] == "chain")
    # the plan models the same thing: the inner shuffle moves one HR pixel per clock
    plan = make_plan(cheap_bundle, "kv260", impl="hls", lr_w=960, lr_h=540, fps=60, pixels_per_beat=4)
    assert plan["folding"]["pixel_shuffle"] == 1
    assert plan["layers"]["conv_out"]["in_hw"] == [4 * 540, 4 * 960]


@pytest.mark.parametrize("key", ["crop", "odd"])
def test_cheap_top_equals_golden(cheap_tops, cheap_bundle, real_frames, key):
    core = cheap_tops[key]
    h, w = core.in_shape[:2]
    xs = hls_build.srnet_inputs(cheap_bundle, real_frames[:2], h, w)
    want = _golden(cheap_bundle, xs)
    assert want.std() > 10  # a real picture, not a flat output
    got = core.run(xs)
    assert got.shape == (2, 4 * h, 4 * w, 3)
    np.testing.assert_array_equal(got, want)
    # full input code range (saturating corners)
    rnd = np.random.default_rng(1).integers(0, 256, (h, w, 51)).astype(np.uint8)
    np.testing.assert_array_equal(core.run(rnd), run_graph(cheap_bundle, "srnet", rnd))


def test_cheap_backend_sequence_equals_golden(cheap_tops, cheap_bundle, real_frames, tmp_path):
    """`--backend hls` with the cheap tail: C-sim SRNet inside the EGVSR recurrence == golden."""
    from egvsr.golden.network import run_sequence
    from egvsr.hls.backend import HlsSrnet
    h, w = cheap_tops["crop"].in_shape[:2]
    clip = real_frames[:3, 40:40 + h, 60:60 + w]
    srnet = HlsSrnet(cheap_bundle, workdir=tmp_path)
    srnet._cores[(h, w)] = cheap_tops["crop"]
    got = run_sequence(cheap_bundle, clip, srnet=srnet)
    want = run_sequence(cheap_bundle, clip)
    for g, r in zip(got, want):
        np.testing.assert_array_equal(g, r)


@pytest.mark.slow
def test_cheap_top_from_brevitas_qonnx(real_frames, tmp_path):
    """QAT `tiny-cheap` exported by Brevitas (quant.export) -> hls4ml top == golden of its bundle."""
    pytest.importorskip("brevitas")
    import torch

    from egvsr.quant.bundle import build_bundle
    from egvsr.quant.export import export_qonnx_srnet
    from egvsr.quant.qegvsr import QuantEGVSR

    torch.manual_seed(1)
    m = QuantEGVSR("tiny-cheap").eval()
    b = Bundle(*build_bundle(m))
    assert [L["op"] for L in b.layers("srnet")][-3:] == ["pixel_shuffle", "relu", "conv3x3"]
    q = export_qonnx_srnet(m, tmp_path / "srnet.onnx", 8, 8)
    h, w = 11, 8  # odd height
    core = build_core(b, TOP, h, w, tmp_path / "prj", PART, CLK, qonnx=str(q), pixels_per_beat=1).compile()
    xs = hls_build.srnet_inputs(b, real_frames[:2], h, w)
    xs = np.concatenate([xs, np.random.default_rng(2).integers(0, 256, (1, h, w, 51)).astype(np.uint8)])
    np.testing.assert_array_equal(core.run(xs), _golden(b, xs))
