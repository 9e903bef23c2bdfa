"""Interface contract: the generated board tops, read as text, against what the block
design (`board/bitstream.py`: ACCEL_VLNV, ACCEL_PORTS, CORE_IN_BYTES, CORE_OUT_BYTES) and
the driver (`board/regmap.py`, `board/meta.py`) expect.

Both implementations must give the same IP: the VLNV the Tcl instantiates, the port
names it connects (s_axis, m_axis, s_axi_control, ap_clk, ap_rst_n), stream widths equal
to the width converters' core-side widths, TLAST on both streams (the driver moves one LR
line per DMA transfer), and the AXI-Lite register map at the offsets of `regmap`.

HLS: the wrapper of `egvsr.hls.board_top` (its C++ source, header, the project's
defines.h and build_prj_board.tcl) read the way Vitis HLS names the RTL ports.
RTL: `egvsr.rtl.generate.generate_top(..., board_io=True)` (the IP top's Verilog port
list, the register file's address table and package_ip.tcl).

`test_contract_catches_the_bare_hls4ml_top` points the HLS checker at hls4ml's own top
(what the tree had before the wrapper) and requires it to fail.
"""
import re

import pytest

from egvsr.board import meta as bmeta
from egvsr.board import regmap
from egvsr.board.bitstream import ACCEL_PORTS, ACCEL_VLNV, CORE_IN_BYTES, CORE_OUT_BYTES

CTRL_BLOCK = ("AP_CTRL", "GIE", "IER", "ISR")  # Vitis HLS makes these for `port=return`
AXIL_SIGNALS = {"AWADDR": ("input", regmap.ADDR_BITS), "AWVALID": ("input", 1), "AWREADY": ("output", 1),
                "WDATA": ("input", 32), "WSTRB": ("input", 4), "WVALID": ("input", 1),
                "WREADY": ("output", 1), "BRESP": ("output", 2), "BVALID": ("output", 1),
                "BREADY": ("input", 1), "ARADDR": ("input", regmap.ADDR_BITS), "ARVALID": ("input", 1),
                "ARREADY": ("output", 1), "RDATA": ("output", 32), "RRESP": ("output", 2),
                "RVALID": ("output", 1), "RREADY": ("input", 1)}


def expected():
    return {"vlnv": ACCEL_VLNV, "ports": dict(ACCEL_PORTS), "in_bits": 8 * CORE_IN_BYTES,
            "out_bits": 8 * CORE_OUT_BYTES,
            "regs": {r.name: (r.offset, r.bits, r.access) for r in regmap.REGISTERS}}


