"""Generate the Vivado block design Tcl and the build metadata of an overlay.

``python -m egvsr.board.bitstream --board kv260 --bundle B --lr-size 64x96
--ip-repo IP --out DIR`` writes ``DIR/egvsr_<board>.tcl`` (a complete
batch script: project, block design, bitstream, copies of ``.bit``/``.hwh``)
and ``DIR/egvsr.egvsr.json``.  ``board/vivado/Makefile`` (``make bitstream``)
runs it with Vivado.  The design: Zynq PS, AXI DMA (simple mode, 64-bit,
length register sized for one whole frame per transfer), AXIS width
converters to the core's pixel beats, the SRNet core from ``make hls-synth``
and an AXI GPIO ``egvsr_id`` whose inputs are tied to the first 64 bits of
the bundle hash (also written to the bitstream's USR_ACCESS word).
"""

import argparse
import math
import os

from . import meta as _meta

__all__ = ["BOARDS", "ACCEL_VLNV", "generate_tcl", "write_build", "main"]

#: Board -> part, board part, PS IP and its ports (Vivado 2022.x-2024.x names).
#: Parts and PL clocks follow hls/boards.py (the core's HLS clock target).
BOARDS = {
    "pynq-z2": {"part": "xc7z020clg400-1",
                "board_part": "tul.com.tw:pynq-z2:part0:1.0",
                "ps_vlnv": "xilinx.com:ip:processing_system7:5.5",
                "ps_rule": "xilinx.com:bd_rule:processing_system7",
                "ps_rule_config": 'make_external "FIXED_IO, DDR" '
                                  'apply_board_preset "1" Master "Disable" '
                                  'Slave "Disable"',
                "ps_config": {"PCW_USE_S_AXI_HP0": "1",
                              "PCW_S_AXI_HP0_DATA_WIDTH": "64",
                              "PCW_FPGA0_PERIPHERAL_FREQMHZ": "{clk}"},
                "m_axi": "M_AXI_GP0", "s_axi_hp": "S_AXI_HP0",
                "clk": "FCLK_CLK0", "resetn": "FCLK_RESET0_N",
                "clock_mhz": 100.0},
    "kv260": {"part": "xck26-sfvc784-2LV-c",
              "board_part": "xilinx.com:kv260_som:part0:1.4",
              "ps_vlnv": "xilinx.com:ip:zynq_ultra_ps_e:3.5",
              "ps_rule": "xilinx.com:bd_rule:zynq_ultra_ps_e",
              "ps_rule_config": 'apply_board_preset "1"',
              "ps_config": {"PSU__USE__M_AXI_GP0": "1",
                            "PSU__USE__M_AXI_GP1": "0",
                            "PSU__USE__S_AXI_GP2": "1",
                            "PSU__SAXIGP2__DATA_WIDTH": "64",
                            "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ": "{clk}"},
              "m_axi": "M_AXI_HPM0_FPD", "s_axi_hp": "S_AXI_HP0_FPD",
              "clk": "pl_clk0", "resetn": "pl_resetn0", "clock_mhz": 300.0},
    "zcu104": {"part": "xczu7ev-ffvc1156-2-e",
               "board_part": "xilinx.com:zcu104:part0:1.1",
               "ps_vlnv": "xilinx.com:ip:zynq_ultra_ps_e:3.5",
               "ps_rule": "xilinx.com:bd_rule:zynq_ultra_ps_e",
               "ps_rule_config": 'apply_board_preset "1"',
              "ps_rule_config": 'apply_board_preset "1"',
               "ps_config": {"PSU__USE__M_AXI_GP0": "1",
                             "PSU__USE__M_AXI_GP1": "0",
                             "PSU__USE__S_AXI_GP2": "1",
                             "PSU__SAXIGP2__DATA_WIDTH": "64",
                             "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ": "{clk}"},
               "m_axi": "M_AXI_HPM0_FPD", "s_axi_hp": "S_AXI_HP0_FPD",
               "clk": "pl_clk0", "resetn": "pl_resetn0", "clock_mhz": 300.0},
}

