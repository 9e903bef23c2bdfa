"""Where the bundled default models live (package data, no torch needed)."""
from __future__ import annotations

from pathlib import Path

PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"
DEFAULT_FLOAT = PRETRAINED / "tiny_float.pth"
DEFAULT_QAT = PRETRAINED / "tiny_w8a8.pth"
DEFAULT_BUNDLE = PRETRAINED / "tiny_w8a8.json"