def check(iface: dict, who: str) -> list:
    """Every way `iface` (parsed from a generated top) breaks the contract, as sentences."""
    exp, bad = expected(), []
    if iface.get("vlnv") != exp["vlnv"]:
        bad.append(f"{who}: the IP is exported as {iface.get('vlnv')}, the block design instantiates "
                   f"{exp['vlnv']} (board/bitstream.py ACCEL_VLNV)")
    p = exp["ports"]
    for key, what in (("clk", "clock"), ("rstn", "active-low reset")):
        if p[key] not in iface["scalars"]:
            bad.append(f"{who}: no {what} port {p[key]!r} (ACCEL_PORTS[{key!r}]); it has {sorted(iface['scalars'])}")
    streams = iface["streams"]
    for key, direction, width in (("in", "in", exp["in_bits"]), ("out", "out", exp["out_bits"])):
        name = p[key]
        s = streams.get(name)
        if s is None:
            bad.append(f"{who}: no AXI4-Stream port {name!r} (ACCEL_PORTS[{key!r}]); its streams are "
                       f"{sorted(streams)}")
            continue
        if s["dir"] != direction:
            bad.append(f"{who}: stream {name!r} is an {s['dir']}put, the block design drives it as an {direction}put")
        if s["bits"] != width:
            bad.append(f"{who}: stream {name!r} carries {s['bits']}-bit beats, the block design's width "
                       f"converter has {width} (board/bitstream.py CORE_{key.upper()}_BYTES = {width // 8})")
        if not s["tlast"]:
            bad.append(f"{who}: stream {name!r} has no TLAST (the driver's DMA transfers end on it)")
        if not s.get("handshake", True):
            bad.append(f"{who}: stream {name!r} lacks TVALID/TREADY")
    ctrl = iface.get("ctrl")
    if ctrl != p["ctrl"]:
        bad.append(f"{who}: the AXI-Lite control port is {ctrl!r}, the block design connects {p['ctrl']!r} "
                   "(ACCEL_PORTS['ctrl'])")
    for sig, why in iface.get("ctrl_problems", []):
        bad.append(f"{who}: {p['ctrl']}_{sig}: {why}")
    regs = iface["regs"]
    for name, (off, bits, access) in exp["regs"].items():
        r = regs.get(name)
        if r is None:
            bad.append(f"{who}: register {name} (0x{off:02x}, regmap) is missing")
            continue
        if r.get("offset") != off:
            bad.append(f"{who}: register {name} at {r.get('offset')!r}, regmap has 0x{off:02x}")
        if r.get("bits") is not None and r["bits"] != bits:
            bad.append(f"{who}: register {name} is {r['bits']} bits, regmap has {bits}")
        if r.get("access") is not None and access != "ctrl" and r["access"] != access:
            bad.append(f"{who}: register {name} is {r['access']}, regmap has {access}")
    for name, r in regs.items():
        if name not in exp["regs"]:
            bad.append(f"{who}: register {name} at {r.get('offset')} is not in regmap")
    if "version" in iface and iface["version"] != regmap.REGMAP_VERSION:
        bad.append(f"{who}: VERSION reads {iface['version']}, regmap.REGMAP_VERSION is {regmap.REGMAP_VERSION}")
    return bad


# --------------------------------------------------------------------------- HLS
def _typedefs(*texts) -> dict:
    out = {}
    for t in texts:
        for m in re.finditer(r"typedef\s+(.+?)\s+(\w+)\s*;", t):
            out[m[2]] = m[1]
    return out


def _stream_bits(ctype: str, types: dict):
    """(bits, has TLAST) of the element type of an hls::stream."""
    for _ in range(8):
        ctype = types.get(ctype.strip(), ctype).strip()
    m = re.fullmatch(r"(?:hls::axis<\s*ap_u?int<(\d+)>|ap_axiu<\s*(\d+))\s*,.*>", ctype)
    if m:
        return int(m[1] or m[2]), True
    m = re.fullmatch(r"nnet::array<\s*ap_u?fixed<\s*(\d+)\s*,.*>\s*,\s*(\d+)\s*(?:\*\s*(\d+))?\s*>", ctype)
    if m:
        return int(m[1]) * int(m[2]) * int(m[3] or 1), False
    m = re.fullmatch(r"ap_u?int<\s*(\d+)\s*>", ctype)
    if m:
        return int(m[1]), False
    return None, False


def _functions(src: str) -> dict:
    """{name: (parameter names, body)} of the C++ functions defined in `src`."""
    out = {}
    for m in re.finditer(r"\bvoid\s+(\w+)\s*\(([^)]*)\)\s*\{", src):
        depth, i = 1, m.end()
        while depth and i < len(src):
            depth += {"{": 1, "}": -1}.get(src[i], 0)
            i += 1
        names = [re.findall(r"(\w+)\s*$", a.strip())[0] for a in m[2].split(",") if a.strip()]
        out[m[1]] = (names, src[m.end():i])
    return out


def _direction(funcs: dict, func: str, param: str, seen=()) -> str | None:
    """'in' if `func` reads stream `param` (itself or through the functions it calls
    with it), 'out' if it writes it."""
    if func not in funcs or (func, param) in seen:
        return None
    body = funcs[func][1]
    if re.search(rf"\b{param}\s*\.\s*read\s*\(", body):
        return "in"
    if re.search(rf"\b{param}\s*\.\s*write\s*\(", body):
        return "out"
    for call in re.finditer(r"\b(\w+)\s*(?:<[^;]*?>)?\s*\(([^;]*?)\)\s*;", body):
        args = [a.strip() for a in call[2].split(",")]
        if param in args and call[1] in funcs:
            d = _direction(funcs, call[1], funcs[call[1]][0][args.index(param)], seen + ((func, param),))
            if d:
                return d
    return None


