"""The op library (`golden.oplib`), the hardware graph and the planner, per op x mode.

Every op of the bundled default model (`tiny-anchor`) (and of a cheap-tail bundle, for relu
and depth_to_space) runs on real carphone frames in each execution mode it
has: golden (`Op.run` against the graph's geometry and code types), qonnx
(qonnx's executor on the op's own QONNX nodes), csim (the hls4ml core) and
rtlsim (the op's Verilog core under cocotb, random gaps and back-pressure),
all compared with golden bit for bit. A toy op defined in one module
(tests/toy_ops/toy_abs.py + toy_abs.v) runs through validation, golden, the
generated RTL top and its core testbench without any other stage edited.
"""
import importlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from egvsr.golden import Bundle, load_bundle, oplib
from egvsr.golden.bundle import default_bundle_path
from egvsr.golden.graph import run_graph
from egvsr.golden.synth import random_bundle
from egvsr.rtl_tb import sim

TOY_DIR = Path(__file__).resolve().parent / "toy_ops"


def _bundles():
    return {"default": load_bundle(default_bundle_path()),
            "cheap": Bundle(*random_bundle(nf=16, nb=1, tail="cheap", seed=3))}


def _op_layers():
    """(bundle key, net, layer) of the first layer of every op in the bundles."""
    seen, out = set(), []
    for key, b in _bundles().items():
        for net in ("srnet", "fnet"):
            for L in b.layers(net):
                if L["op"] not in seen:
                    seen.add(L["op"])
                    out.append((key, net, L["name"]))
    return out


OP_LAYERS = _op_layers()


def _modes(key, net, name):
    b = _bundles()[key]
    op = oplib.get(b.layer(net, name)["op"])
    modes = ["golden"]
    if op.hls_onnx_ops:
        modes.append("qonnx")
        if op.arity == 1 and op.name in ("conv3x3", "pixel_shuffle"):
            modes.append("csim")
    if op.rtl_module:
        modes.append("rtlsim")
    return modes


CASES = [pytest.param(k, n, l, m, id=f"{oplib.get(_bundles()[k].layer(n, l)['op']).name}-{m}",
                      marks=[pytest.mark.slow] if m == "csim" else [])
         for k, n, l in OP_LAYERS for m in _modes(k, n, l)]


@pytest.fixture(scope="module")
def bundles():
    return _bundles()


def _layer_io(bundle, net, name, frames, h, w):
    """Real inputs (N, h, w, C) of every input of layer `name` and its golden output."""
    from egvsr.golden import srnet_input
    refs = []
    for i in range(2):
        lr, prev = frames[i + 1, :h, :w], frames[i, :h, :w]
        if net == "srnet":
            x = np.asarray(srnet_input(lr, np.repeat(np.repeat(prev, 4, 0), 4, 1)), np.uint8)
        else:
            x = np.concatenate([lr, prev], axis=-1)
        refs.append(run_graph(bundle, net, x, keep=True))
    L = bundle.layer(net, name)
    return [np.stack([r[s] for r in refs]) for s in L["inputs"]], np.stack([r[name] for r in refs])


def test_every_bundle_op_is_registered_with_its_contract(bundles):
    for b in bundles.values():
        for net in ("srnet", "fnet"):
            g = b.graph(net)
            for n in g.nodes:
                assert n.op is oplib.get(n.layer["op"])
                assert len(n.inputs) == n.op.arity
            # the graph's geometry is what golden produces
            shapes = g.shapes(16, 24)
            assert shapes[g.output.name][:2] == tuple(int(v * g.output.scale) for v in (16, 24))
    for op in oplib.registry().values():
        if op.rtl_module:
            from egvsr.rtl import core_sources
            assert all(p.is_file() for p in core_sources(op.rtl_module)), op.name


def test_skip_lags_come_from_the_graph(bundles):
    g = bundles["default"].graph("srnet")
    adds = g.nodes_of("add")
    assert adds, "the default SRNet has residual adds"
    for n in adds:
        k, lag = n.skip
        # the trunk input waits for the two convs of its residual block
        assert lag == 2 and n.inputs[k].depth + 2 == n.inputs[1 - k].depth
    # the anchor's LR RGB waits for every conv of the trunk (conv_in .. conv_sub)
    anchors = g.nodes_of("anchor_add")
    assert len(anchors) == 1 and len(g.nodes_of("conv3x3")) == 6
    k, lag = anchors[0].skip
    assert lag == 6 and anchors[0].inputs[k].depth + 6 == anchors[0].inputs[1 - k].depth


