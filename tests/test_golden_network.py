"""golden.graph / golden.network / golden.synth / golden.bench on random bundles."""
import subprocess
import sys

import numpy as np
import pytest

from egvsr.golden import ops
from egvsr.golden.bench import bench_srnet, count_macs
from egvsr.golden.bundle import Bundle
from egvsr.golden.graph import run_graph
from egvsr.golden.network import (iter_sequence, run_fnet, run_sequence, run_srnet, srnet_input,
                                  step)
from egvsr.golden.synth import random_bundle, synthetic_frames

H, W = 13, 20  # odd LR size: FNet runs on the 8x16 crop


@pytest.fixture(scope="module", params=["espcn", "cheap"])
def bundle(request):
    return Bundle(*random_bundle(nf=16, nb=2, tail=request.param, fnet_div=4, seed=1))


@pytest.fixture(scope="module")
def frames():
    return synthetic_frames(3, H, W, seed=5)


def test_synth_names_and_validity():
    m, arrays = random_bundle(nf=32, nb=3, tail="cheap", fnet_div=2, upsampler="bilinear", seed=2)
    names = [L["name"] for L in m["srnet"]["layers"]]
    rb = [f"rb{k}_{s}" for k in range(3) for s in ("conv1", "conv2", "add")]
    assert names == ["conv_in", *rb, "pixel_shuffle", "hr_relu", "conv_out"]
    m2, _ = random_bundle(nf=16, nb=1, tail="espcn")
    assert [L["name"] for L in m2["srnet"]["layers"]][-2:] == ["conv_sub", "pixel_shuffle"]
    fn = [L["name"] for L in m["fnet"]["layers"]]
    want = []
    for p, tail in (("enc", "pool"), ("dec", "up")):
        for i in (1, 2, 3):
            want += [f"{p}{i}_conv1", f"{p}{i}_conv2", f"{p}{i}_{tail}"]
    assert fn == want + ["flow_conv1", "flow_conv2", "flow_tanh"]
    widths = [L["cout"] for L in m["fnet"]["layers"] if L["op"] == "conv3x3"]
    assert widths == [16, 16, 32, 32, 64, 64, 128, 128, 64, 64, 32, 32, 16, 2]
    assert m["degradation"] == "BI" and m["flow"]["upsampler"] == "bilinear"
    Bundle(m, arrays)  # validates
    with pytest.raises(ValueError, match="multiple of 16"):
        random_bundle(nf=24, tail="cheap")


def test_run_graph_keep_matches_ops(bundle, frames):
    x = srnet_input(frames[0], np.repeat(np.repeat(frames[1], 4, 0), 4, 1))
    assert x.shape == (H, W, 51) and x.dtype == np.uint8
    t = run_graph(bundle, "srnet", x, keep=True)
    assert list(t) == ["input"] + [L["name"] for L in bundle.layers("srnet")]
    L = bundle.layer("srnet", "conv_in")
    w, b = bundle.weights("srnet", "conv_in")
    np.testing.assert_array_equal(t["conv_in"], ops.conv3x3(x, w, b, L["in_exp"], L["w_exp"],
                                                            L["out_exp"], L["out_bits"],
                                                            L["out_signed"], L["act"]))
    A = bundle.layer("srnet", "rb0_add")
    np.testing.assert_array_equal(t["rb0_add"], ops.add(t["conv_in"], t["rb0_conv2"], A["in_exp"],
                                                        A["out_exp"], A["out_bits"], A["out_signed"]))
    y = run_srnet(bundle, x)
    assert y.dtype == np.uint8 and y.shape == (4 * H, 4 * W, 3)
    np.testing.assert_array_equal(y, t[bundle.manifest["srnet"]["output"]])
    # batch axis
    yb = run_graph(bundle, "srnet", np.stack([x, x[::-1].copy()]))
    np.testing.assert_array_equal(yb[0], y)
    np.testing.assert_array_equal(yb[1], run_srnet(bundle, x[::-1].copy()))


