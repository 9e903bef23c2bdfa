"""Minimal AXI4-Stream source/sink for cocotb 2.x with random gaps / back-pressure.

Signals are driven at the falling edge of the clock and the handshake is
sampled in the ReadOnly phase before the next rising edge, which gives the
same result on every simulator (no reliance on pre-/post-edge values).

A port map (logical name -> DUT signal name) lets the same testbench drive
the hand-written cores (`s_axis_tdata`, ...) and Vitis HLS exports
(`in_r_TDATA`, ...). Logical names: tdata, tvalid, tready, tlast, tuser.
"""
from __future__ import annotations

import random

from cocotb.triggers import FallingEdge, ReadOnly


def axis_ports(prefix: str, hls: bool = False) -> dict:
    """Default port map: `<prefix>_tdata` (cores) or `<prefix>_TDATA` (HLS)."""
    names = ("tdata", "tvalid", "tready", "tlast", "tuser")
    return {n: f"{prefix}_{n.upper() if hls else n}" for n in names}


def _sig(dut, name):
    return getattr(dut, name) if name and hasattr(dut, name) else None


class _AxisPort:
    """The five AXI4-Stream signals of one port (tlast/tuser optional)."""

    def __init__(self, dut, clk, ports: dict):
        self.clk = clk
        self.d = _sig(dut, ports["tdata"])
        self.v = _sig(dut, ports["tvalid"])
        self.r = _sig(dut, ports["tready"])
        self.l = _sig(dut, ports.get("tlast"))
        self.u = _sig(dut, ports.get("tuser"))
        self.cycle = 0


class AxisSource(_AxisPort):
    """Drives beats (data, last, user); `gap` = probability of an idle cycle."""

    def __init__(self, dut, clk, ports: dict, gap: float = 0.0, seed: int = 0):
        super().__init__(dut, clk, ports)
        self.gap = gap
        self.rng = random.Random(seed)
        self.v.value = 0
        self.first_cycle = None
        self.sent = 0

    async def send(self, beats):
        i, n = 0, len(beats)
        self.sent = 0                      # beats the DUT has taken so far
        driving = taken = False
        while True:
            await FallingEdge(self.clk)
            self.cycle += 1
            if taken:
                i += 1
                self.sent = i
                driving = taken = False
            if i >= n:
                self.v.value = 0
                return
            if not driving:
                if self.gap and self.rng.random() < self.gap:
                    self.v.value = 0
                else:
                    data, last, user = beats[i]
                    self.d.value = data
                    if self.l is not None:
                        self.l.value = int(last)
                    if self.u is not None:
                        self.u.value = int(user)
                    self.v.value = 1
                    driving = True
            await ReadOnly()
            if driving and int(self.r.value):
                taken = True
                if self.first_cycle is None:
                    self.first_cycle = self.cycle


class AxisSink(_AxisPort):
    """Collects beats; `bp` = probability of holding tready low in a cycle."""

    def __init__(self, dut, clk, ports: dict, bp: float = 0.0, seed: int = 1):
        super().__init__(dut, clk, ports)
        self.bp = bp
        self.rng = random.Random(seed)
        self.r.value = 0
        self.beats: list[tuple[int, int, int]] = []
        self.last_cycle = None

    async def recv(self, n: int):
        while len(self.beats) < n:
            await FallingEdge(self.clk)
            self.cycle += 1
            ready = not (self.bp and self.rng.random() < self.bp)
            self.r.value = int(ready)
            await ReadOnly()
            if ready and int(self.v.value):
                self.beats.append((int(self.d.value),
                                   int(self.l.value) if self.l is not None else 0,
                                   int(self.u.value) if self.u is not None else 0))
                self.last_cycle = self.cycle
        await FallingEdge(self.clk)
        self.r.value = 0
        return self.beats