#: The SRNet top exported by ``make hls-synth`` (TLAST_FRAME variant).
ACCEL_VLNV = "xilinx.com:hls:egvsr_srnet:1.0"
ACCEL_PORTS = {"in": "s_axis", "out": "m_axis", "ctrl": "s_axi_control",
               "clk": "ap_clk", "rstn": "ap_rst_n"}
CORE_IN_BYTES = 56   # one LR pixel (51 channels + pad) per beat
CORE_OUT_BYTES = 4   # one HR pixel (R, G, B, 0) per beat


def length_width(lr_h, lr_w, dma_bytes=8):
    """``c_sg_length_width``: enough bits for one frame in one transfer."""
    st = _meta.stream_layout(dma_bytes * 8)
    n = max(lr_h * lr_w * st["in_bytes_per_pixel"],
            16 * lr_h * lr_w * st["out_bytes_per_pixel"])
    bits = max(14, math.ceil(math.log2(n + 1)))
    if bits > 26:
        raise ValueError(f"a {lr_h}x{lr_w} frame needs {n} bytes per DMA "
                         "transfer, beyond the AXI DMA's 26-bit length register")
    return bits


def _dict(d):
    return " ".join(f"CONFIG.{k} {{{v}}}" for k, v in d.items())


def generate_tcl(board, sha256, lr_h, lr_w, ip_repo, accel_vlnv=ACCEL_VLNV,
                 clock_mhz=None, name="egvsr", jobs=4, ports=None):
    """Return the Vivado batch script (a string) for ``board``.

    ``ports`` overrides the core's port names (:data:`ACCEL_PORTS` keys).
    """
    if board not in BOARDS:
        raise ValueError(f"unknown board {board!r}; choose one of {sorted(BOARDS)}")
    b = BOARDS[board]
    clk = float(clock_mhz or b["clock_mhz"])
    w1, w2 = _meta.id_words(sha256)
    lw = length_width(lr_h, lr_w)
    ps_cfg = {k: v.format(clk=f"{clk:g}") for k, v in b["ps_config"].items()}
    ip = _meta.DEFAULT_IP
    p = dict(ACCEL_PORTS, **(ports or {}))
    dma_cfg = {"c_include_sg": 0, "c_sg_length_width": lw,
               "c_m_axi_mm2s_data_width": 64, "c_m_axis_mm2s_tdata_width": 64,
               "c_m_axi_s2mm_data_width": 64, "c_s_axis_s2mm_tdata_width": 64,
               "c_mm2s_burst_size": 64, "c_s2mm_burst_size": 64,
               "c_include_mm2s_dre": 0, "c_include_s2mm_dre": 0}
    lite = [f"{ip['dma']}/S_AXI_LITE", f"{ip['accel']}/{p['ctrl']}",
            f"{ip['id']}/S_AXI"]
    lines = [
        f"# EGVSR overlay for {board} ({b['part']}), generated by egvsr.board.bitstream",
        f"# bundle sha256 {sha256}", f"# LR frame {lr_h}x{lr_w}, PL clock {clk:g} MHz",
        "set out [file normalize [pwd]]",
        f"create_project -force {name}_{board} ./proj -part {b['part']}",
        f"if {{[catch {{set_property board_part {b['board_part']} [current_project]}}]}} "
        f"{{puts \"WARNING: board files for {board} not installed; using the part only\"}}",
        f"set_property ip_repo_paths [list [file normalize {{{ip_repo}}}]] [current_project]",
        "update_ip_catalog",
        f"if {{[llength [get_ipdefs {accel_vlnv}]] == 0}} "
        f"{{error \"IP {accel_vlnv} not found in {ip_repo}: run make hls-synth first\"}}",
        f"create_bd_design {name}",
        f"create_bd_cell -type ip -vlnv {b['ps_vlnv']} ps",
        f"apply_bd_automation -rule {b['ps_rule']} -config {{{b['ps_rule_config']}}} [get_bd_cells ps]",
        f"set_property -dict [list {_dict(ps_cfg)}] [get_bd_cells ps]",
        "create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset:5.0 rst_pl",
        f"connect_bd_net [get_bd_pins ps/{b['clk']}] [get_bd_pins rst_pl/slowest_sync_clk]",
        f"connect_bd_net [get_bd_pins ps/{b['resetn']}] [get_bd_pins rst_pl/ext_reset_in]",
        f"create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 {ip['dma']}",
        f"set_property -dict [list {_dict(dma_cfg)}] [get_bd_cells {ip['dma']}]",
        f"create_bd_cell -type ip -vlnv {accel_vlnv} {ip['accel']}",
        "create_bd_cell -type ip -vlnv xilinx.com:ip:axis_dwidth_converter:1.1 in_dwc",
        f"set_property -dict [list CONFIG.S_TDATA_NUM_BYTES {{8}} CONFIG.M_TDATA_NUM_BYTES {{{CORE_IN_BYTES}}} CONFIG.HAS_TLAST {{1}}] [get_bd_cells in_dwc]",
        "create_bd_cell -type ip -vlnv xilinx.com:ip:axis_dwidth_converter:1.1 out_dwc",
        f"set_property -dict [list CONFIG.S_TDATA_NUM_BYTES {{{CORE_OUT_BYTES}}} CONFIG.M_TDATA_NUM_BYTES {{8}} CONFIG.HAS_TLAST {{1}}] [get_bd_cells out_dwc]",
        f"connect_bd_intf_net [get_bd_intf_pins {ip['dma']}/M_AXIS_MM2S] [get_bd_intf_pins in_dwc/S_AXIS]",
        f"connect_bd_intf_net [get_bd_intf_pins in_dwc/M_AXIS] [get_bd_intf_pins {ip['accel']}/{p['in']}]",
        f"connect_bd_intf_net [get_bd_intf_pins {ip['accel']}/{p['out']}] [get_bd_intf_pins out_dwc/S_AXIS]",
        f"connect_bd_intf_net [get_bd_intf_pins out_dwc/M_AXIS] [get_bd_intf_pins {ip['dma']}/S_AXIS_S2MM]",
        "# bundle hash ID: AXI GPIO with two constant input channels",
        f"create_bd_cell -type ip -vlnv xilinx.com:ip:axi_gpio:2.0 {ip['id']}",
        f"set_property -dict [list CONFIG.C_IS_DUAL {{1}} CONFIG.C_ALL_INPUTS {{1}} CONFIG.C_ALL_INPUTS_2 {{1}} CONFIG.C_GPIO_WIDTH {{32}} CONFIG.C_GPIO2_WIDTH {{32}}] [get_bd_cells {ip['id']}]",
        "create_bd_cell -type ip -vlnv xilinx.com:ip:xlconstant:1.1 id_word1",
        f"set_property -dict [list CONFIG.CONST_WIDTH {{32}} CONFIG.CONST_VAL {{{w1}}}] [get_bd_cells id_word1]",
        "create_bd_cell -type ip -vlnv xilinx.com:ip:xlconstant:1.1 id_word2",
        f"set_property -dict [list CONFIG.CONST_WIDTH {{32}} CONFIG.CONST_VAL {{{w2}}}] [get_bd_cells id_word2]",
        f"connect_bd_net [get_bd_pins id_word1/dout] [get_bd_pins {ip['id']}/gpio_io_i]",
        f"connect_bd_net [get_bd_pins id_word2/dout] [get_bd_pins {ip['id']}/gpio2_io_i]",
        "# clocks and resets: one PL clock for the whole datapath",
        f"foreach pin {{in_dwc/aclk out_dwc/aclk {ip['accel']}/{p['clk']}}} "
        f"{{connect_bd_net [get_bd_pins ps/{b['clk']}] [get_bd_pins $pin]}}",
        f"foreach pin {{in_dwc/aresetn out_dwc/aresetn {ip['accel']}/{p['rstn']}}} "
        "{connect_bd_net [get_bd_pins rst_pl/peripheral_aresetn] [get_bd_pins $pin]}",
        "# AXI-Lite control from the PS, DMA masters to the HP port",
    ]
    for slave in lite:
        lines.append(
            f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config "
            f"{{Master {{/ps/{b['m_axi']}}} Clk_master {{/ps/{b['clk']}}} "
            f"Clk_slave {{/ps/{b['clk']}}} Clk_xbar {{/ps/{b['clk']}}}}} "
            f"[get_bd_intf_pins {slave}]")
    for master in ("M_AXI_MM2S", "M_AXI_S2MM"):
        lines.append(
            f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config "
            f"{{Master {{/{ip['dma']}/{master}}} Slave {{/ps/{b['s_axi_hp']}}} "
            f"Clk_master {{/ps/{b['clk']}}} Clk_slave {{/ps/{b['clk']}}} "
            f"Clk_xbar {{/ps/{b['clk']}}}}} [get_bd_intf_pins ps/{b['s_axi_hp']}]")
    lines += [
        "assign_bd_address",
        "validate_bd_design",
        "save_bd_design",
        f"make_wrapper -files [get_files {name}.bd] -top",
        f"add_files -norecurse [glob ./proj/{name}_{board}.gen/sources_1/bd/{name}/hdl/{name}_wrapper.v]",
        f"set_property top {name}_wrapper [current_fileset]",
        "# the hash ID in the bitstream itself (USR_ACCESS register)",
        "set xdc [file join $out usr_access.xdc]",
        "set fh [open $xdc w]",
        f"puts $fh \"set_property BITSTREAM.CONFIG.USR_ACCESS 0x{w1:08x} \\[current_design\\]\"",
        "close $fh",
        "add_files -fileset constrs_1 -norecurse $xdc",
        f"launch_runs impl_1 -to_step write_bitstream -jobs {int(jobs)}",
        "wait_on_run impl_1",
        "if {[get_property PROGRESS [get_runs impl_1]] != \"100%\"} {error \"implementation failed\"}",
        f"file copy -force [glob ./proj/{name}_{board}.runs/impl_1/{name}_wrapper.bit] [file join $out {name}.bit]",
        f"file copy -force [glob ./proj/{name}_{board}.gen/sources_1/bd/{name}/hw_handoff/{name}.hwh] [file join $out {name}.hwh]",
        f"puts \"EGVSR overlay: [file join $out {name}.bit] (+ .hwh, {name}{_meta.SUFFIX})\"",
    ]
    return "\n".join(lines) + "\n"


