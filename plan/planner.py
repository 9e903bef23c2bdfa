"""One planner for both implementations: graph + board + target -> a plan.

``make_plan(bundle, board, impl="rtl"|"hls", lr_w, lr_h, fps)`` asks every
node's op (`golden.oplib`) for the foldings its implementation offers and
their cost (clocks, DSP, BRAM36, LUT), runs `search.search` against the board's
budgets (DSP, BRAM36 and LUT of `board.boards`, less `headroom`) and returns a
plan dict:

- `folding`: layer -> folding (rtl conv3x3: [PI, PO]; hls conv3x3: reuse
  factor; the output pixel_shuffle: pixels per beat P), the part a user
  edits and rebuilds from (`egvsr build --steps plan,...` keeps an edited
  ``plan.json`` when its inputs are unchanged, see `flow.steps`),
- `layers`: per layer its op, folding, clocks per frame, DSP, BRAM36, LUT
  (where the op's cost model has one: the hls conv; 0 elsewhere),
  MACs per LR pixel,
- `bottleneck`, `frame_clocks`, `fps` at the board clock, totals and
  budgets, `meets_target` and `reason` (what it would take).

Frame clocks: hls (hls4ml io_stream): a conv takes RF clocks per pixel of
its zero-padded input map, other stages one word per clock; rtl
(`rtl/verilog`): every stage runs at II clocks per LR pixel over the
W*H + W + 1 positions of a frame (the W + 1 flush positions of the convs).
The frame takes the slowest stage's clocks. Estimates, not synthesis.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from egvsr.board.boards import board as _board
from egvsr.golden import oplib
from egvsr.golden.oplib.memory import HLS_SKIP_MARGIN

from .search import Item, Option, search

__all__ = ["make_plan", "plan_items", "evaluate", "refresh", "write_plan", "read_plan", "PlanError",
           "SCHEMA", "SCHEMA_VERSION", "line_width"]

SCHEMA = "egvsr.plan"
SCHEMA_VERSION = 1


class PlanError(ValueError):
    """A plan file that cannot be used (wrong schema, other bundle, bad folding)."""


def line_width(lr_w: int) -> int:
    """Line-buffer width of the RTL cores for LR frames up to `lr_w` (a power of two >= 16)."""
    return max(16, 1 << (int(lr_w) - 1).bit_length())


def _graph(bundle, net):
    if isinstance(bundle, (str, os.PathLike)):
        from egvsr.golden import load_bundle
        bundle = load_bundle(bundle)
    return bundle, bundle.graph(net)


def _env(graph, node, impl, lr_w, lr_h, max_w, pixels_per_beat, shapes, int8_pack=False,
         fifo_margin=HLS_SKIP_MARGIN):
    h, w, _ = shapes[node.layer["inputs"][0]]
    s = node.inputs[0].scale
    # only the stage that produces the net output packs several pixels per beat
    # (None: the planner chooses); a shuffle inside the net moves one pixel per word
    return {"impl": impl, "h": h, "w": w, "lr_w": lr_w, "lr_h": lr_h, "max_w": max_w,
            "line_w": int(max_w * s) if s >= 1 else max_w, "rate": node.inputs[0].rate,
            "positions": lr_w * lr_h + lr_w + 1, "int8_pack": bool(int8_pack),
            "fifo_margin": int(fifo_margin),
            "pixels_per_beat": pixels_per_beat if node.output is graph.output else 1}


def node_env(graph, node, impl, lr_w, lr_h, max_w=None, pixels_per_beat=None,
             int8_pack=False, fifo_margin=HLS_SKIP_MARGIN) -> dict:
    """The cost-model environment of `node` (frame size at its input, line width...)."""
    max_w = max_w or line_width(lr_w)
    return _env(graph, node, impl, lr_w, lr_h, max_w, pixels_per_beat, graph.shapes(lr_h, lr_w),
                int8_pack, fifo_margin)


def frame_clocks(op, impl, node, cost, env) -> float:
    # rounded: a cost model may give a frame's clocks as a fraction per pixel
    # (the hls conv: border and inner pixels cost differently), which floats miss by 1 ulp
    return round(cost.clocks_per_pixel * op.pixels(impl, node, env), 6)


def plan_items(graph, impl, lr_w, lr_h, max_w=None, pixels_per_beat=None, fixed=None,
               int8_pack=False, fifo_margin=HLS_SKIP_MARGIN) -> list:
    """One search `Item` per node (`fixed`: layer -> folding to take as it is;
    `int8_pack`: the RTL multipliers take two INT8 products per DSP48E2; `fifo_margin`:
    the words an HLS skip FIFO holds beyond its branch lag, as the build config says)."""
    max_w = max_w or line_width(lr_w)
    shapes = graph.shapes(lr_h, lr_w)
    items = []
    for node in graph.nodes:
        op = node.op
        env = _env(graph, node, impl, lr_w, lr_h, max_w, pixels_per_beat, shapes, int8_pack,
                   fifo_margin)
        folds = op.folds(impl, node, env)
        if fixed and node.name in fixed:
            f = fixed[node.name]
            f = tuple(f) if isinstance(f, list) else f
            if f not in [tuple(x) if isinstance(x, list) else x for x in folds]:
                raise PlanError(f"layer {node.name!r}: folding {f!r} is not one the {impl} "
                                f"{op.name} offers (e.g. {folds[:4]} ...); fix plan.json")
            folds = [f]
        opts = []
        for f in folds:
            c = op.cost(impl, node, f, env)
            opts.append(Option(f, frame_clocks(op, impl, node, c, env), int(c.dsp),
                               float(c.bram36), int(c.lut), c.order(), bool(c.alt)))
        items.append(Item(node.name, opts))
    return items


def evaluate(graph, impl, folding: dict, lr_w, lr_h, clock_mhz, max_w=None,
             pixels_per_beat=None, int8_pack=False, fifo_margin=HLS_SKIP_MARGIN) -> dict:
    """Per-layer rows and totals of a given folding (every layer named or single-option)."""
    items = plan_items(graph, impl, lr_w, lr_h, max_w, pixels_per_beat, fixed=folding,
                       int8_pack=int8_pack, fifo_margin=fifo_margin)
    rows = {}
    shapes = graph.shapes(lr_h, lr_w)
    for it, node in zip(items, graph.nodes):
        o = it.options[0] if len(it.options) == 1 else it.best(float("inf"))
        h, w, _ = shapes[node.layer["inputs"][0]]
        rows[node.name] = {"op": node.op.name, "fold": _jsonable(o.fold),
                           "clocks_per_frame": o.clocks, "dsp": o.dsp, "bram36": o.bram36,
                           "lut": o.lut, "in_hw": [h, w],
                           "macs_per_lr_pixel": node.op.macs(node) * float(node.inputs[0].rate)}
    bottleneck = max(rows, key=lambda k: rows[k]["clocks_per_frame"])
    frame = rows[bottleneck]["clocks_per_frame"]
    return {"layers": rows, "bottleneck": bottleneck, "frame_clocks": frame,
            "fps": clock_mhz * 1e6 / frame, "dsp": sum(r["dsp"] for r in rows.values()),
            "bram36": sum(r["bram36"] for r in rows.values()),
            "lut": sum(r["lut"] for r in rows.values()),
            "macs_per_lr_pixel": sum(r["macs_per_lr_pixel"] for r in rows.values())}


def _jsonable(f):
    return list(f) if isinstance(f, tuple) else f


def make_plan(bundle, board, impl: str = "rtl", lr_w: int | None = None, lr_h: int | None = None,
              fps: float | None = None, net: str = "srnet", headroom: float = 0.1,
              pixels_per_beat: int | None = None, max_w: int | None = None,
              dsp_budget: int | None = None, lut_budget: int | None = None,
              fifo_margin: int = HLS_SKIP_MARGIN) -> dict:
    """The plan of `net` of `bundle` on `board` (a name in `board.boards` or a dict
    with `clock_mhz` and optional `dsp`, `bram36`, `lut`, `lr_w`, `lr_h`, `fps`);
    `fifo_margin`: an HLS build's skip-FIFO margin (config `fifo_margin`)."""
    if impl not in oplib.IMPLS:
        raise PlanError(f"implementation {impl!r} is not one of {oplib.IMPLS}")
    bundle, graph = _graph(bundle, net)
    bd = _board(board) if isinstance(board, str) else dict(board)
    lr_w = int(lr_w or bd.get("lr_w", 960))
    lr_h = int(lr_h or bd.get("lr_h", 540))
    fps = float(fps or bd.get("fps", 30))
    max_w = int(max_w or line_width(lr_w))
    clk = float(bd["clock_mhz"]) * 1e6
    if dsp_budget is None:
        dsp_budget = int(math.floor(bd.get("dsp", 10 ** 9) * (1.0 - headroom)))
    bram_budget = bd.get("bram36", 10 ** 9) * (1.0 - headroom)
    if lut_budget is None:
        lut_budget = int(math.floor(bd.get("lut", 10 ** 12) * (1.0 - headroom)))
    # two INT8 products per DSP48E2 (UltraScale+) in the RTL cores
    pack = impl == "rtl" and bd.get("dsp48") == "E2"
    items = plan_items(graph, impl, lr_w, lr_h, max_w, pixels_per_beat, int8_pack=pack,
                       fifo_margin=fifo_margin)
    target = clk // fps if impl == "hls" else clk / fps
    res = search(items, target, dsp_budget, bram_budget, what=f"{fps:g} fps at {lr_w}x{lr_h}",
                 lut_budget=lut_budget, board=(bd.get("bram36", 10 ** 9), bd.get("lut", 10 ** 12)))
    folding = {k: _jsonable(o.fold) for k, o in res["design"].items()}
    ev = evaluate(graph, impl, folding, lr_w, lr_h, bd["clock_mhz"], max_w, pixels_per_beat, pack,
                  fifo_margin)
    reasons = list(res["reasons"])
    if not res["meets_target"]:
        macs = ev["macs_per_lr_pixel"]
        positions = lr_w * lr_h + lr_w + 1
        per_dsp = 2 if pack else 1
        reasons.append(f"best in budget: {ev['fps']:.2f} fps at {bd['clock_mhz']:g} MHz, "
                       f"bottleneck {ev['bottleneck']} ({macs:g} MACs per LR pixel; even a "
                       f"perfectly balanced design of {dsp_budget} DSPs at {per_dsp} MAC(s) per "
                       "DSP and no fabric multipliers "
                       f"reaches at most {clk * dsp_budget * per_dsp / (macs * positions):.2f} fps)")
    sha = bundle.sha256
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "impl": impl, "net": net,
            "bundle_sha256": sha, "preset": bundle.manifest.get("preset"),
            "board": bd.get("name"), "clock_mhz": float(bd["clock_mhz"]), "lr": [lr_w, lr_h],
            "max_w": max_w, "int8_pack": pack, "target_fps": fps, "target_clocks_per_frame": target,
            "pixels_per_beat": _out_p(graph, folding, pixels_per_beat), "headroom": headroom,
            "folding": folding, **ev, "dsp_budget": dsp_budget, "dsp_board": bd.get("dsp"),
            "bram36_budget": bram_budget, "bram36_board": bd.get("bram36"),
            "lut_budget": lut_budget,
            "lut_board": bd.get("lut"), "meets_target": bool(res["meets_target"]),
            "reason": "; ".join(reasons) or None,
            **({"fifo_margin": int(fifo_margin)} if impl == "hls" else {})}


