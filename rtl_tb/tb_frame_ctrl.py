"""cocotb testbench of `frame_ctrl.v` alone (no core): the options the board
IP does not use by default, USE_TUSER = 1 (beats before the start of frame
dropped) and TLAST_FRAME = 1 (output TLAST on the frame's last beat only).

The test plays the register file (ap_start held until ap_ready), sends input
with cocotbext-axi's AxiStreamSource (random pauses), takes the core-side
stream with an AxiStreamSink (one beat per packet: no c_tlast), and stands in
for the core's output (o_tvalid high once the frame's input is in) under
random m_tready.
Case (JSON, $EGVSR_TB_CASE): frames = [{"h", "w", "pre": beats without tuser
before the frame, "lines": lines to send (default h), "expect_error": bool}].
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, SimTimeoutError, with_timeout


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def run_case(dut):
    from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource
    case = json.loads(open(os.environ["EGVSR_TB_CASE"]).read())
    rng = np.random.default_rng(case.get("seed", 0))
    P, R = case["P"], case["R"]
    clk = dut.aclk
    cocotb.start_soon(Clock(clk, 10, unit="ns").start())
    dut.aresetn.value = 0
    dut.ap_start.value = 0
    dut.o_tvalid.value = 0
    dut.m_tready.value = 0
    src = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s"), clk, dut.aresetn, reset_active_level=False)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "c"), clk, dut.aresetn, reset_active_level=False)
    src.log.setLevel("WARNING")
    sink.log.setLevel("WARNING")

    def pauses(p, seed):
        r = np.random.default_rng(seed)
        while True:
            yield bool(r.random() < p)
    src.set_pause_generator(pauses(0.3, 1))
    sink.set_pause_generator(pauses(0.3, 2))
    out = {"beats": 0, "lasts": [], "done": 0, "enable": False}

    async def output_side():
        """The core's output stand-in: a beat whenever asked; m_tready random."""
        while True:
            await RisingEdge(clk)        # sample what the edge took (as cocotbext's sinks do)
            if int(dut.m_tvalid.value) and int(dut.m_tready.value):
                if int(dut.m_tlast.value):
                    out["lasts"].append(out["beats"])
                out["beats"] += 1
            if int(dut.ap_done.value):
                out["done"] += 1
            dut.o_tvalid.value = int(out["enable"])
            dut.m_tready.value = int(rng.random() < 0.7)
    await ClockCycles(clk, 4)
    dut.aresetn.value = 1
    await ClockCycles(clk, 2)
    cocotb.start_soon(output_side())
    errors, report, err_count = [], [], 0
    for k, fr in enumerate(case["frames"]):
        h, w = fr["h"], fr["w"]
        dut.reg_height.value = h
        dut.reg_width.value = w
        out.update(beats=0, lasts=[], done=0, enable=False)
        sent = []
        for _ in range(fr.get("pre", 0)):
            await src.send(AxiStreamFrame(bytes([0xEE]), tuser=0))
        for y in range(fr.get("lines", h)):
            data = bytes(int(v) for v in rng.integers(1, 256, w))
            await src.send(AxiStreamFrame(data, tuser=[1 if (y == 0 and i == 0) else 0
                                                        for i in range(w)]))
            if y < h:
                sent.append(data)
        dut.ap_start.value = 1
        for _ in range(1000):            # the register file holds ap_start until ap_ready
            await ReadOnly()
            taken = int(dut.ap_ready.value)
            await RisingEdge(clk)
            if taken:
                break
        else:
            errors.append(f"frame {k}: no ap_ready (state {int(dut.state.value)})")
            break
        dut.ap_start.value = 0
        got = []
        try:
            for _ in range(h * w):
                got.append(bytes((await with_timeout(sink.recv(), 100 * h * w * 10, "ns")).tdata))
        except SimTimeoutError:
            errors.append(f"frame {k} ({h}x{w}): the core side got {len(got)} of {h * w} beats; "
                          f"status {int(dut.status.value)}")
            break
        out["enable"] = True             # the stand-in core answers once its input is in
        n_out = (R * w // P) * (R * h)
        for _ in range(100 * n_out):
            await RisingEdge(clk)
            if out["done"]:
                break
        out["enable"] = False
        await ReadOnly()
        st, ec = int(dut.status.value), int(dut.err_count.value)
        want = b"".join(sent)
        if b"".join(got) != want:
            errors.append(f"frame {k}: the core got {b''.join(got).hex()}, want {want.hex()}")
        if out["beats"] != n_out or out["lasts"] != [n_out - 1] or out["done"] != 1:
            errors.append(f"frame {k}: {out['beats']} output beats (want {n_out}), TLAST at "
                          f"{out['lasts']} (want [{n_out - 1}]), ap_done x{out['done']}")
        exp_err = fr.get("expect_error", False)
        if (st == 1) != exp_err or ec != err_count + int(exp_err):
            errors.append(f"frame {k}: status {st}, err_count {ec} (expected error: {exp_err}, "
                          f"count before {err_count})")
        err_count = ec
        report.append({"frame": k, "status": st, "err_count": ec, "out_beats": out["beats"]})
        await RisingEdge(clk)
    with open(os.environ["EGVSR_TB_REPORT"], "w") as f:
        json.dump({"runs": report, "error": "\n".join(errors)}, f)
    assert not errors, "\n".join(errors)
