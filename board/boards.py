"""The one table of FPGA boards: read by hls/, rtl/, board/, the planner and the tests.

Per board: `part`, Vivado `board_part`, `dsp` (DSP slices the planner may
use), `dsp48` (E1: 7-series DSP48E1, 25x18; E2: UltraScale+ DSP48E2, 27x18,
which the RTL conv cores use for two INT8 products each), `bram36`, `uram`, `lut` (CLB LUTs), `clock_mhz` (the design clock the
estimates and the HLS clock target use), the default real-time target
(`lr_w` x `lr_h` at `fps`), `dma_bytes` (the AXI DMA memory-map width)
and `ps`, the processing-system settings the block design needs. Figures:
REFERENCE.md section 2 and the vendors' product tables (U250: 11,520 of
its 12,288 DSPs usable in the dynamic region). numpy-free: runs on a board.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BOARDS", "Board", "board", "get_board", "names"]

#: Zynq UltraScale+ PS settings shared by kv260 and zcu104 (Vivado 2022.x-2024.x names)
_ZYNQ_MP = {"ps_vlnv": "xilinx.com:ip:zynq_ultra_ps_e:3.5",
            "ps_rule": "xilinx.com:bd_rule:zynq_ultra_ps_e",
            "ps_rule_config": 'apply_board_preset "1"',
            "ps_config": {"PSU__USE__M_AXI_GP0": "1",
                          "PSU__USE__M_AXI_GP1": "0",
                          "PSU__USE__S_AXI_GP2": "1",
                          "PSU__SAXIGP2__DATA_WIDTH": "64",
                          "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ": "{clk}"},
            "m_axi": "M_AXI_HPM0_FPD", "s_axi_hp": "S_AXI_HP0_FPD",
            "clk": "pl_clk0", "resetn": "pl_resetn0"}

_ZYNQ_7000 = {"ps_vlnv": "xilinx.com:ip:processing_system7:5.5",
              "ps_rule": "xilinx.com:bd_rule:processing_system7",
              "ps_rule_config": 'make_external "FIXED_IO, DDR" apply_board_preset "1" '
                                'Master "Disable" Slave "Disable"',
              "ps_config": {"PCW_USE_S_AXI_HP0": "1",
                            "PCW_S_AXI_HP0_DATA_WIDTH": "64",
                            "PCW_FPGA0_PERIPHERAL_FREQMHZ": "{clk}"},
              "m_axi": "M_AXI_GP0", "s_axi_hp": "S_AXI_HP0",
              "clk": "FCLK_CLK0", "resetn": "FCLK_RESET0_N"}

_TARGET = {"lr_w": 960, "lr_h": 540, "dma_bytes": 8}

BOARDS: dict[str, dict] = {
    "pynq-z2": {"part": "xc7z020clg400-1", "board_part": "tul.com.tw:pynq-z2:part0:1.0",
                "dsp": 220, "dsp48": "E1", "bram36": 140, "uram": 0, "lut": 53200, "clock_mhz": 100,
                "fps": 2, **_TARGET, "ps": _ZYNQ_7000},
    "kv260": {"part": "xck26-sfvc784-2LV-c", "board_part": "xilinx.com:kv260_som:part0:1.4",
              "dsp": 1248, "dsp48": "E2", "bram36": 144, "uram": 64, "lut": 117120, "clock_mhz": 300,
              "fps": 30, **_TARGET, "ps": _ZYNQ_MP},
    "zcu104": {"part": "xczu7ev-ffvc1156-2-e", "board_part": "xilinx.com:zcu104:part0:1.1",
               "dsp": 1728, "dsp48": "E2", "bram36": 312, "uram": 96, "lut": 230400, "clock_mhz": 300,
               "fps": 30, **_TARGET, "ps": _ZYNQ_MP},
    "u250": {"part": "xcu250-figd2104-2L-e", "board_part": None,
             "dsp": 11520, "dsp48": "E2", "bram36": 2688, "uram": 1280, "lut": 1728000, "clock_mhz": 300,
             "fps": 60, **_TARGET, "ps": None},
}


def names() -> list:
    return list(BOARDS)


def board(name: str) -> dict:
    """The board entry (a copy, with its `name`); KeyError listing the known boards."""
    key = str(name).lower()
    if key not in BOARDS:
        raise KeyError(f"unknown board {name!r}; known: {', '.join(BOARDS)}")
    return dict(BOARDS[key], name=key)


@dataclass(frozen=True)
class Board:
    """A typed view of one `BOARDS` entry (what the HLS flow reads)."""
    name: str
    part: str
    dsp: int
    clock_mhz: float
    bram36: int
    uram: int = 0
    lut: int = 0

    @property
    def clock_period_ns(self) -> float:
        return round(1000.0 / self.clock_mhz, 3)


def get_board(name: str) -> Board:
    """`Board` view of `name` (ValueError listing the known boards otherwise)."""
    try:
        b = board(name)
    except KeyError:
        raise ValueError(f"unknown board {name!r}; choose one of {', '.join(sorted(BOARDS))}") from None
    return Board(b["name"], b["part"], int(b["dsp"]), float(b["clock_mhz"]), int(b["bram36"]),
                 int(b["uram"]), int(b["lut"]))
