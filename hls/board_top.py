"""The board IP around the hls4ml SRNet top: AXI-Lite control, board beats,
TLAST per LR line and frame synchronisation (package ``egvsr.hls``).

hls4ml's SRNet top (``egvsr_srnet``) has two bare ``axis`` streams of
51-byte input words and ``3*P``-byte output words and no control port.  The
block design (``board/bitstream.py``) and the driver (``board/dmastream.py``)
need the IP ``xilinx.com:hls:egvsr_srnet:1.0`` with ports ``s_axis``
(56-byte beats, one LR pixel), ``m_axis`` (``CORE_OUT_BYTES``-byte beats of
whole HR pixels R, G, B, 0 (8 bytes: two pixels), TLAST on the last beat of each
LR line's 4 HR rows),
``s_axi_control`` (the register map of :mod:`egvsr.board.regmap`),
``ap_clk`` and ``ap_rst_n``.

:func:`write_board_top` writes, into an hls4ml project of the top, the way
hls4ml's VivadoAccelerator backend wraps its own designs (a second top
function ``<project>_axi`` calling the network in a dataflow region between
an input and an output loop, its own ``build_prj`` script with ``set_top``
on the wrapper); the code here is our own:

- ``firmware/egvsr_srnet_axi.{h,cpp}``: the wrapper.  ``s_axilite`` on
  ``bundle=control`` with the offsets of the register map (``offset=``
  pragmas); ``hls::stream<ap_axiu<...>>`` side channels.  The input loop
  counts lines by TLAST: a line of the wrong length (TLAST early or late, or
  a beat with TKEEP not all ones) sets the frame error bit and ERR_COUNT, is
  zero-filled or cut to ``w`` pixels, and the network still receives exactly
  ``h*w`` pixels, so every output block comes and the next frame is in step
  (no reset needed).
- ``firmware/egvsr_srnet_rt.{h,cpp}`` and ``nnet_utils/nnet_runtime_size_stream.h``
  (:mod:`egvsr.hls.runtime_top`): the network the wrapper calls, hls4ml's
  model with run-time size stream layers.
- ``build_prj_board.tcl``: hls4ml's ``build_prj.tcl`` with the wrapper as
  top and the run-time size network in place of hls4ml's top, exported as
  ``egvsr_srnet`` (``export_design -ipname``), so the block design finds the
  VLNV it instantiates.
- ``csim/``: a C-simulation harness (``ctypes``) and a stand-in
  ``ap_axi_sdata.h`` for g++ (Vitis HLS uses its own header; the stand-in is
  never in the synthesis file list).

Run-time frame size: one build takes every LR frame from ``regmap.MIN_LR``
x ``regmap.MIN_LR`` up to its build size (the size of the hls4ml project,
reported in MAX_HEIGHT/MAX_WIDTH), as the RTL top does.  hls4ml's own stream
layers take their frame size from compile-time configs, so the wrapper does not
call hls4ml's top ``egvsr_srnet`` but ``egvsr_srnet_rt(in, out, h, w)``
(:mod:`egvsr.hls.runtime_top`): the same layers, types, weights, FIFO depths
and configs, each layer one of our run-time size stream layers (buffers sized
for the build size, loops over the frame's ``h x w``).  The input
loop, the network and the output loop all run LR_HEIGHT x LR_WIDTH; a size
outside ``[MIN_LR, MAX_HEIGHT] x [MIN_LR, MAX_WIDTH]`` sets STATUS size error
and ends the call at once, consuming nothing.

The C simulation runs the dataflow processes one after the other with
unbounded streams; a process that reads more or fewer words than its producer
wrote (the symptom of a wrong frame size somewhere, a hang or a frame out of
step in hardware) makes ``hls_stream.h`` (or our DepthToSpace) print a
warning, which :meth:`BoardTop.start` turns into an error.

A start with a size of 0 (a size error) is the driver's identify call: the
HLS core's read-only registers (ID, MAX size, VERSION) are outputs of the
function and hold their values only after one call.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from egvsr.board import meta as bmeta
from egvsr.board import regmap
from egvsr.board.bitstream import ACCEL_PORTS, ACCEL_VLNV, CORE_IN_BYTES, CORE_OUT_BYTES

from .runtime_top import write_runtime_top

__all__ = ["BoardTop", "write_board_top", "wrapper_name", "OUT_REGS", "PO"]

#: HR pixels (4 bytes each: R, G, B, 0) per output beat
PO = CORE_OUT_BYTES // 4

#: registers the wrapper writes (function outputs), in the harness's order
OUT_REGS = ("STATUS", "ERR_COUNT", "ID_LO", "ID_HI", "MAX_HEIGHT", "MAX_WIDTH", "VERSION")
IN_REGS = ("LR_HEIGHT", "LR_WIDTH")


def wrapper_name(project: str) -> str:
    """The wrapper function of hls4ml project ``project`` (hls4ml's ``_axi`` convention)."""
    return f"{project}_axi"


def _arg(name: str) -> str:
    return name.lower()


def _regs_decl() -> tuple[list, list]:
    ins = [f"ap_uint<{regmap.BY_NAME[n].bits}> {_arg(n)}" for n in IN_REGS]
    outs = [f"ap_uint<{regmap.BY_NAME[n].bits}> &{_arg(n)}" for n in OUT_REGS]
    return ins, outs


def _header(project, top, rt, h, w, p, sha256) -> str:
    ins, outs = _regs_decl()
    id_lo, id_hi = bmeta.id_words(sha256)
    args = ",\n    ".join([f"hls::stream<in_beat_t> &{ACCEL_PORTS['in']}",
                           f"hls::stream<out_beat_t> &{ACCEL_PORTS['out']}"] + ins + outs)
    return f"""// {top}: board IP wrapper of the hls4ml top {project} (generated by egvsr.hls.board_top).
// Register map: egvsr.board.regmap version {regmap.REGMAP_VERSION}; bundle sha256 {sha256}.
#ifndef {top.upper()}_H_
#define {top.upper()}_H_

#include "ap_axi_sdata.h"
#include "ap_int.h"
#include "hls_stream.h"

#include "{rt}.h"

namespace egvsr_board {{
static const unsigned H = {h};            // the most LR lines per frame (build size = MAX_HEIGHT)
static const unsigned W = {w};            // the most LR pixels per line (build size = MAX_WIDTH)
static const unsigned MIN_LR = {regmap.MIN_LR};        // the fewest lines / pixels per line (regmap.MIN_LR)
static const unsigned P = {p};            // HR pixels per network output word
static const unsigned IN_BYTES = {CORE_IN_BYTES};    // one LR pixel per input beat (51 channels + pad)
static const unsigned OUT_BYTES = {CORE_OUT_BYTES};    // bytes per output beat (CORE_OUT_BYTES)
static const unsigned PO = OUT_BYTES / 4;   // HR pixels (R, G, B, 0) per output beat
static const unsigned ID_LO = 0x{id_lo:08x}u;
static const unsigned ID_HI = 0x{id_hi:08x}u;
static const unsigned VERSION = {regmap.REGMAP_VERSION};
static const unsigned STATUS_FRAME_ERROR = {regmap.STATUS_FRAME_ERROR};
static const unsigned STATUS_SIZE_ERROR = {regmap.STATUS_SIZE_ERROR};
}}

typedef ap_axiu<{8 * CORE_IN_BYTES}, 0, 0, 0> in_beat_t;
typedef ap_axiu<{8 * CORE_OUT_BYTES}, 0, 0, 0> out_beat_t;

void {top}(
    {args}
);

#endif
"""


def _source(project, top, rt, h, w, n_in, n_out_ch) -> str:
    ins, outs = _regs_decl()
    pin, pout = ACCEL_PORTS["in"], ACCEL_PORTS["out"]
    args = ",\n    ".join([f"hls::stream<in_beat_t> &{pin}", f"hls::stream<out_beat_t> &{pout}"]
                          + ins + outs)
    pragmas = [f"    #pragma HLS INTERFACE mode=axis port={pin} register_mode=both",
               f"    #pragma HLS INTERFACE mode=axis port={pout} register_mode=both",
               "    #pragma HLS INTERFACE mode=s_axilite port=return bundle=control"]
    for n in IN_REGS + OUT_REGS:
        pragmas.append(f"    #pragma HLS INTERFACE mode=s_axilite port={_arg(n)} bundle=control "
                       f"offset=0x{regmap.offset(n):02x}")
    pragmas = "\n".join(pragmas)
    lo = regmap.MIN_LR
    return f"""// {top}: board IP wrapper of the hls4ml top {project} (generated by egvsr.hls.board_top).
//
// Ports (board/bitstream.py ACCEL_PORTS): {pin} (AXI4-Stream in, one LR pixel of {n_in}
// channels + pad per {CORE_IN_BYTES}-byte beat, TLAST on each line's last pixel), {pout}
// (AXI4-Stream out, {CORE_OUT_BYTES // 4} HR pixel(s) R,G,B,0 per {CORE_OUT_BYTES}-byte beat, TLAST on the last
// beat of each LR line's 4 HR rows), s_axi_control (egvsr.board.regmap), ap_clk, ap_rst_n.
// One call (ap_start .. ap_done) is one frame of LR_HEIGHT x LR_WIDTH pixels, each within
// [MIN_LR, MAX_*] = [{lo}, {h}] x [{lo}, {w}]; the network is {rt} (egvsr.hls.runtime_top), the
// hls4ml model with run-time size layers.
#include "{top}.h"

using namespace egvsr_board;

// Input: h lines, each ended by TLAST. A line of the wrong length or with a partial
// beat sets err; short lines are zero-filled, long ones cut at their TLAST, so the
// network always gets h*w pixels and the next frame starts in step.
static void read_lines(hls::stream<in_beat_t> &in, hls::stream<input_t> &net_in, unsigned h, unsigned w,
                       ap_uint<1> &frame_err) {{
    ap_uint<1> err = 0;
ReadLines:
    for (unsigned y = 0; y < h; y++) {{
        #pragma HLS LOOP_TRIPCOUNT min={lo} max={h}
        bool ended = false;
    ReadPixels:
        for (unsigned x = 0; x < w; x++) {{
            #pragma HLS PIPELINE II=1
            #pragma HLS LOOP_TRIPCOUNT min={lo} max={w}
            input_t pix;
            in_beat_t beat;
            beat.data = 0;
            if (!ended) {{
                beat = in.read();
                ended = beat.last;
                if (!beat.keep.and_reduce()) err = 1;                      // partial beat (TKEEP)
                if (ended && x != w - 1) err = 1;                          // TLAST early: short line
            }}
        Unpack:
            for (unsigned c = 0; c < {n_in}; c++) {{
                #pragma HLS UNROLL
                pix[c].range() = beat.data.range(8 * c + 7, 8 * c);  // zero when no beat was read
            }}
            net_in.write(pix);
        }}
    DropLong:
        while (!ended) {{  // no TLAST on the line's last pixel: a long line
            #pragma HLS PIPELINE II=1
            in_beat_t beat = in.read();
            ended = beat.last;
            err = 1;
        }}
    }}
    frame_err = err;
}}

// Output: the network's words (P HR pixels each, raster order) as beats of PO HR
// pixels (4 bytes each: R, G, B, 0), TLAST on the last beat of each LR line's block
// of 4 HR rows.
static void write_blocks(hls::stream<result_t> &net_out, hls::stream<out_beat_t> &out, unsigned h, unsigned w) {{
    const unsigned BLOCK_PIXELS = 16 * w;  // HR pixels per LR line: 4 HR rows of 4w
    result_t word;
    ap_uint<8 * OUT_BYTES> px = 0;
WriteLines:
    for (unsigned y = 0; y < h; y++) {{
        #pragma HLS LOOP_TRIPCOUNT min={lo} max={h}
    WritePixels:
        for (unsigned k = 0; k < BLOCK_PIXELS; k++) {{
            #pragma HLS PIPELINE II=1
            #pragma HLS LOOP_TRIPCOUNT min={16 * lo} max={16 * w}
            unsigned p = k % P, q = k % PO;
            if (p == 0) word = net_out.read();
        Pack:
            for (unsigned c = 0; c < 4; c++) {{
                #pragma HLS UNROLL
                px.range(32 * q + 8 * c + 7, 32 * q + 8 * c) =
                    c < {n_out_ch} ? (unsigned)word[p * {n_out_ch} + (c < {n_out_ch} ? c : 0)].range() : 0u;
            }}
            if (q == PO - 1) {{
                out_beat_t beat;
                beat.data = px;
                beat.keep = -1;
                beat.strb = -1;
                beat.last = (k == BLOCK_PIXELS - 1);
                out.write(beat);
            }}
        }}
    }}
}}

static void run_frame(hls::stream<in_beat_t> &in, hls::stream<out_beat_t> &out, unsigned h, unsigned w,
                      ap_uint<1> &frame_err) {{
    #pragma HLS DATAFLOW
    hls::stream<input_t> net_in("net_in");
    #pragma HLS STREAM variable=net_in depth=2
    hls::stream<result_t> net_out("net_out");
    #pragma HLS STREAM variable=net_out depth=2
    read_lines(in, net_in, h, w, frame_err);
    {rt}(net_in, net_out, h, w);
    write_blocks(net_out, out, h, w);
}}

void {top}(
    {args}
) {{
{pragmas}
    static ap_uint<32> errors = 0;  // frames with a sync error since reset
    #pragma HLS RESET variable=errors
    id_lo = ID_LO;
    id_hi = ID_HI;
    max_height = H;
    max_width = W;
    version = VERSION;
    const unsigned h = lr_height, w = lr_width;
    if (h < MIN_LR || h > H || w < MIN_LR || w > W) {{  // outside [MIN_LR, MAX_*]: nothing is read
        status = STATUS_SIZE_ERROR;
        err_count = errors;
        return;
    }}
    ap_uint<1> frame_err = 0;
    run_frame({pin}, {pout}, h, w, frame_err);
    if (frame_err) errors++;
    status = frame_err ? STATUS_FRAME_ERROR : 0;
    err_count = errors;
}}
"""


_SDATA_STANDIN = """// C-simulation stand-in for Vitis HLS's ap_axi_sdata.h (generated by egvsr.hls.board_top).
// Only g++ sees this file: synthesis uses the Vitis HLS header of the same name, whose
// ap_axiu<D, U, TI, TD> has the same members (data, keep, strb, user, last, id, dest).
#ifndef EGVSR_CSIM_AP_AXI_SDATA_H
#define EGVSR_CSIM_AP_AXI_SDATA_H
#include "ap_int.h"

template <int D, int U, int TI, int TD> struct ap_axiu {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<(U > 0 ? U : 1)> user;
    ap_uint<1> last;
    ap_uint<(TI > 0 ? TI : 1)> id;
    ap_uint<(TD > 0 ? TD : 1)> dest;
};
#endif
"""


def _harness(top) -> str:
    ins, outs = _regs_decl()
    out_decl = "\n    ".join(f"ap_uint<{regmap.BY_NAME[n].bits}> r_{_arg(n)} = 0;" for n in OUT_REGS)
    out_args = ", ".join(f"r_{_arg(n)}" for n in OUT_REGS)
    out_copy = "\n    ".join(f"regs[{i}] = (unsigned)r_{_arg(n)};" for i, n in enumerate(OUT_REGS))
    return f"""// C-simulation harness of {top} for ctypes (generated by egvsr.hls.board_top).
#include <map>
#include <string>
#include "{top}.h"

namespace nnet {{
bool trace_enabled = false;
std::map<std::string, void *> *trace_outputs = NULL;
size_t trace_type_size = sizeof(double);
}}

using namespace egvsr_board;

static hls::stream<in_beat_t> g_in("s_axis");   // persists between calls, as the stream FIFO does
static hls::stream<out_beat_t> g_out("m_axis");

extern "C" {{
// beats: n x IN_BYTES bytes; last[i]: TLAST; valid[i]: bytes with TKEEP set (from byte 0)
void egvsr_board_push(const unsigned char *bytes, int n, const unsigned char *last, const unsigned char *valid) {{
    for (int i = 0; i < n; i++) {{
        in_beat_t b;
        b.data = 0;
        b.keep = 0;
        for (unsigned k = 0; k < IN_BYTES; k++) {{
            if (k < valid[i]) {{
                b.data.range(8 * k + 7, 8 * k) = bytes[i * IN_BYTES + k];
                b.keep[k] = 1;
            }}
        }}
        b.strb = b.keep;
        b.last = last[i];
        g_in.write(b);
    }}
}}

int egvsr_board_pending(void) {{ return (int)g_in.size(); }}

// one call = one frame (ap_start .. ap_done); regs gets {", ".join(OUT_REGS)};
// returns the number of output beats (data, last), or -1 if more than max_out came
int egvsr_board_start(unsigned lr_height, unsigned lr_width, unsigned *regs,
                      unsigned *data, unsigned char *last, int max_out) {{
    {out_decl}
    {top}(g_in, g_out, lr_height, lr_width, {out_args});
    {out_copy}
    int n = 0;
    while (!g_out.empty()) {{
        out_beat_t b = g_out.read();
        if (n >= max_out) return -1;
        for (unsigned j = 0; j < PO; j++) data[n * PO + j] = (unsigned)b.data.range(32 * j + 31, 32 * j);
        last[n] = (unsigned char)b.last;
        n++;
    }}
    return n;
}}
}}
"""


def _board_tcl(project_dir: Path, project: str, top: str, rt: str) -> str:
    src = (project_dir / "build_prj.tcl").read_text()
    vendor, library, name, version = ACCEL_VLNV.split(":")
    net = 'add_files firmware/${project_name}.cpp -cflags "-std=c++0x"\n'
    tb = 'add_files -tb ${project_name}_test.cpp -cflags "-std=c++0x"\n'
    if "set_top ${project_name}\n" not in src or "export_design -format ip_catalog" not in src \
            or net not in src or tb not in src:
        raise RuntimeError(f"{project_dir}/build_prj.tcl: hls4ml's script changed (no set_top / "
                           "export_design / add_files line); update egvsr.hls.board_top")
    src = src.replace("set_top ${project_name}\n", f"set_top {top}\n", 1)
    # the run-time size network instead of hls4ml's fixed-size top (both define the weights)
    src = src.replace(net, f'add_files firmware/{rt}.cpp -cflags "-std=c++0x"\n'
                      f'add_files firmware/{top}.cpp -cflags "-std=c++0x"\n', 1)
    src = src.replace(tb, "", 1)  # hls4ml's test bench calls its fixed-size top
    lines = []
    for line in src.splitlines(keepends=True):
        if "export_design -format ip_catalog" in line:
            indent = line[:len(line) - len(line.lstrip())]
            line = (f"{indent}export_design -format ip_catalog -vendor {vendor} -library {library} "
                    f"-ipname {name} -version {version} -display_name \"EGVSR SRNet ({top})\"\n")
        lines.append(line)
    head = (f"# Vitis HLS build of the board IP {ACCEL_VLNV}: hls4ml's build_prj.tcl with the\n"
            f"# wrapper {top} as top (generated by egvsr.hls.board_top). Run as hls4ml runs\n"
            f"# build_prj.tcl: vitis-run --tcl build_prj_board.tcl --mode hls (options in build_opt.tcl;\n"
            f"# csim 0 and cosim 0 as make hls-synth writes them: hls4ml's test bench is for its\n"
            f"# fixed-size top; this IP is C-simulated by egvsr.hls.board_top.BoardTop with g++).\n")
    return head + "".join(lines)


@dataclass
class BoardTop:
    """The generated wrapper of one hls4ml SRNet top, and its C simulation."""
    project_dir: Path
    project: str
    top: str
    #: the largest frame (the build size: MAX_HEIGHT, MAX_WIDTH); any size from
    #: ``min_lr`` x ``min_lr`` up to it runs
    lr_height: int
    lr_width: int
    pixels_per_beat: int
    sha256: str
    files: dict = field(default_factory=dict)
    min_lr: int = regmap.MIN_LR
    #: the run-time size network (:class:`egvsr.hls.runtime_top.RuntimeTop`)
    network: object = None
    compile_s: float = 0.0
    _lib: object = None

    @property
    def lib_path(self) -> Path:
        return self.project_dir / "csim" / f"lib{self.top}_csim.so"

    def compile(self, opt: str = "-O1"):
        """Build the C simulation (g++) of the wrapper + the run-time size network."""
        if self._lib is not None:
            return self
        if shutil.which("g++") is None:
            raise RuntimeError("g++ is not on PATH: the board wrapper's C simulation needs it "
                               "(apt-get install g++)")
        d = self.project_dir
        cmd = ["g++", opt, "-std=c++14", "-fPIC", "-shared", "-w",
               f"-I{d / 'csim'}", f"-I{d / 'firmware'}", f"-I{d / 'firmware' / 'ap_types'}",
               f'-DWEIGHTS_DIR="{d / "firmware" / "weights"}"',
               str(self.files["rt_source"]), str(d / "firmware" / f"{self.top}.cpp"),
               str(d / "csim" / f"{self.top}_csim.cpp"), "-o", str(self.lib_path)]
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"g++ failed on the board wrapper {self.top}:\n{r.stderr[-4000:]}")
        self.compile_s = time.perf_counter() - t
        lib = ctypes.CDLL(str(self.lib_path))
        u8p, u32p = ctypes.POINTER(ctypes.c_ubyte), ctypes.POINTER(ctypes.c_uint)
        lib.egvsr_board_push.argtypes = [u8p, ctypes.c_int, u8p, u8p]
        lib.egvsr_board_push.restype = None
        lib.egvsr_board_start.argtypes = [ctypes.c_uint, ctypes.c_uint, u32p, u32p, u8p, ctypes.c_int]
        lib.egvsr_board_start.restype = ctypes.c_int
        lib.egvsr_board_pending.restype = ctypes.c_int
        self._lib = lib
        return self

    # --- the stream, beat by beat ---------------------------------------------
    def push(self, beats, last, valid=None):
        """Queue input beats: ``beats`` (n, 56) uint8, ``last`` (n,) TLAST, ``valid``
        (n,) bytes with TKEEP set (default all 56)."""
        self.compile()
        beats = np.ascontiguousarray(beats, np.uint8).reshape(-1, CORE_IN_BYTES)
        n = len(beats)
        last = np.ascontiguousarray(last, np.uint8).reshape(n)
        valid = np.full(n, CORE_IN_BYTES, np.uint8) if valid is None else \
            np.ascontiguousarray(valid, np.uint8).reshape(n)
        u8 = ctypes.POINTER(ctypes.c_ubyte)
        self._lib.egvsr_board_push(beats.ctypes.data_as(u8), n, last.ctypes.data_as(u8),
                                   valid.ctypes.data_as(u8))

    def pending(self) -> int:
        """Input beats queued and not yet taken by the core."""
        self.compile()
        return int(self._lib.egvsr_board_pending())

    def start(self, lr_height, lr_width, max_out=None):
        """One call of the wrapper (ap_start .. ap_done) with LR_HEIGHT, LR_WIDTH = ``lr_height``,
        ``lr_width``. Returns ``(regs, data, last)``:
        the output registers by name, the output beats as uint32 pixels (R | G<<8 |
        B<<16, ``PO`` per beat, ``(n_beats, PO)``) and each beat's TLAST."""
        self.compile()
        max_out = 16 * self.lr_height * self.lr_width // PO + 1 if max_out is None else max_out
        regs = np.zeros(len(OUT_REGS), np.uint32)
        data = np.zeros((max_out, PO), np.uint32)
        last = np.zeros(max_out, np.uint8)
        u8, u32 = ctypes.POINTER(ctypes.c_ubyte), ctypes.POINTER(ctypes.c_uint)
        with _CapturedOutput() as out:
            n = self._lib.egvsr_board_start(int(lr_height), int(lr_width), regs.ctypes.data_as(u32),
                                            data.ctypes.data_as(u32), last.ctypes.data_as(u8), max_out)
        bad = [line for line in out.text.splitlines() if any(k in line for k in CSIM_STREAM_ERRORS)]
        if bad:
            raise RuntimeError(f"{self.top}: in the {lr_height}x{lr_width} call, processes of the C simulation "
                               f"disagree on the frame's length (a run-time size bug; a hang or a frame out "
                               f"of step in hardware): {'; '.join(bad[:4])}")
        if out.text.strip():
            sys.stderr.write(out.text)
        if n < 0:
            raise RuntimeError(f"{self.top}: more than {max_out} output beats in one call")
        return dict(zip(OUT_REGS, (int(v) for v in regs))), data[:n], last[:n].astype(bool)

    # --- frames --------------------------------------------------------------
    def line_beats(self, x):
        """The board beats of an SRNet input ``x`` (H, W, 51): (H, W, 56) bytes."""
        x = np.asarray(x)
        h, w, c = x.shape
        beats = np.zeros((h, w, CORE_IN_BYTES), np.uint8)
        beats[..., :c] = x
        return beats

    def run_frame(self, x):
        """One frame through the wrapper at its own size (any ``min_lr`` .. ``lr_height`` x
        ``min_lr`` .. ``lr_width``), as the driver sends it (one TLAST per line).
        Returns ``(hr (4H, 4W, 3) uint8, regs, last)``."""
        h, w = np.shape(x)[:2]
        beats = self.line_beats(x)
        last = np.zeros((h, w), np.uint8)
        last[:, -1] = 1
        self.push(beats.reshape(-1, CORE_IN_BYTES), last.reshape(-1))
        regs, data, tl = self.start(h, w)
        if len(data) != 16 * h * w // PO:
            raise RuntimeError(f"{self.top}: {len(data)} output beats for a {h}x{w} frame, "
                               f"expected {16 * h * w // PO} (STATUS={regs['STATUS']:#x})")
        hr = data.view(np.uint8).reshape(4 * h, 4 * w, 4)[..., :3].copy()
        return hr, regs, tl


