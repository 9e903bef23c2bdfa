"""cocotb testbench of the board IP `egvsr_srnet` as the block design wires
it: `s_axi_control` through cocotbext-axi's AxiLiteMaster, `s_axis` /
`m_axis` through AxiStreamSource / AxiStreamSink with random pauses.

The case comes as JSON ($EGVSR_TB_CASE, `sim.run_cocotb`); key `test`:

- ``regmap``: every register of `egvsr.board.regmap` at its offset: reset
  value (build constants from ``build``: ID_LO, ID_HI, MAX_HEIGHT, MAX_WIDTH),
  read-write masks, read-only registers ignore writes, AP_CTRL (ap_done clear
  on read, auto_restart), GIE/IER/ISR (toggle on write) and `interrupt`,
  unmapped offsets read 0.
- ``frames``: ``frames`` = [{"npy": input (H, W, in_bytes) uint8, "expected":
  output (4H, 4W, 3) npy or null, "fault": null | "drop" | "extra" |
  "short_frame", "line": y, "col": x, "size": [h, w] (registers; default the
  frame's), "expect": "ok" | "frame_error" | "size_error"}]. Per frame: write
  LR_HEIGHT / LR_WIDTH, AP_CTRL = ap_start, send one stream packet per LR line
  (TLAST at its end; TUSER on the frame's first beat when ``tuser``), receive
  one packet per LR line (4 HR rows), wait for ap_done and check STATUS,
  ERR_COUNT, the packet sizes and, for good frames, the pixels bit for bit.
  A ``drop`` fault loses the beat at (line, col), ``extra`` repeats it,
  ``short_frame`` sends only ``line`` lines and the next frame right after
  (its TUSER ends the short frame).
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout

from egvsr.board import regmap as rm
from egvsr.rtl_tb.tb_cores import finish_report


def _pause(rng, p):
    """A pause generator: True (pause) with probability p each clock."""
    while True:
        yield bool(rng.random() < p)


class Env:
    def __init__(self, dut, case):
        from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamSink,
                                   AxiStreamSource)
        self.dut, self.case = dut, case
        self.rng = np.random.default_rng(case.get("seed", 0))
        clk, rst = dut.ap_clk, dut.ap_rst_n
        self.clk = clk
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), clk, rst,
                                  reset_active_level=False)
        self.src = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), clk, rst,
                                   reset_active_level=False)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), clk, rst,
                                  reset_active_level=False)
        for lg in (self.axil.write_if.log, self.axil.read_if.log, self.src.log, self.sink.log):
            lg.setLevel("WARNING")
        if case.get("gap"):
            self.src.set_pause_generator(_pause(np.random.default_rng(case.get("seed", 0) + 1),
                                                case["gap"]))
        if case.get("bp"):
            self.sink.set_pause_generator(_pause(np.random.default_rng(case.get("seed", 0) + 2),
                                                 case["bp"]))
        self.cycle = 0

    def state(self):
        """frame_ctrl's state, for a failure message."""
        f = self.dut.u_frame
        names = ("state", "mode", "cutting", "sof_wait", "in_done", "icol", "irow", "ocol", "orow")
        return ", ".join(f"{n}={int(getattr(f, n).value)}" for n in names)

    async def count(self):
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1

    async def read(self, name):
        return int.from_bytes((await self.axil.read(rm.offset(name), 4)).data, "little")

    async def write(self, name, value):
        await self.axil.write(rm.offset(name), int(value).to_bytes(4, "little"))

    async def read_at(self, off):
        return int.from_bytes((await self.axil.read(off, 4)).data, "little")

    async def write_at(self, off, value):
        await self.axil.write(off, int(value).to_bytes(4, "little"))

    async def wait_done(self, limit=200_000):
        """Poll AP_CTRL until ap_done (read clears it); returns the clocks waited."""
        t0 = self.cycle
        while True:
            v = await self.read("AP_CTRL")
            if v & rm.AP_DONE:
                return self.cycle - t0
            if self.cycle - t0 > limit:
                raise AssertionError(f"no ap_done within {limit} clocks (AP_CTRL 0x{v:x}); "
                                     f"{self.state()}")
            await ClockCycles(self.clk, 20)


def _expect(errors, cond, msg):
    if not cond:
        errors.append(msg)


