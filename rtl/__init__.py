"""Synthesizable Verilog cores of the EGVSR SRNet and their generator.

`rtl/verilog/*.v` are hand-written Verilog-2005 cores (conv3x3, pixel_shuffle,
residual_add, relu, axis_fifo, axis_fork, requant); `generate` writes the
SRNet top for a bundle plus its weight memory files; `boards` is the board
table shared with `hls/`.
"""
from pathlib import Path

VERILOG_DIR = Path(__file__).resolve().parent / "verilog"

#: module -> the files it needs (itself first)
CORE_FILES = {
    "requant": ["requant.v"],
    "axis_fifo": ["axis_fifo.v"],
    "axis_fork": ["axis_fork.v"],
    "conv3x3": ["conv3x3.v", "requant.v", "axis_fifo.v"],
    "pixel_shuffle": ["pixel_shuffle.v", "axis_fifo.v"],
    "residual_add": ["residual_add.v", "requant.v", "axis_fifo.v"],
    "relu": ["relu.v", "requant.v", "axis_fifo.v"],
}


def core_sources(*modules: str) -> list[Path]:
    """Verilog files needed by the given core modules (deduplicated, ordered)."""
    seen: list[str] = []
    for m in modules:
        for f in CORE_FILES[m]:
            if f not in seen:
                seen.append(f)
    return [VERILOG_DIR / f for f in seen]


ALL_SOURCES = [VERILOG_DIR / f for f in ("requant.v", "axis_fifo.v", "axis_fork.v", "conv3x3.v",
                                          "pixel_shuffle.v", "residual_add.v", "relu.v")]
