"""Register models behind :class:`egvsr.board.simdevice.SimDevice`.

AXI DMA v7.1, simple mode (PG021), the registers pynq's driver touches::

    0x00 MM2S_DMACR  bit0 RS, bit2 Reset, bit12 IOC_IrqEn, bit14 Err_IrqEn
    0x04 MM2S_DMASR  bit0 Halted, bit1 Idle, bit4 DMAIntErr, bit5 DMASlvErr,
                     bit6 DMADecErr, bit12 IOC_Irq, bit14 Err_Irq (W1C)
    0x18/0x1C MM2S_SA / SA_MSB,  0x28 MM2S_LENGTH (write starts)
    0x30 S2MM_DMACR, 0x34 S2MM_DMASR, 0x48/0x4C S2MM_DA / DA_MSB,
    0x58 S2MM_LENGTH (write arms; read = bytes received, ended by TLAST)

Stream model: MM2S copies the whole transfer into the core's input FIFO and
ends it with TLAST (as the AXI DMA does).  The core consumes one frame of
``H*W*Bin`` bytes when started, computes it, and emits one packet of
``4H*4W*4`` bytes with TLAST on its last beat.  S2MM writes a packet into an
armed buffer; a packet longer than the buffer sets DMAIntErr and halts.
A channel only reports Idle after its first transfer completes, as after a
hardware reset.  A core that is not started, or a short input frame, leaves
S2MM busy forever: on the board ``wait()`` would hang; the driver's timeout
catches it.
"""

import threading

import numpy as np

from egvsr.golden.validate import SRNET_IN_CHANNELS

__all__ = ["AxiDmaModel", "SrnetCoreModel", "IdGpioModel"]

HALTED, IDLE, INT_ERR, SLV_ERR, DEC_ERR = 0x1, 0x2, 0x10, 0x20, 0x40
IOC_IRQ, DLY_IRQ, ERR_IRQ = 0x1000, 0x2000, 0x4000


