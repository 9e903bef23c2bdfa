"""SRNet on the board (or the simulated device) as a drop-in callable.

``BoardSrnet(bundle)`` is what ``egvsr eval --backend board`` passes as
``srnet=`` to ``golden.network.run_sequence``: ``x (H, W, 51) uint8 ->
(4H, 4W, 3) uint8``.  The faster :meth:`BoardSrnet.run_step` takes
``lr_curr`` and the warped ``hr_prev`` and packs them straight into the DMA
buffer, with no 51-channel intermediate; :meth:`submit_step` /
:meth:`collect` split it so host work overlaps the hardware.
"""

import numpy as np

from .dmastream import FrameStream, check_timeout
from .errors import FrameSizeError
from .overlay import load_overlay
from .streams import pack_step
from egvsr.golden.validate import SRNET_IN_CHANNELS

__all__ = ["BoardSrnet", "make_backend"]


class BoardSrnet:
    """SRNet through the AXI DMA of an EGVSR overlay.

    Parameters
    ----------
    bundle : golden Bundle
        Host bundle; must match the overlay's build hash.
    overlay : str, optional
        ``.bit`` path (``.hwh`` and ``.egvsr.json`` beside it).  None: on a
        board ``$EGVSR_OVERLAY``; in simulation a simulated overlay whose
        largest frame is the first frame's size (rebuilt, larger, only when a
        frame does not fit).
    simulate : None | bool
        None picks the board when running on one, else the simulated device.
    sim_engine : ``'golden'`` | ``'rtl'``
        Behind the simulated stream: golden numpy SRNet or the RTL sim.
    timeout : float | None
        Seconds per DMA channel before :class:`DmaTimeoutError`; default 10 s,
        600 s with the RTL engine (its first frame builds the simulator).
    """

    def __init__(self, bundle, overlay=None, simulate=None, sim_engine="golden",
                 timeout=None, threaded=True):
        self.bundle = bundle
        self.overlay_path = overlay
        self.simulate = simulate
        self.sim_engine = sim_engine
        self.timeout = check_timeout(timeout if timeout is not None else
                                     (600.0 if sim_engine == "rtl" else 10.0))
        self.threaded = threaded
        self.handle = None
        self.stream = None
        if overlay is not None:
            self._open(None)

    # --- set-up -----------------------------------------------------------
    def _open(self, lr_size):
        self.close()
        self.handle = load_overlay(self.overlay_path, bundle=self.bundle,
                                   simulate=self.simulate,
                                   sim_engine=self.sim_engine, lr_size=lr_size,
                                   threaded=self.threaded)
        self.stream = FrameStream(self.handle, timeout=self.timeout, threaded=self.threaded)

    def ensure(self, h, w):
        """Make sure the overlay takes ``h x w`` LR frames."""
        if self.handle is not None and self.handle.accepts(h, w):
            return self.stream
        if self.handle is None or (self.overlay_path is None
                                   and self.handle.simulated):
            if self.handle is not None:  # grow the auto simulated overlay
                h0, w0 = self.handle.lr_size
                self._open((max(h, h0), max(w, w0)))
            else:
                self._open((h, w))
        self.handle.check_frame(h, w)  # FrameSizeError for a given overlay
        return self.stream

    @property
    def simulated(self):
        return None if self.handle is None else self.handle.simulated

    # --- SRNet --------------------------------------------------------------
    def __call__(self, x):
        """``x`` (H, W, 51) uint8 -> (4H, 4W, 3) uint8 (a new array)."""
        x = np.asarray(x)
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != SRNET_IN_CHANNELS:
            raise FrameSizeError(f"SRNet input must be uint8 (H, W, 51), got "
                                 f"{x.dtype} {x.shape}")
        st = self.ensure(*x.shape[:2])
        return st.run_x(np.ascontiguousarray(x))

    def submit_step(self, lr_curr, warped, out=None):
        """Start the frame; returns immediately.  The DMA loop packs each
        line of ``lr_curr`` + ``space_to_depth(warped)`` into its DMA buffer
        just before it is sent: ``lr_curr`` is copied here (a decoder may reuse
        its frame buffer for the next frame), ``warped`` must not change
        before :meth:`collect`."""
        lr_curr, warped = np.asarray(lr_curr), np.asarray(warped)
        if lr_curr.dtype != np.uint8 or lr_curr.ndim != 3 or lr_curr.shape[2] != 3:
            raise FrameSizeError(f"lr_curr must be uint8 (H, W, 3), got {lr_curr.dtype} "
                                 f"{lr_curr.shape}")
        h, w = lr_curr.shape[:2]
        if warped.dtype != np.uint8 or warped.shape != (4 * h, 4 * w, 3):
            raise FrameSizeError(f"warped must be uint8 {(4 * h, 4 * w, 3)} for a {h}x{w} "
                                 f"LR frame, got {warped.dtype} {warped.shape}")
        st = self.ensure(h, w)
        lr_curr = lr_curr.copy()

        def fill(y, line):
            pack_step(line[None], lr_curr[y:y + 1], warped[4 * y:4 * y + 4])
        st.submit(fill, h, w, out)

    def collect(self, out=None):
        """Wait for the submitted frame; the HR frame (in ``out`` if given)."""
        y = self.stream.collect()
        if out is None or out is y:
            return y
        out[...] = y
        return out

    def run_step(self, lr_curr, warped):
        """SRNet on ``concat(lr_curr, space_to_depth(warped, 4))``."""
        self.submit_step(lr_curr, warped)
        return self.collect()

    def close(self):
        """Release the buffers and the overlay (stops the simulated core)."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def make_backend(bundle, name="board", **kwargs):
    """SRNet callable for ``egvsr eval --backend NAME``.

    ``'board'``: the real board when running on one, else the simulated
    device; ``'board-sim'``: always the simulated device.  Keyword arguments
    go to :class:`BoardSrnet` (``overlay``, ``sim_engine``, ``timeout``).
    """
    if name not in ("board", "board-sim"):
        raise ValueError(f"unknown board backend {name!r}")
    return BoardSrnet(bundle, simulate=True if name == "board-sim" else None,
                      **kwargs)
