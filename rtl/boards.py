"""FPGA boards the toolkit targets (shared by `rtl/` and `hls/`).

`dsp`: DSP slices; `clock_mhz`: the design clock the estimates use;
`fps`, `lr_w`, `lr_h`: the default real-time target (LR input size and frame
rate) when none is given.
"""
from __future__ import annotations

BOARDS: dict[str, dict] = {
    "pynq-z2": {"part": "xc7z020clg400-1", "dsp": 220, "bram36": 140, "clock_mhz": 100,
                "fps": 2, "lr_w": 960, "lr_h": 540},
    "kv260": {"part": "xck26-sfvc784-2LV-c", "dsp": 1248, "bram36": 144, "clock_mhz": 300,
              "fps": 30, "lr_w": 960, "lr_h": 540},
    "zcu104": {"part": "xczu7ev-ffvc1156-2-e", "dsp": 1728, "bram36": 312, "clock_mhz": 300,
               "fps": 30, "lr_w": 960, "lr_h": 540},
    "u250": {"part": "xcu250-figd2104-2L-e", "dsp": 11520, "bram36": 2688, "clock_mhz": 300,
             "fps": 60, "lr_w": 960, "lr_h": 540},
}


def board(name: str) -> dict:
    """The board entry (a copy, with its `name`); raises KeyError listing the known boards."""
    key = name.lower()
    if key not in BOARDS:
        raise KeyError(f"unknown board {name!r}; known: {', '.join(BOARDS)}")
    return dict(BOARDS[key], name=key)
