"""SRNet through the hls4ml C simulation, for ``egvsr eval/upscale --backend hls``.

`HlsSrnet(bundle_or_qonnx)` is a callable ``x (H, W, C) uint8 -> (sH, sW, 3)
uint8`` (C and s from the net's hardware graph: 51 channels, x4 for SRNet).
hls4ml projects have a fixed frame size, so one SRNet-top project
is generated and g++-compiled per input size the first time it is seen
(about 10-20 s) and reused for every later frame of that size.
"""
from __future__ import annotations

import fcntl
import hashlib
import tempfile
from pathlib import Path

import numpy as np

from egvsr.board.boards import get_board
from .build import REPO_ROOT
from .cores import NET, TOP, build_core

__all__ = ["HlsSrnet"]


class HlsSrnet:
    """Callable SRNet running in the compiled C simulation of the SRNet top.

    `bundle_or_qonnx`: a `Bundle`, a bundle path, or ``(bundle, qonnx_path)``
    (the QONNX from `quant.export.export_qonnx_srnet`, checked against the bundle).
    """

    def __init__(self, bundle_or_qonnx, workdir=None, board: str = "kv260", pixels_per_beat: int = 4,
                 reuse: dict | None = None):
        from egvsr.golden.bundle import Bundle, load_bundle

        qonnx = None
        if isinstance(bundle_or_qonnx, tuple):
            bundle_or_qonnx, qonnx = bundle_or_qonnx
        if isinstance(bundle_or_qonnx, Bundle):
            self.bundle = bundle_or_qonnx
        else:
            self.bundle = load_bundle(bundle_or_qonnx)
        self.qonnx = qonnx
        self.board = get_board(board)
        self.pixels_per_beat = pixels_per_beat
        self.reuse = reuse or {}
        tag = hashlib.sha256((self.bundle.sha256 + str(qonnx)).encode()).hexdigest()[:12]
        if workdir is None:
            base = REPO_ROOT / "build" / "hls" / "_backend"
            try:
                base.mkdir(parents=True, exist_ok=True)
            except OSError:
                base = Path(tempfile.mkdtemp(prefix="egvsr_hls_"))
            workdir = base
        self.workdir = Path(workdir) / tag
        self._cores = {}

    def core(self, H: int, W: int):
        key = (int(H), int(W))
        if key not in self._cores:
            out = self.workdir / f"{TOP}_{H}x{W}"
            out.parent.mkdir(parents=True, exist_ok=True)
            # the project is rewritten each time: another process (pytest -n, a second shell) using
            # the same default workdir waits until this one's library is compiled and loaded
            with open(out.parent / f".{out.name}.lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                c = build_core(self.bundle, TOP, H, W, out, self.board.part,
                               self.board.clock_period_ns, reuse=self.reuse, pixels_per_beat=self.pixels_per_beat,
                               qonnx=self.qonnx)
                self._cores[key] = c.compile()
        return self._cores[key]

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x)
        c = self.bundle.graph(NET).input.channels
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != c:
            raise ValueError(f"SRNet input must be uint8 (H, W, {c}), got {x.dtype} {x.shape}")
        y = self.core(*x.shape[:2]).run(x)
        if y.min() < 0 or y.max() > 255:
            raise AssertionError("C-sim output outside the uint8 code range")
        return y.astype(np.uint8)
