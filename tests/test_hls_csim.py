"""hls4ml C simulation of the HLS cores equals the golden model bit for bit.

Projects are compiled once per session (g++ takes 3-10 s each) and in
parallel. Inputs are crops of the real `carphone` clip pushed through the
golden EGVSR step (so SRNet sees its real input), plus odd sizes.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("hls4ml")

from egvsr.golden.graph import run_graph  # noqa: E402
from egvsr.hls import build as hls_build  # noqa: E402
from egvsr.hls.cores import TOP, build_core  # noqa: E402

PART, CLK = "xck26-sfvc784-2LV-c", 3.333

# (key, core, H, W, pixels_per_beat)
CASES = [
    ("ps_odd", "pixel_shuffle", 11, 9, 1),
    ("ps_crop", "pixel_shuffle", 12, 16, 4),
    ("conv_odd", "conv_in", 9, 13, 1),
    ("conv_rb", "rb0_conv2", 12, 16, 1),
    ("top_crop", TOP, 12, 16, 4),
    ("top_odd", TOP, 9, 11, 2),
]
REUSE = {"conv_in": 27, "rb0_conv1": 8, "rb0_conv2": 16, "conv_sub": 4}


@pytest.fixture(scope="session")
def hls_bundle():
    from egvsr.golden.bundle import Bundle, default_bundle_path, load_bundle
    from egvsr.golden.synth import random_bundle
    default = default_bundle_path()
    if default.is_file():
        return load_bundle(default)
    return Bundle(*random_bundle(seed=5))


@pytest.fixture(scope="session")
def cores(hls_bundle, tmp_path_factory):
    root = tmp_path_factory.mktemp("hls_cores")
    built = {key: build_core(hls_bundle, core, h, w, root / key, PART, CLK, reuse=REUSE, pixels_per_beat=p)
             for key, core, h, w, p in CASES}
    with ThreadPoolExecutor(2) as ex:
        list(ex.map(lambda c: c.compile(), built.values()))
    return built


def _real_inputs(bundle, frames, h, w):
    return hls_build.srnet_inputs(bundle, frames[:2], h, w)


@pytest.mark.parametrize("key", ["ps_odd", "ps_crop"])
def test_pixel_shuffle_core(cores, hls_bundle, real_frames, key):
    core = cores[key]
    h, w = core.in_shape[:2]
    refs = [run_graph(hls_bundle, "srnet", x, keep=True) for x in _real_inputs(hls_bundle, real_frames, h, w)]
    src = hls_bundle.layer("srnet", "pixel_shuffle")["inputs"][0]
    x = np.stack([r[src] for r in refs])
    want = np.stack([r["pixel_shuffle"] for r in refs])
    np.testing.assert_array_equal(core.run(x), want)
    # full code range, random: every channel/sub-pixel lands where golden puts it
    rnd = np.random.default_rng(0).integers(0, 256, (1, h, w, 48))
    from egvsr.golden.ops import pixel_shuffle
    np.testing.assert_array_equal(core.run(rnd)[0], pixel_shuffle(rnd[0], 4))


@pytest.mark.parametrize("key", ["conv_odd", "conv_rb"])
def test_conv_core(cores, hls_bundle, real_frames, key):
    core = cores[key]
    (name,) = core.layers
    h, w = core.in_shape[:2]
    refs = [run_graph(hls_bundle, "srnet", x, keep=True) for x in _real_inputs(hls_bundle, real_frames, h, w)]
    src = hls_bundle.layer("srnet", name)["inputs"][0]
    got = core.run(np.stack([r[src] for r in refs]))
    np.testing.assert_array_equal(got, np.stack([r[name] for r in refs]))


@pytest.mark.parametrize("key", ["top_crop", "top_odd"])
def test_srnet_top(cores, hls_bundle, real_frames, key):
    core = cores[key]
    h, w = core.in_shape[:2]
    xs = _real_inputs(hls_bundle, real_frames, h, w)
    got = core.run(xs)
    want = np.stack([run_graph(hls_bundle, "srnet", x) for x in xs])
    assert got.shape == (len(xs), 4 * h, 4 * w, 3)
    np.testing.assert_array_equal(got, want)
    # saturating corners of the input range too
    rnd = np.random.default_rng(1).integers(0, 256, (h, w, 51)).astype(np.uint8)
    np.testing.assert_array_equal(core.run(rnd), run_graph(hls_bundle, "srnet", rnd))


def test_top_fifos_sized_from_latency(cores, hls_bundle):
    core = cores["top_crop"]
    w = core.in_shape[1]
    skips = {f["consumers"][0]: f for f in core.fifo_depths.values() if f["reason"].startswith("skip")}
    layers = hls_bundle.layers("srnet")
    adds = {L["name"] for L in layers if L["op"] == "add"}
    anchors = {L["name"] for L in layers if L["op"] == "anchor_add"}
    assert set(skips) == adds | anchors and adds  # one per residual block, one per anchor
    n_conv = sum(L["op"] == "conv3x3" for L in layers)
    for name, f in skips.items():
        # a residual block's branch: two 3x3 convs; the anchor's: every conv of the trunk
        lag = (n_conv if name in anchors else 2) * (w + 2)
        assert f["depth"] == lag + 8, (name, f)  # + margin
        assert f["depth"] < f["default"] or f["default"] <= lag + 8
    chain = [f for f in core.fifo_depths.values() if f["reason"] == "chain"]
    assert chain and all(f["depth"] == 4 for f in chain)
    src = (core.project_dir / "firmware" / f"{core.hls_model.config.get_project_name()}.cpp").read_text()
    assert f"depth={2 * (w + 2) + 8}" in src
    assert "nnet::depth_to_space_stream<" in src


@pytest.mark.parametrize("margin", [None, 600])
def test_plan_counts_the_skip_fifos_of_the_hls_top(hls_bundle, tmp_path, margin):
    """The planner's BRAM estimate of each merge (`add`, `anchor_add`) is the block RAM of
    the skip FIFO the generated top really has (`hls.fifo`), at a width where those FIFOs
    are block RAM (project written, not compiled); with the default margin and with a
    config's `fifo_margin` of 600 words, which the build and the plan both take."""
    from egvsr.golden.oplib.memory import HLS_SKIP_MARGIN, hls_bram36
    from egvsr.plan import make_plan
    H, W = 8, 200
    kw = {} if margin is None else {"fifo_margin": margin}
    core = build_core(hls_bundle, TOP, H, W, tmp_path / "wide", PART, CLK, pixels_per_beat=4, **kw)
    skips = {f["consumers"][0]: f for f in core.fifo_depths.values() if f["reason"].startswith("skip")}
    plan = make_plan(hls_bundle, "kv260", "hls", lr_w=W, lr_h=H, fps=60, pixels_per_beat=4, **kw)
    merges = {k: r for k, r in plan["layers"].items() if r["op"] in ("add", "anchor_add")}
    assert set(merges) == set(skips) and merges
    for name, f in skips.items():
        L = hls_bundle.layer("srnet", name)
        assert f["reason"].endswith(f"margin {margin or HLS_SKIP_MARGIN}"), f
        # the anchor's FIFO holds the 3 x 8-bit LR slice, a residual add's the whole skip tensor
        bits = 3 * 8 if L["op"] == "anchor_add" else L["channels"] * 8
        assert merges[name]["bram36"] == hls_bram36(bits, f["depth"]) > 0, (name, f, merges[name])
    assert plan["fifo_margin"] == (margin or HLS_SKIP_MARGIN)


