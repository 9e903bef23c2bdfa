"""Emit the Verilog top of one net from its hardware graph and a folding.

One core instance per node (`u_<layer>`, module and parameters from the
node's op, `golden.oplib`), an `axis_fork` where a tensor has two
consumers (the net input too: SRNet's anchor skip), and an `axis_fifo`
skip buffer on the input of a multi-input node that arrives earlier
(`Node.skip`: rows held back by the other branch), unless the node's core
holds that FIFO itself (`Op.rtl_skip_fifo`, anchor_add: only the channels
it uses wait). Frame-size ports: every core whose op asks for its input's frame
size gets `cfg_width`/`cfg_height` scaled by its input's scale.
"""
from __future__ import annotations

from fractions import Fraction

from egvsr.golden.oplib import NoImplementation
from egvsr.golden.oplib.memory import skip_depth, skip_depth_log2

from .verilog_text import axis_ports, axis_wires, instance

__all__ = ["emit_top", "TopText"]

CLK = [("aclk", "aclk"), ("aresetn", "aresetn")]


class TopText:
    """The pieces of a top: wires, instances, per-layer metadata, multiplier count."""

    def __init__(self):
        self.wires, self.body, self.layers, self.scaled = [], [], [], {}
        self.mults = 0
        self.dsp = 0


def _frame_ports(top: TopText, scale: Fraction, dim_bits: int) -> list:
    if scale == 1:
        return [("cfg_width", "cfg_width"), ("cfg_height", "cfg_height")]
    if scale.denominator != 1:
        raise NoImplementation(f"no RTL frame-size ports at scale {scale}")
    s = int(scale)
    if s not in top.scaled:
        # scale 4 (HR) keeps the historical names hr_width / hr_height
        w, h = ("hr_width", "hr_height") if s == 4 else (f"width_x{s}", f"height_x{s}")
        top.scaled[s] = (w, h, f"    wire [{dim_bits - 1}:0] {w} = cfg_width * {s};\n"
                               f"    wire [{dim_bits - 1}:0] {h} = cfg_height * {s};\n")
    w, h, _ = top.scaled[s]
    return [("cfg_width", w), ("cfg_height", h)]


def emit_top(graph, folding: dict, env: dict) -> TopText:
    """Wires and instances of `graph` at `folding` (layer -> fold). `env`: P (pixels
    per output beat), max_w, dim_bits, out_dir, bundle, write_conv_mems, int8_pack."""
    top = TopText()
    out = graph.output
    P = int(env["P"])
    top.wires.append("    // one stream per bundle tensor (and per fork / skip branch)\n")
    feed = {}
    for t in graph.tensors.values():
        cs = t.consumers
        width = t.word_bits if t is not out else P * t.word_bits
        if t.name != "input" and t is not out:
            top.wires.append(axis_wires(t.name, width))
        if len(cs) == 1:
            feed[(t.name, cs[0])] = t.name
        elif len(cs) == 2:
            top.wires.append(axis_wires(f"{t.name}_f0", width) + axis_wires(f"{t.name}_f1", width))
            top.body.append(instance("axis_fork", f"u_{t.name}_fork", {"DATA_W": width},
                                     CLK + axis_ports("s_axis", t.name) +
                                     axis_ports("m0_axis", f"{t.name}_f0") +
                                     axis_ports("m1_axis", f"{t.name}_f1")))
            feed[(t.name, cs[0])] = f"{t.name}_f0"
            feed[(t.name, cs[1])] = f"{t.name}_f1"
        elif len(cs) > 2:
            raise ValueError(f"tensor {t.name} has {len(cs)} consumers; at most 2 supported")

    for node in graph.nodes:
        op = node.op
        if not op.rtl_module:
            raise NoImplementation(f"layer {node.name}: op {op.name!r} has no RTL core")
        srcs = [feed[(t.name, node.name)] for t in node.inputs]
        m = {"name": node.name, "op": op.name, "inputs": [t.name for t in node.inputs],
             "hr": node.output.hr}
        if node.skip is not None:
            # the input that arrives earlier waits in a skip FIFO of exactly skip_depth
            # entries: in front of the core, or inside it (`Op.rtl_skip_fifo`)
            k, lag = node.skip
            dl2, depth = skip_depth_log2(lag, env["max_w"]), skip_depth(lag, env["max_w"])
            m["skip_depth_log2"], m["skip_depth"] = dl2, depth
            if not op.rtl_skip_fifo:
                sk = f"{node.name}_skip"
                ws = node.inputs[k].word_bits
                top.wires.append(axis_wires(sk, ws))
                top.body.append(instance("axis_fifo", f"u_{sk}", {"DATA_W": ws, "DEPTH_LOG2": dl2, "DEPTH": depth},
                                         CLK + axis_ports("s_axis", srcs[k]) + axis_ports("m_axis", sk)))
                srcs[k] = sk
        fold = folding.get(node.name)
        scale = node.inputs[0].scale
        nenv = dict(env, fold=fold, pixels_per_beat=P if node.output is out else 1,
                    line_w=int(env["max_w"] * scale) if scale >= 1 else env["max_w"])
        params = op.rtl_params(node, nenv)
        frame = _frame_ports(top, scale, env["dim_bits"]) if op.rtl_frame(node) == "in" else []
        ports = CLK + frame
        for prefix, src in zip(op.rtl_in_ports, srcs):
            ports = ports + axis_ports(prefix, src)
        top.body.append(instance(op.rtl_module, f"u_{node.name}", params,
                                 ports + axis_ports("m_axis", node.name)))
        m["params"] = params
        mults = op.rtl_multipliers(node, fold) if fold is not None else 0
        if mults:
            dsp = op.cost("rtl", node, fold, nenv).dsp
            top.mults += mults
            top.dsp += dsp
            m.update(pi=fold[0], po=fold[1], fold=env["cycles"][node.name], macs_per_clock=mults,
                     dsp=dsp, int8_pack=bool(params.get("PACK", 0)),
                     lut_mults=int(params.get("LUT_MULTS", 0)))
        top.layers.append(m)
    return top
