"""Board table for HLS builds: FPGA part, clock, DSP and BRAM budget.

If `egvsr.rtl.boards` exists it is the single source of truth and is used;
this table is the fallback with the same numbers (REFERENCE.md section 2).
"""
from __future__ import annotations

from dataclasses import dataclass

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


BOARDS = {
    "pynq-z2": Board("pynq-z2", "xc7z020clg400-1", 220, 100.0, 140),
    "kv260": Board("kv260", "xck26-sfvc784-2LV-c", 1248, 300.0, 144),
    "zcu104": Board("zcu104", "xczu7ev-ffvc1156-2-e", 1728, 300.0, 312),
    "u250": Board("u250", "xcu250-figd2104-2L-e", 11520, 300.0, 2688),
}


def _from_rtl():
    try:
        from egvsr.rtl import boards as rb  # noqa: PLC0415
    except Exception:
        return None
    return getattr(rb, "BOARDS", None)


def get_board(name: str) -> Board:
    """The board called `name` (ValueError listing the known boards otherwise)."""
    key = str(name).lower()
    table = dict(BOARDS)
    rtl = _from_rtl()
    if isinstance(rtl, dict):
        for k, v in rtl.items():
            try:
                part = getattr(v, "part", None) or v["part"]
                dsp = int(getattr(v, "dsp", None) or v["dsp"])
                mhz = getattr(v, "clock_mhz", None) or v.get("clock_mhz") or v.get("mhz")
                base = table.get(str(k).lower())
                table[str(k).lower()] = Board(str(k).lower(), str(part), dsp, float(mhz),
                                              base.bram36 if base else 0)
            except Exception:
                continue
    if key not in table:
        raise ValueError(f"unknown board {name!r}; choose one of {', '.join(sorted(table))}")
    return table[key]
