"""Generate the Verilog top of a net (default SRNet) and its weight memory files.

``generate_top(bundle, out_dir, net="srnet", plan=... | board=... | parallelism=...)``
writes `<net>_top.v`, the cores it instantiates, one `<layer>_w.mem` /
`<layer>_b.mem` per conv and `manifest.json`. The folding comes from a
plan (`egvsr.plan`, a dict or a plan.json path: what `egvsr build` writes
and a user may edit), else from planning for `board`, else every conv is
fully parallel; `parallelism` (layer -> (PI, PO)) overrides single layers.

Ports: `aclk`, `aresetn`, `cfg_width`/`cfg_height` (the LR frame size),
`s_axis_*` (one net-input pixel per beat), `m_axis_*` (`P` output pixels
per beat, raster order; tlast per output line, tuser at frame start). With
`board_io` the same top is wrapped as the board IP `egvsr_srnet`
(`rtl.board_ip`: `s_axi_control` registers of `egvsr.board.regmap`, frame
control with run-time size and frame sync, `in_bytes`-byte input beats with
TLAST per LR line, P output pixels x 4 bytes (R, G, B, 0) per beat with TLAST
per LR line's 4 HR rows) and `package_ip.tcl` packages it for Vivado.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

from egvsr.plan import make_plan, node_env, read_plan, refresh

from . import core_sources
from .streams import write_conv_mems
from .top import emit_top

__all__ = ["generate_top", "generate_srnet", "plan_parallelism", "choose_parallelism",
           "frame_dim_bits", "MAX_H_DEFAULT"]

#: the tallest LR frame a top takes unless `max_h` says otherwise (heights cost no
#: line buffer, only counter bits)
MAX_H_DEFAULT = 2160


def _bundle(b):
    if isinstance(b, (str, Path)):
        from egvsr.golden import load_bundle
        return load_bundle(b)
    return b


def _folded(node) -> bool:
    """A node whose RTL core folds its channels (PI x PO multipliers: the convs)."""
    return node.op.rtl_multipliers(node, (1, 1)) > 0


def _conv_names(graph):
    return [n.name for n in graph.nodes if _folded(n)]


def plan_parallelism(bundle, board, lr_w: int | None = None, lr_h: int | None = None,
                     fps: float | None = None, headroom: float = 0.1,
                     out_pixels: int | None = None, max_w: int | None = None,
                     net: str = "srnet") -> dict:
    """The RTL plan (`egvsr.plan.make_plan(impl="rtl")`) in the per-LR-pixel terms of
    the RTL report: `parallelism` (conv -> (pi, po)), `out_pixels`, per conv
    `cycles_per_lr_pixel`/`mults`/`bram36`, `ii_cycles_per_lr_pixel`,
    `frame_cycles`, `fps`, `dsp`, `bram36`, budgets, `meets_target`, `reason`."""
    bundle = _bundle(bundle)
    p = make_plan(bundle, board, "rtl", lr_w, lr_h, fps, net=net, headroom=headroom,
                  pixels_per_beat=out_pixels, max_w=max_w)
    return rtl_report(bundle.graph(net), p)


def rtl_report(graph, p: dict) -> dict:
    lr_w, lr_h = p["lr"]
    positions = lr_w * lr_h + lr_w + 1
    par, layers = {}, {}
    for name in _conv_names(graph):
        node, row = graph.node(name), p["layers"][name]
        fold = tuple(row["fold"])          # (pi, po) or (pi, po, fabric multipliers)
        pi, po = fold[:2]
        par[name] = fold
        layers[name] = {"cin": node.layer["cin"], "cout": node.layer["cout"],
                        "hr": node.inputs[0].hr, "macs_per_lr_pixel": row["macs_per_lr_pixel"],
                        "pi": pi, "po": po, "mults": 9 * pi * po, "dsp": row["dsp"],
                        "lut_mults": fold[2] if len(fold) > 2 else 0,
                        "cycles_per_lr_pixel": row["clocks_per_frame"] / positions,
                        "bram36": row["bram36"]}
    P = p["pixels_per_beat"]
    return {"board": p["board"], "clock_mhz": p["clock_mhz"], "lr": p["lr"], "max_w": p["max_w"],
            "target_fps": p["target_fps"], "target_ii": p["target_clocks_per_frame"] / positions,
            "parallelism": par, "out_pixels": P, "layers": layers,
            "output_cycles_per_lr_pixel": float(graph.output.rate) / P,
            "ii_cycles_per_lr_pixel": p["frame_clocks"] / positions,
            "frame_cycles": p["frame_clocks"], "fps": p["fps"], "dsp": p["dsp"],
            "dsp_budget": p["dsp_budget"], "dsp_board": p["dsp_board"], "bram36": p["bram36"],
            "bram36_budget": p["bram36_budget"], "bram36_board": p["bram36_board"],
            "lut": p.get("lut"), "lut_budget": p.get("lut_budget"), "int8_pack": p.get("int8_pack"),
            "headroom": p["headroom"], "meets_target": p["meets_target"], "reason": p["reason"],
            "bottleneck": p["bottleneck"]}


def choose_parallelism(bundle, board, lr_w: int | None = None, lr_h: int | None = None,
                       fps: float | None = None, report: bool = False, **kw):
    """Per conv layer (pi, po) for `board` (see `plan_parallelism`); with
    ``report=True`` returns ``(parallelism, report)``."""
    rep = plan_parallelism(bundle, board, lr_w, lr_h, fps, **kw)
    return (rep["parallelism"], rep) if report else rep["parallelism"]


def _full_folding(graph, parallelism):
    """(PI, PO) of every folded node: as given, else fully parallel."""
    return {n.name: tuple(parallelism[n.name]) if n.name in parallelism
            else (int(n.layer["cin"]), int(n.layer["cout"]))
            for n in graph.nodes if _folded(n)}


def _out_pixels(graph, cycles: dict, board_io: bool, out_pixels):
    """Output pixels per beat: the fewest that keep up with the slowest stage."""
    if out_pixels is not None:
        return int(out_pixels)
    if board_io:
        return 2
    prod = graph.node(graph.output.producer)
    rr = float(graph.output.rate / prod.inputs[0].rate)
    if rr == 1:
        return 1          # only an up-scaling output stage (the shuffle) packs several pixels
    t = max(cycles.values()) if cycles else 1
    return next(p for p in (1, 2, 4, 8, 16) if rr / p <= t or p == rr)


def frame_dim_bits(graph, max_w: int, max_h: int, dim_bits: int | None = None) -> int:
    """Bits of the cores' frame-size ports: enough for the largest frame at the
    largest scale a core counts it (conv3x3 takes sizes up to 2**DIM_BITS - 2),
    at least 12. A given `dim_bits` that is too small is a ValueError."""
    smax = math.ceil(max([n.inputs[0].scale for n in graph.nodes if n.op.rtl_frame(n) == "in"] + [1]))
    need = (max(int(max_w), int(max_h)) * int(smax) + 1).bit_length()
    if dim_bits is None:
        return max(12, need)
    if int(dim_bits) < need:
        raise ValueError(f"dim_bits {dim_bits} cannot hold a {max_h}x{max_w} LR frame at scale "
                         f"{smax} ({max(max_w, max_h) * smax}): pass dim_bits >= {need}, or leave it "
                         "unset")
    return int(dim_bits)


def generate_top(bundle, out_dir, net: str = "srnet", plan=None, parallelism: dict | None = None,
                 board=None, max_w: int = 1024, out_pixels: int | None = None,
                 dim_bits: int | None = None, lr_w: int | None = None, lr_h: int | None = None,
                 fps: float | None = None, board_io: bool = False, in_bytes: int = 56,
                 int8_pack: bool | None = None, max_h: int | None = None,
                 use_tuser: bool = False, tlast: str = "line", part: str | None = None,
                 max_lr_w: int | None = None, registers=None) -> Path:
    """Write the top of `net` into `out_dir` (see the module docstring); returns its path.

    `max_w`: line-buffer width, the widest LR frame; `max_h`: the tallest
    (default MAX_H_DEFAULT); `dim_bits`: bits of the frame-size ports (default:
    what `max_w`/`max_h` need, at least 12).
    `int8_pack`: conv cores take two INT8 products per DSP48E2 (conv3x3.v PACK);
    default: the plan's choice, else the board's DSP (`dsp48` "E2" in the board
    table), else off.
    `board_io`: also write the board IP `egvsr_srnet` around the top
    (`rtl.board_ip`: AXI-Lite registers, frame control, run-time size up to
    `max_h` x `max_w`, `use_tuser`, `tlast` "line" or "frame") and its
    `package_ip.tcl` for the FPGA `part` (default: the board's); the returned
    path is then the IP top's. `max_lr_w`: the widest LR frame the board IP
    accepts (its MAX_WIDTH register; default `max_w`, at most `max_w`: an
    overlay for 960-wide frames has 1024-wide line buffers but MAX_WIDTH 960,
    as its metadata says). `registers`: the register table of the IP's
    register file (default `egvsr.board.regmap.REGISTERS`; tests build an IP
    from a deliberately wrong copy)."""
    bundle = _bundle(bundle)
    graph = bundle.graph(net)
    max_h = MAX_H_DEFAULT if max_h is None else int(max_h)
    if int(max_w) < 1 or max_h < 1:
        raise ValueError(f"max_w {max_w} and max_h {max_h} must be positive")
    dim_bits = frame_dim_bits(graph, max_w, max_h, dim_bits)
    final = Path(out_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    # everything is written into a sibling folder first and moved into place
    # only when every check has passed: an error leaves no half-written output
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        path = _generate(bundle, graph, net, out, plan, parallelism, board, max_w, out_pixels,
                         dim_bits, lr_w, lr_h, fps, board_io, in_bytes, int8_pack, max_h,
                         use_tuser, tlast, part, max_lr_w, registers)
        final.mkdir(exist_ok=True)
        for f in sorted(out.iterdir()):
            if f.is_dir() and (final / f.name).exists():
                shutil.rmtree(final / f.name)
            os.replace(f, final / f.name)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return final / path.name


def _generate(bundle, graph, net, out, plan, parallelism, board, max_w, out_pixels, dim_bits,
              lr_w, lr_h, fps, board_io, in_bytes, int8_pack, max_h, use_tuser, tlast, part,
              max_lr_w, registers) -> Path:
    par, rep = {}, None
    if plan is not None:
        if not isinstance(plan, dict):
            plan = read_plan(plan, bundle, impl="rtl")
        plan = refresh(plan, bundle)
        rep = rtl_report(graph, plan)
        if int8_pack is None:
            int8_pack = bool(plan.get("int8_pack", False))
        par.update(rep["parallelism"])
        if out_pixels is None and not board_io:
            out_pixels = plan["pixels_per_beat"]
    elif board is not None:
        rep = plan_parallelism(bundle, board, lr_w, lr_h, fps,
                               out_pixels=(out_pixels or (2 if board_io else None)), net=net)
        par.update(rep["parallelism"])
    if int8_pack is None:
        from egvsr.board.boards import board as _board_entry
        bd = (_board_entry(board) if isinstance(board, str) else dict(board)) if board else {}
        int8_pack = bd.get("dsp48") == "E2"
    par.update({k: tuple(v) for k, v in (parallelism or {}).items()})
    folding = _full_folding(graph, par)
    # clocks per LR pixel of every folded node, from its op's RTL cost model
    cycles = {}
    for n in graph.nodes:
        if n.name in folding:
            env = node_env(graph, n, "rtl", max_w, 1, max_w=max_w, int8_pack=bool(int8_pack))
            cpp = n.op.cost("rtl", n, folding[n.name], env).clocks_per_pixel
            cycles[n.name] = int(cpp) * int(n.inputs[0].rate)
    P = _out_pixels(graph, cycles, board_io, out_pixels)
    env = {"P": P, "max_w": max_w, "dim_bits": dim_bits, "out_dir": out, "bundle": bundle,
           "write_conv_mems": write_conv_mems, "cycles": cycles, "int8_pack": bool(int8_pack)}
    body = emit_top(graph, folding, env)
    if board_io:
        _check_board_io(graph, in_bytes)
    text = _top_text(bundle, graph, body, P, dim_bits)
    name = f"{net}_top"
    path = out / f"{name}.v"
    path.write_text(text)
    modules = ["axis_fifo", "axis_fork"] + [n.op.rtl_module for n in graph.nodes]
    sources = core_sources(*modules)
    for src in sources:
        shutil.copyfile(src, out / src.name)
    inp = graph.input
    sha = bundle.sha256
    files = [s.name for s in sources] + [path.name]
    meta = {"top": name, "net": net, "bundle_sha256": sha,
            "preset": bundle.manifest.get("preset"), "max_w": max_w, "max_h": max_h,
            "dim_bits": dim_bits, "out_pixels": P, "scale": int(graph.output.scale),
            "in_bits": inp.word_bits, "out_bits": P * graph.output.word_bits,
            "board_io": bool(board_io), "in_bytes": inp.word_bits // 8,
            "out_bytes_per_pixel": graph.output.word_bits // 8,
            "plan": json.loads(json.dumps(rep, default=list)) if rep else None,
            "cycles_per_lr_pixel": max(cycles.values()) if cycles else 1,
            "mult_count": body.mults, "dsp_count": body.dsp, "int8_pack": bool(int8_pack),
            "board": board if isinstance(board, str) else None,
            "sources": files,
            "parallelism": {k: list(v) for k, v in folding.items()}, "layers": body.layers}
    if board_io:
        from .board_ip import write_board_ip
        if part is None and board is not None:
            from egvsr.board.boards import board as _board_entry
            part = (_board_entry(board) if isinstance(board, str) else dict(board)).get("part")
        lr_w = int(max_w) if max_lr_w is None else int(max_lr_w)
        if not 1 <= lr_w <= int(max_w):
            raise ValueError(f"max_lr_w {lr_w} must be within [1, max_w = {max_w}] (the line buffers)")
        ip = write_board_ip(out, core=name, bundle_sha256=sha, preset=meta["preset"],
                            in_bytes=in_bytes, core_in_bits=inp.word_bits, P=P,
                            scale=int(graph.output.scale), dim_bits=dim_bits, max_w=lr_w,
                            max_h=max_h, use_tuser=use_tuser, tlast=tlast, part=part,
                            sources=files, registers=registers)
        meta.update(top=ip["top"], core_top=name, sources=ip["files"], in_bits=in_bytes * 8,
                    out_bits=P * 32, in_bytes=in_bytes, out_bytes_per_pixel=4, board_ip=ip)
        path = out / f"{ip['top']}.v"
    (out / "manifest.json").write_text(json.dumps(meta, indent=1))
    return path


def generate_srnet(bundle, out_dir, **kw) -> Path:
    """`generate_top` of the SRNet (`srnet_top`)."""
    return generate_top(bundle, out_dir, net="srnet", **kw)


def _check_board_io(graph, in_bytes: int) -> None:
    inp, outt = graph.input, graph.output
    if in_bytes * 8 < inp.word_bits:
        raise ValueError(f"in_bytes {in_bytes} < {inp.word_bits // 8} input channels")
    if outt.channels != 3 or outt.bits != 8 or outt.signed:
        raise ValueError("board_io needs an RGB output of unsigned 8-bit codes")
    s = outt.scale
    if s.denominator != 1 or int(s) & (int(s) - 1):
        raise ValueError(f"board_io needs a power-of-two output scale, not {s}")


def _top_text(bundle, graph, body, P, dim_bits) -> str:
    inp, outt = graph.input, graph.output
    output = outt.name
    in_w = inp.word_bits
    out_w = P * outt.word_bits
    name = f"{graph.net}_top"
    io_doc = (f"// In: one LR pixel per beat, {inp.channels} x {inp.bits}-bit channels. Out: {P} HR pixel(s) per\n"
              f"// beat, {outt.channels} x {outt.bits}-bit each, raster order; tlast per HR line.\n"
              "// cfg_width/cfg_height: LR frame size (stable during a frame).")
    head = f"""// {name}: generated by egvsr.rtl.generate from bundle preset
// {bundle.manifest.get('preset')!r} (sha256 {bundle.sha256[:16]}...). Do not edit.
// Layers (instance u_<name>): {', '.join(n.name for n in graph.nodes)}
{io_doc}
module {name} (
    input  wire                aclk,
    input  wire                aresetn,
    input  wire [{dim_bits - 1}:0]        cfg_width,
    input  wire [{dim_bits - 1}:0]        cfg_height,
    input  wire [{in_w - 1}:0]      s_axis_tdata,
    input  wire                s_axis_tvalid,
    output wire                s_axis_tready,
    input  wire                s_axis_tlast,
    input  wire                s_axis_tuser,
    output wire [{out_w - 1}:0]      m_axis_tdata,
    output wire                m_axis_tvalid,
    input  wire                m_axis_tready,
    output wire                m_axis_tlast,
    output wire                m_axis_tuser
);
"""
    alias = f"""    // network input / output
    wire [{in_w - 1}:0] input_tdata = s_axis_tdata;
    wire input_tvalid = s_axis_tvalid;
    wire input_tready;
    wire input_tlast = s_axis_tlast;
    wire input_tuser = s_axis_tuser;
    assign s_axis_tready = input_tready;
    wire [{out_w - 1}:0] {output}_tdata;
    wire {output}_tvalid, {output}_tready, {output}_tlast, {output}_tuser;
    assign m_axis_tdata = {output}_tdata;
    assign m_axis_tvalid = {output}_tvalid;
    assign {output}_tready = m_axis_tready;
    assign m_axis_tlast = {output}_tlast;
    assign m_axis_tuser = {output}_tuser;
"""
    dims = "".join(v[2] for v in body.scaled.values())
    return head + alias + dims + "".join(body.wires) + "\n" + "\n".join(body.body) + "endmodule\n"
