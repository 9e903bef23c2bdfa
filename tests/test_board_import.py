"""egvsr.board imports and degrades clearly where torch and pynq are absent."""

import subprocess
import sys

import numpy as np
import pytest

from egvsr.board import meta as bmeta
from egvsr.board.streams import frame_view, input_words, pack_step, s2d_view
from egvsr.golden import network

_BLOCK = r"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in ('torch', 'pynq', 'brevitas', 'qonnx'):
            raise ImportError('blocked ' + name)
sys.meta_path.insert(0, Block())
import egvsr.board as b
from egvsr.board import backend, driver, overlay, simdevice, streams, meta, dmastream
assert b.EgvsrAccel and b.BoardSrnet
assert not overlay.on_board()
try:
    overlay.load_overlay('x.bit', simulate=True)
except b.NoBoardError as e:
    print('NoBoardError', e)
assert 'torch' not in sys.modules and 'pynq' not in sys.modules
print('ok')
"""


def test_imports_without_torch_or_pynq():
    r = subprocess.run([sys.executable, "-c", _BLOCK], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "NoBoardError" in r.stdout and r.stdout.strip().endswith("ok")


def test_pack_matches_golden_srnet_input():
    rng = np.random.default_rng(0)
    lr = rng.integers(0, 256, (5, 7, 3), np.uint8)
    hr = rng.integers(0, 256, (20, 28, 3), np.uint8)
    buf = np.zeros((5, 7, 56), np.uint8)
    pack_step(buf, lr, hr)
    np.testing.assert_array_equal(buf[..., :51], network.srnet_input(lr, hr))
    assert not buf[..., 51:].any()
    assert np.shares_memory(s2d_view(buf), buf)
    assert input_words(buf).shape == (5 * 7 * 7,)  # 7 x 64-bit beats per pixel
    out = np.zeros((20, 28, 4), np.uint8)
    assert np.shares_memory(frame_view(out), out)


def test_meta_roundtrip(tmp_path):
    m = bmeta.make_meta("0f" * 32, 540, 960, board="zcu104")
    assert m["stream"]["in_bytes_per_pixel"] == 56
    assert m["stream"]["out_pixels_per_beat"] == 2
    assert bmeta.stream_layout(128)["in_bytes_per_pixel"] == 64
    p = bmeta.write_meta(tmp_path / "egvsr.bit", m)
    assert p.endswith("egvsr.egvsr.json")
    assert bmeta.read_meta(tmp_path / "egvsr.bit") == m
    assert bmeta.id_words("0f" * 32) == (0x0F0F0F0F, 0x0F0F0F0F)


def test_board_extra_accepts_the_board_images_pynq():
    """`egvsr[board]` must not replace the pynq a PYNQ image ships (3.0.1 .. 4.x)."""
    import re
    from pathlib import Path
    try:
        import tomllib
    except ImportError:  # Python 3.10
        pytest.importorskip("tomli")
        import tomli as tomllib
    from packaging.specifiers import SpecifierSet
    py = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    (req,) = [r for r in py["project"]["optional-dependencies"]["board"] if r.startswith("pynq")]
    spec = SpecifierSet(re.sub(r"^pynq", "", req))
    assert "==" not in req
    for image in ("3.0.1", "3.1.0", "3.1.2", "4.0.0"):
        assert image in spec, (req, image)
    assert "2.7.0" not in spec and "5.0.0" not in spec
