"""The HLS flow reads the op library, the hardware graph and the planner (no tables of its own)."""
import json

import pytest

pytest.importorskip("hls4ml")

from egvsr.golden.bundle import Bundle  # noqa: E402
from egvsr.golden.synth import random_bundle, write_random_bundle  # noqa: E402
from egvsr.hls import build as hls_build  # noqa: E402
from egvsr.hls.bundle_qonnx import layer_qonnx, srnet_qonnx  # noqa: E402
from egvsr.hls.convert import reuse_factors  # noqa: E402
from egvsr.hls.cores import TOP, core_names, top_name  # noqa: E402
from egvsr.plan import read_plan  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    return Bundle(*random_bundle(nf=16, nb=2, seed=0))


def test_op_without_hls_names_it(tiny):
    with pytest.raises(ValueError, match=r"'enc1_pool': op 'maxpool2' has no HLS implementation.*conv3x3"):
        srnet_qonnx(tiny, 8, 8, net="fnet")


def test_shapes_and_types_from_the_graph(tiny):
    m = srnet_qonnx(tiny, 7, 11)
    dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    g = tiny.graph("srnet")
    assert dims(m.graph.input[0]) == [1, g.input.channels, 7, 11]
    assert dims(m.graph.output[0]) == [1, g.output.channels, 7 * g.output.scale, 11 * g.output.scale]
    ps = layer_qonnx(tiny, "pixel_shuffle", 5, 9)
    assert dims(ps.graph.output[0]) == [1, 3, 20, 36]
    with pytest.raises(ValueError, match="2 inputs"):
        layer_qonnx(tiny, "rb0_add", 5, 9)


def test_core_names_from_the_op_library(tiny):
    assert top_name("srnet") == TOP == "srnet"
    assert core_names(tiny) == ["conv_in", "rb0_conv1", "rb0_conv2", "rb1_conv1", "rb1_conv2", "conv_sub",
                                "pixel_shuffle", TOP]
    cheap = Bundle(*random_bundle(nf=16, nb=1, tail="cheap", seed=0))
    # the HR relu has no folding: it is no separate core
    assert core_names(cheap) == ["conv_in", "rb0_conv1", "rb0_conv2", "pixel_shuffle", "conv_out", TOP]


def test_build_writes_plan_next_to_report(tmp_path):
    """`make hls` plans with egvsr.plan: plan.json beside report.json, the same reuse factors and figures."""
    path = write_random_bundle(tmp_path / "b" / "tiny", seed=3)
    preset = json.loads(open(path).read())["preset"]
    cfg = {"bundle": str(path), "preset": preset, "out_dir": str(tmp_path / "out"), "name": "t",
           "lr_width": 16, "lr_height": 8, "cores": ["pixel_shuffle"], "fifo_margin": 16,
           "csim": {"crop": [8, 8], "odd_crop": None, "compile_full": False, "frames": 1}}
    rep = hls_build.run(cfg, progress=None)
    out = tmp_path / "out" / "t"
    assert rep["ok"] and (out / "report.json").is_file() and (out / "report.md").is_file()
    from egvsr.golden.bundle import load_bundle
    bundle = load_bundle(path)
    plan = read_plan(out / "plan.json", bundle, impl="hls")
    assert rep["plan"] == str(out / "plan.json")
    assert rep["reuse"] == reuse_factors(bundle.graph("srnet"), plan["folding"])
    e = rep["estimate"]
    assert e["dsp"] == plan["dsp"] and e["bottleneck"] == plan["bottleneck"]
    assert e["fps"] == round(plan["fps"], 3) and e["target_met"] == plan["meets_target"]
    assert plan["board"] == "kv260" and plan["lr"] == [16, 8] and plan["pixels_per_beat"] == 4
    assert plan["fifo_margin"] == 16          # the config's skip-FIFO margin, as the build used it
    from egvsr.plan import PlanError, make_plan
    assert "fifo_margin" not in make_plan(bundle, "kv260", "rtl", 16, 8)   # RTL FIFOs have none
    bad = tmp_path / "bad_plan.json"
    bad.write_text(json.dumps(dict(plan, fifo_margin="8")))
    with pytest.raises(PlanError, match=r"fifo_margin = '8'; it must be an integer >= 1"):
        read_plan(bad, bundle, impl="hls")
    assert rep["hr"] == [32, 64]
    rows = {r["name"]: r for r in rep["layers"]}
    for k, v in plan["layers"].items():
        assert rows[k]["dsp"] == v["dsp"] and rows[k]["frame_clocks"] == v["clocks_per_frame"]
    assert [v["core"] for v in rep["csim"]] == ["pixel_shuffle"] and rep["csim"][0]["bit_exact"]
