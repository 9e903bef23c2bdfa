"""The generated Vivado Tcl is a consistent block design (Vivado not needed).

The Tcl is parsed and checked against facts from elsewhere: the board
table, the host's stream layout and frame sizes, the driver's IP names and
the bundle hash. Nothing here re-reads the generator's own constants.
"""

import math
import re
import subprocess
import sys

import pytest

from egvsr.board import meta as bmeta
from egvsr.board.bitstream import BOARDS, CORE_OUT_BYTES, generate_tcl, length_width, main
from egvsr.board.boards import BOARDS as BOARD_TABLE

SHA = "0123456789abcdef" * 4
LR_H, LR_W = 64, 96


def _balanced(text, op, cl):
    depth = 0
    for i, c in enumerate(text):
        if text[i - 1:i] == "\\":
            continue
        depth += (c == op) - (c == cl)
        if depth < 0:
            return False
    return depth == 0


def _parse(tcl):
    """cells (name -> vlnv), props (cell -> {CONFIG key: value}), nets (pin lists),
    intf_nets (pin pairs), automation (-config text, target pin), and every
    cell a line names before the line that creates it."""
    cells, props, nets, intf, auto, undefined = {}, {}, [], [], [], []
    pin = r"get_bd_(?:intf_)?pins ([^\s\]]+)"
    for line in tcl.splitlines():
        m = re.fullmatch(r"create_bd_cell -type ip -vlnv (\S+) (\S+)", line)
        if m:
            cells[m[2]] = m[1]
            continue
        refs = re.findall(r"get_bd_cells (\w+)", line) + re.findall(r"\{/(\w+)/", line)
        m = re.fullmatch(r"foreach (\w+) \{([^{}]*)\} \{(.*)\}", line)
        bodies = ([m[3].replace("$" + m[1], item) for item in m[2].split()] if m else [line])
        for body in bodies:
            pins = re.findall(pin, body)
            refs += [p.split("/")[0] for p in pins]
            if body.startswith("connect_bd_net "):
                nets.append(pins)
            elif body.startswith("connect_bd_intf_net "):
                intf.append(tuple(pins))
            elif body.startswith("apply_bd_automation -rule xilinx.com:bd_rule:axi4 "):
                auto.append((body, pins[-1]))
        undefined += [(r, line) for r in refs if r not in cells]
        m = re.fullmatch(r"set_property -dict \[list (.*)\] \[get_bd_cells (\w+)\]", line)
        if m:
            props.setdefault(m[2], {}).update(re.findall(r"CONFIG\.(\S+) \{([^{}]*)\}", m[1]))
    return cells, props, nets, intf, auto, undefined