def hls_interface(src: str, headers: list, tcl: str) -> dict:
    """The IP Vitis HLS would export from the top set in `tcl` (ports named as Vitis names them).
    Stream directions come from the source (a stream read in the top or in what it calls
    is an input); a stream passed only to hls4ml's library functions is taken in
    parameter order (hls4ml puts the input first)."""
    top = re.search(r"^set_top\s+(\S+)", tcl, re.M)
    top = top[1] if top else None
    ex = re.search(r"^\s*export_design\s+(.*)$", tcl, re.M)
    opts = dict(re.findall(r"-(\w+)\s+(\S+)", ex[1])) if ex else {}
    vlnv = (f"{opts.get('vendor', 'xilinx.com')}:{opts.get('library', 'hls')}:{opts.get('ipname', top)}:"
            f"{opts.get('version', '1.0')}") if ex else None
    m = re.search(r"void\s+" + re.escape(top or "?") + r"\s*\((.*?)\)\s*\{", src, re.S)
    params = {}
    if m:
        for arg in m[1].split(","):
            a = re.fullmatch(r"\s*(.+?)\s*(&?)\s*(\w+)\s*", arg.replace("\n", " "))
            if a:
                params[a[3]] = {"type": a[1].strip(), "ref": bool(a[2])}
    body = src[m.end():] if m else ""
    funcs = _functions(src)
    pragmas = []
    for pm in re.finditer(r"#pragma HLS INTERFACE\s+(?:mode=)?(\w+)\s+(.*)", body):
        kv = dict(re.findall(r"(\w+)=([\w,]+)", pm[2]))
        for port in kv.get("port", "").split(","):
            pragmas.append({"mode": pm[1], "port": port, **{k: v for k, v in kv.items() if k != "port"}})
    types = _typedefs(src, *headers)
    streams, regs, ctrl, scalars = {}, {}, None, {"ap_clk"}
    for pr in pragmas:
        if pr["mode"] == "axis" and pr["port"] in params:
            t = params[pr["port"]]["type"]
            inner = re.fullmatch(r"hls::stream<\s*(.+)\s*>", t)
            bits, tlast = _stream_bits(inner[1] if inner else t, types)
            d = _direction(funcs, top, pr["port"])
            if d is None:  # hls4ml's own top: inputs first
                stream_params = [n for n, v in params.items() if v["type"].startswith("hls::stream")]
                d = "in" if stream_params.index(pr["port"]) == 0 else "out"
            streams[pr["port"]] = {"bits": bits, "tlast": tlast, "dir": d}
        elif pr["mode"] == "s_axilite":
            bundle = pr.get("bundle", "control")
            if pr["port"] == "return":
                ctrl = f"s_axi_{bundle}"
                for i, name in enumerate(CTRL_BLOCK):
                    regs[name] = {"offset": 4 * i}
            elif pr["port"] in params:
                prm = params[pr["port"]]
                b = re.fullmatch(r"ap_u?int<\s*(\d+)\s*>", prm["type"])
                regs[pr["port"].upper()] = {"offset": int(pr["offset"], 0) if "offset" in pr else None,
                                            "bits": int(b[1]) if b else None,
                                            "access": "ro" if prm["ref"] else "rw"}
    # Vitis HLS: active-low ap_rst_n once the design has AXI4 interfaces, else ap_rst
    axi = ctrl is not None or bool(streams)
    high = re.search(r"config_rtl\s+.*-reset_level\s+high", tcl)
    scalars.add("ap_rst_n" if axi and not high else "ap_rst")
    return {"vlnv": vlnv, "top": top, "streams": streams, "ctrl": ctrl, "regs": regs, "scalars": scalars}


