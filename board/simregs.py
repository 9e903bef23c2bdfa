"""Register models behind :class:`egvsr.board.simdevice.SimDevice`.

AXI DMA v7.1, simple mode (PG021), the registers pynq's driver touches::

    0x00 MM2S_DMACR  bit0 RS, bit2 Reset, bit12 IOC_IrqEn, bit14 Err_IrqEn
    0x04 MM2S_DMASR  bit0 Halted, bit1 Idle, bit4 DMAIntErr, bit5 DMASlvErr,
                     bit6 DMADecErr, bit12 IOC_Irq, bit14 Err_Irq (W1C)
    0x18/0x1C MM2S_SA / SA_MSB,  0x28 MM2S_LENGTH (write starts)
    0x30 S2MM_DMACR, 0x34 S2MM_DMASR, 0x48/0x4C S2MM_DA / DA_MSB,
    0x58 S2MM_LENGTH (write arms; read = bytes received, ended by TLAST)

Stream model: MM2S copies the whole transfer into the core's input FIFO and
ends it with TLAST (as the AXI DMA does); the driver sends one LR line per
transfer.  The core (``SrnetCoreModel``, register map
:mod:`egvsr.board.regmap`) takes ``LR_HEIGHT`` lines per ``ap_start``,
checks each line's length against ``LR_WIDTH`` and emits one packet per LR
line (4 HR rows, ``16*W*4`` bytes) with TLAST on its last beat.  S2MM writes
one packet into each armed buffer; a packet longer than the buffer sets
DMAIntErr and halts.  A channel only reports Idle after its first transfer
completes, as after a hardware reset.  A core that is not started, or a
frame with too few lines, leaves S2MM busy forever: on the board ``wait()``
would hang; the driver's timeout catches it.  ``AxiDmaModel.mm2s_hook``
(``hook(index, data) -> data``) lets a test lose or add beats on the way
to the core.
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

    def __init__(self, device, memory, core, length_bits=26):
        self.device = device
        self.length_mask = (1 << int(length_bits)) - 1
        self.memory = memory
        self.core = core
        self.mm2s = _Channel()
        self.s2mm = _Channel()
        self.bytes_sent = 0
        self.bytes_received = 0
        self.mm2s_count = 0
        self.mm2s_hook = None   # fault injection: hook(index, bytes) -> bytes

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
            self._start(ch, value & self.length_mask)

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
            if self.mm2s_hook is not None:
                data = self.mm2s_hook(self.mm2s_count, data)
            self.mm2s_count += 1
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
            tail = getattr(self.core, "out_tail", None)
            if tail is not None and len(tail) > ch.length:   # no TLAST within the buffer
                self.core.out_tail = None
                self.memory.write(ch.addr, tail[:ch.length])
                self.bytes_received += ch.length
                ch.transferred = ch.length
                ch.fail(INT_ERR)
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
    """The SRNet stream core behind ``s_axi_control`` (:mod:`egvsr.board.regmap`).

    Control as Vitis HLS ``ap_ctrl_hs``: ``ap_start`` latches ``LR_HEIGHT``
    and ``LR_WIDTH``; a size outside ``[lr_min, MAX_*]`` sets
    ``STATUS_SIZE_ERROR`` and ends the frame at once, consuming nothing.
    Otherwise the core takes ``LR_HEIGHT`` input lines, each ended by TLAST
    (one MM2S transfer), and sends one packet per LR line: its 4 HR rows,
    ``16*W*4`` bytes with TLAST on the last beat.

    Frame sync: a line of the wrong length (a lost or an extra beat, or a
    partial last beat, TKEEP not all ones, after a lost DMA word) sets
    ``STATUS_FRAME_ERROR`` and counts in ``ERR_COUNT``; the line is cut or
    zero-filled to ``W`` pixels and the core keeps counting lines by TLAST,
    so it is back in step at the next frame and every output packet still
    comes (the driver reads STATUS and runs the frame again).

    Fault injection for the tests: ``stall`` (a hung core: lines are taken,
    nothing comes out) and ``extra_out_bytes`` (longer output packets);
    ``outputs_valid = False`` models an HLS core before its first call (the
    read-only registers read 0 until a start).

    With a register-level engine (``engine.register_level``, the RTL board
    IP of ``egvsr.rtl_tb.backend.RtlBoardEngine``) this model only frames
    the traffic; the IP decides.  Every driver write to ``s_axi_control`` is
    recorded (offset, value, in order); when a frame's ``LR_HEIGHT`` lines
    are in (counted by TLAST, as the IP counts them), the engine replays the
    writes recorded since its last run into the IP's AXI-Lite register
    file, streams the lines exactly as the DMA delivered them (no cut or
    zero-fill here), waits for ap_idle and reads back every register of the
    map.  From then on the driver reads the IP's values: STATUS, ID_LO/HI,
    MAX_HEIGHT/MAX_WIDTH, VERSION, AP_CTRL's done and idle bits, and a
    read-write register until the driver writes it again; ERR_COUNT is the
    sum of the runs' counts (each run starts from reset).  The output
    packets are the IP's beats cut at the IP's TLAST: beats after the last
    TLAST are a packet that never ends (an S2MM buffer they overflow sets
    DMAIntErr, else the receive never completes).  A start whose size this
    model refuses (the driver's identify call on load: size 0) runs the IP
    at once with no input, inside the AP_CTRL write, so the values the
    driver then checks (VERSION, ID, MAX size) are the IP's.  Before that
    first run, reads return this model's values.
    """

    def __init__(self, device, meta, engine, threaded=True):
        from . import meta as _meta
        from . import regmap
        self.rm = regmap
        self.device = device
        self.lock = device.lock
        self.engine = engine
        (self.min_h, self.min_w), (self.max_h, self.max_w) = _meta.size_range(meta)
        st = meta["stream"]
        self.bin = st["in_bytes_per_pixel"]
        self.bout = st["out_bytes_per_pixel"]
        self.id = _meta.id_words(meta["bundle_sha256"])
        self.version = regmap.REGMAP_VERSION
        self.sink = None
        self.regs = {"AP_CTRL": 0, "GIE": 0, "IER": 0, "ISR": 0, "LR_HEIGHT": 0,
                     "LR_WIDTH": 0, "STATUS": 0, "ERR_COUNT": 0}
        self.done = False
        self.frame = None       # (h, w) of the frame in progress
        self.busy = False       # computing (worker)
        self.partial = []       # chunks of the line being received
        self.lines = []         # complete input lines (uint8 arrays)
        self.out = []           # output packets
        self.frames = 0
        self.last_input = None  # the last frame's input bytes (H, W, Bin)
        self.stall = False
        self.extra_out_bytes = 0
        # False models an HLS core before its first call: its read-only registers are
        # function outputs and read 0 until a start (the driver's identify call)
        self.outputs_valid = True
        self.error = None       # exception raised by the engine
        # register-level engine (the RTL board IP): see the class docstring
        self.register_level = bool(getattr(engine, "register_level", False))
        self.bus_writes = []    # (offset, value) written since the engine's last run
        self.rtl_regs = {}      # offset -> value read back from the IP at its last run
        self.rtl_idle = True    # the IP went idle at the end of its last run
        self.rtl_err_total = 0
        self.rtl_runs = []      # per run: writes replayed, values read, beats taken, ...
        self.out_tail = None    # output bytes after the IP's last TLAST
        self._rtl_reads = [r.offset for r in regmap.REGISTERS if r.name != "AP_CTRL"]
        self._rw_offsets = {r.offset for r in regmap.REGISTERS if r.access != "ro"}
        self._stop = False
        self._cv = threading.Condition(self.lock)
        self._thread = None
        if threaded:
            self._thread = threading.Thread(target=self._worker, daemon=True,
                                            name="egvsr-sim-core")
            self._thread.start()

    # --- AXI-Lite (s_axi_control) ---
    def read(self, off):
        rm = self.rm
        name = next((r.name for r in rm.REGISTERS if r.offset == off), None)
        if self.register_level and name != "AP_CTRL" and off in self.rtl_regs:
            return self.rtl_regs[off]
        if name == "AP_CTRL":
            ctrl = self.regs["AP_CTRL"]
            idle = self.frame is None and not self.busy and self.rtl_idle
            v = ctrl & (rm.AP_START | rm.AP_AUTO_RESTART)
            v |= rm.AP_DONE if self.done else 0
            v |= (rm.AP_IDLE | rm.AP_READY) if idle else 0
            self.done = False   # clear on read
            return v
        fixed = {"ID_LO": self.id[0], "ID_HI": self.id[1], "MAX_HEIGHT": self.max_h,
                 "MAX_WIDTH": self.max_w, "VERSION": self.version}
        if name in fixed:
            return fixed[name] if self.outputs_valid else 0
        return self.regs.get(name, 0)

    def write(self, off, value):
        rm = self.rm
        if self.register_level:
            self.bus_writes.append((off, value & 0xFFFFFFFF))
            if off in self._rw_offsets:
                self.rtl_regs.pop(off, None)   # the IP has not seen this value yet
        name = next((r.name for r in rm.REGISTERS if r.offset == off), None)
        if name == "AP_CTRL":
            self.regs["AP_CTRL"] = value & (rm.AP_START | rm.AP_AUTO_RESTART)
            self._try_start()
        elif name == "ISR":
            self.regs["ISR"] ^= value & 0x3
        elif name in ("GIE", "IER", "LR_HEIGHT", "LR_WIDTH"):
            bits = rm.BY_NAME[name].bits
            self.regs[name] = value & ((1 << bits) - 1)
        # read-only registers ignore writes

    def _try_start(self):
        rm = self.rm
        if not self.regs["AP_CTRL"] & rm.AP_START or self.frame is not None or self.busy:
            return
        h, w = self.regs["LR_HEIGHT"], self.regs["LR_WIDTH"]
        self.outputs_valid = True
        if not self.regs["AP_CTRL"] & rm.AP_AUTO_RESTART:
            self.regs["AP_CTRL"] &= ~rm.AP_START   # ap_ready: the start is taken
        if not (self.min_h <= h <= self.max_h and self.min_w <= w <= self.max_w):
            self.regs["STATUS"] = rm.STATUS_SIZE_ERROR
            self.done = True
            if self.register_level:   # the IP sees the same start, now, with no input
                writes, self.bus_writes = self.bus_writes, []
                res = self._compute(([], writes, (0, 0)))
                if res is None:
                    self.rtl_idle = False
                else:
                    self.out.extend(self._apply_rtl(res))
                    self.sink.drain()
            return
        self.regs["STATUS"] = 0
        if self.register_level:   # ap_start clears STATUS; the IP's own comes after its run
            self.rtl_regs.pop(rm.offset("STATUS"), None)
        self.frame = (h, w)
        self._cv.notify_all()
        self._step_inline()

    # --- stream ---
    def push(self, data, tlast):
        """Input beats from MM2S (lock held); TLAST ends a line."""
        self.partial.append(np.asarray(data, np.uint8))
        if tlast:
            line = np.concatenate(self.partial) if len(self.partial) > 1 else self.partial[0]
            self.partial = []
            self.lines.append(line)
        self._cv.notify_all()
        self._step_inline()

    def pop_output(self):
        return self.out.pop(0) if self.out else None

    def flush_output(self):
        self.out.clear()
        self.out_tail = None

    def _take_frame(self):
        """The frame's input lines, synchronised on TLAST (lock held)."""
        if self.frame is None or self.busy or len(self.lines) < self.frame[0]:
            return None
        h, w = self.frame
        lines, self.lines = self.lines[:h], self.lines[h:]
        buf = np.zeros((h, w * self.bin), np.uint8)
        bad = 0
        for y, line in enumerate(lines):
            if len(line) != w * self.bin:
                bad += 1           # short (or a partial beat): zero-filled; long: cut
            n = min(len(line), w * self.bin)
            buf[y, :n] = line[:n]
        self.busy = True
        self.last_input = buf.reshape(h, w, self.bin)
        if self.register_level:   # the lines as they came: the IP synchronises itself
            writes, self.bus_writes = self.bus_writes, []
            return lines, writes, (h, w)
        if bad:
            self.regs["STATUS"] |= self.rm.STATUS_FRAME_ERROR
            self.regs["ERR_COUNT"] = (self.regs["ERR_COUNT"] + 1) & 0xFFFFFFFF
        return self.last_input

    def _compute(self, frame):
        if self.stall:
            return None
        if self.register_level:
            lines, writes, size = frame
            try:
                res = self.engine.run_frame(lines, writes, self._rtl_reads, expect=size)
                res["writes"] = list(writes)
                return res
            except Exception as e:  # a simulation that fails is a core that never answers
                self.error = e
                import warnings
                warnings.warn(f"simulated core: the register-level engine failed, the core "
                              f"hangs: {e}", RuntimeWarning, stacklevel=2)
                return None
        h, w = frame.shape[:2]
        x = frame[:, :, :SRNET_IN_CHANNELS]
        try:
            y = np.asarray(self.engine(np.ascontiguousarray(x)), np.uint8)
            out = np.zeros((h, 4, 4 * w, self.bout), np.uint8)
            out[..., :3] = y.reshape(h, 4, 4 * w, 3)
            packets = [out[i].reshape(-1) for i in range(h)]
            if self.extra_out_bytes:
                packets = [np.concatenate([p, np.zeros(self.extra_out_bytes, np.uint8)])
                           for p in packets]
            return packets
        except Exception as e:  # a core that dies never sends TLAST
            self.error = e
            return None

    def _apply_rtl(self, res):
        """Take the IP's register values and AP_CTRL state from an engine run
        (lock held); returns its output packets."""
        reads = dict(res["reads"])
        errc = self.rm.offset("ERR_COUNT")
        if errc in reads:   # each run starts from reset: the device keeps the total
            self.rtl_err_total = (self.rtl_err_total + reads[errc]) & 0xFFFFFFFF
            reads[errc] = self.rtl_err_total
        self.rtl_regs.update(reads)
        self.done = bool(res["ctrl"] & self.rm.AP_DONE)
        self.rtl_idle = bool(res["idle"])
        self.out_tail = res.get("tail")
        rec = {k: v for k, v in res.items() if k not in ("packets", "tail")}
        rec["packet_bytes"] = [len(p) for p in res["packets"]]
        rec["tail_bytes"] = 0 if res.get("tail") is None else len(res["tail"])
        self.rtl_runs.append(rec)
        return list(res["packets"])

    def _finish(self, packets):
        self.busy = False
        if packets is None:
            return     # hung: the frame never ends
        self.frame = None
        done = True
        if self.register_level:
            packets = self._apply_rtl(packets)
            done = self.done
        self.out.extend(packets)
        self.frames += 1
        self.done = done
        self.sink.drain()
        self._try_start()  # auto_restart, or a start written while busy

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
            packets = self._compute(frame)  # outside the lock: overlaps host
            with self._cv:
                self._finish(packets)

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
