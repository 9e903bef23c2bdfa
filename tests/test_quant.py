"""Quantized twin: golden == Brevitas == QONNX bit for bit; hardware-only quantizers."""
import json

import numpy as np
import pytest
import torch

from egvsr.golden.bundle import Bundle, load_bundle
from egvsr.golden.graph import run_graph
from egvsr.golden.network import run_sequence
from egvsr.golden.ops import space_to_depth
from egvsr.model.checkpoint import CheckpointError
from egvsr.model.pretrained import BUNDLED_MODELS, DEFAULT_FLOAT, DEFAULT_QAT
from egvsr.quant.bundle import build_bundle
from egvsr.quant.checkpoint import load_qmodel, save_qcheckpoint
from egvsr.quant.export import execute_qonnx, export_all, export_qonnx_fnet, export_qonnx_srnet
from egvsr.quant.qegvsr import QuantEGVSR
from egvsr.quant.quantizers import QuantizerError, QuantSpec

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module", params=list(BUNDLED_MODELS))
def bundled(request):
    """(trained QAT model, its bundle on disk) of each bundled model."""
    _, ckpt, bundle = BUNDLED_MODELS[request.param]
    return load_qmodel(ckpt), load_bundle(bundle)


@pytest.fixture(scope="module")
def trained():
    return load_qmodel(DEFAULT_QAT)


def _srnet_input(frames, y0=0, x0=0, h=24, w=32):
    """Real SRNet input: frame 1 crop + space_to_depth of frame 0 upscaled (a plausible warped HR)."""
    lr = frames[1, y0:y0 + h, x0:x0 + w]
    hr = np.repeat(np.repeat(frames[0, y0:y0 + h, x0:x0 + w], 4, 0), 4, 1)
    return np.concatenate([lr, space_to_depth(hr, 4)], -1)


def _torch_srnet(m, x, dtype=torch.float32):
    with torch.no_grad():
        y = m.srnet.to(dtype)(torch.from_numpy(x).permute(2, 0, 1)[None].to(dtype) / 256)
    return torch.round(y[0] * 256).permute(1, 2, 0).numpy().astype(np.uint8)


def _torch_fnet_head(m, x, exp, dtype=torch.float32):
    with torch.no_grad():
        y = m.fnet.to(dtype)(torch.from_numpy(x).permute(2, 0, 1)[None].to(dtype) / 256)
    return torch.round(y.value[0] * 2.0 ** -exp).permute(1, 2, 0).numpy().astype(np.int64)


def test_trained_srnet_and_fnet_golden_brevitas_qonnx(bundled, real_frames, tmp_path):
    trained, _ = bundled
    b = Bundle(*build_bundle(trained))
    x = _srnet_input(real_frames, 40, 60)
    g = run_graph(b, "srnet", x)
    assert g.std() > 10  # a real picture, not a flat output
    assert np.array_equal(_torch_srnet(trained, x), g)
    export_qonnx_srnet(trained, tmp_path / "s.onnx", 24, 32)
    q = execute_qonnx(tmp_path / "s.onnx", x[None].astype(np.float32) / 256)[0]
    assert np.array_equal(np.round(q * 256).transpose(1, 2, 0), g)

    xf = np.concatenate([real_frames[1, 40:64, 60:92], real_frames[0, 40:64, 60:92]], -1)
    gf = run_graph(b, "fnet", xf, keep=True)["flow_conv2"]
    e = b.layer("fnet", "flow_conv2")["out_exp"]
    assert np.array_equal(_torch_fnet_head(trained, xf, e), gf)
    export_qonnx_fnet(trained, tmp_path / "f.onnx", 24, 32)
    qf = execute_qonnx(tmp_path / "f.onnx", xf[None].astype(np.float32) / 256)[0]
    assert np.array_equal(np.round(qf * 2.0 ** -e).transpose(1, 2, 0), gf)