class _Channel:
    """One DMA channel's registers and state."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.cr = 0
        self.sr = HALTED
        self.addr = 0
        self.length = 0
        self.busy = False
        self.transferred = 0

    @property
    def running(self):
        return self.cr & 1 and not self.sr & HALTED

    def fail(self, bit):
        self.sr |= bit | ERR_IRQ | HALTED
        self.cr &= ~1
        self.busy = False

    def complete(self, nbytes):
        self.transferred = nbytes
        self.busy = False
        self.sr |= IDLE | IOC_IRQ


class AxiDmaModel:
    """AXI DMA (simple mode) with an MM2S and an S2MM channel."""

    def __init__(self, device, memory, core):
        self.device = device
        self.memory = memory
        self.core = core
        self.mm2s = _Channel()
        self.s2mm = _Channel()
        self.bytes_sent = 0
        self.bytes_received = 0

    def read(self, off):
        ch, reg = (self.mm2s, off) if off < 0x30 else (self.s2mm, off - 0x30)
        if reg == 0x00:
            return ch.cr
        if reg == 0x04:
            return ch.sr
        if reg == 0x18:
            return ch.addr & 0xFFFFFFFF
        if reg == 0x1C:
            return ch.addr >> 32
        if reg == 0x28:
            return ch.transferred if not ch.busy else ch.length
        return 0

    def write(self, off, value):
        ch, reg = (self.mm2s, off) if off < 0x30 else (self.s2mm, off - 0x30)
        if reg == 0x00:
            if value & 0x4:  # soft reset resets both channels
                self.mm2s.reset()
                self.s2mm.reset()
                self.core.flush_output()
                return
            ch.cr = value & 0xFFFF1
            if value & 1:
                ch.sr &= ~HALTED
            else:
                ch.sr |= HALTED
                ch.busy = False
        elif reg == 0x04:
            ch.sr &= ~(value & (IOC_IRQ | DLY_IRQ | ERR_IRQ))
        elif reg == 0x18:
            ch.addr = (ch.addr & ~0xFFFFFFFF) | value
        elif reg == 0x1C:
            ch.addr = (ch.addr & 0xFFFFFFFF) | (value << 32)
        elif reg == 0x28:
            self._start(ch, value & 0x3FFFFFF)

    def _start(self, ch, length):
        if not ch.running:
            return  # ignored while halted, as in hardware
        if ch.busy or length == 0:
            ch.fail(INT_ERR)
            return
        ch.sr &= ~IDLE
        ch.busy = True
        ch.length = length
        if ch is self.mm2s:
            data = self.memory.read(ch.addr, length)
            if data is None:
                ch.fail(DEC_ERR)
                return
            self.bytes_sent += length
            ch.complete(length)
            self.core.push(data, tlast=True)  # MM2S ends each transfer with TLAST
        else:
            self.drain()

    def drain(self):
        """Move an output packet into the armed S2MM buffer (lock held)."""
        ch = self.s2mm
        if not (ch.busy and ch.running):
            return
        packet = self.core.pop_output()
        if packet is None:
            return
        n = min(len(packet), ch.length)
        if not self.memory.write(ch.addr, packet[:n]):
            ch.fail(DEC_ERR)
            return
        self.bytes_received += n
        if len(packet) > ch.length:
            ch.transferred = n
            ch.fail(INT_ERR)  # packet longer than the buffer: no TLAST seen
            return
        ch.complete(n)


class SrnetCoreModel:
    """The SRNet stream core with an HLS ``ap_ctrl_hs`` control register.

    ``0x00 AP_CTRL``: bit0 ap_start, bit1 ap_done (clear on read), bit2
    ap_idle, bit3 ap_ready, bit7 auto_restart.  The core takes frames from
    its input FIFO only while started.
    """

    def __init__(self, device, meta, engine, threaded=True):
        self.device = device
        self.lock = device.lock
        self.engine = engine
        self.h, self.w = meta["lr_height"], meta["lr_width"]
        st = meta["stream"]
        self.bin = st["in_bytes_per_pixel"]
        self.bout = st["out_bytes_per_pixel"]
        self.frame_in = self.h * self.w * self.bin
        self.sink = None
        self.ctrl = 0
        self.done = False
        self.busy = False
        self.fifo = []          # input chunks (uint8 arrays)
        self.fifo_bytes = 0
        self.out = []           # output packets
        self.frames = 0
        self.tlast_errors = 0   # TLAST not on a frame boundary
        self.error = None       # exception raised by the engine
        self._stop = False
        self._cv = threading.Condition(self.lock)
        self._thread = None
        if threaded:
            self._thread = threading.Thread(target=self._worker, daemon=True,
                                            name="egvsr-sim-core")
            self._thread.start()

    # --- AXI-Lite ---
    def read(self, off):
        if off == 0x00:
            started = self.ctrl & 0x81
            v = (self.ctrl & 0x81) | (0x2 if self.done else 0)
            v |= 0x0 if (self.busy or started) else 0x4
            v |= 0x8 if not self.busy else 0
            self.done = False
            return v
        return 0

    def write(self, off, value):
        if off == 0x00:
            self.ctrl = value & 0x81
            self._cv.notify_all()
            self._step_inline()

    # --- stream ---
    def push(self, data, tlast):
        """Input beats from MM2S (lock held)."""
        self.fifo.append(data)
        self.fifo_bytes += len(data)
        if tlast and self.fifo_bytes % self.frame_in:
            self.tlast_errors += 1
        self._cv.notify_all()
        self._step_inline()

    def pop_output(self):
        return self.out.pop(0) if self.out else None

    def flush_output(self):
        self.out.clear()

    def _take_frame(self):
        if not (self.ctrl & 0x81) or self.fifo_bytes < self.frame_in:
            return None
        data = np.concatenate(self.fifo) if len(self.fifo) > 1 else self.fifo[0]
        frame, rest = data[:self.frame_in], data[self.frame_in:]
        self.fifo = [rest] if len(rest) else []
        self.fifo_bytes = len(rest)
        if not self.ctrl & 0x80:
            self.ctrl &= ~0x1  # ap_start consumed (ap_ready)
        self.busy = True
        return frame

    def _compute(self, frame):
        x = frame.reshape(self.h, self.w, self.bin)[:, :, :SRNET_IN_CHANNELS]
        try:
            y = np.asarray(self.engine(np.ascontiguousarray(x)), np.uint8)
            out = np.zeros((4 * self.h, 4 * self.w, self.bout), np.uint8)
            out[:, :, :3] = y
            return out.reshape(-1)
        except Exception as e:  # a core that dies never sends TLAST
            self.error = e
            return None

    def _finish(self, packet):
        self.busy = False
        if packet is not None:
            self.out.append(packet)
            self.frames += 1
            self.done = True
            self.sink.drain()

    def _step_inline(self):
        if self._thread is not None:
            return
        while True:
            frame = self._take_frame()
            if frame is None:
                return
            self._finish(self._compute(frame))

    def _worker(self):
        while True:
            with self._cv:
                frame = self._take_frame()
                while frame is None and not self._stop:
                    self._cv.wait(0.5)
                    frame = self._take_frame()
                if self._stop:
                    return
            packet = self._compute(frame)  # outside the lock: overlaps host
            with self._cv:
                self._finish(packet)

    def stop(self):
        with self._cv:
            self._stop = True
            self._cv.notify_all()


class IdGpioModel:
    """AXI GPIO, two all-input channels tied to constants (the hash ID)."""

    def __init__(self, word1, word2):
        self.words = [word1, word2]

    def read(self, off):
        return {0x0: self.words[0], 0x8: self.words[1],
                0x4: 0xFFFFFFFF, 0xC: 0xFFFFFFFF}.get(off, 0)

    def write(self, off, value):
        pass
