"""The board IP `egvsr_srnet`: the generated SRNet top wrapped with the
`s_axi_control` register file (`regfile`), frame control (`frame_ctrl.v`)
and the board's beat format, plus the Tcl that packages it as Vivado IP.

Ports (Vitis HLS names, so the block design of `egvsr.board.bitstream`
takes this core or the HLS one by the same VLNV and interface names):

    ap_clk, ap_rst_n                 clock, active-low reset
    s_axi_control_*                  AXI-Lite slave, egvsr.board.regmap
    interrupt                        GIE & |ISR (level, active high)
    s_axis_TDATA/TVALID/TREADY/TLAST/TUSER
                                     one LR pixel per in_bytes-byte beat
                                     (51 channels in the low bytes), TLAST at
                                     each LR line end, TUSER start of frame
                                     (optional, tied to 0 when unconnected)
    m_axis_TDATA/TVALID/TREADY/TLAST/TKEEP
                                     P HR pixels per beat, bytes R, G, B, 0
                                     each, raster order; TLAST at the end of
                                     each LR line's 4 HR rows (tlast="line")
                                     or of the frame (tlast="frame")

`write_board_ip(out_dir, ...)` writes `axil_regs.v`, `egvsr_srnet.v`,
copies `frame_ctrl.v` and writes `package_ip.tcl` (see `package_tcl`).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from egvsr.board import regmap as rm

from . import core_sources
from .regfile import BUS, MODULE as REGS_MODULE, regfile_text

__all__ = ["ip_identity", "write_board_ip", "wrapper_text", "port_list", "package_tcl",
           "TLAST_MODES"]

TLAST_MODES = ("line", "frame")
#: core reset cycles at every start (frame_ctrl RST_CYCLES)
RST_CYCLES = 4


def ip_identity() -> dict:
    """vendor, library, name, version and port names of the IP, from the block
    design's own constants (`egvsr.board.bitstream`)."""
    from egvsr.board.bitstream import ACCEL_PORTS, ACCEL_VLNV
    vendor, library, name, version = ACCEL_VLNV.split(":")
    return {"vlnv": ACCEL_VLNV, "vendor": vendor, "library": library, "name": name,
            "version": version, "ports": dict(ACCEL_PORTS)}