@pytest.mark.parametrize("preset", ["tiny", "tiny-cheap", "tiny-anchor", "small", "paper"])
def test_every_preset_srnet_and_fnet_match_golden(preset, real_frames):
    torch.manual_seed(1)
    m = QuantEGVSR(preset).eval()
    b = Bundle(*build_bundle(m))
    dtype = torch.float64 if preset == "paper" else torch.float32  # float32 sums are exact below 2**24
    for x in (_srnet_input(real_frames, 8, 8, 16, 24),
              np.random.default_rng(0).integers(0, 256, (9, 13, 51)).astype(np.uint8)):
        assert np.array_equal(_torch_srnet(m, x, dtype), run_graph(b, "srnet", x)), preset
    xf = np.concatenate([real_frames[2, :16, :24], real_frames[1, :16, :24]], -1)
    e = b.layer("fnet", "flow_conv2")["out_exp"]
    assert np.array_equal(_torch_fnet_head(m, xf, e, dtype), run_graph(b, "fnet", xf, keep=True)["flow_conv2"])


def test_full_step_on_real_clip_matches_golden(bundled, real_frames):
    trained, disk = bundled
    frames = real_frames[:, 30:57, 50:93]  # odd size: 27 x 43 LR, flow crop 24 x 40
    g = run_sequence(disk, frames)
    t = np.stack(list(trained.infer_frames(list(frames))))
    assert g.shape == (4, 108, 172, 3)
    assert np.array_equal(t, g)


def test_bundled_bundle_is_the_bundled_checkpoint(bundled):
    trained, disk = bundled
    man, arrays = build_bundle(trained)
    assert disk.manifest["srnet"]["layers"] == man["srnet"]["layers"]
    assert disk.manifest["fnet"]["layers"] == man["fnet"]["layers"]
    for k, v in arrays.items():
        assert np.array_equal(disk.arrays[k], v), k


def test_quantizers_hardware_cannot_take_are_refused():
    from brevitas.quant import Int8ActPerTensorFloat, Int8Bias, Int8BiasPerTensorFloatInternalScaling, Int8WeightPerTensorFloat
    from brevitas.quant.fixed_point import Int8WeightPerChannelFixedPointMSE
    with pytest.raises(QuantizerError, match="POWER_OF_TWO"):
        QuantEGVSR("tiny", weight_quant=Int8WeightPerTensorFloat)
    with pytest.raises(QuantizerError, match="POWER_OF_TWO"):
        QuantEGVSR("tiny", act_quant=Int8ActPerTensorFloat)
    with pytest.raises(QuantizerError, match="per-channel"):
        QuantEGVSR("tiny", weight_quant=Int8WeightPerChannelFixedPointMSE)
    with pytest.raises(QuantizerError, match="8-bit biases"):
        QuantEGVSR("tiny", bias_q=Int8Bias)
    with pytest.raises(QuantizerError, match="input"):
        QuantEGVSR("tiny", bias_q=Int8BiasPerTensorFloatInternalScaling)
    with pytest.raises(QuantizerError, match="weight bit width 12"):
        QuantSpec(w_bits=12)
    with pytest.raises(QuantizerError, match="bias bit width"):
        QuantSpec(b_bits=24)


def test_narrower_specs_build_valid_bundles(real_frames):
    for spec in ("w4a8", "w8a8-b16"):
        m = QuantEGVSR("tiny", spec).eval()
        man, arrays = build_bundle(m)
        w_bits = {layer["w_bits"] for layer in man["srnet"]["layers"] if layer["op"] == "conv3x3"}
        assert w_bits == {m.spec.w_bits}
        x = _srnet_input(real_frames, 0, 0, 16, 16)
        assert np.array_equal(_torch_srnet(m, x), run_graph(Bundle(man, arrays), "srnet", x))