async def test_regmap(env, case, report):
    errors = []
    build = case["build"]
    values = {}
    for r in rm.REGISTERS:
        v = await env.read(r.name)
        values[r.name] = v
        want = build[r.name] if r.reset is None else r.reset
        _expect(errors, v == want, f"{r.name} @0x{r.offset:02x} after reset: 0x{v:x}, want 0x{want:x}")
    report["reset_values"] = values
    # read-write registers keep exactly their bits
    for r in rm.REGISTERS:
        if r.access != "rw" or r.name == "ISR":
            continue
        await env.write(r.name, 0xFFFFFFFF)
        v = await env.read(r.name)
        _expect(errors, v == (1 << r.bits) - 1, f"{r.name}: wrote ~0, read 0x{v:x}")
        await env.write(r.name, 0x5A5A5A5A)
        v = await env.read(r.name)
        _expect(errors, v == 0x5A5A5A5A & ((1 << r.bits) - 1), f"{r.name}: wrote 0x5a5a5a5a, read 0x{v:x}")
        # byte strobes: only byte 0 written
        await env.axil.write(r.offset, b"\x3c")
        v = await env.read(r.name)
        exp = ((0x5A5A5A5A & ~0xFF) | 0x3C) & ((1 << r.bits) - 1)
        _expect(errors, v == exp, f"{r.name}: byte 0 write 0x3c, read 0x{v:x}, want 0x{exp:x}")
        await env.write(r.name, 0)
    # read-only registers ignore writes
    for r in rm.REGISTERS:
        if r.access != "ro":
            continue
        before = await env.read(r.name)
        await env.write(r.name, 0xFFFFFFFF)
        v = await env.read(r.name)
        _expect(errors, v == before, f"read-only {r.name} changed by a write: 0x{before:x} -> 0x{v:x}")
    # unmapped offsets read 0 (and ignore writes)
    used = {r.offset for r in rm.REGISTERS}
    for off in range(0, 1 << rm.ADDR_BITS, 4):
        if off not in used:
            await env.write_at(off, 0xFFFFFFFF)
            v = await env.read_at(off)
            _expect(errors, v == 0, f"unmapped 0x{off:02x} reads 0x{v:x}")
    # auto_restart reads back; no start
    await env.write("AP_CTRL", rm.AP_AUTO_RESTART)
    v = await env.read("AP_CTRL")
    _expect(errors, v == rm.AP_AUTO_RESTART | rm.AP_IDLE | rm.AP_READY,
            f"AP_CTRL after writing auto_restart: 0x{v:x}")
    await env.write("AP_CTRL", 0)
    # a start with a bad size: size error, done and ready events, interrupt
    await env.write("GIE", 1)
    await env.write("IER", 3)
    await env.write("LR_HEIGHT", 8)
    await env.write("LR_WIDTH", build["MAX_WIDTH"] + 1)
    _expect(errors, int(env.dut.interrupt.value) == 0, "interrupt before any event")
    await env.write("AP_CTRL", rm.AP_START)
    await ClockCycles(env.clk, 4)
    st = await env.read("STATUS")
    _expect(errors, st == rm.STATUS_SIZE_ERROR, f"STATUS after a too-wide start: 0x{st:x}")
    isr = await env.read("ISR")
    _expect(errors, isr == 3, f"ISR after done+ready with IER=3: 0x{isr:x}")
    _expect(errors, int(env.dut.interrupt.value) == 1, "interrupt not raised")
    v1 = await env.read("AP_CTRL")
    v2 = await env.read("AP_CTRL")
    _expect(errors, v1 & rm.AP_DONE and not v1 & rm.AP_START, f"AP_CTRL after the start: 0x{v1:x}")
    _expect(errors, not v2 & rm.AP_DONE, f"ap_done not cleared by the read: 0x{v2:x}")
    _expect(errors, v2 & rm.AP_IDLE, f"not idle after a size error: 0x{v2:x}")
    await env.write("ISR", 1)            # toggle bit 0
    isr = await env.read("ISR")
    _expect(errors, isr == 2, f"ISR after toggling bit 0: 0x{isr:x}")
    await env.write("ISR", 2)
    isr = await env.read("ISR")
    _expect(errors, isr == 0 and int(env.dut.interrupt.value) == 0, f"ISR/interrupt not cleared: 0x{isr:x}")
    ec = await env.read("ERR_COUNT")
    _expect(errors, ec == 0, f"ERR_COUNT counts a size error: {ec}")
    # too small a size, too
    await env.write("LR_WIDTH", rm.MIN_LR - 1)
    await env.write("LR_HEIGHT", 8)
    await env.write("AP_CTRL", rm.AP_START)
    await env.wait_done()
    st = await env.read("STATUS")
    _expect(errors, st == rm.STATUS_SIZE_ERROR, f"STATUS after a too-narrow start: 0x{st:x}")
    return errors


def _line_packets(x, fault, line, col, tuser):
    """One byte string per LR line of the (H, W, B) input, with the fault applied,
    and the tuser list (per byte) of each."""
    H, W, B = x.shape
    lines = []
    for y in range(H):
        beats = [x[y, i].tobytes() for i in range(W)]
        if fault == "short_frame" and y >= line:
            break
        if y == line and fault == "drop":
            del beats[col]
        if y == line and fault == "extra":
            beats.insert(col, beats[col])
        data = b"".join(beats)
        tu = None
        if tuser:
            tu = [1 if (y == 0 and i < B) else 0 for i in range(len(data))]
        lines.append((data, tu))
    return lines


