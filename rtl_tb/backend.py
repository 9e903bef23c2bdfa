"""`RtlSrnet`: the SRNet of a bundle run through the generated Verilog top in
simulation (HDL-side harness, no Python in the loop), as a drop-in for
`golden.run_srnet` (`egvsr eval ... --backend rtl`)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from egvsr.rtl_tb import sim
from egvsr.rtl_tb.harness import Harness, dut_instance
from egvsr.golden.validate import SRNET_IN_CHANNELS

DEFAULT_BOARD = "pynq-z2"   # folded parallelism: quick Verilator builds


class RtlSrnet:
    """Callable ``x (H, W, 51) uint8 -> (4H, 4W, 3) uint8`` through `srnet_top`.

    The top is generated once per line-buffer size (the next power of two
    >= W, at least 16) and built once per size (cached on disk under
    `workdir`, by content). `parallelism` / `board` go to `generate_srnet`
    (default: the `pynq-z2` folding, which builds in seconds).
    """

    def __init__(self, bundle, simulator: str = "verilator", workdir=None, parallelism=None,
                 board=DEFAULT_BOARD, out_pixels=None, board_io: bool = False):
        from egvsr.golden import load_bundle
        self.bundle = load_bundle(bundle) if isinstance(bundle, (str, Path)) else bundle
        if not sim.available(simulator):
            raise RuntimeError(f"simulator {simulator!r} is not available")
        self.simulator = simulator
        sha = self.bundle.sha256() if callable(self.bundle.sha256) else self.bundle.sha256
        # absolute: the simulator builds run in their own folder
        self.workdir = (Path(workdir) if workdir else sim.build_root() / f"rtl_srnet_{sha[:12]}").resolve()
        self.parallelism = parallelism
        self.board = board if parallelism is None else None
        self.out_pixels = out_pixels
        self.board_io = board_io
        self._harness: dict[int, tuple[Harness, Path, dict]] = {}
        self.last_stats: dict = {}

    def _get(self, W: int):
        from egvsr.plan import line_width
        from egvsr.rtl.generate import generate_srnet
        max_w = line_width(W)
        if max_w not in self._harness:
            gdir = self.workdir / f"w{max_w}{'_board' if self.board_io else ''}"
            generate_srnet(self.bundle, gdir, parallelism=self.parallelism, board=self.board,
                           max_w=max_w, out_pixels=self.out_pixels, board_io=self.board_io)
            meta = json.loads((gdir / "manifest.json").read_text())
            srcs = [gdir / s for s in meta["sources"]]
            dut = board_dut(meta) if self.board_io else dut_instance("srnet_top", {})
            h = Harness(self.simulator, srcs, dut, meta["in_bits"], meta["out_bits"],
                        dim_bits=meta["dim_bits"],
                        tag="srnet_top_board" if self.board_io else "srnet_top")
            self._harness[max_w] = (h, gdir, meta)
        return self._harness[max_w]

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[2] != SRNET_IN_CHANNELS or x.dtype != np.uint8:
            raise ValueError(f"expected (H, W, 51) uint8, got {x.shape} {x.dtype}")
        H, W, _ = x.shape
        h, gdir, meta = self._get(W)
        P = meta["out_pixels"]
        if (W * meta["scale"]) % P:
            raise ValueError(f"width {W}: {P} HR pixels per beat need 4W % {P} == 0")
        if self.board_io:
            from egvsr.board.regmap import check_frame_size
            check_frame_size(H, W, meta["max_h"], meta["max_w"])
            # host buffers and (un)packing exactly as the board does (egvsr.board.streams)
            from egvsr.board.streams import pack_x, unpack_output
            buf = np.zeros((H, W, meta["in_bytes"]), np.uint8)
            pack_x(buf, x)
            raw, st = h.stream(buf[None].astype(np.int64), 8, 4, 8, False, out_pixels=P,
                               scale=meta["scale"], cwd=gdir, tag=f"f{H}x{W}")
            out_buf = raw[0].astype(np.uint8)            # (4H, 4W, 4): R, G, B, 0
            self.last_stats = dict(st, H=H, W=W, build_s=h.build_s, out_buf=out_buf)
            return unpack_output(out_buf)
        out, st = h.stream(x[None].astype(np.int64), 8, 3, 8, False, out_pixels=P,
                           scale=meta["scale"], cwd=gdir, tag=f"f{H}x{W}")
        self.last_stats = dict(st, H=H, W=W, build_s=h.build_s)
        return out[0].astype(np.uint8)


def board_dut(meta: dict) -> str:
    """The board IP (`egvsr_srnet`) in the HDL harness: an AXI-Lite writer sets
    LR_WIDTH and LR_HEIGHT from the harness's frame size and writes AP_CTRL =
    ap_start | auto_restart, so frame after frame runs as the harness streams
    them (TLAST per input line comes from the harness)."""
    from egvsr.board import regmap as rm
    ab = rm.ADDR_BITS
    c = "s_axi_control"
    ports = {"ap_clk": "clk", "ap_rst_n": "rstn",
             f"{c}_AWADDR": "cw_addr", f"{c}_AWVALID": "cw_aw", f"{c}_AWREADY": "cw_awready",
             f"{c}_WDATA": "cw_data", f"{c}_WSTRB": "4'hf", f"{c}_WVALID": "cw_w",
             f"{c}_WREADY": "cw_wready", f"{c}_BRESP": "", f"{c}_BVALID": "cw_bvalid",
             f"{c}_BREADY": "1'b1", f"{c}_ARADDR": f"{ab}'d0", f"{c}_ARVALID": "1'b0",
             f"{c}_ARREADY": "", f"{c}_RDATA": "", f"{c}_RRESP": "", f"{c}_RVALID": "",
             f"{c}_RREADY": "1'b1", "interrupt": "",
             "s_axis_TDATA": "s_data", "s_axis_TVALID": "s_valid", "s_axis_TREADY": "s_ready",
             "s_axis_TLAST": "s_last", "s_axis_TUSER": "s_user",
             "m_axis_TDATA": "m_data", "m_axis_TVALID": "m_valid", "m_axis_TREADY": "m_ready",
             "m_axis_TLAST": "m_last", "m_axis_TKEEP": ""}
    inst = ",\n        ".join(f".{k}({v})" for k, v in ports.items())
    return f"""// AXI-Lite set-up of the board IP: LR_WIDTH, LR_HEIGHT, AP_CTRL = start | auto_restart
    reg  [1:0]  cw_n;
    reg         cw_aw, cw_w, cw_busy;
    reg  [{ab - 1}:0]  cw_addr;
    reg  [31:0] cw_data;
    wire        cw_awready, cw_wready, cw_bvalid;
    assign m_user = 1'b0;
    always @(posedge clk) begin
        if (!rstn) begin
            cw_n <= 2'd0; cw_aw <= 1'b0; cw_w <= 1'b0; cw_busy <= 1'b0;
        end else begin
            if (!cw_busy && cw_n != 2'd3) begin
                cw_busy <= 1'b1; cw_aw <= 1'b1; cw_w <= 1'b1;
                case (cw_n)
                    2'd0: begin cw_addr <= {ab}'h{rm.offset('LR_WIDTH'):02x}; cw_data <= 32'd0 | cfg_w; end
                    2'd1: begin cw_addr <= {ab}'h{rm.offset('LR_HEIGHT'):02x}; cw_data <= 32'd0 | cfg_h; end
                    default: begin cw_addr <= {ab}'h{rm.offset('AP_CTRL'):02x}; cw_data <= 32'h{rm.AP_START | rm.AP_AUTO_RESTART:x}; end
                endcase
            end
            if (cw_aw && cw_awready) cw_aw <= 1'b0;
            if (cw_w && cw_wready) cw_w <= 1'b0;
            if (cw_busy && cw_bvalid) begin cw_busy <= 1'b0; cw_n <= cw_n + 2'd1; end
        end
    end
    {meta['top']} u_dut (
        {inst}
    );"""


def _register_board_engine():
    """Let the simulated PYNQ device run SRNet through this RTL simulation (engine='rtl'):
    each frame goes through the board IP `egvsr_srnet` (register set-up over
    AXI-Lite, 56-byte beats with TLAST per line in, RGB0 beats with TLAST per
    LR line out), not only the bare SRNet top."""
    try:
        from egvsr.board.simdevice import register_engine
    except ImportError:  # board package without its optional parts
        return
    register_engine("rtl", lambda bundle: RtlSrnet(bundle, board_io=True))


_register_board_engine()
