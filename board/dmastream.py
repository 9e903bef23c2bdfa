"""Frame streaming through the AXI DMA: one LR line per transfer, a ring of
small buffers, the core programmed per frame, timeouts and frame-sync recovery.

:class:`FrameStream` moves a frame as ``H`` MM2S transfers of one LR line
(``W*56`` bytes, the DMA ends each with TLAST) and ``H`` S2MM transfers of
that line's 4 HR rows (``16*W*4`` bytes, ended by the core's TLAST).  The
buffers are a ring of ``ring`` line buffers each way, allocated once for the
overlay's largest width with ``pynq.allocate``: a few hundred KB at 960x540
instead of a 62 MB contiguous pair, a cache flush per line instead of one
of 29 MB per frame, and the next line is packed (and the last block copied
out) while a transfer runs.  The simple-mode DMA holds one transfer per
channel, so the loop polls both channels and never blocks on one: the core
needs several input lines before it emits the first block.

Per frame the driver writes ``LR_HEIGHT``/``LR_WIDTH`` and ``ap_start``
(:mod:`egvsr.board.regmap`), streams the lines, waits for ``ap_idle`` and
reads ``STATUS``: a frame error (a line of the wrong length reached the core)
runs the frame again, up to ``retries`` times, without reloading the
bitstream (the core re-synchronises on TLAST).  ``submit`` runs the frame in
a worker thread and returns, so the host works while the hardware runs;
``collect`` waits with deadlines instead of pynq's unbounded ``wait()``.
"""

import math
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import regmap
from .errors import DmaError, DmaTimeoutError, FrameSizeError

