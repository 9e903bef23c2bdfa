"""Bad inputs to training, the HLS build, the RTL regression and the board driver:
each one is refused up front with a message naming the option and the fix, and
leaves nothing behind (docs/bad_inputs.md lists the whole catalogue)."""
import json
import shutil

import numpy as np
import pytest

from egvsr.flow.cli import main


@pytest.mark.parametrize("cmd,opt,val,msg", [
    ("train", "--iterations", "0", "--iterations 0: must be at least 1"),
    ("train", "--lr-size", "4", "--lr-size 4: must be at least 8"),
    ("train", "--lr", "nan", "--lr nan: must be a finite number > 0"),
    ("qat", "--batch", "0", "--batch 0: must be at least 1"),
    ("qat", "--iterations", "-5", "--iterations -5: must be at least 1"),
    ("qat", "--seq-len", "1", "--seq-len 1: must be at least 2"),
])
def test_training_options_checked_before_anything(tmp_path, capsys, cmd, opt, val, msg):
    pytest.importorskip("torch")
    out = tmp_path / "run"
    assert main([cmd, opt, val, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("fields,msg", [
    ({"scale": 0}, "scale 0 is not 4"),
    ({"nf": "16"}, "nf must be an integer, got '16'"),
    ({"nb": 2.5}, "nb must be an integer"),
    ({"leaky_slope": "x"}, "leaky_slope must be a number"),
])
def test_recorded_preset_with_bad_fields(fields, msg):
    from egvsr.model.presets import get_preset
    with pytest.raises(ValueError, match=msg):
        get_preset({"name": "tiny", **fields})
    with pytest.raises(ValueError, match=msg):
        get_preset({"name": "custom", "nf": 16, "nb": 2, "tail": "espcn", **fields})


def test_hls_without_gpp_is_refused_before_writing(tmp_path, monkeypatch):
    pytest.importorskip("hls4ml")
    from egvsr.hls.build import ConfigError, run
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "g++" else real(name, *a, **k))
    with pytest.raises(ConfigError, match="g\\+\\+ is not on PATH.*nothing was written"):
        run({"out_dir": str(tmp_path / "hls"), "qonnx": None, "qonnx_from": None})
    assert not (tmp_path / "hls").exists()


@pytest.mark.parametrize("key,val,msg", [
    ("dsp_budget_fraction", "abc", "dsp_budget_fraction must be a number in \\(0, 1\\], got 'abc'"),
    ("dsp_budget_fraction", 1.5, "dsp_budget_fraction must be a number in \\(0, 1\\]"),
    ("target_fps", float("nan"), "target_fps must be a positive number"),
    ("csim", {"frames": 0}, "csim.frames must be an integer >= 1"),
    ("fifo_margin", 0, "fifo_margin must be an integer >= 1 \\(stream FIFO words\\), got 0"),
    ("fifo_chain_depth", 2.5, "fifo_chain_depth must be an integer >= 1"),
    ("fifo_chain_depth", 128, "fifo_chain_depth = 128: from 128 words every straight stream becomes block RAM"),
])
def test_hls_config_values_named(key, val, msg):
    pytest.importorskip("hls4ml")
    from egvsr.hls.build import ConfigError, load_config
    with pytest.raises(ConfigError, match=msg):
        load_config({key: val})


def test_sim_refuses_a_tampered_bundle_before_simulating(tmp_path, capsys):
    from egvsr.golden import write_bundle
    from egvsr.golden.synth import random_bundle
    p = write_bundle(tmp_path / "b", *random_bundle(nf=4, nb=1, seed=1))
    man = json.loads(p.read_text())
    man["srnet"]["layers"][0]["out_exp"] = 99
    p.write_text(json.dumps(man))
    out = tmp_path / "rtl.json"
    assert main(["sim", "--bundle", str(p), "--out", str(out), "--quick"]) == 2
    err = capsys.readouterr().err
    assert "egvsr sim: error:" in err and "in_exp" in err
    assert not out.exists()


# ---------------------------------------------------------------- the board driver
@pytest.fixture(scope="module")
def bundle():
    from egvsr.golden import Bundle
    from egvsr.golden.synth import random_bundle
    return Bundle(*random_bundle(nf=4, nb=1, seed=0))


@pytest.mark.parametrize("timeout", [float("nan"), 0, -1.0, float("inf"), "soon"])
def test_board_timeout_must_be_finite_and_positive(bundle, timeout):
    pytest.importorskip("pynq")
    from egvsr.board.driver import EgvsrAccel
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0"):
        EgvsrAccel(bundle, simulate=True, timeout=timeout)


def test_board_throughput_test_needs_frames(bundle):
    pytest.importorskip("pynq")
    from egvsr.board.driver import EgvsrAccel
    with EgvsrAccel(bundle, simulate=True) as acc:
        for n in (0, -2, 1.5):
            with pytest.raises(ValueError, match="n_frames must be an integer >= 1"):
                acc.throughput_test(n_frames=n, lr_size=(16, 16))


@pytest.mark.parametrize("bad_at", [1, 3])
def test_board_mixed_frame_sizes_name_the_frame(bundle, bad_at):
    pytest.importorskip("pynq")
    from egvsr.board.driver import EgvsrAccel
    frames = [np.zeros((16, 16, 3), np.uint8) for _ in range(5)]
    frames[bad_at] = np.zeros((16, 24, 3), np.uint8)
    with EgvsrAccel(bundle, simulate=True) as acc:
        with pytest.raises(ValueError, match=f"frame {bad_at}: .*like frame 0"):
            list(acc.iter_video(frames))