def write_board_top(core, sha256: str) -> BoardTop:
    """Write the board wrapper, the run-time size network (:mod:`egvsr.hls.runtime_top`), the
    Vitis script and the C-simulation harness into the project of hls4ml SRNet top ``core``
    (an :class:`egvsr.hls.cores.Core`, built at the largest frame the IP is to take)."""
    d = Path(core.project_dir)
    project = core.hls_model.config.get_project_name()
    top = wrapper_name(project)
    h, w, c_in = core.in_shape
    if c_in > CORE_IN_BYTES:
        raise ValueError(f"{project}: {c_in} input channels do not fit a {CORE_IN_BYTES}-byte beat")
    oh, ow, c_out = core.out_shape
    if (oh, ow) != (4 * h, 4 * w) or c_out != 3:
        raise ValueError(f"{project}: output {core.out_shape} is not the 4x RGB frame of a {h}x{w} "
                         "input; the board wrapper wraps the SRNet top only")
    if core.out_exp != -8 or core.out_signed:
        raise ValueError(f"{project}: output codes are not uint8 pixels (exp {core.out_exp}, signed "
                         f"{core.out_signed}); the board beat carries 8-bit R, G, B")
    if core.in_exp != -8:
        raise ValueError(f"{project}: input exponent {core.in_exp}, the board beat carries uint8 codes")
    if CORE_OUT_BYTES % 4 or 16 % PO:
        raise ValueError(f"output beats of {CORE_OUT_BYTES} bytes (CORE_OUT_BYTES) do not hold whole "
                         "4-byte pixels evenly over the 16 HR pixels of an LR pixel")
    words = int(core.hls_model.get_output_variables()[0].shape[-1])
    p = words // 3
    if not _regs_fit(h, w):
        raise ValueError(f"LR frame {h}x{w} does not fit the 16-bit size registers of egvsr.board.regmap")
    if min(h, w) < regmap.MIN_LR:
        raise ValueError(f"{project}: a {h}x{w} build is below the smallest frame {regmap.MIN_LR}x"
                         f"{regmap.MIN_LR} (regmap.MIN_LR) the IP must take")
    bmeta.id_words(sha256)  # a valid hash (ValueError otherwise)
    net = write_runtime_top(core)  # NotImplementedError for a layer without a run-time size form
    files = {
        **net.files,
        "header": d / "firmware" / f"{top}.h",
        "source": d / "firmware" / f"{top}.cpp",
        "tcl": d / "build_prj_board.tcl",
        "sdata_standin": d / "csim" / "ap_axi_sdata.h",
        "harness": d / "csim" / f"{top}_csim.cpp",
    }
    (d / "csim").mkdir(exist_ok=True)
    files["header"].write_text(_header(project, top, net.name, h, w, p, sha256))
    files["source"].write_text(_source(project, top, net.name, h, w, c_in, 3))
    files["tcl"].write_text(_board_tcl(d, project, top, net.name))
    files["sdata_standin"].write_text(_SDATA_STANDIN)
    files["harness"].write_text(_harness(top))
    return BoardTop(project_dir=d, project=project, top=top, lr_height=h, lr_width=w,
                    pixels_per_beat=p, sha256=sha256, files=files, network=net)


#: what the C simulation prints when two processes disagree on a frame's pixel count
#: (hls_stream.h: a read of an empty stream, words left in a stream when it goes; our
#: DepthToSpace: its input ended): on the hardware, a hang or a frame out of step
CSIM_STREAM_ERRORS = ("is read while empty", "contains leftover data", "the input ended")


class _CapturedOutput:
    """The process's stdout and stderr (file descriptors 1 and 2, where the C++ side
    writes) into a temporary file for the duration of a ``with`` block: ``.text``."""

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self._tmp = tempfile.TemporaryFile()
        self._saved = [os.dup(1), os.dup(2)]
        for fd in (1, 2):
            os.dup2(self._tmp.fileno(), fd)
        return self

    def __exit__(self, *exc):
        ctypes.CDLL(None).fflush(None)
        for fd, saved in zip((1, 2), self._saved):
            os.dup2(saved, fd)
            os.close(saved)
        self._tmp.seek(0)
        self.text = self._tmp.read().decode(errors="replace")
        self._tmp.close()
        return False


def _regs_fit(h, w) -> bool:
    return h < (1 << regmap.BY_NAME["MAX_HEIGHT"].bits) and w < (1 << regmap.BY_NAME["MAX_WIDTH"].bits)