def test_qcheckpoint_roundtrip_and_errors(tmp_path, trained):
    save_qcheckpoint(tmp_path / "q.pth", trained, {"note": 1})
    m = load_qmodel(tmp_path / "q.pth")
    for (k, a), b in zip(trained.state_dict().items(), m.state_dict().values()):
        assert torch.equal(a, b), k
    with pytest.raises(CheckpointError, match="not a quantized"):
        load_qmodel(DEFAULT_FLOAT)
    obj = torch.load(tmp_path / "q.pth", weights_only=True)
    obj["state_dict"].pop("srnet.conv_in.weight")
    torch.save(obj, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_qmodel(tmp_path / "bad.pth")


def test_export_all_writes_manifest(tmp_path, trained):
    man = export_all(trained, tmp_path / "out" / "tiny", 16, 24, source_sha256="ab" * 32)
    files = json.loads((tmp_path / "out" / "tiny.export.json").read_text())["files"]
    assert man["schema"] == "egvsr.export" and man["schema_version"] == 1
    for f in files.values():
        assert (tmp_path / "out" / f).is_file()
    b = load_bundle(tmp_path / "out" / files["bundle"])
    assert b.manifest["source_checkpoint_sha256"] == "ab" * 32 and b.sha256 == man["bundle_sha256"]
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_anchor_skip_golden_brevitas_qonnx(real_frames, tmp_path):
    """The anchor skip (schema 2 on, op anchor_add): Brevitas == golden == QONNX on real frames."""
    torch.manual_seed(3)
    m = QuantEGVSR("tiny-anchor").eval()
    man, arrays = build_bundle(m)
    assert man["schema_version"] == 3
    layers = {L["name"]: L for L in man["srnet"]["layers"]}
    assert layers["anchor"]["op"] == "anchor_add" and layers["anchor"]["inputs"] == ["conv_sub", "input"]
    assert layers["conv_sub"]["out_signed"] and layers["pixel_shuffle"]["inputs"] == ["anchor"]
    b = Bundle(man, arrays)
    x = _srnet_input(real_frames, 40, 60, 16, 24)
    g = run_graph(b, "srnet", x)
    assert np.array_equal(_torch_srnet(m, x), g)
    # the anchor is live: with conv_sub's weights and bias zeroed the output is lr_curr, nearest-upscaled
    with torch.no_grad():
        m.srnet.conv_sub.weight.zero_()
        m.srnet.conv_sub.bias.zero_()
    nearest = np.repeat(np.repeat(x[..., :3], 4, 0), 4, 1)
    assert np.array_equal(run_graph(Bundle(*build_bundle(m)), "srnet", x), nearest)
    assert np.array_equal(_torch_srnet(m, x), nearest)
    torch.manual_seed(3)
    m = QuantEGVSR("tiny-anchor").eval()
    export_qonnx_srnet(m, tmp_path / "s.onnx", 16, 24)
    q = execute_qonnx(tmp_path / "s.onnx", x[None].astype(np.float32) / 256)[0]
    assert np.array_equal(np.round(q * 256).transpose(1, 2, 0), g)


def test_16_bit_flow_head_full_step_matches_golden(real_frames):
    """Spec w8a8-f16: the flow head (the tanh table's index) at 16 bits; Brevitas == golden over a sequence."""
    torch.manual_seed(2)
    m = QuantEGVSR("tiny-anchor", "w8a8-f16").eval()
    b = Bundle(*build_bundle(m))
    assert b.layer("fnet", "flow_conv2")["out_bits"] == 16
    frames = real_frames[:3, 20:36, 30:54]
    g = run_sequence(b, frames)
    assert np.array_equal(np.stack(list(m.infer_frames(list(frames)))), g)
    flow = run_graph(b, "fnet", np.concatenate([frames[1], frames[0]], -1), keep=True)["flow_conv2"]
    assert np.abs(flow).max() > 127  # codes beyond int8: the head really is 16-bit
    with pytest.raises(QuantizerError, match="flow head bit width"):
        QuantSpec(flow_bits=20)


def test_independent_add_exps_and_unsigned_relu_golden_brevitas_qonnx(real_frames, tmp_path):
    """Spec w8a8-f16-ia: each residual add's inputs at their own exponents (schema 3), conv_in's
    ReLU output unsigned; Brevitas == golden == QONNX on real frames, with the exponents of a
    short calibration (train-mode passes over real crops), which differ at the adds."""
    torch.manual_seed(4)
    m = QuantEGVSR("tiny-anchor", "w8a8-f16-ia").train()
    with torch.no_grad():
        for y0 in (0, 30, 60):
            m.srnet(torch.from_numpy(_srnet_input(real_frames, y0, y0, 16, 24)).permute(2, 0, 1)[None].float() / 256)
    m.eval()
    man, arrays = build_bundle(m)
    assert man["schema_version"] == 3 and man["quant"]["independent_add_exps"]
    b = Bundle(man, arrays)
    assert not b.layer("srnet", "conv_in")["out_signed"] and b.layer("srnet", "rb0_conv2")["out_signed"]
    mixed = [k for k in range(m.preset.nb) if b.layer("srnet", f"rb{k}_add")["in_exp"] !=
             b.layer("srnet", f"rb{k}_conv2")["out_exp"]]
    assert mixed, "no add with inputs at two exponents: the test would not test the option"
    x = _srnet_input(real_frames, 40, 60, 16, 24)
    g = run_graph(b, "srnet", x)
    assert g.std() > 10 and np.array_equal(_torch_srnet(m, x), g)
    export_qonnx_srnet(m, tmp_path / "s.onnx", 16, 24)
    q = execute_qonnx(tmp_path / "s.onnx", x[None].astype(np.float32) / 256)[0]
    assert np.array_equal(np.round(q * 256).transpose(1, 2, 0), g)
    with pytest.raises(QuantizerError, match="needs independent_add_exps"):
        QuantSpec(unsigned_after_relu=True)


def test_16_bit_trunk_golden_brevitas(real_frames):
    """Spec w8a8-f16-t16: the trunk tensors (adds and their residuals) at 16 bits, convs reading
    them take 16-bit inputs; Brevitas (float64: the sums pass 2**24) == golden on real frames."""
    torch.manual_seed(6)
    m = QuantEGVSR("tiny-anchor", "w8a8-f16-t16").eval()
    b = Bundle(*build_bundle(m))
    assert {b.layer("srnet", n)["out_bits"] for n in ("conv_in", "rb0_conv2", "rb0_add")} == {16}
    assert b.layer("srnet", "rb0_conv1")["out_bits"] == 8 and b.layer("srnet", "conv_sub")["out_bits"] == 8
    for x in (_srnet_input(real_frames, 8, 8, 16, 24),
              np.random.default_rng(0).integers(0, 256, (9, 13, 51)).astype(np.uint8)):
        assert np.array_equal(_torch_srnet(m, x, torch.float64), run_graph(b, "srnet", x))
    with pytest.raises(QuantizerError, match="trunk bit width"):
        QuantSpec(trunk_bits=20)


def test_per_channel_weights_golden_brevitas_qonnx(real_frames, tmp_path):
    """Spec w8a8-f16-pc: one power-of-two weight scale per output channel (bundle w_exps);
    Brevitas == golden (SRNet and FNet's flow head) == the bundle's QONNX on real frames."""
    torch.manual_seed(7)
    m = QuantEGVSR("tiny-anchor", "w8a8-f16-pc").eval()
    with torch.no_grad():   # spread the channels' weight magnitudes over several octaves
        m.srnet.conv_in.weight.mul_(torch.logspace(-2, 1, m.srnet.conv_in.out_channels, base=2)[:, None, None, None])
    b = Bundle(*build_bundle(m))
    assert len(set(b.layer("srnet", "conv_in")["w_exps"])) >= 3
    x = _srnet_input(real_frames, 40, 60, 16, 24)
    g = run_graph(b, "srnet", x)
    assert g.std() > 10 and np.array_equal(_torch_srnet(m, x), g)
    xf = np.concatenate([real_frames[2, :16, :24], real_frames[1, :16, :24]], -1)
    e = b.layer("fnet", "flow_conv2")["out_exp"]
    assert np.array_equal(_torch_fnet_head(m, xf, e), run_graph(b, "fnet", xf, keep=True)["flow_conv2"])
    from egvsr.hls import bundle_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model
    q = cleanup_model(ModelWrapper(bundle_qonnx.srnet_qonnx(b, 16, 24)))
    feed = {q.graph.input[0].name: (x.transpose(2, 0, 1)[None] / 256).astype(np.float32)}
    y = execute_onnx(q, feed)[q.graph.output[0].name][0].transpose(1, 2, 0)
    assert np.array_equal(np.round(y * 256), g)
