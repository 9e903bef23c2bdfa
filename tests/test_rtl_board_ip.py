"""The RTL board IP `egvsr_srnet` (rtl.board_ip) as the block design wires it:
register map over AXI-Lite, run-time frame size, frame sync with lost and
extra beats under random back-pressure, bit-exact output on real frames
(cocotb + cocotbext-axi, Verilator); its Vivado packaging Tcl; its lint;
the frame-size port widths of the generated tops.

One small net (random nf=2 bundle) and one Verilator build (max 16x16 LR)
serve every simulation test.
"""
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from egvsr.rtl_tb import sim

needs_verilator = pytest.mark.skipif(not sim.available("verilator"), reason="verilator not installed")

MAX_W, MAX_H = 16, 16
#: folding of the nf=2 net: 18 clocks per LR pixel (conv_in), few multipliers: a quick Verilator build
PARALLELISM = {"conv_in": (6, 1), "rb0_conv1": (2, 1), "rb0_conv2": (2, 1), "conv_sub": (2, 4)}


@pytest.fixture(scope="module")
def small_bundle():
    from egvsr.golden import Bundle
    from egvsr.golden.synth import random_bundle
    return Bundle(*random_bundle(nf=2, nb=1, tail="espcn", seed=7))


@pytest.fixture(scope="module")
def ip_dir(small_bundle, tmp_path_factory):
    from egvsr.rtl.generate import generate_srnet
    g = tmp_path_factory.mktemp("board_ip")
    generate_srnet(small_bundle, g, parallelism=PARALLELISM, max_w=MAX_W, max_h=MAX_H,
                   board_io=True, part="xc7z020clg400-1")
    return g


@pytest.fixture(scope="module")
def ip_build(ip_dir):
    meta = json.loads((ip_dir / "manifest.json").read_text())
    bdir = sim.build("verilator", meta["top"], [ip_dir / s for s in meta["sources"]], {},
                     tag="egvsr_srnet_ip")
    return ip_dir, meta, bdir


def _run(ip_build, case, name):
    pytest.importorskip("cocotbext.axi")
    g, meta, bdir = ip_build

    def prepare(tdir, case):
        for f in g.glob("*.mem"):
            shutil.copyfile(f, tdir / f.name)
    return sim.run_cocotb("verilator", meta["top"], bdir, "egvsr.rtl_tb.tb_board", case,
                          name=name, prepare=prepare)


def _frames(bundle, real_frames, crops, tmp_path, tag):
    """Board input buffers (H, W, 56) and golden outputs of real-frame crops, as npy files."""
    from egvsr.board.streams import pack_x
    from egvsr.golden import run_srnet, srnet_input
    out = []
    for i, (y0, x0, H, W) in enumerate(crops):
        lr = real_frames[1, y0:y0 + H, x0:x0 + W]
        prev = real_frames[0, y0:y0 + H, x0:x0 + W]
        x = np.asarray(srnet_input(lr, np.repeat(np.repeat(prev, 4, 0), 4, 1)), np.uint8)
        buf = pack_x(np.zeros((H, W, 56), np.uint8), x)
        fi, fo = tmp_path / f"{tag}{i}_in.npy", tmp_path / f"{tag}{i}_out.npy"
        np.save(fi, buf)
        np.save(fo, run_srnet(bundle, x))
        out.append({"npy": str(fi), "expected": str(fo)})
    return out


@needs_verilator
@pytest.mark.slow
def test_board_ip_regmap(ip_build, small_bundle):
    """Every register of egvsr.board.regmap over AXI-Lite: offset, reset value
    (ID words of the bundle hash, VERSION, MAX_*), access, AP_CTRL/ISR/interrupt."""
    from egvsr.board import regmap as rm
    from egvsr.board.meta import id_words
    lo, hi = id_words(small_bundle.sha256)
    build = {"ID_LO": lo, "ID_HI": hi, "MAX_HEIGHT": MAX_H, "MAX_WIDTH": MAX_W}
    assert {r.name for r in rm.REGISTERS if r.reset is None} == set(build)
    rep = _run(ip_build, {"test": "regmap", "build": build}, "regmap")
    assert rep["reset_values"]["VERSION"] == rm.REGMAP_VERSION
    assert rep["reset_values"]["ID_LO"] == lo and rep["reset_values"]["ID_HI"] == hi