def test_unknown_op_is_refused_with_the_fix(tmp_path, bundles):
    from egvsr.golden import BundleError
    b = bundles["default"]
    man = json.loads(json.dumps(b.manifest))
    man["srnet"]["layers"][1]["op"] = "conv5x5"
    with pytest.raises(BundleError, match="unknown op 'conv5x5'.*EGVSR_OPS"):
        Bundle(man, b.arrays)


@pytest.mark.parametrize("key,net,name,mode", CASES)
def test_op_mode_equals_golden(bundles, real_frames, key, net, name, mode, tmp_path):
    b = bundles[key]
    g = b.graph(net)
    node = g.node(name)
    h, w = (16, 24) if net == "fnet" else (6, 10)
    ins, want = _layer_io(b, net, name, real_frames, h, w)
    if mode == "golden":
        srcs = [_prod(b, net, t.name) for t in node.inputs]
        got = np.stack([node.op.run(b, node.layer, [x[i] for x in ins], srcs) for i in range(len(want))])
        assert got.shape[1:] == g.shapes(h, w)[name]
        lo, hi = _range(node.output)
        assert got.min() >= lo and got.max() <= hi
    elif mode == "qonnx":
        got = _qonnx(b, net, name, ins)
    elif mode == "csim":
        got = _csim(b, name, ins, tmp_path)
    else:
        got = _rtlsim(b, g, node, ins, want, tmp_path)
        if got is None:
            return                     # the testbench compared the beats itself
    np.testing.assert_array_equal(got, want)


def _prod(b, net, tname):
    if tname == "input":
        s = b.manifest[net]["input"]
        return {"channels": s["channels"], "out_bits": s["bits"], "out_signed": bool(s["signed"]),
                "out_exp": s["exp"]}
    return b.layer(net, tname)


def _range(t):
    return (-(1 << (t.bits - 1)), (1 << (t.bits - 1)) - 1) if t.signed else (0, (1 << t.bits) - 1)


