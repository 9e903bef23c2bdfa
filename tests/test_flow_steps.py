"""`egvsr build`: the flow as named steps over one build folder (plan.json a user can edit)."""
import json
import shutil

import pytest

from egvsr.flow.cli import main
from egvsr.rtl_tb import sim


def _build(tmp_path, *steps, extra=()):
    return main(["build", "--impl", "rtl", "--board", "pynq-z2", "--lr", "64x48",
                 "--out", str(tmp_path / "b"), "--steps", ",".join(steps), *extra])


def test_plan_step_records_bundle_and_inputs(tmp_path):
    from egvsr.golden import load_bundle
    from egvsr.golden.bundle import default_bundle_path
    assert _build(tmp_path, "plan") == 0
    plan = json.loads((tmp_path / "b" / "plan.json").read_text())
    rec = json.loads((tmp_path / "b" / "steps" / "plan.json").read_text())
    sha = load_bundle(default_bundle_path()).sha256
    assert plan["bundle_sha256"] == rec["bundle_sha256"] == sha
    assert rec["inputs"]["bundle"]["sha256"] and rec["lr"] == [64, 48]
    assert plan["impl"] == "rtl" and plan["lr"] == [64, 48] and plan["board"] == "pynq-z2"
    convs = [k for k, v in plan["folding"].items() if isinstance(v, list)]
    assert convs and all(plan["layers"][k]["dsp"] == 9 * v[0] * v[1]
                         for k, v in plan["folding"].items() if isinstance(v, list))


@pytest.mark.skipif(not sim.available("verilator"), reason="verilator not installed")
def test_edited_plan_is_built_and_verified(tmp_path):
    assert _build(tmp_path, "plan") == 0
    p = tmp_path / "b" / "plan.json"
    plan = json.loads(p.read_text())
    plan["folding"]["conv_sub"] = [2, 3]          # a user's own folding for one layer
    p.write_text(json.dumps(plan))
    assert _build(tmp_path, "rtl", "verify") == 0
    meta = json.loads((tmp_path / "b" / "rtl" / "manifest.json").read_text())
    assert meta["parallelism"]["conv_sub"] == [2, 3]
    rec = json.loads((tmp_path / "b" / "steps" / "verify.json").read_text())
    assert rec["ok"] and all(v["bit_exact"] for v in rec["verdicts"]) and len(rec["verdicts"]) == 2
    assert rec["inputs"]["rtl_manifest"]["sha256"]


def test_bad_folding_is_refused_and_writes_nothing(tmp_path, capsys):
    assert _build(tmp_path, "plan") == 0
    p = tmp_path / "b" / "plan.json"
    plan = json.loads(p.read_text())
    plan["folding"]["conv_in"] = [99, 1]          # conv_in has 51 input channels
    p.write_text(json.dumps(plan))
    assert _build(tmp_path, "rtl") == 2
    err = capsys.readouterr().err
    assert "conv_in" in err and "(99, 1)" in err and "plan.json" in err
    assert not (tmp_path / "b" / "rtl").exists()


def test_plan_of_another_bundle_is_refused(tmp_path, capsys):
    from egvsr.golden import write_bundle
    from egvsr.golden.synth import random_bundle
    assert _build(tmp_path, "plan") == 0
    other = write_bundle(tmp_path / "other", *random_bundle(nf=4, nb=1, seed=2))
    assert _build(tmp_path, "rtl", extra=("--bundle", str(other))) == 2
    assert "planned for bundle" in capsys.readouterr().err


def test_steps_need_their_inputs(tmp_path, capsys, monkeypatch):
    assert _build(tmp_path, "rtl") == 2
    assert "run the plan step first" in capsys.readouterr().err
    assert _build(tmp_path, "verify") == 2
    assert "run the rtl step first" in capsys.readouterr().err
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert _build(tmp_path, "bitstream") == 2
    assert "vivado is not on PATH" in capsys.readouterr().err
    assert _build(tmp_path, "synthesis") == 2
    assert "unknown step" in capsys.readouterr().err


def test_hls_build_of_another_bundle_uses_the_bundle_not_the_configs_qonnx(tmp_path, capsys):
    from egvsr.flow.steps import Build, step_export
    from egvsr.golden.bundle import default_bundle_path
    from egvsr.golden.synth import write_random_bundle
    from egvsr.hls.build import DEFAULT_CONFIG, load_config
    other = write_random_bundle(tmp_path / "anchor", skip="anchor", own_add_exps=True, seed=3)
    msgs = []
    b = Build("hls", bundle=str(other), out=str(tmp_path / "b"), progress=msgs.append)
    cfg_preset = load_config(DEFAULT_CONFIG)["preset"]
    assert b.bundle.manifest["preset"] != cfg_preset and b.bundle_path == other.resolve()
    # named after the bundle file and board, not the config's name (another bundle's folder)
    assert b.name == f"{other.stem}-kv260" != load_config(DEFAULT_CONFIG)["name"]
    assert b.cfg["_qonnx_path"] is None and b.cfg["_qonnx_from"] is None and b.cfg["preset"] is None
    assert "generated from the bundle (no QONNX export)" in msgs[0]
    assert "nothing to export" in step_export(b)["note"]
    # the config's own bundle keeps the config's QONNX export
    d = Build("hls", bundle=str(default_bundle_path()), out=str(tmp_path / "d"), progress=msgs.append)
    assert d.cfg["_qonnx_from"] is not None and d.cfg["preset"] == cfg_preset and len(msgs) == 1
    assert d.name == load_config(DEFAULT_CONFIG)["name"]