__all__ = ["FrameStream", "decode_dmasr", "check_timeout"]

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
    """Stream LR frames, line by line, to the SRNet core and HR rows back.

    Parameters
    ----------
    handle : :class:`egvsr.board.overlay.EgvsrOverlay`
    timeout : float
        Seconds without progress on either channel before
        :class:`DmaTimeoutError`.
    ring : int
        Line buffers per direction (>= 2: one in flight, one being packed or
        copied out; more do not help a simple-mode DMA).
    retries : int
        Times a frame is run again after a frame-sync error before
        :class:`DmaError`.
    threaded : bool
        ``submit`` runs the frame in a worker thread (default); ``False``
        runs it inside ``submit``.
    """

    def __init__(self, handle, timeout=10.0, ring=2, retries=2, threaded=True):
        import pynq
        self.handle = handle
        self.timeout = check_timeout(timeout)
        if not isinstance(ring, int) or ring < 2:
            raise ValueError(f"ring must be an integer >= 2 (line buffers per direction), got {ring!r}")
        self.ring = ring
        self.retries = int(retries)
        st = handle.meta["stream"]
        self.bin = st["in_bytes_per_pixel"]
        self.bout = st["out_bytes_per_pixel"]
        self.max_h, self.max_w = handle.lr_size
        dev = handle.device
        self.in_ring = [pynq.allocate((self.max_w, self.bin), np.uint8, target=dev)
                        for _ in range(ring)]
        self.out_ring = [pynq.allocate((4, 4 * self.max_w, self.bout), np.uint8, target=dev)
                         for _ in range(ring)]
        for b in self.in_ring:
            b[:] = 0  # pad bytes stay zero for the whole run
        self.dma = handle.dma
        self.size = None            # (h, w) of the current frame
        self.in_bytes = self.out_bytes = 0
        self.pending = None         # Future (threaded) or the finished result
        self.dirty = False          # set after a timeout/DMA error: reload first
        self.frames = 0
        self.frame_errors = 0       # frames run again after a sync error
        self.dma_seconds = 0.0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="egvsr-dma") if threaded else None

    # --- public ----------------------------------------------------------
    def submit(self, fill, h, w, out=None):
        """Start one ``h x w`` frame; returns at once (threaded).

        ``fill(y, line)`` packs LR line ``y`` into ``line``, a ``(w, Bin)``
        view of a DMA buffer (channels 0..50; the pad stays zero).  The output
        goes into ``out`` ``(4h, 4w, 3)`` uint8 (a new array if None), which
        :meth:`collect` returns.  ``fill`` may be called again for a line
        when a frame is run again after a frame error.
        """
        if self.pending is not None:
            raise DmaError("a frame is already in flight; call collect() first")
        self.handle.check_frame(h, w)
        if out is None:
            out = np.empty((4 * h, 4 * w, 3), np.uint8)
        elif out.dtype != np.uint8 or out.shape != (4 * h, 4 * w, 3):
            raise ValueError(f"out must be uint8 {(4 * h, 4 * w, 3)}, got {out.dtype} {out.shape}")
        if self.dirty:
            self.recover()
        self.size = (h, w)
        self.in_bytes, self.out_bytes = h * w * self.bin, 16 * h * w * self.bout
        if self._pool is not None:
            self.pending = self._pool.submit(self._run_frame, fill, h, w, out)
        else:
            try:
                self.pending = ("done", self._run_frame(fill, h, w, out))
            except BaseException as e:
                self.pending = ("error", e)

    def collect(self):
        """Wait for the submitted frame; return its ``(4H, 4W, 3)`` array."""
        if self.pending is None:
            raise DmaError("collect() without a frame in flight")
        p, self.pending = self.pending, None
        if isinstance(p, tuple):
            if p[0] == "error":
                raise p[1]
            return p[1]
        return p.result()

    def run(self, fill, h, w, out=None):
        """``submit`` + ``collect``."""
        self.submit(fill, h, w, out)
        return self.collect()

    def run_x(self, x, out=None):
        """One frame from a packed SRNet input ``x`` (H, W, 51) uint8."""
        h, w, c = x.shape

        def fill(y, line):
            line[:, :c] = x[y]
        return self.run(fill, h, w, out)

    # --- one frame ---------------------------------------------------------
    def _run_frame(self, fill, h, w, out):
        t0 = time.perf_counter()
        for attempt in range(self.retries + 1):
            status = self._stream_frame(fill, h, w, out)
            if not status & regmap.STATUS_FRAME_ERROR:
                break
            self.frame_errors += 1
        else:
            raise DmaError(
                f"the SRNet core reported a frame-sync error (STATUS={status:#x}, a line "
                f"of the wrong length) on {self.retries + 1} runs of the same {h}x{w} "
                f"frame (ERR_COUNT={self.handle.reg('ERR_COUNT')}): the stream between the "
                "DMA and the core loses or adds beats; check the width converters and clocks")
        if status & regmap.STATUS_SIZE_ERROR:
            self._size_error(h, w)
        self.dma_seconds += time.perf_counter() - t0
        self.frames += 1
        return out

    def _size_error(self, h, w):
        raise FrameSizeError(f"the SRNet core refused a {h}x{w} frame (STATUS size error); "
                             f"it takes {regmap.MIN_LR}x{regmap.MIN_LR} up to MAX_HEIGHT x "
                             f"MAX_WIDTH = {self.handle.reg('MAX_HEIGHT')}x"
                             f"{self.handle.reg('MAX_WIDTH')}: crop/resize the video or build an "
                             "overlay with a larger maximum")

    def _stream_frame(self, fill, h, w, out):
        """Program the core, move the frame's lines; return STATUS."""
        acc, send, recv = self.handle.accel, self.dma.sendchannel, self.dma.recvchannel
        in_n, out_n = w * self.bin, 16 * w * self.bout
        acc.write(regmap.offset("LR_HEIGHT"), h)
        acc.write(regmap.offset("LR_WIDTH"), w)
        acc.write(regmap.offset("AP_CTRL"), regmap.AP_START)
        if acc.read(regmap.offset("STATUS")) & regmap.STATUS_SIZE_ERROR:
            # refused at once (done, no beat taken): no DMA, no reset, no reload
            self._size_error(h, w)
        K = self.ring
        fill(0, self.in_ring[0][:w])
        recv.transfer(self.out_ring[0], nbytes=out_n)
        sent = got = 0          # lines started on MM2S / blocks received on S2MM
        send_busy = False
        last = time.monotonic()
        pause = 0.0
        while got < h:
            moved = False
            if send_busy and self._idle(send, "MM2S (send)", sent - 1):
                send.wait()
                send_busy = False
            if not send_busy and sent < h:
                send.transfer(self.in_ring[sent % K], nbytes=in_n)
                send_busy, sent, moved = True, sent + 1, True
                if sent < h:  # pack the next line while this one moves
                    fill(sent, self.in_ring[sent % K][:w])
            if self._idle(recv, "S2MM (receive)", got):
                recv.wait()  # invalidates the slot, reads LENGTH
                n = recv.transferred
                if n != out_n:
                    self._fail()
                    raise DmaError(f"S2MM received {n} bytes for LR line {got}, expected "
                                   f"{out_n} (4 HR rows of {4 * w} pixels): the core's TLAST "
                                   "does not end each line's block; the core and driver disagree "
                                   "on the frame width")
                slot = self.out_ring[got % K]
                got += 1
                if got < h:  # re-arm first, copy out while it runs
                    recv.transfer(self.out_ring[got % K], nbytes=out_n)
                # the block fills the slot's first out_n bytes: (4, 4w, 4)
                out[4 * (got - 1):4 * got] = slot.reshape(-1)[:out_n].reshape(4, 4 * w, self.bout)[..., :3]
                moved = True
            if moved:
                last, pause = time.monotonic(), 0.0
                continue
            if time.monotonic() - last > self.timeout:
                what = "MM2S (send)" if send_busy else "S2MM (receive)"
                detail = self._diagnose()
                self._fail()
                raise DmaTimeoutError(
                    f"AXI DMA {what} made no progress within {self.timeout:g} s at LR line "
                    f"{got} of {h} ({sent} sent). {detail} The stream never delivered TLAST: "
                    "core not running, a frame size the core does not take, or a hung core. "
                    "The DMA has been reset; the overlay is reloaded before the next frame.")
            time.sleep(pause)
            pause = min(pause * 2 or 2e-5, 1e-3)
        if send_busy:
            while not self._idle(send, "MM2S (send)", sent - 1):
                time.sleep(1e-5)
            send.wait()
        # the last block is out, so the core is finishing: wait for ap_idle
        deadline = time.monotonic() + self.timeout
        while not acc.read(regmap.offset("AP_CTRL")) & regmap.AP_IDLE:
            if time.monotonic() > deadline:
                self._fail()
                raise DmaTimeoutError(f"the SRNet core sent the whole {h}x{w} frame but did "
                                      f"not go idle within {self.timeout:g} s. {self._diagnose()}")
            time.sleep(1e-5)
        return acc.read(regmap.offset("STATUS"))

    def _idle(self, ch, what, index):
        """Poll DMASR: True when idle; DmaError on an error bit."""
        sr = ch._mmio.read(ch._offset + 4)
        if sr & 0x70:
            self._fail()
            raise DmaError(f"AXI DMA {what} error at LR line {index}, DMASR={sr:#06x}: "
                           + "; ".join(decode_dmasr(sr)))
        return bool(sr & 0x2)

    def _fail(self):
        self.dirty = True
        self.reset()

    def _diagnose(self):
        try:
            ctrl = self.handle.reg("AP_CTRL")
            status = self.handle.reg("STATUS")
            got = (self.handle.reg("LR_HEIGHT"), self.handle.reg("LR_WIDTH"))
        except Exception:
            return ""
        state = "idle" if ctrl & regmap.AP_IDLE else "busy"
        size = ", SIZE ERROR" if status & regmap.STATUS_SIZE_ERROR else ""
        sync = ", frame-sync error" if status & regmap.STATUS_FRAME_ERROR else ""
        msg = f"Core AP_CTRL={ctrl:#04x} ({state}), STATUS={status:#x}{size}{sync}."
        if self.size is not None and tuple(got) != tuple(self.size):
            msg += (f" LR_HEIGHT x LR_WIDTH read back as {got[0]}x{got[1]}, written "
                    f"{self.size[0]}x{self.size[1]}: the core's register map differs from "
                    f"this driver's (egvsr.board.regmap version {regmap.REGMAP_VERSION}).")
        return msg

    def reset(self):
        """Soft-reset the DMA and restart both channels."""
        mmio = self.dma.mmio
        mmio.write(0x00, 0x4)
        for _ in range(1000):
            if not mmio.read(0x00) & 0x4:
                break
        self.dma.sendchannel.start()
        self.dma.recvchannel.start()

    def recover(self):
        """Reload the overlay (fresh core and DMA) after a timeout or a DMA
        error; frame-sync errors need no reload."""
        self.handle.reload()
        self.dirty = False

    def close(self):
        """Wait for a frame in flight, stop the worker, release the buffers."""
        if self.pending is not None and not isinstance(self.pending, tuple):
            try:
                self.pending.result(timeout=self.timeout)
            except Exception:
                pass
        self.pending = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for name in ("in_ring", "out_ring"):
            for buf in getattr(self, name, None) or []:
                if hasattr(buf, "freebuffer"):
                    buf.freebuffer()
            setattr(self, name, None)