@pytest.mark.parametrize("name", ["tiny_w8a8", "tiny_anchor_w8a8", "small_anchor_w8a8"])
def test_fused_srnet_equals_layer_by_layer_on_real_frames(name, real_frames, monkeypatch):
    """The fused run (residual adds and the anchor add on their conv's row strips, the
    shuffle written in place) gives the codes of the layer-by-layer run (keep=True) of the
    bundled models on carphone, with many strips per frame."""
    from pathlib import Path

    from egvsr.golden import conv, graph
    from egvsr.golden.bundle import load_bundle
    b = load_bundle(Path(__file__).resolve().parents[1] / "pretrained" / name)
    layers = b.layers("srnet")
    plan = graph._fusions(layers, b.manifest["srnet"]["output"])
    rows = {r for r, _ in plan.values() if r}
    assert {L["name"] for L in layers if L["op"] in ("add", "anchor_add")} == rows  # every add is fused
    assert any(s for _, s in plan.values())
    monkeypatch.setattr(conv, "_STRIP_BYTES", 4096)
    monkeypatch.setattr(conv, "_MIN_PARALLEL_PIXELS", 0)
    x = srnet_input(real_frames[1, :40, :56], np.repeat(np.repeat(real_frames[0, :40, :56], 4, 0), 4, 1))
    want = run_graph(b, "srnet", x, keep=True)[b.manifest["srnet"]["output"]]
    got = run_srnet(b, x)
    assert got.dtype == want.dtype == np.uint8
    np.testing.assert_array_equal(got, want)


def test_fusion_needs_the_other_inputs_before_the_conv():
    from egvsr.golden.graph import _fusions
    L = [{"name": "a", "op": "conv3x3", "inputs": ["input"]},
         {"name": "b", "op": "conv3x3", "inputs": ["input"]},
         {"name": "s", "op": "add", "inputs": ["b", "a"]},      # a exists before b: fused into b
         {"name": "c", "op": "conv3x3", "inputs": ["s"]},
         {"name": "d", "op": "conv3x3", "inputs": ["s"]},
         {"name": "t", "op": "add", "inputs": ["c", "d"]},      # d runs after c: not fused into c
         {"name": "u", "op": "conv3x3", "inputs": ["t"]},
         {"name": "p", "op": "pixel_shuffle", "inputs": ["u"], "factor": 2}]
    assert _fusions(L, "p") == {"b": ("s", None), "d": ("t", None), "u": (None, "p")}
    assert _fusions(L, "p", rowwise=False) == {"u": (None, "p")}


