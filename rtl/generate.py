"""Generate the SRNet top (Verilog) and its weight memory files for a bundle.

The top `srnet_top` chains the cores in `rtl/verilog/` in the bundle's layer
order, one instance per bundle layer with the layer's name (`u_<name>`), and
inserts an `axis_fork` where a tensor has two consumers and a skip
`axis_fifo` in front of each residual add (deep enough for the rows the conv
branch holds back). Ports: `aclk`, `aresetn`, `cfg_width`/`cfg_height` (LR
frame size), `s_axis_*` (51 x 8-bit LR pixel per beat), `m_axis_*` (`P` HR
pixels per beat, 3 x 8 bits each, raster order; tlast per HR line, tuser at
frame start).
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from egvsr.rtl import ALL_SOURCES
from egvsr.rtl.boards import board as _board
from egvsr.rtl.streams import write_conv_mems

ACT_CODE = {"none": 0, "relu": 1, "leaky": 2}


def _bundle(b):
    if isinstance(b, (str, Path)):
        from egvsr.golden import load_bundle
        return load_bundle(b)
    return b


def _fold_options(cin: int, cout: int):
    for pi in range(1, cin + 1):
        for po in range(1, cout + 1):
            yield pi, po, math.ceil(cin / pi) * math.ceil(cout / po)


def choose_pipo(cin: int, cout: int, budget_cycles: float) -> tuple[int, int]:
    """Fewest multipliers (pi*po) whose fold ceil(cin/pi)*ceil(cout/po) fits the budget."""
    best = None
    for pi, po, f in _fold_options(cin, cout):
        if f <= budget_cycles:
            key = (pi * po, f, -pi)
            if best is None or key < best[0]:
                best = (key, (pi, po))
    return best[1] if best else (cin, cout)


def choose_parallelism(bundle, board, lr_w: int | None = None, lr_h: int | None = None,
                       fps: float | None = None) -> dict:
    """Per conv layer (pi, po) so that the top sustains `fps` at `lr_w` x `lr_h` on `board`.

    Budget: clock / (pixel rate) cycles per LR pixel (HR layers: / 16), less
    the W+1 flush positions per frame; each layer takes the cheapest
    (pi, po) within it. `board` is a name in `rtl.boards.BOARDS` or a dict
    with `clock_mhz` (and optional defaults `lr_w`, `lr_h`, `fps`).
    """
    bundle = _bundle(bundle)
    bd = _board(board) if isinstance(board, str) else dict(board)
    lr_w = lr_w or bd.get("lr_w", 960)
    lr_h = lr_h or bd.get("lr_h", 540)
    fps = fps or bd.get("fps", 30)
    clk = bd["clock_mhz"] * 1e6
    budget = clk / (lr_w * lr_h * fps) * (lr_h / (lr_h + 1.0))
    out = {}
    hr = False
    for L in bundle.layers("srnet"):
        if L["op"] == "pixel_shuffle":
            hr = True
        if L["op"] == "conv3x3":
            b = budget / 16.0 if hr else budget
            out[L["name"]] = choose_pipo(L["cin"], L["cout"], max(1.0, b))
    return out


def _vp(v):
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def _inst(module, name, params, ports):
    ps = ",\n        ".join(f".{k}({_vp(v)})" for k, v in params.items())
    pt = ",\n        ".join(f".{k}({v})" for k, v in ports)
    return f"    {module} #(\n        {ps}\n    ) {name} (\n        {pt}\n    );\n"


def _axis_ports(prefix, sig):
    return [(f"{prefix}_tdata", f"{sig}_tdata"), (f"{prefix}_tvalid", f"{sig}_tvalid"),
            (f"{prefix}_tready", f"{sig}_tready"), (f"{prefix}_tlast", f"{sig}_tlast"),
            (f"{prefix}_tuser", f"{sig}_tuser")]


def _wires(sig, width):
    return (f"    wire [{width - 1}:0] {sig}_tdata;\n"
            f"    wire {sig}_tvalid, {sig}_tready, {sig}_tlast, {sig}_tuser;\n")


def generate_srnet(bundle, out_dir, parallelism: dict | None = None, board=None,
                   max_w: int = 1024, out_pixels: int | None = None, dim_bits: int = 12,
                   lr_w: int | None = None, lr_h: int | None = None, fps: float | None = None) -> Path:
    """Write `srnet_top.v`, the cores, per-layer `<name>_w.mem`/`<name>_b.mem` and
    `manifest.json` into `out_dir`; returns the path of `srnet_top.v`.

    `parallelism`: layer -> (pi, po); layers not named are fully parallel
    (pi = cin, po = cout), unless `board` is given, in which case
    `choose_parallelism(bundle, board, lr_w, lr_h, fps)` fills them in.
    `max_w`: largest LR width (line buffer depth). `out_pixels`: HR pixels per
    output beat (default: the fewest that keep up with the slowest layer).
    """
    bundle = _bundle(bundle)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layers = bundle.layers("srnet")
    spec_in = bundle.manifest["srnet"]["input"]
    par = {}
    if board is not None:
        par.update(choose_parallelism(bundle, board, lr_w, lr_h, fps))
    par.update({k: tuple(v) for k, v in (parallelism or {}).items()})

    # tensor -> (channels, bits, signed, hr)
    tens = {"input": (spec_in["channels"], spec_in["bits"], bool(spec_in["signed"]), False)}
    consumers: dict[str, list[str]] = {"input": []}
    depth = {"input": 0}
    for L in layers:
        for s in L["inputs"]:
            consumers.setdefault(s, []).append(L["name"])
        consumers.setdefault(L["name"], [])
    has_hr_conv = False
    hr_seen = False
    for L in layers:
        src = L["inputs"][0]
        hr = tens[src][3] or L["op"] == "pixel_shuffle"
        if L["op"] == "pixel_shuffle":
            hr_seen = True
        if L["op"] == "conv3x3" and hr_seen:
            has_hr_conv = True
        tens[L["name"]] = (L["channels"], L["out_bits"], bool(L["out_signed"]), hr)
        depth[L["name"]] = max(depth[s] for s in L["inputs"]) + (L["op"] == "conv3x3")
    output = bundle.manifest["srnet"]["output"]

    # output beat width and the slowest layer's cycles per LR pixel
    folds = {}
    for L in layers:
        if L["op"] == "conv3x3":
            pi, po = par.get(L["name"], (L["cin"], L["cout"]))
            par[L["name"]] = (int(pi), int(po))
            f = math.ceil(L["cin"] / pi) * math.ceil(L["cout"] / po)
            folds[L["name"]] = f * (16 if tens[L["name"]][3] else 1)
    shuffle = [L for L in layers if L["op"] == "pixel_shuffle"]
    r = shuffle[0]["factor"] if shuffle else 1
    t_lr = max(folds.values()) if folds else 1
    if out_pixels is None:
        if has_hr_conv:
            out_pixels = 1
        else:
            out_pixels = next(p for p in (1, 2, 4, 8, 16) if r * r / p <= t_lr or p == r * r)
    P = int(out_pixels)

    body, wires = [], []
    wires.append("    // one stream per bundle tensor (and per fork / skip branch)\n")
    # stream feeding consumer `c` from tensor `t`
    feed = {}
    for t, cs in consumers.items():
        if t not in tens:
            continue
        ch, bits, _, _ = tens[t]
        width = ch * bits if t != output else P * 3 * 8
        if t != "input" and t != output:
            wires.append(_wires(t, width))
        if len(cs) == 1:
            feed[(t, cs[0])] = t
        elif len(cs) == 2:
            wires.append(_wires(f"{t}_f0", width) + _wires(f"{t}_f1", width))
            body.append(_inst("axis_fork", f"u_{t}_fork", {"DATA_W": width},
                              [("aclk", "aclk"), ("aresetn", "aresetn")] +
                              _axis_ports("s_axis", t) + _axis_ports("m0_axis", f"{t}_f0") +
                              _axis_ports("m1_axis", f"{t}_f1")))
            feed[(t, cs[0])] = f"{t}_f0"
            feed[(t, cs[1])] = f"{t}_f1"
        elif len(cs) > 2:
            raise ValueError(f"tensor {t} has {len(cs)} consumers; at most 2 supported")

    cfg = [("cfg_width", "cfg_width"), ("cfg_height", "cfg_height")]
    hr_cfg = [("cfg_width", "hr_width"), ("cfg_height", "hr_height")]
    clk = [("aclk", "aclk"), ("aresetn", "aresetn")]
    meta_layers = []
    dsp = 0
    for L in layers:
        name, op = L["name"], L["op"]
        srcs = [feed[(s, name)] for s in L["inputs"]]
        ch_in, bits_in, sgn_in, hr_in = tens[L["inputs"][0]]
        ch, bits, sgn, hr = tens[name]
        m = {"name": name, "op": op, "inputs": L["inputs"], "hr": hr}
        if op == "conv3x3":
            pi, po = par[name]
            w, b = bundle.weights("srnet", name)
            wf, bf = f"{name}_w.mem", f"{name}_b.mem"
            write_conv_mems(w, b, pi, po, int(L["w_bits"]), int(L["b_bits"]), out / wf, out / bf)
            params = dict(CIN=L["cin"], COUT=L["cout"], IN_BITS=bits_in, IN_SIGNED=int(sgn_in),
                          W_BITS=int(L["w_bits"]), B_BITS=int(L["b_bits"]), OUT_BITS=bits,
                          OUT_SIGNED=int(sgn),
                          SHIFT=int(L["out_exp"]) - (int(L["in_exp"]) + int(L["w_exp"])),
                          ACT=ACT_CODE[L.get("act", "none")],
                          LEAKY_SHIFT=int(L.get("leaky_shift", 0) or 0), PI=pi, PO=po,
                          MAX_W=max_w * (r if hr else 1), DIM_BITS=dim_bits,
                          WEIGHT_FILE=wf, BIAS_FILE=bf)
            body.append(_inst("conv3x3", f"u_{name}", params,
                              clk + (hr_cfg if hr else cfg) + _axis_ports("s_axis", srcs[0]) +
                              _axis_ports("m_axis", name)))
            dsp += pi * po * 9
            m.update(params=params, pi=pi, po=po, fold=folds[name], macs_per_clock=pi * po * 9)
        elif op == "add":
            # the input with fewer convs behind it waits in a skip FIFO
            da, db = depth[L["inputs"][0]], depth[L["inputs"][1]]
            k = 0 if da < db else 1
            lag = abs(da - db)
            skip_depth = max(16, lag * (max_w + 2) + 64)
            dl2 = int(math.ceil(math.log2(skip_depth)))
            s = srcs[k]
            sk = f"{name}_skip"
            ws = tens[L["inputs"][k]][0] * tens[L["inputs"][k]][1]
            wires.append(_wires(sk, ws))
            body.append(_inst("axis_fifo", f"u_{sk}", {"DATA_W": ws, "DEPTH_LOG2": dl2},
                              clk + _axis_ports("s_axis", s) + _axis_ports("m_axis", sk)))
            srcs[k] = sk
            a_t, b_t = tens[L["inputs"][0]], tens[L["inputs"][1]]
            params = dict(C=ch, A_BITS=a_t[1], A_SIGNED=int(a_t[2]), B_BITS=b_t[1],
                          B_SIGNED=int(b_t[2]), OUT_BITS=bits, OUT_SIGNED=int(sgn),
                          SHIFT=int(L["out_exp"]) - int(L["in_exp"]))
            body.append(_inst("residual_add", f"u_{name}", params,
                              clk + _axis_ports("s_a_axis", srcs[0]) +
                              _axis_ports("s_b_axis", srcs[1]) + _axis_ports("m_axis", name)))
            m.update(params=params, skip_depth_log2=dl2)
        elif op == "relu":
            pp = P if name == output else 1
            params = dict(N=ch * pp, IN_BITS=bits_in, IN_SIGNED=int(sgn_in), OUT_BITS=bits,
                          OUT_SIGNED=int(sgn), SHIFT=int(L["out_exp"]) - int(L["in_exp"]))
            body.append(_inst("relu", f"u_{name}", params, clk + _axis_ports("s_axis", srcs[0]) +
                              _axis_ports("m_axis", name)))
            m.update(params=params)
        elif op == "pixel_shuffle":
            fr = int(L["factor"])
            pp = P if name == output else 1
            params = dict(C=ch_in // (fr * fr), R=fr, BITS=bits_in, P=pp, MAX_W=max_w,
                          DIM_BITS=dim_bits)
            body.append(_inst("pixel_shuffle", f"u_{name}", params,
                              clk + cfg + _axis_ports("s_axis", srcs[0]) +
                              _axis_ports("m_axis", name)))
            m.update(params=params)
        else:
            raise ValueError(f"layer {name}: op {op!r} has no RTL core")
        meta_layers.append(m)

    in_w = spec_in["channels"] * spec_in["bits"]
    out_w = P * 3 * 8
    sha = bundle.sha256() if callable(bundle.sha256) else bundle.sha256
    head = f"""// srnet_top: generated by egvsr.rtl.generate from bundle preset