def _stream_path(intf, start_cell, start_pin):
    """Follow AXI4-Stream master -> slave links from `start_cell/start_pin`;
    returns [(master pin, slave pin), ...] until a link ends at `start_cell`."""
    links = {}
    for a, b in intf:
        m, s = (a, b) if a.split("/")[1].upper().startswith("M_AXIS") else (b, a)
        assert s.split("/")[1].upper().startswith("S_AXIS"), (a, b)
        links[m] = s
    path, cur = [], f"{start_cell}/{start_pin}"
    for _ in range(len(links)):
        path.append((cur, links[cur]))
        cell = links[cur].split("/")[0]
        if cell == start_cell:
            return path
        outs = [m for m in links if m.split("/")[0] == cell]
        assert len(outs) == 1, (cell, outs)
        cur = outs[0]
    raise AssertionError(f"the stream from {start_cell}/{start_pin} does not come back: {path}")


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_generated_tcl(board):
    tcl = generate_tcl(board, SHA, LR_H, LR_W, "/ip")
    table = BOARD_TABLE[board]
    ip = bmeta.DEFAULT_IP  # the names the driver looks the IP up by
    assert _balanced(tcl, "{", "}") and _balanced(tcl, "[", "]")
    cells, props, nets, intf, auto, undefined = _parse(tcl)
    assert not undefined, f"cells used before (or without) create_bd_cell: {undefined}"
    assert nets and intf

    # the part and the PL clock of the board table (the HLS core's clock target)
    assert re.search(r"^create_project .* -part (\S+)$", tcl, re.M)[1] == table["part"]
    ps = cells["ps"]
    family = "processing_system7" if table["part"].startswith("xc7z") else "zynq_ultra_ps_e"
    assert f":{family}:" in ps, (table["part"], ps)
    freqs = [v for k, v in props["ps"].items() if k.endswith("FREQMHZ")]
    assert freqs and all(float(f) == table["clock_mhz"] for f in freqs), freqs

    # the IP the driver needs, with AXI-Lite access from the PS
    assert set(ip.values()) <= set(cells)
    assert ":axi_dma:" in cells[ip["dma"]]  # the overlay loader refuses anything else
    lite = {target.split("/")[0] for cfg, target in auto if "Master {/ps/" in cfg}
    assert set(ip.values()) <= lite, lite

    # DMA: simple mode (the driver does not use scatter-gather), both masters to a PS HP port
    dma = props[ip["dma"]]
    assert dma["c_include_sg"] == "0"
    for master in ("M_AXI_MM2S", "M_AXI_S2MM"):
        slaves = [re.search(r"Slave \{/ps/(\w+)\}", cfg)[1] for cfg, _ in auto
                  if f"Master {{/{ip['dma']}/{master}}}" in cfg]
        assert len(slaves) == 1 and "HP" in slaves[0], (master, slaves)
    # one LR line per transfer: its 4 HR rows out are 16*W pixels of 4 bytes;
    # an LR input pixel is 3 + 3*16 channels padded to whole 8-byte DMA words
    out_bytes = 16 * LR_W * 4
    in_bytes = LR_W * math.ceil((3 + 3 * 16) / 8) * 8
    bits = int(dma["c_sg_length_width"])
    assert 2 ** bits - 1 >= max(out_bytes, in_bytes) and bits <= 26  # the AXI DMA's register
    assert bits == max(14, max(out_bytes, in_bytes).bit_length())  # no wider than a line needs

    # the stream: DMA -> ... -> core -> ... -> DMA, each hop as wide as the last,
    # one host-packed LR pixel per input beat, CORE_OUT_BYTES (whole HR pixels) per
    # output beat
    layout = bmeta.stream_layout(int(dma["c_m_axis_mm2s_tdata_width"]))
    path = _stream_path(intf, ip["dma"], "M_AXIS_MM2S")
    assert path[-1][1] == f"{ip['dma']}/S_AXIS_S2MM"
    hops = [m.split("/")[0] for m, _ in path]
    assert hops.count(ip["accel"]) == 1
    width = int(dma["c_m_axis_mm2s_tdata_width"]) // 8
    for m, s in path:
        src, dst = m.split("/")[0], s.split("/")[0]
        if dst == ip["accel"]:
            assert width == layout["in_bytes_per_pixel"] >= layout["in_channels"], (m, width)
        if src == ip["accel"]:
            width = CORE_OUT_BYTES
            assert width % layout["out_bytes_per_pixel"] == 0
        if dst in props and "S_TDATA_NUM_BYTES" in props[dst]:  # a width converter
            assert int(props[dst]["S_TDATA_NUM_BYTES"]) == width, (s, width)
            assert props[dst].get("HAS_TLAST") == "1", s  # frame ends reach the S2MM channel
            width = int(props[dst]["M_TDATA_NUM_BYTES"])
    assert width == int(dma["c_s_axis_s2mm_tdata_width"]) // 8

    # one clock and one reset for everything on the stream but the DMA (clocked by automation)
    clk_src = {p[0] for p in nets if p[1].split("/")[1] in ("aclk", "ap_clk", "slowest_sync_clk")}
    rst_src = {p[0] for p in nets if p[1].split("/")[1] in ("aresetn", "ap_rst_n")}
    assert len(clk_src) == 1 and clk_src.pop().startswith("ps/") and len(rst_src) == 1
    clocked = {p[1].split("/")[0] for p in nets if p[1].split("/")[1] in ("aclk", "ap_clk")}
    reset = {p[1].split("/")[0] for p in nets if p[1].split("/")[1] in ("aresetn", "ap_rst_n")}
    assert set(hops) - {ip["dma"]} <= clocked & reset

    # the ID GPIO reads the first two 32-bit words of the bundle hash, in order
    drives = {p[1]: p[0].split("/")[0] for p in nets if p[0].endswith("/dout")}
    got = [int(props[drives[f"{ip['id']}/{ch}"]]["CONST_VAL"]) for ch in ("gpio_io_i", "gpio2_io_i")]
    assert got == [int(SHA[0:8], 16), int(SHA[8:16], 16)]
    assert re.search(r"USR_ACCESS 0x([0-9a-fA-F]{8})", tcl)[1].lower() == SHA[0:8]

    # the bitstream and the hardware handoff land beside the metadata the loader reads
    copies = re.findall(r"^file copy -force .* \[file join \$out (\S+)\]$", tcl, re.M)
    assert sorted(copies) == ["egvsr.bit", "egvsr.hwh"]


def test_cli_writes_tcl_and_metadata(tmp_path):
    out = tmp_path / "ovl"
    assert main(["--board", "zcu104", "--sha256", SHA, "--lr-size", "32x48",
                 "--ip-repo", "/ip", "--out", str(out)]) == 0
    assert (out / "egvsr_zcu104.tcl").is_file()
    m = bmeta.read_meta(out / "egvsr.bit")
    assert (m["board"], m["bundle_sha256"], m["lr_height"], m["lr_width"]) == \
        ("zcu104", SHA, 32, 48)
    assert m["ip"] == {"dma": "axi_dma_0", "accel": "egvsr_srnet_0", "id": "egvsr_id"}
    assert m["clock_mhz"] == BOARDS["zcu104"]["clock_mhz"]


def test_dma_length_register_and_unknown_board():
    # a 960x540 output frame is 33.2 MB: 25 bits, within the 26-bit register even
    # as one transfer; the driver moves one line, 61,440 bytes out: 16 bits
    assert (16 * 960 * 540 * 4).bit_length() == 25
    assert length_width(540, 960) == 16
    assert length_width(2160, 3840) == 18
    assert length_width(8, 8) == 14  # the IP's default minimum
    with pytest.raises(ValueError, match="26-bit length register: use a narrower frame"):
        length_width(8, 2 ** 20)
    with pytest.raises(ValueError, match="unknown board"):
        generate_tcl("zedboard", SHA, 8, 8, "/ip")


def test_makefile_without_vivado(tmp_path):
    r = subprocess.run(
        ["make", "-s", "-f", "board/vivado/Makefile", "bitstream",
         f"PY={sys.executable}", "BOARD=kv260", "VIVADO=vivado-not-installed",
         f"OUT={tmp_path}", f"SHA256={SHA}", "LR_SIZE=16x16"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "not found on PATH" in r.stdout + r.stderr
    assert (tmp_path / "egvsr_kv260.tcl").is_file()
    assert bmeta.read_meta(tmp_path / "egvsr.bit")["bundle_sha256"] == SHA
