"""Board table for HLS builds: FPGA part, clock, DSP and BRAM budget.

A typed view of `egvsr.rtl.boards.BOARDS`, the one table of boards that the
HLS and RTL flows share (REFERENCE.md section 2).
"""
from __future__ import annotations

from dataclasses import dataclass

from egvsr.rtl.boards import BOARDS as _TABLE

__all__ = ["Board", "BOARDS", "get_board"]


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    dsp: int
    clock_mhz: float
    bram36: int

    @property
    def clock_period_ns(self) -> float:
        return round(1000.0 / self.clock_mhz, 3)


BOARDS = {k: Board(k, v["part"], int(v["dsp"]), float(v["clock_mhz"]), int(v["bram36"])) for k, v in _TABLE.items()}


def get_board(name: str) -> Board:
    """The board called `name` (ValueError listing the known boards otherwise)."""
    key = str(name).lower()
    if key not in BOARDS:
        raise ValueError(f"unknown board {name!r}; choose one of {', '.join(sorted(BOARDS))}")
    return BOARDS[key]
