"""Bad HLS build configs fail early with clear messages and leave no project behind."""
import json

import pytest

pytest.importorskip("hls4ml")

from egvsr.golden.synth import write_random_bundle  # noqa: E402
from egvsr.hls import build as hls_build  # noqa: E402
from egvsr.hls.convert import QonnxMismatch  # noqa: E402


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    return write_random_bundle(tmp_path_factory.mktemp("hls_bundle") / "tiny", seed=2)


def _cfg(bundle_path, tmp_path, **kw):
    preset = json.loads(open(bundle_path).read())["preset"]
    cfg = {"bundle": str(bundle_path), "preset": preset, "out_dir": str(tmp_path / "out"), "name": "t"}
    cfg.update(kw)
    return cfg


def _nothing_written(tmp_path):
    out = tmp_path / "out"
    return not out.exists() or not any(out.iterdir())


def test_default_config_parses():
    cfg = hls_build.load_config(hls_build.DEFAULT_CONFIG)
    assert cfg["board"] == "kv260" and (cfg["lr_width"], cfg["lr_height"]) == (960, 540)
    assert cfg["target_fps"] == 60 and cfg["preset"] == "tiny-anchor"


def test_unknown_board(bundle_path, tmp_path):
    with pytest.raises(hls_build.ConfigError, match=r"unknown board 'zynq-9000'.*kv260"):
        hls_build.run(_cfg(bundle_path, tmp_path, board="zynq-9000"), progress=None)
    assert _nothing_written(tmp_path)


@pytest.mark.parametrize("kw,msg", [({"lr_width": 4}, "lr_width"), ({"lr_height": 100000}, "lr_height"),
                                    ({"lr_width": "960"}, "lr_width"), ({"pixels_per_beat": 3}, "pixels_per_beat"),
                                    ({"csim": {"crop": [4, 4]}}, "crop"), ({"colour": 1}, "unknown key")])
def test_bad_sizes_and_keys(bundle_path, tmp_path, kw, msg):
    with pytest.raises(hls_build.ConfigError, match=msg):
        hls_build.run(_cfg(bundle_path, tmp_path, **kw), progress=None)
    assert _nothing_written(tmp_path)


def test_preset_and_missing_bundle(bundle_path, tmp_path):
    with pytest.raises(hls_build.ConfigError, match="preset"):
        hls_build.run(_cfg(bundle_path, tmp_path, preset="paper"), progress=None)
    with pytest.raises(hls_build.ConfigError, match="not found"):
        hls_build.run(_cfg(bundle_path, tmp_path, bundle=str(tmp_path / "nope.json")), progress=None)
    assert _nothing_written(tmp_path)


def test_bundle_qonnx_mismatch(bundle_path, tmp_path):
    import onnx

    from egvsr.golden.bundle import Bundle
    from egvsr.golden.synth import random_bundle
    from egvsr.hls.bundle_qonnx import srnet_qonnx
    other = Bundle(*random_bundle(seed=7))  # same architecture, other weights
    q = tmp_path / "other.onnx"
    onnx.save(srnet_qonnx(other, 7, 11), str(q))
    with pytest.raises(QonnxMismatch, match="bundle/QONNX mismatch"):
        hls_build.run(_cfg(bundle_path, tmp_path, qonnx=str(q)), progress=None)
    assert _nothing_written(tmp_path)
    deeper = Bundle(*random_bundle(nb=3, seed=2))
    onnx.save(srnet_qonnx(deeper, 7, 11), str(q))
    with pytest.raises(QonnxMismatch, match="bundle/QONNX mismatch"):
        hls_build.run(_cfg(bundle_path, tmp_path, qonnx=str(q)), progress=None)
    assert _nothing_written(tmp_path)


def test_failure_midway_leaves_no_partial_project(bundle_path, tmp_path, monkeypatch):
    from egvsr.hls import cores
    real = cores.build_core
    calls = []

    def flaky(*a, **k):
        calls.append(a[1])
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(cores, "build_core", flaky)
    with pytest.raises(RuntimeError, match="disk full"):
        hls_build.run(_cfg(bundle_path, tmp_path), progress=None)
    assert _nothing_written(tmp_path)


def test_synth_without_vitis_says_so(bundle_path, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    lines = []
    rep = hls_build.run(_cfg(bundle_path, tmp_path), synth=True, progress=lines.append)
    assert rep["ok"] is False and len(lines) == 1 and "vitis_hls" in lines[0]
    assert _nothing_written(tmp_path)
