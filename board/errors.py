"""Errors raised by :mod:`egvsr.board`.

Every failure the driver can diagnose raises a subclass of :class:`BoardError`
with a message that says what was expected, what was found and what to do.
"""

__all__ = [
    "BoardError", "NoBoardError", "OverlayError", "BundleMismatchError",
    "FrameSizeError", "DmaTimeoutError", "DmaError",
]


class BoardError(RuntimeError):
    """Base class of every error raised by the board driver."""


class NoBoardError(BoardError):
    """pynq is missing or no FPGA device was found (use the simulated device)."""


class OverlayError(BoardError):
    """The overlay is not an EGVSR overlay: missing files, metadata or IP."""


class BundleMismatchError(BoardError):
    """The overlay was built from a different bundle than the host's."""


class FrameSizeError(BoardError, ValueError):
    """A frame does not have the LR size the overlay was built for."""


class DmaTimeoutError(BoardError, TimeoutError):
    """A DMA channel did not finish within the timeout (stream stalled)."""


class DmaError(BoardError):
    """The AXI DMA reported an error (DMASR error bits) or a short transfer."""
