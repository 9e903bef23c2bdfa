"""The SRNet core's AXI-Lite register map (`s_axi_control`): one table for the
driver, the HLS wrapper, the RTL register file and the interface contract test.

The layout follows Vitis HLS's `ap_ctrl_hs` block so that pynq's
``DefaultIP`` and the HLS-generated wrapper agree with the RTL core: the
control word at 0x00, interrupt registers at 0x04-0x0C, then one 32-bit
register per argument on an 8-byte stride (the HLS wrapper pins each offset
with ``#pragma HLS INTERFACE s_axilite ... offset=``).

Frame size registers are read when a frame starts (``ap_start``); a frame of
another size needs no new bitstream, only sizes within ``MAX_*`` and the
minimum (:func:`check_frame_size`).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Register", "REGISTERS", "REGMAP_VERSION", "BY_NAME", "AP_START", "AP_DONE",
           "AP_IDLE", "AP_READY", "AP_AUTO_RESTART", "STATUS_FRAME_ERROR",
           "STATUS_SIZE_ERROR", "MIN_LR", "ADDR_BITS", "check_frame_size", "offset"]

#: bump when an offset, a field or a meaning changes (the RTL and HLS tops
#: report it in ``VERSION``; the driver refuses a core with another one).
REGMAP_VERSION = 1

# AP_CTRL bits (as Vitis HLS ap_ctrl_hs)
AP_START, AP_DONE, AP_IDLE, AP_READY, AP_AUTO_RESTART = 0x1, 0x2, 0x4, 0x8, 0x80
# STATUS bits (sticky until the next ap_start)
STATUS_FRAME_ERROR = 0x1   # a line shorter/longer than LR_WIDTH or a frame of the wrong height
STATUS_SIZE_ERROR = 0x2    # LR_WIDTH/LR_HEIGHT outside [MIN_LR, MAX_*] at ap_start

#: the smallest LR frame side the cores handle (3x3 windows, 2x2 pools)
MIN_LR = 4


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    access: str      # "rw", "ro", or "ctrl" (AP_CTRL semantics)
    bits: int
    doc: str
    #: value read after reset; None: a constant of the build (bundle hash, maximum size)
    reset: int | None = 0
    #: a constant of the build (a parameter of the RTL register file), not a core output
    build: bool = False


REGISTERS = (
    Register("AP_CTRL", 0x00, "ctrl", 8, "bit0 ap_start, bit1 ap_done (clear on read), "
             "bit2 ap_idle, bit3 ap_ready, bit7 auto_restart", reset=AP_IDLE | AP_READY),
    Register("GIE", 0x04, "rw", 1, "global interrupt enable"),
    Register("IER", 0x08, "rw", 2, "interrupt enable: bit0 done, bit1 ready"),
    Register("ISR", 0x0C, "rw", 2, "interrupt status (toggle on write): bit0 done, bit1 ready"),
    Register("LR_HEIGHT", 0x10, "rw", 16, "LR frame height in lines, read at ap_start"),
    Register("LR_WIDTH", 0x18, "rw", 16, "LR frame width in pixels, read at ap_start"),
    Register("STATUS", 0x20, "ro", 2, "bit0 frame error (short/long line or frame), "
             "bit1 size error; cleared by ap_start"),
    Register("ERR_COUNT", 0x28, "ro", 32, "frames with a sync error (a line cut or zero-filled) since reset"),
    Register("ID_LO", 0x30, "ro", 32, "bundle sha256, first 32 bits (meta.id_words[0])",
             reset=None, build=True),
    Register("ID_HI", 0x38, "ro", 32, "bundle sha256, next 32 bits (meta.id_words[1])",
             reset=None, build=True),
    Register("MAX_HEIGHT", 0x40, "ro", 16, "largest LR height this build accepts",
             reset=None, build=True),
    Register("MAX_WIDTH", 0x48, "ro", 16, "largest LR width this build accepts",
             reset=None, build=True),
    Register("VERSION", 0x50, "ro", 32, "REGMAP_VERSION", reset=REGMAP_VERSION, build=True),
)

BY_NAME = {r.name: r for r in REGISTERS}
#: bytes of address space the core claims (power of two)
ADDR_BITS = 7


def offset(name: str) -> int:
    """The byte offset of register `name`."""
    try:
        return BY_NAME[name].offset
    except KeyError:
        raise KeyError(f"no register {name!r}; the map has {[r.name for r in REGISTERS]}") from None


def check_frame_size(h: int, w: int, max_h: int, max_w: int) -> None:
    """Raise ValueError unless an LR frame ``h`` x ``w`` fits a core built for
    ``max_h`` x ``max_w``."""
    for what, v, hi in (("height", h, max_h), ("width", w, max_w)):
        if not (MIN_LR <= int(v) <= int(hi)):
            raise ValueError(f"LR frame {what} {v} is outside [{MIN_LR}, {hi}] that this "
                             f"overlay accepts: crop/resize the video or build an overlay "
                             f"with a larger maximum")
