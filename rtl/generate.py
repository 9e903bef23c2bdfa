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


# ------------------------------------------------------------ BRAM model
# Xilinx 7-series / UltraScale block RAM aspect ratios of one BRAM18
# (depth, width); a BRAM36 is two of them. Memories the cores mark
# `ram_style/rom_style = "block"` are counted; small FIFOs (< 64 entries)
# and weight ROMs shallower than `ROM_BLOCK_MIN` words are LUTs.
ROM_BLOCK_MIN = 64     # conv3x3 parameter of the same name
_BRAM18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))


def bram18(width_bits: int, depth: int) -> int:
    """BRAM18 blocks for a width x depth memory (the cheapest aspect ratio)."""
    if width_bits <= 0 or depth <= 0:
        return 0
    return min(math.ceil(width_bits / w) * math.ceil(depth / d) for d, w in _BRAM18_SHAPES)


def _conv_bram18(cin, cout, in_bits, w_bits, pi, po, line_w):
    """Line buffers (2 x line_w words of one pixel) + weight ROM (F words)."""
    f = math.ceil(cin / pi) * math.ceil(cout / po)
    rom = bram18(pi * po * 9 * w_bits, f) if f >= ROM_BLOCK_MIN else 0
    return 2 * bram18(cin * in_bits, line_w) + rom


def _skip_depth_log2(lag: int, max_w: int) -> int:
    return int(math.ceil(math.log2(max(16, lag * (max_w + 2) + 64))))


def _srnet_graph(bundle):
    """Per layer: (src channels, src bits, hr) and the conv depth of every tensor."""
    spec_in = bundle.manifest["srnet"]["input"]
    tens = {"input": (spec_in["channels"], spec_in["bits"], False)}
    depth = {"input": 0}
    for L in bundle.layers("srnet"):
        hr = tens[L["inputs"][0]][2] or L["op"] == "pixel_shuffle"
        tens[L["name"]] = (L["channels"], L["out_bits"], hr)
        depth[L["name"]] = max(depth[s] for s in L["inputs"]) + (L["op"] == "conv3x3")
    return tens, depth


