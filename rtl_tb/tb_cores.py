"""cocotb testbench for the cores and the SRNet top; the case comes as JSON
($EGVSR_TB_CASE, written by `sim.run_cocotb`) and the scoreboard is golden.

Case keys: core, params (HDL parameters), runs ([H, W, n_frames] each; the
frame size changes only between runs), seed, gap (input idle probability),
bp (output back-pressure probability), ports (optional port-map overrides
for HLS exports), optional inputs_npy (one (n, H, W, C) npy per input: real
frames instead of random ones) and expected_npy (the golden outputs, else
the core's op computes them: `Op.tb_expected`), optional timeout_cycles (a run
that has not delivered its output beats after that many clocks fails), optional
capacity (before the runs, with the output stalled: the core takes exactly that
many beats, then gives them back in order).
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout

from egvsr.rtl.streams import pack_words, unpack_words
from egvsr.rtl_tb.axis import AxisSink, AxisSource, axis_ports

DEFAULT_PORTS = {"clk": "aclk", "rstn": "aresetn", "width": "cfg_width", "height": "cfg_height",
                 "s_axis": axis_ports("s_axis"), "m": axis_ports("m_axis")}


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


def _core_op(core: str):
    """The op (`golden.oplib`) whose Verilog core is `core`, or None."""
    from egvsr.golden import oplib
    for op in oplib.registry().values():
        if op.rtl_module == core:
            return op
    return None


def _top_graph(case):
    from egvsr.golden import load_bundle
    bundle = load_bundle(case["bundle"])
    return bundle, bundle.graph(case.get("net", "srnet"))


def _expected(case, frames_in):
    """Golden outputs for one run: list of (H', W', C') int arrays."""
    core = case["core"]
    if core == "axis_fifo":
        return list(frames_in)
    if core.endswith("_top"):
        from egvsr.golden.graph import run_graph
        bundle, g = _top_graph(case)
        return [run_graph(bundle, g.net, f.astype(np.uint8)).astype(np.int64) for f in frames_in]
    op = _core_op(core)
    if op is None:
        raise ValueError(f"no op implements the core {core!r}")
    return op.tb_expected(case, frames_in)


def _io_spec(case):
    """[(channels, bits, signed) per input], (out channels, out bits, out signed, pixels/beat)."""
    core, p = case["core"], case["params"]
    if core == "axis_fifo":
        return [(1, p["DATA_W"], 0)], (1, p["DATA_W"], 0, 1)
    if core.endswith("_top"):
        _, g = _top_graph(case)
        o = g.output
        return [(g.input.channels, g.input.bits, int(g.input.signed))], \
            (o.channels, o.bits, int(o.signed), case["out_pixels"])
    op = _core_op(core)
    return op.tb_inputs(p), op.tb_io(p)[1]


def _in_ports(case):
    op = _core_op(case["core"])
    return list(op.rtl_in_ports) if op is not None else ["s_axis"]


def finish_report(report: dict, errors: list, report_path) -> None:
    """Write the test's report (ok, error text) where the runner reads it
    (`rtl_tb.sim.run_cocotb`), then fail the test on any error."""
    report["ok"] = not errors
    report["error"] = "\n".join(errors)
    if report_path:
        with open(report_path, "w") as f:
            json.dump(report, f)
    assert not errors, report["error"]


async def _check_capacity(src, sink, clk, capacity: int, bits: int) -> list[str]:
    """With tready held low the DUT takes exactly `capacity` beats and then stalls;
    released, it gives back every beat, the extra ones too, in order."""
    n = capacity + 3
    beats = [((0x5A5A5A5A5B * (k + 1)) & ((1 << bits) - 1), k % 2, k % 3 == 0) for k in range(n)]
    gap, src.gap = src.gap, 0.0                    # a beat offered every clock: the count is exact
    cocotb.start_soon(src.send(beats))
    await ClockCycles(clk, 2 * capacity + 20)      # the sink is idle: tready low
    errors = []
    if src.sent != capacity:
        errors.append(f"capacity: took {src.sent} beats with the output stalled, expected {capacity}")
    sink.beats = []
    await with_timeout(sink.recv(n), 10 * (4 * n + 20), "ns")
    if [(d, l, int(bool(u))) for d, l, u in sink.beats] != [(d, l, int(u)) for d, l, u in beats]:
        errors.append("capacity: the beats came back changed or out of order")
    src.gap = gap
    await ClockCycles(clk, 4)
    return errors


@cocotb.test()
async def run_case(dut):
    case = json.loads(open(os.environ["EGVSR_TB_CASE"]).read())
    report_path = os.environ.get("EGVSR_TB_REPORT")
    ports = dict(DEFAULT_PORTS)
    ports.update(case.get("ports", {}))
    rng = np.random.default_rng(case.get("seed", 0))
    core = case["core"]
    ins, (cout, obits, osgn, opix) = _io_spec(case)
    osgn = case.get("out_signed", osgn)    # a core that moves codes without knowing their sign
    cin, ibits, isgn = ins[0]
    scale = case.get("scale", 1)            # output grid / input grid
    clk = getattr(dut, ports["clk"])
    rstn = getattr(dut, ports["rstn"])
    cocotb.start_soon(Clock(clk, 10, unit="ns").start())
    rstn.value = 0
    if hasattr(dut, ports["width"]):
        getattr(dut, ports["width"]).value = case["runs"][0][1]
        getattr(dut, ports["height"]).value = case["runs"][0][0]
    srcs = [AxisSource(dut, clk, ports.get(k) or axis_ports(k), case.get("gap", 0.0), seed=case.get("seed", 0) + 11 * i)
            for i, k in enumerate(_in_ports(case))]
    sink = AxisSink(dut, clk, ports["m"], case.get("bp", 0.0), seed=case.get("seed", 0) + 7)
    await ClockCycles(clk, 4)
    rstn.value = 1
    await ClockCycles(clk, 2)

    report = {"runs": [], "ok": True}
    errors = []
    if case.get("capacity") is not None:
        errors += await _check_capacity(srcs[0], sink, clk, int(case["capacity"]), ibits)
    frame_no = 0
    for H, W, nfr in case["runs"]:
        if hasattr(dut, ports["width"]):
            getattr(dut, ports["width"]).value = W
            getattr(dut, ports["height"]).value = H
        await RisingEdge(clk)
        if "inputs_npy" in case:          # given frames (real data), one npy per input
            arrs = [np.load(f, allow_pickle=False).astype(np.int64) for f in case["inputs_npy"]]
            fr = [tuple(a[i] for a in arrs) if len(arrs) > 1 else arrs[0][i] for i in range(nfr)]
            streams = [[bt for i in range(nfr) for bt in _beats(a[i], ins[k][1])]
                       for k, a in enumerate(arrs)]
        elif len(ins) > 1:
            fr = [tuple(_rand_frame(rng, H, W, c, b, sg) for c, b, sg in ins) for _ in range(nfr)]
            streams = [[bt for f in fr for bt in _beats(f[k], ins[k][1])] for k in range(len(ins))]
        elif core.endswith("_top"):
            fr = [np.load(case["frames_npy"], allow_pickle=False)[i].astype(np.int64) for i in range(nfr)]
            streams = [[bt for f in fr for bt in _beats(f, ibits)]]
        else:
            fr = [_rand_frame(rng, H, W, cin, ibits, isgn) for _ in range(nfr)]
            streams = [[bt for f in fr for bt in _beats(f, ibits)]]
        exp = (list(np.load(case["expected_npy"], allow_pickle=False).astype(np.int64))
               if "expected_npy" in case else _expected(case, fr))
        Ho, Wo = H * scale, W * scale
        n_out = nfr * Ho * Wo // opix
        sink.beats = []
        t0 = sink.cycle
        for s, beats in zip(srcs, streams):
            s.first_cycle = None
            s.cycle = 0
            cocotb.start_soon(s.send(beats))
        sink.cycle = 0
        if case.get("timeout_cycles"):
            # a core that stops (lost beat, deadlock) fails the case instead of hanging
            try:
                await with_timeout(sink.recv(n_out), 10 * int(case["timeout_cycles"]), "ns")
            except SimTimeoutError:
                errors.append(f"timeout: {len(sink.beats)} of {n_out} output beats of a {H}x{W} "
                              f"run after {case['timeout_cycles']} clocks")
                break
        else:
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
    finish_report(report, errors, report_path)