def test_hls_backend_sequence_equals_golden(cores, hls_bundle, real_frames, tmp_path):
    """`--backend hls`: SRNet through the C-sim inside the EGVSR recurrence == golden frames."""
    from egvsr.golden.network import run_sequence
    from egvsr.hls.backend import HlsSrnet
    h, w = cores["top_crop"].in_shape[:2]
    y0, x0 = 40, 60
    clip = real_frames[:3, y0:y0 + h, x0:x0 + w]
    srnet = HlsSrnet(hls_bundle, workdir=tmp_path)
    srnet._cores[(h, w)] = cores["top_crop"]  # reuse the session's compiled top (same bundle, same size)
    got = run_sequence(hls_bundle, clip, srnet=srnet)
    want = run_sequence(hls_bundle, clip)
    assert len(got) == len(want) == 3
    for g, r in zip(got, want):
        assert g.dtype == np.uint8
        np.testing.assert_array_equal(g, r)
    with pytest.raises(ValueError, match="uint8"):
        srnet(np.zeros((h, w, 51), np.int16))


@pytest.mark.slow
def test_top_from_quant_qonnx_equals_golden(hls_bundle, real_frames, tmp_path):
    """Main path: the QONNX written by quant.export (Brevitas) -> hls4ml; checked against the bundle."""
    from egvsr.model.pretrained import DEFAULT_QAT
    ckpt = DEFAULT_QAT  # the QAT parent of the default bundle (hls_bundle)
    if not ckpt.is_file() or hls_bundle.path is None:
        pytest.skip("bundled default W8A8 checkpoint not present")
    pytest.importorskip("brevitas")
    from egvsr.quant.checkpoint import load_qmodel
    from egvsr.quant.export import export_qonnx_srnet
    q = export_qonnx_srnet(load_qmodel(ckpt), tmp_path / "srnet.onnx", 8, 8)
    core = build_core(hls_bundle, TOP, 10, 13, tmp_path / "prj", PART, CLK, qonnx=str(q), pixels_per_beat=4).compile()
    xs = _real_inputs(hls_bundle, real_frames, 10, 13)
    np.testing.assert_array_equal(core.run(xs), np.stack([run_graph(hls_bundle, "srnet", x) for x in xs]))