// {bundle.manifest.get('preset')!r} (sha256 {sha[:16]}...). Do not edit.
// Layers (instance u_<name>): {', '.join(L['name'] for L in layers)}
// In: one LR pixel per beat, {spec_in['channels']} x 8-bit channels. Out: {P} HR pixel(s) per
// beat, 3 x 8-bit each, raster order. cfg_width/cfg_height: LR frame size.
module srnet_top (
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
    hrdim = ""
    if has_hr_conv:
        hrdim = (f"    wire [{dim_bits - 1}:0] hr_width = cfg_width * {r};\n"
                 f"    wire [{dim_bits - 1}:0] hr_height = cfg_height * {r};\n")
    text = head + alias + hrdim + "".join(wires) + "\n" + "\n".join(body) + "endmodule\n"
    top = out / "srnet_top.v"
    top.write_text(text)
    for src in ALL_SOURCES:
        shutil.copyfile(src, out / src.name)
    meta = {"top": "srnet_top", "bundle_sha256": sha,
            "preset": bundle.manifest.get("preset"), "max_w": max_w, "dim_bits": dim_bits,
            "out_pixels": P, "scale": r, "in_bits": in_w, "out_bits": out_w,
            "cycles_per_lr_pixel": t_lr, "mult_count": dsp, "board": board if isinstance(board, str) else None,
            "sources": [s.name for s in ALL_SOURCES] + ["srnet_top.v"],
            "parallelism": {k: list(v) for k, v in par.items()}, "layers": meta_layers}
    (out / "manifest.json").write_text(json.dumps(meta, indent=1))
    return top