@pytest.fixture(scope="module")
def hls_project(tmp_path_factory):
    pytest.importorskip("hls4ml")
    from egvsr.golden.bundle import Bundle, default_bundle_path, load_bundle
    from egvsr.golden.synth import random_bundle
    from egvsr.hls.board_top import write_board_top
    from egvsr.hls.cores import TOP, build_core
    p = default_bundle_path()
    bundle = load_bundle(p) if p.is_file() else Bundle(*random_bundle(seed=5))
    core = build_core(bundle, TOP, 12, 16, tmp_path_factory.mktemp("contract") / TOP,
                      "xck26-sfvc784-2LV-c", 3.333, pixels_per_beat=4)
    return core, write_board_top(core, bundle.sha256)


def test_hls_board_ip_meets_the_contract(hls_project):
    core, bt = hls_project
    d = core.project_dir
    iface = hls_interface(bt.files["source"].read_text(),
                          [bt.files["header"].read_text(), (d / "firmware" / "defines.h").read_text()],
                          bt.files["tcl"].read_text())
    assert iface["top"] == bt.top
    assert check(iface, "HLS board IP") == []
    # the defines the wrapper bakes in agree with the driver's view of the core
    hdr = bt.files["header"].read_text()
    for name, value in (("IN_BYTES", CORE_IN_BYTES), ("OUT_BYTES", CORE_OUT_BYTES),
                        ("VERSION", regmap.REGMAP_VERSION),
                        ("STATUS_FRAME_ERROR", regmap.STATUS_FRAME_ERROR),
                        ("STATUS_SIZE_ERROR", regmap.STATUS_SIZE_ERROR)):
        assert re.search(rf"\b{name} = {value}\b", hdr), name
    # TLAST on the output is the last beat of each LR line's 4 HR rows
    assert "beat.last = (k == BLOCK_PIXELS - 1);" in bt.files["source"].read_text()


def test_contract_catches_the_bare_hls4ml_top(hls_project):
    """hls4ml's own top (what `make bitstream` would have found before the wrapper):
    the contract must fail, and say why."""
    core, _ = hls_project
    d = core.project_dir
    tcl = (d / "build_prj.tcl").read_text().replace("${project_name}", "egvsr_srnet")
    iface = hls_interface((d / "firmware" / "egvsr_srnet.cpp").read_text(),
                          [(d / "firmware" / "egvsr_srnet.h").read_text(),
                           (d / "firmware" / "defines.h").read_text()], tcl)
    bad = "\n".join(check(iface, "hls4ml top"))
    assert "no AXI4-Stream port 's_axis'" in bad and "no AXI4-Stream port 'm_axis'" in bad
    assert "the AXI-Lite control port is None" in bad
    assert "register LR_HEIGHT (0x10, regmap) is missing" in bad
    assert "ap_rst_n" not in bad  # axis ports make Vitis use ap_rst_n there too
    # and with the stream names fixed, the widths and TLAST still fail
    (out_port,) = set(iface["streams"]) - {"global_in"}  # hls4ml names it after its last layer
    widths = check(dict(iface, streams={"s_axis": {**iface["streams"]["global_in"]},
                                        "m_axis": {**iface["streams"][out_port]}}), "hls4ml top")
    text = "\n".join(widths)
    assert "'s_axis' carries 408-bit beats" in text and "'m_axis' carries 96-bit beats" in text
    assert "'s_axis' has no TLAST" in text and "'m_axis' has no TLAST" in text


