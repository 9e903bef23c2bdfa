"""cocotb testbench for the cores and the SRNet top; the case comes as JSON
($EGVSR_TB_CASE, written by `sim.run_cocotb`) and the scoreboard is golden.

Case keys: core, params (HDL parameters), runs ([H, W, n_frames] each; the
frame size changes only between runs), seed, gap (input idle probability),
bp (output back-pressure probability), ports (optional port-map overrides
for HLS exports) and per-core extras (see `_expected`).
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from egvsr.rtl.streams import pack_words, unpack_words
from egvsr.rtl_tb.axis import AxisSink, AxisSource, axis_ports

DEFAULT_PORTS = {"clk": "aclk", "rstn": "aresetn", "width": "cfg_width", "height": "cfg_height",
                 "s": axis_ports("s_axis"), "m": axis_ports("m_axis"),
                 "a": axis_ports("s_a_axis"), "b": axis_ports("s_b_axis")}


def _rand_frame(rng, H, W, C, bits, signed):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1))) if signed else (0, 1 << bits)
    return rng.integers(lo, hi, size=(H, W, C), dtype=np.int64)


def _beats(frame_hw_k, bits, width=None):
    """(H, W, K) -> AXIS beats (data, last, user) per pixel, raster order."""
    H, W, K = frame_hw_k.shape
    words = pack_words(frame_hw_k.reshape(H * W, K), bits)
    out = []
    for i, w in enumerate(words):
        y, x = divmod(i, W)
        out.append((int(w, 16), x == W - 1, y == 0 and x == 0))
    return out


def _mismatch_report(got, exp, frame_idx, what="pixel"):
    """Names frame, row, column, channel of the first mismatches."""
    bad = np.argwhere(got != exp)
    lines = [f"{len(bad)} mismatching values in frame {frame_idx} ({what} grid {exp.shape[:2]})"]
    for y, x, c in bad[:8]:
        lines.append(f"  frame {frame_idx} row {y} col {x} channel {c}: got {got[y, x, c]} "
                     f"expected {exp[y, x, c]}")
    return "\n".join(lines)


def _expected(case, frames_in):
    """Golden outputs for one run: list of (H', W', C') int arrays and beat grouping."""
    from egvsr.golden import ops
    core, p = case["core"], case["params"]
    if core == "conv3x3":
        w = np.load(case["w_npy"], allow_pickle=False)
        b = np.load(case["b_npy"], allow_pickle=False)
        c = case["conv"]
        return [ops.conv3x3(f, w, b, c["in_exp"], c["w_exp"], c["out_exp"], p["OUT_BITS"],
                            bool(p["OUT_SIGNED"]), c["act"], c.get("leaky_shift", 0)).astype(np.int64)
                for f in frames_in]
    if core == "pixel_shuffle":
        return [ops.pixel_shuffle(f, p["R"]).astype(np.int64) for f in frames_in]
    if core == "residual_add":
        return [ops.add(a, b, 0, p["SHIFT"], p["OUT_BITS"], bool(p["OUT_SIGNED"])).astype(np.int64)
                for a, b in frames_in]
    if core == "axis_fifo":
        return list(frames_in)
    if core == "srnet_top":
        from egvsr.golden import load_bundle, run_srnet
        bundle = load_bundle(case["bundle"])
        return [run_srnet(bundle, f.astype(np.uint8)).astype(np.int64) for f in frames_in]
    raise ValueError(core)


def _io_spec(case):
    """(in channels, in bits, in signed), (out channels, out bits, out signed, pixels/beat)."""
    core, p = case["core"], case["params"]
    if core == "conv3x3":
        return ((p["CIN"], p["IN_BITS"], p["IN_SIGNED"]),
                (p["COUT"], p["OUT_BITS"], p["OUT_SIGNED"], 1))
    if core == "pixel_shuffle":
        return ((p["C"] * p["R"] ** 2, p["BITS"], 1), (p["C"], p["BITS"], 1, p["P"]))
    if core == "residual_add":
        return ((p["C"], p["A_BITS"], p["A_SIGNED"]), (p["C"], p["OUT_BITS"], p["OUT_SIGNED"], 1))
    if core == "axis_fifo":
        return ((1, p["DATA_W"], 0), (1, p["DATA_W"], 0, 1))
    if core == "srnet_top":
        return ((51, 8, 0), (3, 8, 0, case["out_pixels"]))
    raise ValueError(core)


@cocotb.test()
async def run_case(dut):
    case = json.loads(open(os.environ["EGVSR_TB_CASE"]).read())
    report_path = os.environ.get("EGVSR_TB_REPORT")
    ports = dict(DEFAULT_PORTS)
    ports.update(case.get("ports", {}))
    rng = np.random.default_rng(case.get("seed", 0))
    core, p = case["core"], case["params"]
    (cin, ibits, isgn), (cout, obits, osgn, opix) = _io_spec(case)
    scale = case.get("scale", 1)            # output grid / input grid
    clk = getattr(dut, ports["clk"])
    rstn = getattr(dut, ports["rstn"])
    cocotb.start_soon(Clock(clk, 10, unit="ns").start())
    rstn.value = 0
    if hasattr(dut, ports["width"]):
        getattr(dut, ports["width"]).value = case["runs"][0][1]
        getattr(dut, ports["height"]).value = case["runs"][0][0]
    srcs = [AxisSource(dut, clk, ports[k], case.get("gap", 0.0), seed=case.get("seed", 0) + 11 * i)
            for i, k in enumerate(["a", "b"] if core == "residual_add" else ["s"])]
    sink = AxisSink(dut, clk, ports["m"], case.get("bp", 0.0), seed=case.get("seed", 0) + 7)
    await ClockCycles(clk, 4)
    rstn.value = 1
    await ClockCycles(clk, 2)

    report = {"runs": [], "ok": True}
    errors = []
    frame_no = 0
    for H, W, nfr in case["runs"]:
        if hasattr(dut, ports["width"]):
            getattr(dut, ports["width"]).value = W
            getattr(dut, ports["height"]).value = H
        await RisingEdge(clk)
        if core == "residual_add":
            fr = [(_rand_frame(rng, H, W, cin, p["A_BITS"], p["A_SIGNED"]),
                   _rand_frame(rng, H, W, cin, p["B_BITS"], p["B_SIGNED"])) for _ in range(nfr)]
            streams = [[bt for a, _ in fr for bt in _beats(a, p["A_BITS"])],
                       [bt for _, b in fr for bt in _beats(b, p["B_BITS"])]]
        elif core == "srnet_top":
            fr = [np.load(case["frames_npy"], allow_pickle=False)[i].astype(np.int64) for i in range(nfr)]
            streams = [[bt for f in fr for bt in _beats(f, ibits)]]
        else:
            fr = [_rand_frame(rng, H, W, cin, ibits, isgn) for _ in range(nfr)]
            streams = [[bt for f in fr for bt in _beats(f, ibits)]]
        exp = _expected(case, fr)
        Ho, Wo = H * scale, W * scale
        n_out = nfr * Ho * Wo // opix
        sink.beats = []
        t0 = sink.cycle
        for s, beats in zip(srcs, streams):
            s.first_cycle = None
            s.cycle = 0
            cocotb.start_soon(s.send(beats))
        sink.cycle = 0
        await sink.recv(n_out)
        cycles = sink.last_cycle - (srcs[0].first_cycle or 0) + 1
        words = [format(d, "x") for d, _, _ in sink.beats]
        got = unpack_words(words, cout * opix, obits, bool(osgn)).reshape(nfr, Ho, Wo, cout)
        lasts = np.array([l for _, l, _ in sink.beats]).reshape(nfr, Ho, Wo // opix)
        users = np.array([u for _, _, u in sink.beats]).reshape(nfr, Ho, Wo // opix)
        exp_last = np.zeros((Ho, Wo // opix), bool)
        exp_last[:, -1] = True
        exp_user = np.zeros((Ho, Wo // opix), bool)
        exp_user[0, 0] = True
        for i in range(nfr):
            e = exp[i].reshape(Ho, Wo, cout)
            if not np.array_equal(got[i], e):
                errors.append(_mismatch_report(got[i], e, frame_no + i))
            if not np.array_equal(lasts[i].astype(bool), exp_last):
                y, x = np.argwhere(lasts[i].astype(bool) != exp_last)[0]
                errors.append(f"frame {frame_no + i}: tlast wrong at row {y} beat {x}")
            if not np.array_equal(users[i].astype(bool), exp_user):
                y, x = np.argwhere(users[i].astype(bool) != exp_user)[0]
                errors.append(f"frame {frame_no + i}: tuser wrong at row {y} beat {x}")
        report["runs"].append({"H": H, "W": W, "frames": nfr, "cycles": int(cycles),
                               "cycles_per_frame": cycles / nfr})
        frame_no += nfr
        if errors:
            break
        del t0
        await ClockCycles(clk, 4)
    report["ok"] = not errors
    report["error"] = "\n".join(errors)
    if report_path:
        with open(report_path, "w") as f:
            json.dump(report, f)
    assert not errors, report["error"]