@needs_verilator
@pytest.mark.slow
def test_board_ip_two_sizes_bit_exact(ip_build, small_bundle, real_frames, tmp_path):
    """One build, three run-time frame sizes (one at the build's maximum width),
    real carphone frames, random input gaps and output back-pressure: every
    frame bit-exact with golden, one output packet (4 HR rows, TLAST) per LR line."""
    frames = _frames(small_bundle, real_frames, [(40, 60, 6, 8), (90, 120, 5, 16), (10, 20, 7, 12)],
                     tmp_path, "f")
    rep = _run(ip_build, {"test": "frames", "frames": frames, "gap": 0.3, "bp": 0.3, "seed": 11},
               "sizes")
    assert [r["size"] for r in rep["runs"]] == [[6, 8], [5, 16], [7, 12]]
    assert all(r["status"] == 0 for r in rep["runs"])


@needs_verilator
@pytest.mark.slow
def test_board_ip_frame_sync(ip_build, small_bundle, real_frames, tmp_path):
    """A lost beat, an extra beat (each under random gaps and back-pressure) and a
    frame cut short by the next frame's TUSER: STATUS.frame_error, ERR_COUNT + 1,
    every output packet still comes, and the frame after each is bit-exact."""
    f = _frames(small_bundle, real_frames, [(40, 60, 6, 8), (20, 30, 5, 12), (70, 100, 6, 8),
                                             (50, 50, 4, 12)], tmp_path, "s")
    seq = [dict(f[0], fault="drop", line=2, col=3, expect="frame_error", expected=None),
           f[1],
           dict(f[2], fault="extra", line=1, col=7, expect="frame_error", expected=None),
           f[3],
           dict(f[0], fault="short_frame", line=3, expect="frame_error", expected=None),
           f[1]]
    rep = _run(ip_build, {"test": "frames", "frames": seq, "gap": 0.25, "bp": 0.35, "seed": 5,
                          "tuser": True}, "sync")
    assert [r["err_count"] for r in rep["runs"]] == [1, 1, 2, 2, 3, 3]


@needs_verilator
@pytest.mark.slow
def test_board_ip_size_error(ip_build, small_bundle, real_frames, tmp_path):
    """LR_WIDTH beyond MAX_WIDTH or below the minimum, LR_HEIGHT beyond MAX_HEIGHT:
    STATUS.size_error and ap_done at once, nothing consumed, ERR_COUNT unchanged;
    the next frame is bit-exact."""
    f = _frames(small_bundle, real_frames, [(30, 40, 5, 8)], tmp_path, "z")
    seq = [dict(f[0], size=[5, MAX_W + 1], expect="size_error"),
           dict(f[0], size=[MAX_H + 1, 8], expect="size_error"),
           dict(f[0], size=[5, 3], expect="size_error"),
           f[0]]
    rep = _run(ip_build, {"test": "frames", "frames": seq, "seed": 2}, "size")
    assert rep["runs"][-1]["err_count"] == 0 and rep["runs"][-1]["status"] == 0


def test_board_ip_lint(ip_dir):
    """verilator --lint-only -Wall of the IP top: nothing in its own files (the
    wrapper, register file, frame control; the net's cores have their own lint
    test)."""
    from egvsr.rtl_tb.lint import lint_top
    own = ("egvsr_srnet.v", "axil_regs.v", "frame_ctrl.v")
    msgs = [m for m in lint_top(ip_dir).splitlines() if any(f"/{f}:" in m for f in own)]
    assert msgs == []


