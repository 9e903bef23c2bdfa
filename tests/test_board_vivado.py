"""The generated Vivado Tcl names the right parts and IP (Vivado not needed)."""

import re
import subprocess
import sys

import pytest

from egvsr.board import meta as bmeta
from egvsr.board.bitstream import (ACCEL_VLNV, BOARDS, generate_tcl,
                                   length_width, main)

SHA = "0123456789abcdef" * 4
PARTS = {"pynq-z2": ("xc7z020clg400-1", "processing_system7", "S_AXI_HP0"),
         "kv260": ("xck26-sfvc784-2LV-c", "zynq_ultra_ps_e", "S_AXI_HP0_FPD"),
         "zcu104": ("xczu7ev-ffvc1156-2-e", "zynq_ultra_ps_e", "S_AXI_HP0_FPD")}


@pytest.mark.parametrize("board", sorted(PARTS))
def test_generated_tcl(board, tmp_path):
    part, ps, hp = PARTS[board]
    tcl = generate_tcl(board, SHA, 64, 96, "/ip")
    assert f"-part {part}" in tcl
    assert re.search(rf"-vlnv xilinx.com:ip:{ps}:\S+ ps\n", tcl)
    assert "-vlnv xilinx.com:ip:axi_dma:7.1 axi_dma_0" in tcl
    assert f"-vlnv {ACCEL_VLNV} egvsr_srnet_0" in tcl
    assert "CONFIG.c_include_sg {0}" in tcl
    assert f"CONFIG.c_sg_length_width {{{length_width(64, 96)}}}" in tcl
    assert "CONFIG.c_m_axis_mm2s_tdata_width {64}" in tcl
    assert "M_TDATA_NUM_BYTES {56}" in tcl  # 7 DMA words -> one LR pixel beat
    assert f"Slave {{/ps/{hp}}}" in tcl
    w1, w2 = bmeta.id_words(SHA)
    assert f"CONST_VAL {{{w1}}}" in tcl and f"CONST_VAL {{{w2}}}" in tcl
    assert f"USR_ACCESS 0x{w1:08x}" in tcl
    assert "write_bitstream" in tcl and "egvsr.hwh" in tcl
    assert tcl.count("{") == tcl.count("}")


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


def test_frame_too_large_and_unknown_board():
    with pytest.raises(ValueError, match="26-bit"):
        length_width(2160, 3840)
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
