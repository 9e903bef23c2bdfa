"""The bundled torch checkpoints (package data; importing this needs no torch).

The directory and the default integer bundle are defined once in
`egvsr.golden.bundle` (`PRETRAINED`, `default_bundle_path()`).
"""
from __future__ import annotations

from egvsr.golden.bundle import PRETRAINED

__all__ = ["PRETRAINED", "DEFAULT_FLOAT", "DEFAULT_QAT", "BUNDLED_MODELS"]

#: the default model (bundle: `egvsr.golden.bundle.default_bundle_path()`): ``tiny-anchor``
DEFAULT_FLOAT = PRETRAINED / "tiny_anchor_float.pth"
DEFAULT_QAT = PRETRAINED / "tiny_anchor_w8a8.pth"

#: every bundled model: name -> (float checkpoint, QAT checkpoint, W8A8 bundle), paths in PRETRAINED
BUNDLED_MODELS = {
    "tiny": tuple(PRETRAINED / f for f in ("tiny_float.pth", "tiny_w8a8.pth", "tiny_w8a8.json")),
    "tiny-anchor": (DEFAULT_FLOAT, DEFAULT_QAT, PRETRAINED / "tiny_anchor_w8a8.json"),
    "small-anchor": tuple(PRETRAINED / f for f in ("small_anchor_float.pth", "small_anchor_w8a8.pth",
                                                   "small_anchor_w8a8.json")),
}