@pytest.mark.skipif(not sim.available("icarus"), reason="icarus not installed")
def test_board_ip_icarus_compiles(ip_dir):
    meta = json.loads((ip_dir / "manifest.json").read_text())
    res = subprocess.run(["iverilog", "-g2005", "-s", meta["top"], "-o", str(ip_dir / "ip.vvp")] +
                         [str(ip_dir / s) for s in meta["sources"]], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_board_ip_ports_match_block_design(ip_dir):
    """The IP top's module name and ports are what board/bitstream.py connects
    (ACCEL_VLNV name, ACCEL_PORTS) and what the manifest lists."""
    from egvsr.board.bitstream import ACCEL_PORTS, ACCEL_VLNV
    meta = json.loads((ip_dir / "manifest.json").read_text())
    text = (ip_dir / f"{meta['top']}.v").read_text()
    assert meta["top"] == ACCEL_VLNV.split(":")[2]
    m = re.search(r"module (\w+) \((.*?)\);", text, re.S)
    assert m and m.group(1) == meta["top"]
    ports = re.findall(r"(input|output)\s+wire\s+(?:\[(\d+):0\]\s+)?(\w+)", m.group(2))
    got = [(d, n, int(w) + 1 if w else 1) for d, w, n in ports]
    assert got == [tuple(p) for p in meta["board_ip"]["ports"]]
    names = {n for _, n, _ in got}
    assert {ACCEL_PORTS["clk"], ACCEL_PORTS["rstn"]} <= names
    for bus in ("in", "out", "ctrl"):
        assert any(n.startswith(ACCEL_PORTS[bus] + "_") for n in names), bus
    widths = {n: w for _, n, w in got}
    assert widths["s_axis_TDATA"] == 56 * 8 and widths["m_axis_TDATA"] == 2 * 32


TCL_STUBS = r"""
set calls {}
namespace eval ipx {}
proc rec {args} { global calls; lappend calls $args; return "obj[llength $calls]" }
foreach c {create_project add_files set_property update_compile_order get_files current_fileset
           close_project} { proc $c {args} "rec $c {*}\$args" }
proc ipx::package_project {args} { rec ipx::package_project {*}$args }
proc ipx::current_core {} { return core }
proc ipx::get_bus_interfaces {args} { return {} }
proc ipx::get_memory_maps {args} { return {} }
proc get_property {args} { return x }
foreach c {add_bus_interface add_port_map add_bus_parameter add_memory_map add_address_block
           add_register get_ports create_xgui_files update_checksums check_integrity save_core
           remove_bus_interface remove_memory_map} { proc ipx::$c {args} "rec ipx::$c {*}\$args" }
set argv {}
source [lindex $::argv0_script 0]
foreach c $calls { puts $c }
"""


def _tcl_calls(tcl_path, tmp_path):
    stub = tmp_path / "stub.tcl"
    stub.write_text(TCL_STUBS.replace("[lindex $::argv0_script 0]", "{" + str(tcl_path) + "}"))
    res = subprocess.run(["tclsh", str(stub)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")
def test_package_ip_tcl(ip_dir, tmp_path):
    """package_ip.tcl (Vivado is not on this machine): run under tclsh with the
    Vivado commands stubbed; it packages the IP as ACCEL_VLNV with the five
    interfaces of ACCEL_PORTS (+ interrupt), maps every port of the top exactly
    once, associates the three buses and the reset with ap_clk, adds every HDL
    and memory file and the register map of regmap.py at its offsets."""
    from egvsr.board import regmap as rm
    from egvsr.board.bitstream import ACCEL_PORTS, ACCEL_VLNV
    meta = json.loads((ip_dir / "manifest.json").read_text())
    calls = _tcl_calls(ip_dir / "package_ip.tcl", tmp_path)
    text = "\n".join(calls)
    vendor, lib, name, ver = ACCEL_VLNV.split(":")
    pkg = next(c for c in calls if c.startswith("ipx::package_project"))
    assert f"-vendor {vendor}" in pkg and f"-library {lib}" in pkg
    assert f"set_property name {name} core" in text and f"set_property version {ver} core" in text
    assert "-part xc7z020clg400-1" in text
    ifs = re.findall(r"ipx::add_bus_interface (\w+) core", text)
    assert sorted(ifs) == sorted(list(ACCEL_PORTS.values()) + ["interrupt"])
    mapped = re.findall(r"set_property physical_name (\w+) obj\d+", text)
    ports = [p[1] for p in meta["board_ip"]["ports"]]
    assert sorted(mapped) == sorted(ports)
    assert re.search(rf"add_bus_parameter ASSOCIATED_BUSIF .*\n?", text)
    busif = re.search(r"set_property value (\S+) obj\d+", "\n".join(
        c for i, c in enumerate(calls) if i and "ASSOCIATED_BUSIF" in calls[i - 1]))
    assert busif and set(busif.group(1).split(":")) == {ACCEL_PORTS[k] for k in ("ctrl", "in", "out")}
    assert "POLARITY" in text and "ACTIVE_LOW" in text
    added = " ".join(c for c in calls if c.startswith("add_files"))
    for f in meta["sources"] + [p.name for p in ip_dir.glob("*.mem")]:
        assert f"/{f}" in added, f
    regs = re.findall(r"ipx::add_register (\w+) obj\d+\nset_property address_offset (0x[0-9a-f]+)",
                      text)
    assert [(n, int(o, 16)) for n, o in regs] == [(r.name, r.offset) for r in rm.REGISTERS]
    assert f"set_property range {1 << rm.ADDR_BITS}" in text
    assert "driver_value 0" in text


@needs_verilator
def test_board_ip_anchor_bundle(real_frames, tmp_path):
    """The board IP of a bundle with the LR anchor skip (the net input fans out to
    conv_in and to anchor_add's skip FIFO): lint-clean, and a real carphone crop
    through the AXI-Lite set-up, 56-byte input beats and RGB0 output beats equals golden."""
    from egvsr.golden import Bundle, run_srnet, srnet_input
    from egvsr.golden.synth import random_bundle
    from egvsr.rtl_tb.backend import RtlSrnet
    from egvsr.rtl_tb.lint import lint_top
    b = Bundle(*random_bundle(nf=4, nb=1, skip="anchor", seed=3, own_add_exps=True, per_channel=True))
    r = RtlSrnet(b, simulator="verilator", board_io=True, workdir=tmp_path)
    lr, prev = real_frames[1, 40:48, 60:72], real_frames[0, 40:48, 60:72]
    x = np.asarray(srnet_input(lr, np.repeat(np.repeat(prev, 4, 0), 4, 1)), np.uint8)
    assert np.array_equal(r(x), run_srnet(b, x))
    assert r.last_stats["tlast_count"] == 8
    _, gdir, meta = r._get(12)
    assert meta["top"] == "egvsr_srnet" and "anchor_add.v" in meta["sources"]
    assert lint_top(gdir) == ""


def test_board_ip_bad_options(small_bundle, tmp_path):
    from egvsr.rtl.generate import generate_srnet
    with pytest.raises(ValueError, match="out_pixels"):
        generate_srnet(small_bundle, tmp_path / "a", parallelism=PARALLELISM, max_w=16,
                       board_io=True, out_pixels=8)
    with pytest.raises(ValueError, match="tlast"):
        generate_srnet(small_bundle, tmp_path / "b", parallelism=PARALLELISM, max_w=16,
                       board_io=True, tlast="sometimes")
    with pytest.raises(ValueError, match="65535"):
        generate_srnet(small_bundle, tmp_path / "c", parallelism=PARALLELISM, max_w=16,
                       max_h=70000, board_io=True)
    # a refused option leaves nothing behind (no half-written IP folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # and an existing good IP folder is left as it was
    good = generate_srnet(small_bundle, tmp_path / "ok", parallelism=PARALLELISM, max_w=16,
                          board_io=True)
    before = {p.name: p.stat().st_mtime_ns for p in good.parent.iterdir()}
    with pytest.raises(ValueError, match="tlast"):
        generate_srnet(small_bundle, tmp_path / "ok", parallelism=PARALLELISM, max_w=16,
                       board_io=True, tlast="sometimes")
    assert {p.name: p.stat().st_mtime_ns for p in good.parent.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok"]


def test_frame_size_port_widths(tmp_path):
    """The cores' frame-size ports hold the largest frame at every scale a core
    counts it: an LR width of 1024 (4096 at HR, the published tail's HR conv)
    no longer wraps to 0 in 12 bits; a too-small dim_bits is refused."""
    from egvsr.golden import Bundle
    from egvsr.golden.synth import random_bundle
    from egvsr.rtl.generate import frame_dim_bits, generate_srnet
    b = Bundle(*random_bundle(nf=16, nb=0, tail="cheap", seed=1))
    g = b.graph("srnet")
    assert frame_dim_bits(g, 1024, 540) == 13           # 4096 at HR needs 13 bits
    assert frame_dim_bits(g, 64, 64) == 12               # at least 12, as before
    with pytest.raises(ValueError, match="dim_bits >= 13"):
        frame_dim_bits(g, 1024, 540, dim_bits=12)
    top = generate_srnet(b, tmp_path / "g", max_w=1024, max_h=540,
                         parallelism={"conv_in": (3, 16), "conv_out": (4, 3)})
    text = top.read_text()
    meta = json.loads((tmp_path / "g" / "manifest.json").read_text())
    d = meta["dim_bits"]
    assert d == 13 and f"wire [{d - 1}:0] hr_width = cfg_width * 4;" in text
    assert f"input  wire [{d - 1}:0]        cfg_width" in text


@needs_verilator
@pytest.mark.slow
def test_frame_ctrl_tuser_and_frame_tlast():
    """frame_ctrl.v alone with USE_TUSER = 1 and TLAST_FRAME = 1 (random pauses
    on every stream): beats before the start of frame are dropped and count as
    an error; a frame with an extra line leaves it to the next frame, which
    drops it (frame error); the core side gets exactly each frame's pixels;
    one TLAST per frame, on its last output beat, and one ap_done."""
    pytest.importorskip("cocotbext.axi")
    from egvsr.rtl import core_sources
    params = {"USE_TUSER": 1, "TLAST_FRAME": 1, "MAX_W": 16, "MAX_H": 16, "DATA_W": 8, "P": 2,
              "R": 4}
    bdir = sim.build("verilator", "frame_ctrl", core_sources("frame_ctrl"), params,
                     tag="frame_ctrl_tuser")
    frames = [{"h": 4, "w": 5, "pre": 2, "expect_error": True},
              {"h": 5, "w": 6},
              {"h": 4, "w": 4, "lines": 5},                   # one line too many
              {"h": 5, "w": 7, "expect_error": True},         # ... dropped here
              {"h": 6, "w": 7}]
    rep = sim.run_cocotb("verilator", "frame_ctrl", bdir, "egvsr.rtl_tb.tb_frame_ctrl",
                         {"frames": frames, "P": 2, "R": 4, "seed": 3}, name="tuser")
    assert [r["err_count"] for r in rep["runs"]] == [1, 1, 1, 2, 2]


def test_readme_quotes_the_register_map():
    """The README's register table is the one regmap.py generates."""
    from pathlib import Path
    from egvsr.rtl.regfile import markdown_table
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert markdown_table() in readme


def test_board_ip_cli(tmp_path):
    """python -m egvsr.rtl.board_ip: the bundled model, planned for kv260 at its
    maximum size (MAX_WIDTH 96 as the overlay metadata will say, line buffers
    128 wide); a bad size is one error line."""
    from egvsr.rtl.board_ip import main
    assert main(["--out", str(tmp_path / "ip"), "--max-size", "96x64"]) == 0   # W x H
    meta = json.loads((tmp_path / "ip" / "manifest.json").read_text())
    ip = meta["board_ip"]
    assert (ip["max_h"], ip["max_w"], ip["part"]) == (64, 96, "xck26-sfvc784-2LV-c")
    assert meta["max_w"] == 128
    assert "MAX_WIDTH(16'd96)" in (tmp_path / "ip" / "egvsr_srnet.v").read_text()
    assert (tmp_path / "ip" / "package_ip.tcl").is_file()
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "bad"), "--max-size", "96by64"])