def test_driver_and_block_design_agree_on_beats():
    lay = bmeta.stream_layout(64)
    assert lay["in_bytes_per_pixel"] == CORE_IN_BYTES
    assert lay["out_bytes_per_pixel"] * (CORE_OUT_BYTES // lay["out_bytes_per_pixel"]) == CORE_OUT_BYTES
    offs = [r.offset for r in regmap.REGISTERS]
    assert len(set(offs)) == len(offs) and max(offs) < 2 ** regmap.ADDR_BITS
    assert all(o % 4 == 0 for o in offs)


# --------------------------------------------------------------------------- RTL
def rtl_interface(ip_dir, top_name: str) -> dict:
    """The IP of the RTL board top: the port list of module `top_name`, the register
    file's address table and the identity in package_ip.tcl."""
    from pathlib import Path
    ip_dir = Path(ip_dir)
    texts = {p.name: p.read_text() for p in ip_dir.glob("*.v")}
    mod = None
    for t in texts.values():
        m = re.search(r"\bmodule\s+" + re.escape(top_name) + r"\b\s*(?:#\s*\(.*?\)\s*)?\((.*?)\);", t, re.S)
        if m:
            mod = m[1]
            break
    ports = {}
    for m in re.finditer(r"\b(input|output)\s+(?:wire|reg)?\s*(?:\[(\d+)\s*:\s*0\])?\s*(\w+)", mod or ""):
        ports[m[3]] = (m[1], int(m[2]) + 1 if m[2] else 1)
    streams = {}
    for name, (d, bits) in ports.items():
        m = re.fullmatch(r"(\w+)_TDATA", name, re.I)
        if m:
            base = m[1]
            has = {s: any(n.lower() == f"{base}_{s}".lower() for n in ports) for s in ("TLAST", "TVALID", "TREADY")}
            streams[base] = {"bits": bits, "tlast": has["TLAST"], "handshake": has["TVALID"] and has["TREADY"],
                             "dir": "in" if d == "input" else "out"}
    ctrl, ctrl_problems = None, []
    bases = {n.rsplit("_", 1)[0] for n in ports if n.upper().endswith("_AWADDR")}
    if bases:
        ctrl = sorted(bases)[0]
        for sig, (d, bits) in AXIL_SIGNALS.items():
            got = next((v for n, v in ports.items() if n.lower() == f"{ctrl}_{sig}".lower()), None)
            if got is None:
                ctrl_problems.append((sig, "missing"))
            elif got != (d, bits):
                ctrl_problems.append((sig, f"{got[0]} [{got[1]}], AXI-Lite needs {d} [{bits}]"))
    regs = {}
    for t in texts.values():
        for m in re.finditer(r"\bADDR_(\w+)\s*=\s*\d+'h([0-9a-fA-F]+)", t):
            regs[m[1]] = {"offset": int(m[2], 16)}
    version = None
    for t in texts.values():
        m = re.search(r"VERSION_VALUE\s*=\s*\d+'h([0-9a-fA-F]+)", t)
        if m:
            version = int(m[1], 16)
    vlnv = None
    tcl = ip_dir / "package_ip.tcl"
    if tcl.is_file():
        s = tcl.read_text()
        v, lib = re.search(r"-vendor\s+(\S+)", s), re.search(r"-library\s+(\S+)", s)
        n, ver = re.search(r"set_property name\s+(\S+)", s), re.search(r"set_property version\s+(\S+)", s)
        if all((v, lib, n, ver)):
            vlnv = f"{v[1]}:{lib[1]}:{n[1]}:{ver[1]}"
    iface = {"vlnv": vlnv, "streams": streams, "ctrl": ctrl, "ctrl_problems": ctrl_problems, "regs": regs,
             "scalars": {n for n, (d, b) in ports.items() if b == 1 and d == "input"}, "found": mod is not None}
    if version is not None:
        iface["version"] = version
    return iface


def test_rtl_board_ip_meets_the_contract(tmp_path):
    """The RTL board IP (rtl/ board_io top). Its AXI-Lite register file, frame control
    and IP packaging are being built in the same change; the test names every part of
    the contract the generated top does not meet yet."""
    from egvsr.golden.bundle import Bundle, default_bundle_path, load_bundle
    from egvsr.golden.synth import random_bundle
    from egvsr.rtl.generate import generate_top
    p = default_bundle_path()
    bundle = load_bundle(p) if p.is_file() else Bundle(*random_bundle(seed=5))
    top = generate_top(bundle, tmp_path, board_io=True, max_w=32, max_h=32)
    name = ACCEL_VLNV.split(":")[2]
    iface = rtl_interface(tmp_path, name)
    problems = ([] if iface["found"] else
                [f"RTL board IP: no module {name!r} in the generated Verilog ({top.name} written)"])
    problems += check(iface, "RTL board IP")
    assert problems == [], "the RTL board IP does not meet the block design's contract:\n- " + \
        "\n- ".join(problems)