async def test_frames(env, case, report):
    from cocotbext.axi import AxiStreamFrame
    errors = []
    runs = []
    err_count = await env.read("ERR_COUNT")
    tuser = bool(case.get("tuser"))
    queued = set()
    for k, fr in enumerate(case["frames"]):
        x = np.load(fr["npy"], allow_pickle=False)
        H, W, B = x.shape
        h, w = fr.get("size") or (H, W)
        expect = fr.get("expect", "ok")
        await env.write("LR_HEIGHT", h)
        await env.write("LR_WIDTH", w)
        t0 = env.cycle
        await env.write("AP_CTRL", rm.AP_START)
        if expect == "size_error":
            await env.wait_done()
            st = await env.read("STATUS")
            _expect(errors, st == rm.STATUS_SIZE_ERROR, f"frame {k}: STATUS 0x{st:x}, want size error")
            _expect(errors, env.src.empty() and int(env.dut.s_axis_TREADY.value) == 0,
                    f"frame {k}: a size error must consume nothing")
            runs.append({"frame": k, "size": [h, w], "expect": expect})
            continue
        if k not in queued:
            for data, tu in _line_packets(x, fr.get("fault"), fr.get("line", 0), fr.get("col", 0),
                                          tuser):
                await env.src.send(AxiStreamFrame(data, tuser=tu))
        if fr.get("fault") == "short_frame":
            # the next frame follows at once: its first beat (TUSER) ends this frame
            # and waits for the next start
            for data, tu in _line_packets(np.load(case["frames"][k + 1]["npy"], allow_pickle=False), None, 0, 0, True):
                await env.src.send(AxiStreamFrame(data, tuser=tu))
            queued.add(k + 1)
        # every LR line gives one packet of its 4 HR rows, also after an error
        pkts = []
        for y in range(h):
            try:
                p = await with_timeout(env.sink.recv(), 400 * (w + 8) * 40, "ns")
            except SimTimeoutError:
                errors.append(f"frame {k} ({h}x{w}, {fr.get('fault')}): output packet {y} of {h} "
                              f"never came; {env.state()}")
                break
            pkts.append(p)
        if errors:
            break
        await env.wait_done()
        cycles = env.cycle - t0
        st = await env.read("STATUS")
        ec = await env.read("ERR_COUNT")
        sizes = {len(p.tdata) for p in pkts}
        _expect(errors, sizes == {16 * w * 4}, f"frame {k}: output packets of {sizes} bytes, want "
                                               f"{16 * w * 4} (4 HR rows of {4 * w} RGB0 pixels)")
        if expect == "frame_error":
            _expect(errors, st == rm.STATUS_FRAME_ERROR, f"frame {k} ({fr.get('fault')}): STATUS 0x{st:x}")
            _expect(errors, ec == err_count + 1, f"frame {k}: ERR_COUNT {ec}, want {err_count + 1}")
        else:
            _expect(errors, st == 0, f"frame {k}: STATUS 0x{st:x}, want 0")
            _expect(errors, ec == err_count, f"frame {k}: ERR_COUNT {ec} changed on a good frame")
        err_count = ec
        if fr.get("expected") and sizes == {16 * w * 4}:
            got = np.frombuffer(b"".join(bytes(p.tdata) for p in pkts), np.uint8).reshape(4 * h, 4 * w, 4)
            want = np.load(fr["expected"], allow_pickle=False)
            _expect(errors, (got[..., 3] == 0).all(), f"frame {k}: byte 3 of a pixel is not 0")
            bad = np.argwhere(got[..., :3] != want)
            _expect(errors, bad.size == 0, f"frame {k} ({h}x{w}): {len(bad)} mismatches, first "
                                           f"(row, col, ch) {bad[:4].tolist()}")
        runs.append({"frame": k, "size": [h, w], "fault": fr.get("fault"), "expect": expect,
                     "cycles": cycles, "status": st, "err_count": ec})
        if errors:
            break
    report["runs"] = runs
    return errors


TESTS = {"regmap": test_regmap, "frames": test_frames}


@cocotb.test()
async def run_case(dut):
    case = json.loads(open(os.environ["EGVSR_TB_CASE"]).read())
    report_path = os.environ.get("EGVSR_TB_REPORT")
    cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
    dut.ap_rst_n.value = 0
    env = Env(dut, case)
    cocotb.start_soon(env.count())
    await ClockCycles(dut.ap_clk, 8)
    dut.ap_rst_n.value = 1
    await ClockCycles(dut.ap_clk, 4)
    report = {"test": case["test"]}
    errors = await TESTS[case["test"]](env, case, report)
    finish_report(report, errors, report_path)
