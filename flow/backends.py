"""Backends: the level that runs the network for ``egvsr upscale`` / ``eval``.

Every backend maps an iterable of uint8 LR frames (H, W, 3) to an iterator of
uint8 HR frames (4H, 4W, 3), one at a time: only the first frames of the
temporal padding are buffered, so memory does not grow with the clip.
``torch`` runs the float model. The integer backends share the bit-exact
contract of ``golden/``: ``brevitas`` runs the QAT model in torch,
``golden`` runs the bundle in numpy, and ``hls``, ``rtl``, ``board`` and
``board-sim`` run SRNet through the C simulation, the RTL simulation, the
board or the simulated board while the rest of the step runs through golden.
``board`` without a board is an error (``board-sim`` simulates it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from egvsr.golden.bundle import default_bundle_path
from egvsr.model.pretrained import DEFAULT_FLOAT, DEFAULT_QAT

FLOAT_BACKENDS = ("torch",)
INT_BACKENDS = ("brevitas", "golden", "hls", "rtl", "board", "board-sim")
BACKENDS = FLOAT_BACKENDS + INT_BACKENDS


class BackendError(RuntimeError):
    pass


def _with_progress(frames, progress):
    """Pass frames through, calling ``progress()`` after each one."""
    for out in frames:
        if progress:
            progress()
        yield out


class Backend:
    name = "?"
    description = ""

    def run(self, frames, progress: Callable | None = None) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def close(self):
        pass


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, checkpoint=None, preset=None, device="auto"):
        import torch

        from egvsr.model.checkpoint import load_model
        ckpt = Path(checkpoint) if checkpoint else DEFAULT_FLOAT
        self.model = load_model(ckpt, preset)
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if device == "auto" else device))
        self.model.to(self.device)
        self.description = f"float {self.model.preset.name} from {ckpt}"

    def run(self, frames, progress=None):
        return _with_progress(self.model.infer_frames(frames, device=self.device), progress)


class BrevitasBackend(Backend):
    name = "brevitas"

    def __init__(self, checkpoint=None, preset=None):
        from egvsr.quant.checkpoint import load_qmodel
        ckpt = Path(checkpoint) if checkpoint else DEFAULT_QAT
        self.model = load_qmodel(ckpt, preset).double()  # float64: exact for every preset
        self.description = f"quantized {self.model.preset.name} (Brevitas) from {ckpt}"

    def run(self, frames, progress=None):
        return _with_progress(self.model.infer_frames(frames), progress)


class GoldenBackend(Backend):
    """Golden numpy model; ``srnet`` replaces the SRNet part (hls, rtl, board)."""
    name = "golden"

    def __init__(self, bundle=None, srnet_factory: Callable | None = None, name=None):
        from egvsr.golden.bundle import load_bundle
        path = Path(bundle) if bundle else default_bundle_path()
        self.bundle = load_bundle(path)
        self.srnet = srnet_factory(self.bundle) if srnet_factory else None
        if name:
            self.name = name
        self.description = f"bundle {path} ({self.bundle.manifest.get('preset')}), SRNet via {self.name}"

    def run(self, frames, progress=None):
        from egvsr.golden.network import iter_sequence
        return _with_progress(iter_sequence(self.bundle, frames, srnet=self.srnet), progress)

    def close(self):
        if self.srnet is not None and hasattr(self.srnet, "close"):
            self.srnet.close()


def _hls_factory(bundle):
    from egvsr.hls.backend import HlsSrnet
    return HlsSrnet(bundle)


def _rtl_factory(bundle):
    from egvsr.rtl_tb.backend import RtlSrnet
    return RtlSrnet(bundle)


def _board_factory(name):
    def make(bundle):
        from egvsr.board.backend import make_backend
        return make_backend(bundle, name)
    return make


def open_backend(name: str, checkpoint=None, preset=None, bundle=None) -> Backend:
    """A backend by name; ``checkpoint`` for torch/brevitas, ``bundle`` for the rest."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "torch":
        return TorchBackend(checkpoint, preset)
    if name == "brevitas":
        return BrevitasBackend(checkpoint, preset)
    if bundle is None and checkpoint is not None:
        if str(checkpoint).endswith((".json", ".npz")):
            bundle = checkpoint
        else:
            raise BackendError(f"--backend {name} runs an integer bundle (.json), not the checkpoint {checkpoint}; "
                               "make one with 'egvsr export' or pass --bundle")
    if name == "board":
        from egvsr.board.overlay import on_board
        if not on_board():
            raise BackendError("--backend board needs a PYNQ board with an FPGA, and none was found "
                               "(no pynq target, no XRT device); use --backend board-sim for the "
                               "simulated device")
    factory = {"golden": None, "hls": _hls_factory, "rtl": _rtl_factory,
               "board": _board_factory("board"), "board-sim": _board_factory("board-sim")}[name]
    return GoldenBackend(bundle, factory, name=name)
