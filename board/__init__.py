"""egvsr.board: PYNQ driver for the EGVSR overlay, and a simulated device.

Imports numpy, the standard library, ``egvsr.golden`` and (lazily) pynq
only; the package imports where pynq or torch are absent.

- :class:`egvsr.board.driver.EgvsrAccel` - full EGVSR on a video, SRNet in
  hardware, ``upscale_video`` / ``throughput_test``.
- :class:`egvsr.board.backend.BoardSrnet` - SRNet callable for
  ``golden.network.run_sequence(srnet=...)``.
- :mod:`egvsr.board.overlay` - overlay loading and checks;
  :mod:`egvsr.board.simdevice` - the simulated ``pynq.Device``.
- :mod:`egvsr.board.errors` - the :class:`BoardError` hierarchy.
"""

from .errors import (BoardError, BundleMismatchError, DmaError,
                     DmaTimeoutError, FrameSizeError, NoBoardError,
                     OverlayError)

__all__ = ["BoardError", "NoBoardError", "OverlayError", "BundleMismatchError",
           "FrameSizeError", "DmaTimeoutError", "DmaError", "EgvsrAccel",
           "BoardSrnet", "load_overlay", "on_board"]


def __getattr__(name):  # lazy: keep `import egvsr.board` light
    if name == "EgvsrAccel":
        from .driver import EgvsrAccel
        return EgvsrAccel
    if name == "BoardSrnet":
        from .backend import BoardSrnet
        return BoardSrnet
    if name in ("load_overlay", "on_board"):
        from . import overlay
        return getattr(overlay, name)
    raise AttributeError(f"module 'egvsr.board' has no attribute {name!r}")