def port_list(in_bits: int, out_bits: int) -> list:
    """[(direction, name, bits)] of the IP top, in order."""
    ab = rm.ADDR_BITS
    c = BUS
    return [("input", "ap_clk", 1), ("input", "ap_rst_n", 1),
            ("input", f"{c}_AWADDR", ab), ("input", f"{c}_AWVALID", 1), ("output", f"{c}_AWREADY", 1),
            ("input", f"{c}_WDATA", 32), ("input", f"{c}_WSTRB", 4), ("input", f"{c}_WVALID", 1),
            ("output", f"{c}_WREADY", 1), ("output", f"{c}_BRESP", 2), ("output", f"{c}_BVALID", 1),
            ("input", f"{c}_BREADY", 1), ("input", f"{c}_ARADDR", ab), ("input", f"{c}_ARVALID", 1),
            ("output", f"{c}_ARREADY", 1), ("output", f"{c}_RDATA", 32), ("output", f"{c}_RRESP", 2),
            ("output", f"{c}_RVALID", 1), ("input", f"{c}_RREADY", 1),
            ("output", "interrupt", 1),
            ("input", "s_axis_TDATA", in_bits), ("input", "s_axis_TVALID", 1),
            ("output", "s_axis_TREADY", 1), ("input", "s_axis_TLAST", 1), ("input", "s_axis_TUSER", 1),
            ("output", "m_axis_TDATA", out_bits), ("output", "m_axis_TVALID", 1),
            ("input", "m_axis_TREADY", 1), ("output", "m_axis_TLAST", 1),
            ("output", "m_axis_TKEEP", out_bits // 8)]


def wrapper_text(name: str, core: str, *, in_bytes: int, core_in_bits: int, P: int, scale: int,
                 dim_bits: int, max_w: int, max_h: int, sha256: str, use_tuser: bool,
                 tlast: str) -> str:
    from egvsr.board.meta import id_words
    id_lo, id_hi = id_words(sha256)
    in_bits, out_bits = in_bytes * 8, P * 32
    ports = port_list(in_bits, out_bits)
    decl = ",\n".join(f"    {d:<6} wire {f'[{b - 1}:0] ' if b > 1 else ''}{n}" for d, n, b in ports)
    regs = [r for r in rm.REGISTERS if r.name not in ("AP_CTRL", "GIE", "IER", "ISR") and not r.build]
    rw = {r.name.lower(): r.bits for r in regs if r.access == "rw"}
    ro = {r.name.lower(): r.bits for r in regs if r.access == "ro"}
    if set(rw) != {"lr_height", "lr_width"} or set(ro) != {"status", "err_count"}:
        raise ValueError(f"the register map's core registers {sorted(rw)} / {sorted(ro)} are not "
                         "the ones frame_ctrl drives (lr_height, lr_width / status, err_count): "
                         "update rtl/board_ip.py with the map")
    pad = in_bits - core_in_bits
    out_bytes = ", ".join(f"8'h00, o_tdata[{24 * p + 23}:{24 * p}]" for p in reversed(range(P)))
    c = BUS
    axil = ", ".join(f".{c}_{s}({c}_{s})" for s in
                     ("AWADDR", "AWVALID", "AWREADY", "WDATA", "WSTRB", "WVALID", "WREADY", "BRESP",
                      "BVALID", "BREADY", "ARADDR", "ARVALID", "ARREADY", "RDATA", "RRESP", "RVALID",
                      "RREADY"))
    return f"""// {name}: the EGVSR board IP, generated by egvsr.rtl.board_ip. Do not edit.
// Bundle sha256 {sha256}. Core: {core} (one LR pixel of {core_in_bits // 8} channels per
// beat in, {P} HR pixels per beat out), frame control (frame_ctrl), register file
// {REGS_MODULE} (`{c}`, egvsr.board.regmap version {rm.REGMAP_VERSION}).
// Frames up to {max_h} x {max_w} LR (MAX_HEIGHT x MAX_WIDTH), at least {rm.MIN_LR} x {rm.MIN_LR}; TUSER
// start of frame {'required' if use_tuser else 'optional (a TUSER inside a frame ends it)'}; TLAST at the end of each
// {'frame' if tlast == 'frame' else "LR line's " + str(scale) + ' HR rows'}.
module {name} (
{decl}
);
    wire ap_start, ap_ready, ap_done, ap_idle;
    wire [15:0] lr_height, lr_width;
    wire [1:0]  status;
    wire [31:0] err_count;
    {REGS_MODULE} #(
        .ID_LO(32'h{id_lo:08x}),
        .ID_HI(32'h{id_hi:08x}),
        .MAX_HEIGHT(16'd{max_h}),
        .MAX_WIDTH(16'd{max_w})
    ) u_regs (
        .aclk(ap_clk), .aresetn(ap_rst_n),
        {axil},
        .interrupt(interrupt),
        .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle), .ap_ready(ap_ready),
        .lr_height(lr_height), .lr_width(lr_width), .status(status), .err_count(err_count)
    );

    wire                core_aresetn;
    wire [{dim_bits - 1}:0]      cfg_width, cfg_height;
    wire [{core_in_bits - 1}:0]     c_tdata;
    wire                c_tvalid, c_tready;
    wire [{P * 24 - 1}:0]      o_tdata;
    wire                o_tvalid, o_tready;
    /* verilator lint_off UNUSEDSIGNAL */
    wire                o_tlast, o_tuser;      // the core's own (per HR row); frame_ctrl counts
""" + (f"""    wire [{pad - 1}:0]      in_pad = s_axis_TDATA[{in_bits - 1}:{core_in_bits}];   // zero pad, ignored
""" if pad else "") + f"""    /* verilator lint_on UNUSEDSIGNAL */
    frame_ctrl #(
        .MAX_W({max_w}),
        .MAX_H({max_h}),
        .MIN_LR({rm.MIN_LR}),
        .DIM_BITS({dim_bits}),
        .REG_BITS(16),
        .DATA_W({core_in_bits}),
        .R({scale}),
        .P({P}),
        .USE_TUSER({int(bool(use_tuser))}),
        .TLAST_FRAME({int(tlast == 'frame')}),
        .RST_CYCLES({RST_CYCLES})
    ) u_frame (
        .aclk(ap_clk), .aresetn(ap_rst_n),
        .ap_start(ap_start), .ap_ready(ap_ready), .ap_done(ap_done), .ap_idle(ap_idle),
        .reg_height(lr_height), .reg_width(lr_width), .status(status), .err_count(err_count),
        .core_aresetn(core_aresetn), .cfg_width(cfg_width), .cfg_height(cfg_height),
        .s_tdata(s_axis_TDATA[{core_in_bits - 1}:0]), .s_tvalid(s_axis_TVALID), .s_tready(s_axis_TREADY),
        .s_tlast(s_axis_TLAST), .s_tuser(s_axis_TUSER),
        .c_tdata(c_tdata), .c_tvalid(c_tvalid), .c_tready(c_tready),
        .o_tvalid(o_tvalid), .o_tready(o_tready),
        .m_tvalid(m_axis_TVALID), .m_tready(m_axis_TREADY), .m_tlast(m_axis_TLAST)
    );

    {core} u_core (
        .aclk(ap_clk), .aresetn(core_aresetn),
        .cfg_width(cfg_width), .cfg_height(cfg_height),
        .s_axis_tdata(c_tdata), .s_axis_tvalid(c_tvalid), .s_axis_tready(c_tready),
        .s_axis_tlast(1'b0), .s_axis_tuser(1'b0),
        .m_axis_tdata(o_tdata), .m_axis_tvalid(o_tvalid), .m_axis_tready(o_tready),
        .m_axis_tlast(o_tlast), .m_axis_tuser(o_tuser)
    );

    // {P} HR pixel(s) per beat, 4 bytes (R, G, B, 0) each
    assign m_axis_TDATA = {{{out_bytes}}};
    assign m_axis_TKEEP = {{{out_bits // 8}{{1'b1}}}};
endmodule
"""


def write_board_ip(out_dir, *, core: str, bundle_sha256: str, preset, in_bytes: int,
                   core_in_bits: int, P: int, scale: int, dim_bits: int, max_w: int, max_h: int,
                   use_tuser: bool = False, tlast: str = "line", part: str | None = None,
                   sources=(), registers=None) -> dict:
    """Write the IP top and its parts into `out_dir`; returns the manifest's
    `board_ip` entry (files, identity, register map, options). `max_w`: the
    widest LR frame accepted (MAX_WIDTH; the core's line buffers may be
    wider). `registers`: the register table (default `regmap.REGISTERS`)."""
    out = Path(out_dir)
    if tlast not in TLAST_MODES:
        raise ValueError(f"tlast must be one of {TLAST_MODES}, not {tlast!r}")
    if scale % P or P & (P - 1) or scale & (scale - 1):
        raise ValueError(f"the board IP packs P={P} HR pixels per beat: P must be a power of "
                         f"two dividing the scale {scale} (out_pixels=1, 2 or 4)")
    if in_bytes * 8 < core_in_bits:
        raise ValueError(f"in_bytes {in_bytes} < {core_in_bits // 8} input channels")
    if not (rm.MIN_LR <= max_w < (1 << 16) and rm.MIN_LR <= max_h < (1 << 16)):
        raise ValueError(f"max frame {max_h}x{max_w} must be within [{rm.MIN_LR}, 65535] "
                         "(16-bit LR_HEIGHT/LR_WIDTH registers)")
    if max(max_w, max_h) > (1 << dim_bits) - 2 or dim_bits > 16:
        raise ValueError(f"dim_bits {dim_bits} cannot count a {max_h}x{max_w} frame: "
                         "leave dim_bits unset (generate_top chooses it)")
    ident = ip_identity()
    name = ident["name"]
    table = tuple(rm.REGISTERS if registers is None else registers)
    (out / f"{REGS_MODULE}.v").write_text(regfile_text(registers=table))
    for src in core_sources("frame_ctrl"):
        shutil.copyfile(src, out / src.name)
    (out / f"{name}.v").write_text(wrapper_text(
        name, core, in_bytes=in_bytes, core_in_bits=core_in_bits, P=P, scale=scale,
        dim_bits=dim_bits, max_w=max_w, max_h=max_h, sha256=bundle_sha256, use_tuser=use_tuser,
        tlast=tlast))
    files = list(sources) + [f"{REGS_MODULE}.v", "frame_ctrl.v", f"{name}.v"]
    info = {"top": name, "core": core, "vlnv": ident["vlnv"], "files": files,
            "in_bytes": in_bytes, "out_pixels": P, "out_bytes": P * 4, "max_w": max_w,
            "max_h": max_h, "min_lr": rm.MIN_LR, "use_tuser": bool(use_tuser), "tlast": tlast,
            "regmap_version": rm.REGMAP_VERSION, "part": part,
            "ports": [list(p) for p in port_list(in_bytes * 8, P * 32)],
            "registers": [{"name": r.name, "offset": r.offset, "access": r.access, "bits": r.bits}
                          for r in table]}
    from .package_ip import package_tcl
    mems = sorted(p.name for p in out.glob("*.mem"))
    (out / "package_ip.tcl").write_text(package_tcl(info, mems, preset=preset,
                                                    sha256=bundle_sha256))
    info["package_tcl"] = "package_ip.tcl"
    return info


def main(argv=None) -> int:
    """``python -m egvsr.rtl.board_ip``: generate the board IP and its packaging Tcl."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m egvsr.rtl.board_ip",
                                 description="Generate the RTL board IP egvsr_srnet (Verilog, "
                                             "register file, package_ip.tcl) for a bundle.")
    ap.add_argument("--bundle", help="bundle path (default: the bundled tiny-anchor W8A8 model)")
    ap.add_argument("--board", default="kv260", help="board of the plan and the FPGA part")
    ap.add_argument("--plan", help="plan.json to take the folding from (default: plan for --board)")
    ap.add_argument("--max-size", default="960x540",
                    help="largest LR frame WxH the IP accepts at run time, as --lr elsewhere "
                         "(default 960x540)")
    ap.add_argument("--fps", type=float, help="target frame rate of the plan")
    ap.add_argument("--tuser", action="store_true",
                    help="require TUSER on each frame's first beat (drop beats before it)")
    ap.add_argument("--tlast", choices=TLAST_MODES, default="line",
                    help="output TLAST per LR line (4 HR rows; default) or per frame")
    ap.add_argument("--out", required=True, help="output folder (under build/)")
    a = ap.parse_args(argv)
    from egvsr.golden import load_bundle
    from egvsr.golden.bundle import default_bundle_path
    from egvsr.plan import line_width
    from .generate import generate_top
    try:
        w, h = (int(v) for v in a.max_size.lower().split("x"))
    except ValueError:
        ap.error(f"--max-size {a.max_size!r}: give WxH (width x height), e.g. 960x540")
    bundle = load_bundle(a.bundle or default_bundle_path())
    kw = {"plan": a.plan} if a.plan else {"board": a.board, "lr_w": w, "lr_h": h, "fps": a.fps}
    try:
        top = generate_top(bundle, a.out, max_w=line_width(w), max_h=h, max_lr_w=w,
                           board_io=True, use_tuser=a.tuser, tlast=a.tlast,
                           part=None if not a.plan else _board_part(a.board), **kw)
    except ValueError as e:
        ap.exit(2, f"error: {e}\n")
    print(f"{top} (MAX_WIDTH x MAX_HEIGHT = {w}x{h})")
    print(f"package: cd {top.parent} && vivado -mode batch -source package_ip.tcl -tclargs IP_REPO")
    return 0


def _board_part(board: str) -> str:
    from egvsr.board.boards import board as entry
    return entry(board)["part"]


if __name__ == "__main__":
    raise SystemExit(main())