def refresh(plan: dict, bundle) -> dict:
    """`plan` with its figures recomputed from its `folding` (after a user edited plan.json):
    every layer's cost, the bottleneck, fps, totals and whether the target and the
    budgets are met. A folding the op does not offer raises `PlanError`."""
    graph = bundle.graph(plan.get("net", "srnet"))
    lr_w, lr_h = plan["lr"]
    folding = {k: v for k, v in plan["folding"].items() if v is not None}
    P = plan.get("pixels_per_beat")
    ev = evaluate(graph, plan["impl"], folding, lr_w, lr_h, plan["clock_mhz"], plan["max_w"], P,
                  plan.get("int8_pack", False), plan.get("fifo_margin", HLS_SKIP_MARGIN))
    new = dict(plan, **ev)
    new["folding"] = {k: ev["layers"][k]["fold"] for k in ev["layers"]}
    why = []
    if ev["fps"] < plan["target_fps"] * (1 - 1e-12):
        why.append(f"the folding reaches {ev['fps']:.2f} fps, below the target "
                   f"{plan['target_fps']:g} (bottleneck {ev['bottleneck']})")
    if ev["dsp"] > plan["dsp_budget"]:
        why.append(f"it needs {ev['dsp']} DSPs, over the budget of {plan['dsp_budget']}")
    if ev["bram36"] > plan["bram36_budget"]:
        why.append(f"it needs ~{ev['bram36']:.1f} BRAM36, over the budget of "
                   f"{plan['bram36_budget']:.0f}")
    if plan.get("lut_budget") is not None and ev["lut"] > plan["lut_budget"]:
        why.append(f"it needs ~{ev['lut']:,} LUTs, over the budget of {plan['lut_budget']:,}")
    new["meets_target"] = not why
    new["reason"] = "; ".join(why) or None
    return new