def estimate_bram36(bundle, parallelism: dict, max_w: int = 1024, out_pixels: int = 1) -> dict:
    """BRAM36 (equivalent) estimate of the generated top: per layer and total.

    Counts conv line buffers and weight ROMs, the pixel-shuffle row buffer
    and the residual skip FIFOs, with the same rules the yosys figures in
    bench/results/rtl.json follow (an estimate, not a synthesis report).
    """
    bundle = _bundle(bundle)
    tens, depth = _srnet_graph(bundle)
    rows = {}
    for L in bundle.layers("srnet"):
        src = tens[L["inputs"][0]]
        n18 = 0
        if L["op"] == "conv3x3":
            pi, po = parallelism.get(L["name"], (L["cin"], L["cout"]))
            r = 4 if src[2] else 1
            n18 = _conv_bram18(L["cin"], L["cout"], src[1], int(L["w_bits"]), pi, po, max_w * r)
        elif L["op"] == "pixel_shuffle":
            r = int(L["factor"])
            g = out_pixels // r if out_pixels > r else 1
            n18 = bram18(src[0] * src[1] * g, 2 * (1 << max(1, math.ceil(math.log2(-(-max_w // g))))))
        elif L["op"] == "add":
            a, b = L["inputs"]
            k = a if depth[a] < depth[b] else b
            dl2 = _skip_depth_log2(abs(depth[a] - depth[b]), max_w)
            if dl2 >= 6:
                n18 = bram18(tens[k][0] * tens[k][1] + 2, 1 << dl2)
        rows[L["name"]] = n18 / 2
    return {"layers": rows, "total": sum(rows.values())}


def plan_parallelism(bundle, board, lr_w: int | None = None, lr_h: int | None = None,
                     fps: float | None = None, headroom: float = 0.1,
                     out_pixels: int | None = None, max_w: int | None = None) -> dict:
    """Per conv layer (pi, po) for `board`, within its DSP (and estimated BRAM) budget.

    Budget: ``floor((1 - headroom) * dsp)`` multipliers (one DSP per 8-bit
    multiplier: a conv with (pi, po) has ``9*pi*po``) and
    ``(1 - headroom) * bram36``. Cycles per LR pixel of a stage: a conv's
    fold ``ceil(cin/pi)*ceil(cout/po)`` (x r*r after the pixel shuffle), the
    output stage ``r*r/P`` (P HR pixels per beat); the slowest stage sets
    the pipeline's II, and a frame takes ``(W*H + W + 1) * II`` clocks (the
    W+1 flush positions of the convs).

    If the fps target can be met within the budget, every layer takes the
    fewest multipliers that keep up with the target II (the cheapest design
    that meets it); otherwise the smallest II whose cheapest balanced design
    fits the budget (the fastest design in budget), with `meets_target`
    False and `reason` saying why. Returns a report dict: `parallelism`
    (layer -> (pi, po)), `layers` (per conv: macs_per_lr_pixel, mults,
    cycles_per_lr_pixel, bram36), `ii_cycles_per_lr_pixel`, `frame_cycles`,
    `fps` (at the board clock), `dsp`, `dsp_budget`, `bram36`,
    `bram36_budget`, `target_fps`, `target_ii`, `meets_target`, `reason`.
    """
    bundle = _bundle(bundle)
    bd = _board(board) if isinstance(board, str) else dict(board)
    lr_w = lr_w or bd.get("lr_w", 960)
    lr_h = lr_h or bd.get("lr_h", 540)
    fps = fps or bd.get("fps", 30)
    max_w = max_w or max(16, 1 << (int(lr_w) - 1).bit_length())
    clk = bd["clock_mhz"] * 1e6
    dsp_budget = int(math.floor(bd.get("dsp", 10 ** 9) * (1.0 - headroom)))
    bram_budget = bd.get("bram36", 10 ** 9) * (1.0 - headroom)
    positions = lr_w * lr_h + lr_w + 1
    target_ii = clk / (fps * positions)

    tens, _ = _srnet_graph(bundle)
    convs = []
    r = 1
    for L in bundle.layers("srnet"):
        if L["op"] == "pixel_shuffle":
            r = int(L["factor"])
        if L["op"] == "conv3x3":
            src = tens[L["inputs"][0]]
            hr = 16 if src[2] else 1
            opts = {}
            for pi, po, f in _fold_options(L["cin"], L["cout"]):
                n18 = _conv_bram18(L["cin"], L["cout"], src[1], int(L["w_bits"]), pi, po,
                                   max_w * (4 if src[2] else 1))
                key = (pi * po, n18, -pi)
                c = f * hr
                if c not in opts or key < opts[c][0]:
                    opts[c] = (key, (pi, po), n18)
            # cheapest option with cycles <= T, for every T in increasing order
            cyc = sorted(opts)
            best, table = None, []
            for c in cyc:
                if best is None or opts[c][0] < best[0]:
                    best = opts[c]
                table.append((c, best))
            convs.append((L, src, hr, table))

    def out_stage(ii):
        if out_pixels is not None:
            return r * r / int(out_pixels), int(out_pixels)
        p = next((q for q in (1, 2, 4, 8, 16) if r * r / q <= ii or q >= r * r), r * r)
        return r * r / p, p

    def design(ii):
        par, mults, n18 = {}, 0, 0
        for L, src, hr, table in convs:
            ok = [t for t in table if t[0] <= ii]
            if not ok:
                return None
            key, pp, b = ok[-1][1]
            par[L["name"]] = pp
            mults += 9 * pp[0] * pp[1]
            n18 += b
        return par, mults

    def fits(ii):
        d = design(ii)
        if d is None:
            return None
        par, mults = d
        _, P = out_stage(ii)
        bram = estimate_bram36(bundle, par, max_w, P)["total"]
        return par, mults, bram, P

    cands = sorted({t[0] for _, _, _, table in convs for t in table} |
                   {r * r / q for q in (1, 2, 4, 8, 16)} | {1})
    reasons = []
    chosen = None
    # cheapest design that meets the target (largest candidate II <= target)
    ok_ii = [c for c in cands if c <= target_ii]
    if ok_ii:
        d = fits(ok_ii[-1])
        if d is not None:
            if d[1] > dsp_budget:
                reasons.append(f"{fps:g} fps at {lr_w}x{lr_h} needs II <= {target_ii:.2f} clocks "
                               f"per LR pixel, i.e. {d[1]} multipliers (DSPs), over the budget of "
                               f"{dsp_budget} ({bd.get('dsp')} DSP less {headroom:.0%} headroom)")
            elif d[2] > bram_budget:
                reasons.append(f"meeting {fps:g} fps needs ~{d[2]:.1f} BRAM36, over the budget of "
                               f"{bram_budget:.0f}")
            else:
                chosen = (ok_ii[-1], d)
    else:
        reasons.append(f"{fps:g} fps at {lr_w}x{lr_h} needs II {target_ii:.3f} clocks per LR "
                       f"pixel, below 1 (the fully parallel II) at {bd['clock_mhz']:g} MHz")
    meets = chosen is not None
    if chosen is None:
        bram_note = None
        for c in cands:              # fastest design in budget
            d = fits(c)
            if d is not None and d[1] <= dsp_budget and d[2] <= bram_budget:
                chosen = (c, d)
                break
            if d is not None and d[1] <= dsp_budget and bram_note is None:
                bram_note = (f"II {c:g} would fit the DSPs ({d[1]}) but needs ~{d[2]:.1f} BRAM36, "
                             f"over the budget of {bram_budget:.0f} ({bd.get('bram36')} less "
                             f"{headroom:.0%}); line buffers for width {max_w}, the pixel-shuffle "
                             f"buffer and the skip FIFOs take most of it")
        if chosen is not None and bram_note:
            reasons.append(bram_note)
    if chosen is None:
        for c in cands:              # BRAM can not be met: fastest within the DSPs
            d = fits(c)
            if d is not None and d[1] <= dsp_budget:
                chosen = (c, d)
                reasons.append(f"the BRAM estimate ~{d[2]:.1f} BRAM36 exceeds the budget of "
                               f"{bram_budget:.0f} even at the slowest design (line buffers "
                               f"for width {max_w})")
                break
    if chosen is None:
        c = cands[-1]
        chosen = (c, fits(c))
        reasons.append(f"even the most folded design needs {chosen[1][1]} multipliers, over the "
                       f"budget of {dsp_budget}")
    _, (par, mults, bram, P) = chosen
    layers = {}
    ii = r * r / P
    for L, src, hr, _ in convs:
        pi, po = par[L["name"]]
        cyc = math.ceil(L["cin"] / pi) * math.ceil(L["cout"] / po) * hr
        ii = max(ii, cyc)
        layers[L["name"]] = {"cin": L["cin"], "cout": L["cout"], "hr": hr > 1,
                             "macs_per_lr_pixel": 9 * L["cin"] * L["cout"] * hr,
                             "pi": pi, "po": po, "mults": 9 * pi * po,
                             "cycles_per_lr_pixel": cyc}
    bram_rows = estimate_bram36(bundle, par, max_w, P)
    for k, v in layers.items():
        v["bram36"] = bram_rows["layers"].get(k, 0)
    frame = positions * ii
    achieved = clk / frame
    if not meets and not reasons:
        reasons.append("target not met")
    if not meets:
        macs = sum(v["macs_per_lr_pixel"] for v in layers.values())
        reasons.append(f"best in budget: II {ii:g} clocks per LR pixel -> {achieved:.2f} fps at "
                       f"{bd['clock_mhz']:g} MHz ({macs} MACs per LR pixel; even a perfectly "
                       f"balanced {dsp_budget}-multiplier design reaches at most "
                       f"{clk * dsp_budget / (macs * positions):.2f} fps)")
    return {"board": bd.get("name"), "clock_mhz": bd["clock_mhz"], "lr": [lr_w, lr_h],
            "max_w": max_w, "target_fps": fps, "target_ii": target_ii,
            "parallelism": par, "out_pixels": P, "layers": layers,
            "output_cycles_per_lr_pixel": r * r / P,
            "ii_cycles_per_lr_pixel": ii, "frame_cycles": frame, "fps": achieved,
            "dsp": mults, "dsp_budget": dsp_budget, "dsp_board": bd.get("dsp"),
            "bram36": bram_rows["total"], "bram36_budget": bram_budget,
            "bram36_board": bd.get("bram36"), "headroom": headroom,
            "meets_target": bool(meets), "reason": "; ".join(reasons) or None}


def choose_parallelism(bundle, board, lr_w: int | None = None, lr_h: int | None = None,
                       fps: float | None = None, report: bool = False, **kw):
    """Per conv layer (pi, po) for `board` within its DSP/BRAM budget (see
    `plan_parallelism`); with ``report=True`` returns ``(parallelism, report)``.

    `board` is a name in `rtl.boards.BOARDS` or a dict with `clock_mhz`
    (optional `dsp`, `bram36`, and defaults `lr_w`, `lr_h`, `fps`).
    """
    rep = plan_parallelism(bundle, board, lr_w, lr_h, fps, **kw)
    return (rep["parallelism"], rep) if report else rep["parallelism"]


def _jsonable(plan):
    if plan is None:
        return None
    return json.loads(json.dumps(plan, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


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
                   lr_w: int | None = None, lr_h: int | None = None, fps: float | None = None,
                   board_io: bool = False, in_bytes: int = 56) -> Path:
    """Write `srnet_top.v`, the cores, per-layer `<name>_w.mem`/`<name>_b.mem` and
    `manifest.json` into `out_dir`; returns the path of `srnet_top.v`.

    `parallelism`: layer -> (pi, po); layers not named are fully parallel
    (pi = cin, po = cout), unless `board` is given, in which case
    `choose_parallelism(bundle, board, lr_w, lr_h, fps)` fills them in.
    `max_w`: largest LR width (line buffer depth). `out_pixels`: HR pixels per
    output beat (default: the fewest that keep up with the slowest layer;
    2 with `board_io`).

    `board_io`: the board variant of the top (docs/numerics.md "Streams",
    `egvsr.board.streams`): input beats of `in_bytes` bytes (the 51 channels
    in the low bytes, the pad bytes ignored), output beats of P HR pixels x
    4 bytes (R, G, B, 0), `tuser` on the first beat of a frame and `tlast`
    only on the last beat of the frame (TLAST_FRAME), which is what an AXI
    DMA (and the PYNQ overlay) needs.
    """
    bundle = _bundle(bundle)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layers = bundle.layers("srnet")
    spec_in = bundle.manifest["srnet"]["input"]
    par = {}
    plan = None
    if board is not None:
        plan = plan_parallelism(bundle, board, lr_w, lr_h, fps,
                                out_pixels=(out_pixels or (2 if board_io else None)))
        par.update(plan["parallelism"])
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
    if out_pixels is None and board_io:
        out_pixels = 2
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
    port_in_w, port_out_w = in_w, out_w
    if board_io:
        if in_bytes * 8 < in_w:
            raise ValueError(f"in_bytes {in_bytes} < {in_w // 8} input channels")
        port_in_w, port_out_w = in_bytes * 8, P * 32
    sha = bundle.sha256() if callable(bundle.sha256) else bundle.sha256
    if board_io:
        io_doc = (f"// Board variant: in one LR pixel per {in_bytes}-byte beat ({spec_in['channels']} x 8-bit\n"
                  f"// channels + zero pad). Out: {P} HR pixel(s) per beat, bytes R, G, B, 0 each,\n"
                  f"// raster order; tlast on the last beat of the frame only (TLAST_FRAME).")
    else:
        io_doc = (f"// In: one LR pixel per beat, {spec_in['channels']} x 8-bit channels. Out: {P} HR pixel(s) per\n"
                  f"// beat, 3 x 8-bit each, raster order; tlast per HR line.")
    io_doc += "\n// cfg_width/cfg_height: LR frame size."
    head = f"""// srnet_top: generated by egvsr.rtl.generate from bundle preset
// {bundle.manifest.get('preset')!r} (sha256 {sha[:16]}...). Do not edit.
// Layers (instance u_<name>): {', '.join(L['name'] for L in layers)}
{io_doc}
module srnet_top (
    input  wire                aclk,
    input  wire                aresetn,
    input  wire [{dim_bits - 1}:0]        cfg_width,
    input  wire [{dim_bits - 1}:0]        cfg_height,
    input  wire [{port_in_w - 1}:0]      s_axis_tdata,
    input  wire                s_axis_tvalid,
    output wire                s_axis_tready,
    input  wire                s_axis_tlast,
    input  wire                s_axis_tuser,
    output wire [{port_out_w - 1}:0]      m_axis_tdata,
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
    if board_io:
        pad = port_in_w - in_w
        out_bytes = ", ".join(f"8'h00, {output}_tdata[{24 * p + 23}:{24 * p}]"
                              for p in reversed(range(P)))
        alias = f"""    // network input ({in_w // 8} channels in the low bytes of a {in_bytes}-byte beat)
    wire [{in_w - 1}:0] input_tdata = s_axis_tdata[{in_w - 1}:0];
""" + (f"""    /* verilator lint_off UNUSEDSIGNAL */
    wire [{pad - 1}:0] input_pad = s_axis_tdata[{port_in_w - 1}:{in_w}];   // zero pad, ignored
    /* verilator lint_on UNUSEDSIGNAL */
""" if pad else "") + f"""    wire input_tvalid = s_axis_tvalid;
    wire input_tready;
    wire input_tlast = s_axis_tlast;
    wire input_tuser = s_axis_tuser;
    assign s_axis_tready = input_tready;
    // network output: {P} HR pixel(s) per beat, 4 bytes (R, G, B, 0) each;
    // tlast only on the last beat of the frame (TLAST_FRAME)
    wire [{out_w - 1}:0] {output}_tdata;
    wire {output}_tvalid, {output}_tready, {output}_tlast, {output}_tuser;
    reg  [{dim_bits + 2}:0] hr_row;        // HR line of the current output beat
    wire [{dim_bits + 2}:0] hr_rows = {{cfg_height, 2'b00}} - 1'b1;
    always @(posedge aclk) begin
        if (!aresetn) hr_row <= {dim_bits + 3}'d0;
        else if ({output}_tvalid && {output}_tready && {output}_tlast)
            hr_row <= (hr_row == hr_rows) ? {dim_bits + 3}'d0 : hr_row + 1'b1;
    end
    assign m_axis_tdata = {{{out_bytes}}};
    assign m_axis_tvalid = {output}_tvalid;
    assign {output}_tready = m_axis_tready;
    assign m_axis_tlast = {output}_tlast && (hr_row == hr_rows);
    assign m_axis_tuser = {output}_tuser;
"""
        if r != 4:
            raise ValueError("board_io assumes the x4 pixel shuffle of EGVSR")
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
            "out_pixels": P, "scale": r, "in_bits": port_in_w, "out_bits": port_out_w,
            "board_io": bool(board_io), "in_bytes": in_bytes if board_io else in_w // 8,
            "out_bytes_per_pixel": 4 if board_io else 3, "plan": _jsonable(plan),
            "cycles_per_lr_pixel": t_lr, "mult_count": dsp, "board": board if isinstance(board, str) else None,
            "sources": [s.name for s in ALL_SOURCES] + ["srnet_top.v"],
            "parallelism": {k: list(v) for k, v in par.items()}, "layers": meta_layers}
    (out / "manifest.json").write_text(json.dumps(meta, indent=1))
    return top