def _qonnx(b, net, name, ins):
    pytest.importorskip("qonnx")
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from egvsr.hls.bundle_qonnx import layer_qonnx
    L = b.layer(net, name)
    if len(ins) != 1:
        # a two-input layer: run the whole net up to it is the top's job; check the node alone
        from onnx import TensorProto, helper
        from egvsr.hls.bundle_qonnx import GraphBuilder
        gb = GraphBuilder()
        node_ins = b.graph(net).node(name).inputs
        xs = [gb.quant(f"in{i}", t.exp, t.bits, t.signed, name=f"in{i}") for i, t in enumerate(node_ins)]
        y = oplib.get(L["op"]).hls_qonnx(gb, L, xs, b)
        hw = list(ins[0].shape[1:3])
        vi = [helper.make_tensor_value_info(f"in{i}", TensorProto.FLOAT, [1, t.channels] + hw)
              for i, t in enumerate(node_ins)]
        graph = helper.make_graph(gb.nodes, "op", vi, [helper.make_tensor_value_info(
            y, TensorProto.FLOAT, [1, L["channels"]] + hw)], initializer=gb.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    else:
        model = layer_qonnx(b, name, ins[0].shape[1], ins[0].shape[2], net)
    from qonnx.util.cleanup import cleanup_model
    m = cleanup_model(ModelWrapper(model))
    spec = b.graph(net).node(name)
    outs = []
    for i in range(ins[0].shape[0]):
        feed = {}
        for k, (x, t) in enumerate(zip(ins, spec.inputs)):
            nm = m.graph.input[k].name
            feed[nm] = (x[i].transpose(2, 0, 1)[None].astype(np.float64) * 2.0 ** t.exp).astype(np.float32)
        y = execute_onnx(m, feed)[m.graph.output[0].name][0].transpose(1, 2, 0)
        outs.append(np.rint(y * 2.0 ** -spec.output.exp).astype(np.int64))
    return np.stack(outs)


def _csim(b, name, ins, tmp_path):
    pytest.importorskip("hls4ml")
    from egvsr.hls.cores import build_core
    core = build_core(b, name, ins[0].shape[1], ins[0].shape[2], tmp_path / "prj",
                      "xck26-sfvc784-2LV-c", 3.333, pixels_per_beat=1).compile()
    return core.run(ins[0])


def _rtlsim(b, g, node, ins, want, tmp_path):
    if not sim.available("verilator"):
        pytest.skip("verilator not installed")
    from egvsr.rtl.streams import write_conv_mems
    gen = tmp_path / "gen"
    gen.mkdir()
    # a small folding (few multipliers: a quick Verilator build), more than one of each
    fold = (min(3, node.layer["cin"]), min(2, node.layer["cout"])) \
        if node.op.rtl_multipliers(node, (1, 1)) else None
    env = {"fold": fold, "pixels_per_beat": 1, "max_w": 16, "line_w": 16 * int(node.inputs[0].scale),
           "dim_bits": 8, "out_dir": gen, "bundle": b, "write_conv_mems": write_conv_mems}
    params = node.op.rtl_params(node, env)
    case = {"core": node.op.rtl_module, "params": params, "seed": 5, "gap": 0.3, "bp": 0.3,
            "runs": [[ins[0].shape[1], ins[0].shape[2], ins[0].shape[0]]],
            "scale": int(node.output.scale / node.inputs[0].scale),
            "out_signed": int(node.output.signed)}
    for k, x in enumerate(ins):
        np.save(tmp_path / f"in{k}.npy", x)
    np.save(tmp_path / "want.npy", want)
    case.update(inputs_npy=[str(tmp_path / f"in{k}.npy") for k in range(len(ins))],
                expected_npy=str(tmp_path / "want.npy"))

    def prepare(tdir, c):
        for f in gen.glob("*.mem"):
            shutil.copy(f, tdir / f.name)
        return c
    from egvsr.rtl import core_sources
    bdir = sim.build("verilator", node.op.rtl_module, core_sources(node.op.rtl_module), params)
    rep = sim.run_cocotb("verilator", node.op.rtl_module, bdir, "egvsr.rtl_tb.tb_cores", case,
                         name=f"real_{node.name}", prepare=prepare)
    assert rep["ok"]
    return None


# --------------------------------------------------------------- a toy op
@pytest.fixture
def toy_op(monkeypatch):
    """Register tests/toy_ops/toy_abs.py the way a user would: EGVSR_OPS."""
    monkeypatch.syspath_prepend(str(TOY_DIR))
    monkeypatch.setenv("EGVSR_OPS", "toy_abs")
    monkeypatch.setenv("PYTHONPATH", str(TOY_DIR))
    registry = importlib.import_module("egvsr.golden.oplib.registry")
    registry._PLUGINS_LOADED.discard("toy_abs")
    sys.modules.pop("toy_abs", None)
    yield importlib.import_module("toy_abs")
    oplib.unregister("toy_abs")
    registry._PLUGINS_LOADED.discard("toy_abs")


def _toy_bundle():
    """The nf=4 test SRNet with toy_abs between rb0_conv2 (signed, no activation) and the add."""
    man, arrays = random_bundle(nf=4, nb=1, tail="espcn", seed=7)
    layers = man["srnet"]["layers"]
    i = next(k for k, L in enumerate(layers) if L["name"] == "rb0_conv2")
    src = layers[i]
    assert src["out_signed"] and src["act"] == "none"
    for L in layers[i + 1:]:
        L["inputs"] = ["toy" if s == src["name"] else s for s in L["inputs"]]
    layers.insert(i + 1, {"name": "toy", "op": "toy_abs", "inputs": [src["name"]],
                          "channels": src["channels"], "in_exp": src["out_exp"],
                          "out_exp": src["out_exp"], "out_bits": src["out_bits"], "out_signed": True})
    return man, arrays


def test_toy_op_golden_and_rtl_top(toy_op, real_frames, tmp_path):
    if not sim.available("verilator"):
        pytest.skip("verilator not installed")
    from egvsr.golden import run_srnet, srnet_input
    from egvsr.rtl_tb.backend import RtlSrnet
    man, arrays = _toy_bundle()
    b = Bundle(man, arrays)                       # validates, with the toy op's contract
    lr, prev = real_frames[1, 20:28, 30:42], real_frames[0, 20:28, 30:42]
    x = np.asarray(srnet_input(lr, np.repeat(np.repeat(prev, 4, 0), 4, 1)), np.uint8)
    t = run_graph(b, "srnet", x, keep=True)
    assert (t["toy"] == np.minimum(np.abs(t["rb0_conv2"].astype(int)), 127)).all()
    assert (t["rb0_conv2"] < 0).any(), "the crop must exercise negative codes"
    got = RtlSrnet(b, simulator="verilator", workdir=tmp_path)(x)  # the default folded board: a quick build
    np.testing.assert_array_equal(got, run_srnet(b, x))
    top = (tmp_path / "w16" / "srnet_top.v").read_text()
    assert "toy_abs #(" in top and "u_toy (" in top


def test_toy_core_testbench(toy_op):
    if not sim.available("verilator"):
        pytest.skip("verilator not installed")
    from egvsr.rtl_tb import cases
    case = {"core": "toy_abs", "params": {"N": 3, "BITS": 8, "SIGNED": 1}, "seed": 3,
            "runs": [[3, 5, 2], [1, 1, 1]], "gap": 0.3, "bp": 0.4}
    rep = cases.run_case("verilator", case, name="toy")
    assert rep["ok"] and len(rep["runs"]) == 2