def _out_p(graph, folding, fixed):
    prod = graph.output.producer
    node = graph.node(prod) if prod else None
    if node is not None and node.op.name == "pixel_shuffle":
        return int(folding[prod])
    return int(fixed or 1)


def write_plan(plan: dict, path) -> Path:
    """Write `plan` as JSON atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(plan, indent=1, default=_jsonable))
    os.replace(tmp, path)
    return path


def read_plan(path, bundle=None, impl: str | None = None) -> dict:
    """Read a plan.json and check it against `bundle` (sha256, layers) and `impl`."""
    try:
        plan = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise PlanError(f"{path}: cannot read the plan ({e}); rerun the plan step") from e
    if plan.get("schema") != SCHEMA or plan.get("schema_version") != SCHEMA_VERSION:
        raise PlanError(f"{path}: not an {SCHEMA} v{SCHEMA_VERSION} file; rerun the plan step")
    if impl is not None and plan.get("impl") != impl:
        raise PlanError(f"{path}: a plan for {plan.get('impl')!r}, not {impl!r}; plan with --impl {impl}")
    m = plan.get("fifo_margin", HLS_SKIP_MARGIN)
    if not isinstance(m, int) or isinstance(m, bool) or m < 1:
        raise PlanError(f"{path}: fifo_margin = {m!r}; it must be an integer >= 1 (words); fix it or "
                        "rerun the plan step")
    if bundle is not None:
        if plan.get("bundle_sha256") != bundle.sha256:
            raise PlanError(f"{path}: planned for bundle {str(plan.get('bundle_sha256'))[:12]}, "
                            f"not {bundle.sha256[:12]}; rerun the plan step for this bundle")
        names = {n.name for n in bundle.graph(plan.get("net", "srnet")).nodes}
        extra = set(plan.get("folding", {})) - names
        if extra:
            raise PlanError(f"{path}: folding names layers {sorted(extra)} that the bundle lacks")
    return plan
