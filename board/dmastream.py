"""Frame streaming through the AXI DMA with reused buffers and timeouts.

:class:`FrameStream` owns one input buffer ``(H, W, Bin)`` and one output
buffer ``(4H, 4W, 4)`` allocated once with ``pynq.allocate``.  A frame is one
MM2S transfer (the DMA ends it with TLAST) and one S2MM transfer (ended by
the core's TLAST on the frame's last beat).  ``submit`` arms S2MM first,
then starts MM2S and returns at once, so the host can work while the
hardware runs; ``collect`` waits with a deadline instead of pynq's unbounded
``wait()`` and raises :class:`DmaTimeoutError` / :class:`DmaError`.
"""

import math
import time

import numpy as np

from .errors import DmaError, DmaTimeoutError

__all__ = ["FrameStream", "decode_dmasr"]

_SR_BITS = {0x10: "DMAIntErr (length 0, or packet longer than the buffer)",
            0x20: "DMASlvErr (memory slave error)",
            0x40: "DMADecErr (invalid address)"}


def decode_dmasr(sr):
    """Human-readable list of the error bits set in a DMASR value."""
    return [msg for bit, msg in _SR_BITS.items() if sr & bit] or ["none"]


def check_timeout(timeout) -> float:
    """A DMA timeout in seconds: a finite number > 0 (ValueError otherwise)."""
    try:
        t = float(timeout)
    except (TypeError, ValueError):
        t = float("nan")
    if not math.isfinite(t) or t <= 0:
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    return t


class FrameStream:
    """Stream LR frames to the SRNet core and HR frames back.

    Parameters
    ----------
    handle : :class:`egvsr.board.overlay.EgvsrOverlay`
    timeout : float
        Seconds to wait for each channel before :class:`DmaTimeoutError`.
    """

    def __init__(self, handle, timeout=10.0):
        import pynq
        self.handle = handle
        self.timeout = check_timeout(timeout)
        h, w = handle.lr_size
        st = handle.meta["stream"]
        self.in_shape = (h, w, st["in_bytes_per_pixel"])
        self.out_shape = (4 * h, 4 * w, st["out_bytes_per_pixel"])
        dev = handle.device
        self.in_buf = pynq.allocate(self.in_shape, np.uint8, target=dev)
        self.out_buf = pynq.allocate(self.out_shape, np.uint8, target=dev)
        self.in_buf[:] = 0  # pad bytes stay zero for the whole run
        self.in_bytes = self.in_buf.nbytes
        self.out_bytes = self.out_buf.nbytes
        self.dma = handle.dma
        self.pending = False
        self.dirty = False  # set after an error: reload before the next frame
        self.frames = 0
        self.dma_seconds = 0.0
        self._t0 = 0.0

    def submit(self):
        """Start one frame from ``in_buf`` (already packed) into ``out_buf``."""
        if self.pending:
            raise DmaError("a frame is already in flight; call collect() first")
        if self.dirty:
            self.recover()
        self._t0 = time.perf_counter()
        self.dma.recvchannel.transfer(self.out_buf)
        self.dma.sendchannel.transfer(self.in_buf)
        self.pending = True

    def collect(self):
        """Wait for the frame; return the ``(4H, 4W, 3)`` view of ``out_buf``.

        The view is only valid until the next ``submit``.
        """
        if not self.pending:
            raise DmaError("collect() without a frame in flight")
        try:
            self._wait(self.dma.sendchannel, "MM2S (send)")
            self._wait(self.dma.recvchannel, "S2MM (receive)")
        finally:
            self.pending = False
        got = self.dma.recvchannel.transferred
        if got != self.out_bytes:
            raise DmaError(f"S2MM received {got} bytes, expected {self.out_bytes}"
                           " (TLAST early: the core's frame size differs)")
        self.dma_seconds += time.perf_counter() - self._t0
        self.frames += 1
        return self.out_buf[..., :3]

    def run(self):
        """``submit`` + ``collect``."""
        self.submit()
        return self.collect()

    def _wait(self, ch, what):
        deadline = time.monotonic() + self.timeout
        pause = 0.0
        while True:
            sr = ch._mmio.read(ch._offset + 4)
            if sr & 0x70:
                self.dirty = True
                self.reset()
                raise DmaError(f"AXI DMA {what} error, DMASR={sr:#06x}: "
                               + "; ".join(decode_dmasr(sr)))
            if sr & 0x2:  # Idle
                ch.wait()  # returns at once; invalidates, reads LENGTH
                return
            if time.monotonic() > deadline:
                detail = self._diagnose()
                self.dirty = True
                self.reset()
                raise DmaTimeoutError(
                    f"AXI DMA {what} did not finish within {self.timeout:g} s "
                    f"(DMASR={sr:#06x}). {detail} The stream never delivered "
                    "TLAST: core not running, a frame size the bitstream was not "
                    "built for, or a hung core. The DMA has been reset; the "
                    "overlay is reloaded before the next frame.")
            time.sleep(pause)
            pause = min(pause * 2 or 2e-5, 1e-3)

    def _diagnose(self):
        try:
            ctrl = self.handle.accel.read(0x00)
        except Exception:
            return ""
        state = "idle" if ctrl & 0x4 else "busy"
        started = "started" if ctrl & 0x81 else "NOT started"
        return f"Core AP_CTRL={ctrl:#04x} ({started}, {state})."

    def reset(self):
        """Soft-reset the DMA and restart both channels."""
        self.pending = False
        mmio = self.dma.mmio
        mmio.write(0x00, 0x4)
        for _ in range(1000):
            if not mmio.read(0x00) & 0x4:
                break
        self.dma.sendchannel.start()
        self.dma.recvchannel.start()

    def recover(self):
        """Reload the overlay (fresh core and DMA) after an error."""
        self.handle.reload()
        self.pending = False
        self.dirty = False

    def close(self):
        """Release the buffers (pynq frees them when unreferenced)."""
        for name in ("in_buf", "out_buf"):
            buf = getattr(self, name, None)
            if buf is not None and hasattr(buf, "freebuffer"):
                buf.freebuffer()
            setattr(self, name, None)