def test_run_graph_input_validation(bundle):
    with pytest.raises(ValueError, match="51"):
        run_srnet(bundle, np.zeros((4, 4, 50), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        run_srnet(bundle, np.zeros((4, 4, 51), np.int16))


def test_run_fnet_whole_frame_and_reflect(bundle, frames):
    """Published form: FNet on the whole frame (floor-mode pools), reflect pad to H x W."""
    flow = run_fnet(bundle, frames[1], frames[0])
    assert flow.dtype == np.int16 and flow.shape == (H, W, 2)
    inner = run_graph(bundle, "fnet", np.concatenate([frames[1], frames[0]], -1))
    assert inner.shape == (8, 16, 2)
    cropped = run_graph(bundle, "fnet", np.concatenate([frames[1][:8, :16], frames[0][:8, :16]], -1))
    assert not np.array_equal(inner, cropped)  # the border pixels reach FNet
    np.testing.assert_array_equal(flow, np.pad(inner, ((0, H - 8), (0, W - 16), (0, 0)), mode="reflect"))
    assert np.abs(flow).max() <= 24 * 256
    with pytest.raises(ValueError, match="8x8"):
        run_fnet(bundle, frames[0][:7], frames[1][:7])


def test_step_details_and_backend(bundle, frames):
    hr_prev = np.repeat(np.repeat(frames[0], 4, 0), 4, 1)
    d = step(bundle, frames[1], frames[0], hr_prev, details=True)
    f = bundle.flow
    hr_flow = ops.flow_upsample4(d["lr_flow"], f["upsampler"], f["lr_frac_bits"], f["hr_frac_bits"])
    np.testing.assert_array_equal(d["hr_flow"], hr_flow)
    np.testing.assert_array_equal(d["warped"], ops.warp(hr_prev, hr_flow, f["hr_frac_bits"]))
    np.testing.assert_array_equal(d["hr"], run_srnet(bundle, srnet_input(frames[1], d["warped"])))
    calls = []

    def backend(x):
        calls.append(x.shape)
        return run_srnet(bundle, x)

    np.testing.assert_array_equal(step(bundle, frames[1], frames[0], hr_prev, srnet=backend), d["hr"])
    assert calls == [(H, W, 51)]
    with pytest.raises(ValueError, match="srnet backend"):
        step(bundle, frames[1], frames[0], hr_prev, srnet=lambda x: np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="hr_prev"):
        step(bundle, frames[1], frames[0], hr_prev[:-1])


def test_sequence_matches_manual_recurrence(bundle, frames):
    # reflect temporal padding with 3 frames: n_pad = 2 -> f2 f1 | f0 f1 f2
    lr_prev = np.zeros_like(frames[0])
    hr_prev = np.zeros((4 * H, 4 * W, 3), np.uint8)
    outs = []
    for i in (2, 1, 0, 1, 2):
        hr_prev = step(bundle, frames[i], lr_prev, hr_prev)
        lr_prev = frames[i]
        outs.append(hr_prev)
    seen = []
    got = run_sequence(bundle, frames, progress=lambda k, n: seen.append((k, n)))
    assert got.shape == (3, 4 * H, 4 * W, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, np.stack(outs[2:]))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    # a generator input (no len) streams the same frames
    gen = list(iter_sequence(bundle, (f for f in frames)))
    np.testing.assert_array_equal(np.stack(gen), got)
    # no temporal padding: plain recurrence from zeros
    nopad = run_sequence(bundle, frames[:2], temporal_pad=0)
    first = step(bundle, frames[0], np.zeros_like(frames[0]), np.zeros((4 * H, 4 * W, 3), np.uint8))
    np.testing.assert_array_equal(nopad[0], first)
    np.testing.assert_array_equal(nopad[1], step(bundle, frames[1], frames[0], first))


def test_real_frames_plausible_activations(real_frames):
    b = Bundle(*random_bundle(nf=16, nb=2, tail="cheap", seed=0))
    lr = real_frames[:, :64, :96]
    d = step(b, lr[1], lr[0], np.repeat(np.repeat(lr[0], 4, 0), 4, 1), details=True)
    t = run_graph(b, "srnet", d["sr_input"], keep=True)
    for L in b.layers("srnet"):
        if L["op"] != "conv3x3" or L["name"] == "conv_out":
            continue
        v = t[L["name"]].astype(np.int64)
        hi = 2 ** (L["out_bits"] - (1 if L["out_signed"] else 0)) - 1
        assert np.mean(np.abs(v) >= hi) < 0.05, f"{L['name']} saturates"
        assert np.mean(v != 0) > 0.05, f"{L['name']} is all zero"
    hr = d["hr"].astype(float)
    assert 20 < hr.mean() < 235 and hr.std() > 5
    assert np.abs(d["lr_flow"]).max() < 24 * 256


def test_real_sequence_full_frame(real_frames):
    b = Bundle(*random_bundle(nf=16, nb=1, tail="espcn", fnet_div=8, seed=4))
    out = run_sequence(b, real_frames[:2], temporal_pad=1)
    assert out.shape == (2, 4 * 144, 4 * 176, 3) and out.dtype == np.uint8


def test_count_macs_matches_reference_figures():
    small = Bundle(*random_bundle(nf=16, nb=2, tail="cheap"))
    assert count_macs(small, "srnet", 1, 1) == 16992  # "nf16/nb2 about 17k" per LR pixel
    assert count_macs(small, "srnet", 2, 3) == 6 * 16992
    m, a = random_bundle(nf=64, nb=10, tail="cheap", fnet_div=1)
    big = Bundle(m, a)
    assert count_macs(big, "srnet", 1, 1) == 768384  # published: about 768k
    assert count_macs(big, "fnet", 8, 8) // 64 == pytest.approx(127e3, rel=0.02)
    r = bench_srnet(small, H=8, W=8, repeats=1)
    assert r["macs"] == 64 * 16992 and r["seconds"] > 0 and r["macs_per_s"] > 0


def test_bench_step_times_every_stage():
    from egvsr.golden.bench import bench_step
    b = Bundle(*random_bundle(nf=16, nb=1, tail="espcn", fnet_div=8, seed=3))
    r = bench_step(b, H=16, W=24, repeats=2)
    ms = r["ms"]
    assert (r["H"], r["W"]) == (16, 24)
    assert set(ms) == {"fnet", "flow_upsample", "warp", "srnet_input", "srnet", "host", "step"}
    assert all(v > 0 for v in ms.values())
    assert ms["host"] == pytest.approx(ms["step"] - ms["srnet"])
    assert ms["host"] == pytest.approx(ms["fnet"] + ms["flow_upsample"] + ms["warp"] + ms["srnet_input"])


@pytest.mark.parametrize("code", [
    'import sys; sys.modules["torch"] = None; import egvsr.golden.network, egvsr.golden.synth, '
    'egvsr.golden.bench',
    'import sys, egvsr.golden, egvsr.golden.network, egvsr.golden.synth; '
    'assert "torch" not in sys.modules, "torch imported"',
])
def test_imports_without_torch(code):
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_golden_imports_only_numpy_and_stdlib():
    import ast
    import pathlib

    import egvsr.golden as g
    root = pathlib.Path(g.__file__).parent
    for py in root.glob("*.py"):
        for node in ast.walk(ast.parse(py.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            for n in names:
                top = n.split(".")[0]
                assert top == "numpy" or top in sys.stdlib_module_names, f"{py.name} imports {n}"
