"""`egvsr bench`: opt-in suites stay out of `make bench`; the skip comparison reuses finished runs."""
import json
from pathlib import Path

from egvsr.flow import bench, skip_compare


def test_opt_in_suites_run_only_when_named(monkeypatch, tmp_path):
    ran = []
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    monkeypatch.setattr(bench, "SUITES", {n: (lambda out, n=n: ran.append(n) or 0) for n in ("a", "skip")})
    assert bench.main() == 0 and ran == ["a"]
    assert bench.main("skip") == 0 and ran == ["a", "skip"]
    assert bench.main("nope") == 2


def test_skip_compare_reuses_finished_steps(monkeypatch, tmp_path):
    """Only missing steps run; a float-only form gets no QAT, export or quantized columns."""
    monkeypatch.setattr(skip_compare, "ROOT", tmp_path)
    (tmp_path / "stills" / "val_rocket").mkdir(parents=True)
    for f in ("anchor", "bicubic"):
        (tmp_path / f / "train").mkdir(parents=True)
        (tmp_path / f / "train" / "best.pth").write_bytes(b"x")
        (tmp_path / f / "train" / "summary.json").write_text(json.dumps({"iterations": 7}))
    calls = []
    clip = {"clip": "carphone", "float": {"psnr_y": 1.0}, "quant": {"psnr_y": 0.9}, "colour_bias": {},
            "quant_minus_float_db": -0.1, "colour_flag": False}

    class R:
        stdout = json.dumps({"clips": [clip], "mean": {"float": 1, "quant": 0.9}, "colour_flagged": []})

    def fake_cli(*args, log=None):
        calls.append(args[0])
        if args[0] == "qat":
            calls.append((str(args[args.index("--from") + 1]), args[args.index("--quant") + 1],
                          args[args.index("--iterations") + 1]))
        if args[0] == "export":
            stem = args[args.index("-o") + 1]
            stem.parent.mkdir(parents=True, exist_ok=True)
            stem.with_suffix(".json").write_text("{}")
        return R(), 0.5
    monkeypatch.setattr(skip_compare, "_cli", fake_cli)
    monkeypatch.setattr(skip_compare, "hardware_cost", lambda bundle: {"bundle": Path(bundle).name})
    out = tmp_path / "skip.json"
    assert skip_compare.run(out, forms=("anchor", "anchor-f16", "anchor-f16-pc", "bicubic")) == 0
    # no training (the best.pth exist; the anchor-f16 forms reuse anchor's float run), QAT with
    # each spec: the time-limited forms up to 100000 iterations, the quantizer options 1,055
    anchor_best = str(tmp_path / "anchor" / "train" / "best.pth")
    assert calls == ["qat", (anchor_best, "w8a8", 100000), "export", "eval",
                     "qat", (anchor_best, "w8a8-f16", 100000), "export", "eval",
                     "qat", (anchor_best, "w8a8-f16-pc", 1055), "export", "eval", "eval"]
    res = json.loads(out.read_text())
    assert res["forms"]["anchor-f16-pc"]["hardware"] == {"bundle": "tiny_anchor_w8a8_f16_pc.json"}
    assert "hardware" not in res["forms"]["bicubic"]
    assert res["forms"]["anchor"]["train"] == {"iterations": 7}
    assert "quant" in res["forms"]["anchor"]["eval"]["clips"][0]
    assert res["forms"]["anchor-f16"]["float_run"] == "anchor" and res["forms"]["anchor-f16"]["quant"] == "w8a8-f16"
    assert "quant" not in res["forms"]["bicubic"]["eval"]["clips"][0]
    assert "quant" not in res["forms"]["bicubic"]["eval"]["mean"]


def test_skip_compare_hardware_cost_is_the_planners_estimate():
    """Each form's fabric cost: the planner's kv260 RTL plan at 960x540, labelled an estimate."""
    from egvsr.golden.bundle import default_bundle_path, load_bundle
    from egvsr.plan.planner import make_plan
    hw = skip_compare.hardware_cost(default_bundle_path())
    p = make_plan(load_bundle(default_bundle_path()), "kv260", "rtl", 960, 540, fps=30)
    assert hw["estimate"].startswith("plan.make_plan") and hw["board"] == "kv260" and hw["target_fps"] == 30
    assert (hw["fps"], hw["dsp"], hw["bram36"], hw["lut"]) == (p["fps"], p["dsp"], p["bram36"], p["lut"])
    assert hw["fps"] > 0 and hw["dsp"] > 0


def test_quality_suite_judges_each_bundled_model_on_the_heldout_clips_present(monkeypatch, tmp_path):
    import subprocess
    import types

    from egvsr.flow.quality_sets import HELDOUT, heldout_present
    from egvsr.model.pretrained import BUNDLED_MODELS
    (tmp_path / "vid4" / "walk").mkdir(parents=True)
    (tmp_path / "sam2").mkdir()
    (tmp_path / "sam2" / "bedroom.mp4").write_bytes(b"")
    monkeypatch.setenv("EGVSR_DATA", str(tmp_path))
    found, missing = heldout_present()
    assert sorted(found) == ["bedroom", "walk"] and sorted(missing) == ["calendar", "city", "foliage"]
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        clips = cmd[cmd.index("eval") + 1:cmd.index("--compare")]
        names = [Path(c).stem if "/" in c else c for c in clips]
        clips = [{"clip": n, "bicubic": {"psnr_y": 30.0}, "float": {"psnr_y": 31.0 + i}, "quant": {"psnr_y": 30.5 + i},
                  "quant_minus_float_db": -0.5, "colour_bias": {"max_abs": 0.1 * i}} for i, n in enumerate(names)]
        return types.SimpleNamespace(returncode=0, stderr="", stdout=json.dumps({"clips": clips}))
    monkeypatch.setattr(subprocess, "run", fake_run)
    assert bench._quality(tmp_path / "q.json") == 0
    res = json.loads((tmp_path / "q.json").read_text())
    assert set(res["models"]) == set(BUNDLED_MODELS)
    assert len(calls) == len(res["models"]) >= 1
    for ev in res["models"].values():
        by = {c["clip"]: c for c in ev["clips"]}
        assert by["walk"]["heldout"] and by["bedroom"]["heldout"] and not by["walk"]["trained_on"]
        assert by["bikes"]["trained_on"] and not by["bikes"]["heldout"] and not by["carphone"]["trained_on"]
        hm = ev["heldout_mean"]  # bedroom and walk are the 4th and 5th clips (i = 3, 4)
        assert hm["clips"] == 2 and hm["float"] == 34.5 and hm["quant"] == 34.0 and hm["bicubic"] == 30.0
        assert abs(hm["max_colour_bias"] - 0.4) < 1e-12 and hm["quant_minus_float_db"] == -0.5
    assert res["heldout_missing"] == missing and set(res["heldout_sources"]) == set(HELDOUT)


def test_pretrained_suite_reads_each_bundled_models_record(tmp_path):
    assert bench._pretrained(tmp_path / "p.json") == 0
    res = json.loads((tmp_path / "p.json").read_text())
    tiny = res["models"]["tiny"]
    assert tiny["bundle"]["preset"] == tiny["float"]["preset"]["name"] == "tiny"
    assert tiny["qat"]["quant"] and tiny["qat"]["selected_iteration"] > 0 and len(tiny["bundle"]["sha256"]) == 64
    for rec in res["models"].values():
        assert rec["qat"]["val"]["psnr_y"] > rec["qat"]["val"]["bicubic_psnr_y"]