def write_build(out, board, sha256, lr_h, lr_w, ip_repo, preset=None, **kw):
    """Write ``out/egvsr_<board>.tcl`` and ``out/egvsr.egvsr.json``."""
    os.makedirs(out, exist_ok=True)
    tcl = os.path.join(out, f"egvsr_{board}.tcl")
    with open(tcl, "w") as f:
        f.write(generate_tcl(board, sha256, lr_h, lr_w, ip_repo, **kw))
    clk = kw.get("clock_mhz") or BOARDS[board]["clock_mhz"]
    m = _meta.make_meta(sha256, lr_h, lr_w, board=board, preset=preset,
                        clock_mhz=clk, sg_length_width=length_width(lr_h, lr_w))
    _meta.write_meta(os.path.join(out, kw.get("name", "egvsr") + ".bit"), m)
    return tcl


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m egvsr.board.bitstream",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", required=True, choices=sorted(BOARDS))
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--bundle", help="bundle path (its sha256 is embedded)")
    g.add_argument("--sha256", help="bundle hash, if the bundle is elsewhere")
    ap.add_argument("--lr-size", required=True, help="LR frame HxW, e.g. 64x96")
    ap.add_argument("--ip-repo", required=True, help="IP repo of make hls-synth")
    ap.add_argument("--out", required=True)
    ap.add_argument("--clock-mhz", type=float)
    ap.add_argument("--accel-vlnv", default=ACCEL_VLNV)
    for key, default in ACCEL_PORTS.items():
        ap.add_argument(f"--{key}-port", default=default,
                        help=f"core port name ({default})")
    a = ap.parse_args(argv)
    preset = None
    sha = a.sha256
    if a.bundle:
        from egvsr.golden.bundle import load_bundle
        bnd = load_bundle(a.bundle)
        sha, preset = bnd.sha256, bnd.manifest.get("preset")
    h, w = (int(v) for v in a.lr_size.lower().split("x"))
    tcl = write_build(a.out, a.board, sha, h, w, a.ip_repo, preset=preset,
                      clock_mhz=a.clock_mhz, accel_vlnv=a.accel_vlnv,
                      ports={k: getattr(a, f"{k}_port") for k in ACCEL_PORTS})
    print(tcl)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
