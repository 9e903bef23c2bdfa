"""The folding search both implementations use (FINN's "set folding" step).

Input: one `Item` per node: the foldings it offers, each with its frame
clocks and its cost (DSP, BRAM36, LUT, a "cheapness" key). A design for a
bottleneck of T clocks per frame takes, for every node, the cheapest folding
that needs at most T clocks; the frame then takes max(clocks) clocks. When
that design needs more DSPs than the budget, nodes that offer an alternative
folding without DSPs (`Option.alt`: RTL multipliers in fabric) take it, the
most DSPs saved per LUT added first, while the LUTs stay within their budget.

`search` returns the cheapest design that meets the target (the largest
candidate T <= the target's clocks per frame), or, when that is impossible
or over the DSP/BRAM/LUT budget, the fastest design within the budgets, with
the reasons in plain words. When no design fits the BRAM or LUT budget it
takes the fastest one within the DSPs that still fits the board's own BRAM
and LUTs (the headroom given up), else the fastest within the DSPs, and
says so; when even the most
folded design needs too many DSPs, that one.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Option", "Item", "search"]


@dataclass(frozen=True)
class Option:
    fold: object
    clocks: float       # clocks per frame at this folding
    dsp: int
    bram36: float
    lut: int
    key: tuple
    alt: bool = False


@dataclass
class Item:
    name: str
    options: list       # [Option]

    def best(self, T: float):
        ok = [o for o in self.options if o.clocks <= T and not o.alt]
        return min(ok, key=lambda o: o.key) if ok else None

    def best_alt(self, T: float):
        ok = [o for o in self.options if o.clocks <= T and o.alt]
        return min(ok, key=lambda o: (o.lut, o.key)) if ok else None


def _design(items, T, dsp_budget=None, lut_budget=float("inf")):
    d = {}
    for it in items:
        o = it.best(T)
        if o is None:
            return None
        d[it.name] = o
    if dsp_budget is not None and _totals(d)[0] > dsp_budget:
        d = _to_fabric(items, d, T, dsp_budget, lut_budget)
    return d


def _to_fabric(items, d, T, dsp_budget, lut_budget):
    """Move nodes to their DSP-free alternative until the DSPs fit (or return `d`)."""
    swaps = []
    for it in items:
        a = it.best_alt(T)
        o = d[it.name]
        if a is not None and a.dsp < o.dsp:
            swaps.append(((o.dsp - a.dsp) / max(1, a.lut - o.lut), it.name, a))
    new = dict(d)
    for _, name, a in sorted(swaps, key=lambda s: -s[0]):
        dsp, _, lut = _totals(new)
        if dsp <= dsp_budget:
            break
        if lut - new[name].lut + a.lut <= lut_budget:
            new[name] = a
    return new if _totals(new)[0] <= dsp_budget else d


def _totals(d):
    return (sum(o.dsp for o in d.values()), sum(o.bram36 for o in d.values()),
            sum(o.lut for o in d.values()))


def _over(d, dsp_budget, bram_budget, lut_budget) -> list:
    """What a design exceeds, in words (empty when it fits)."""
    dsp, bram, lut = _totals(d)
    out = []
    if dsp > dsp_budget:
        out.append(f"{dsp} DSPs (multipliers), over the budget of {dsp_budget}")
    if bram > bram_budget:
        out.append(f"~{bram:.1f} BRAM36, over the budget of {bram_budget:.0f}")
    if lut > lut_budget:
        out.append(f"~{lut:,} LUTs, over the budget of {lut_budget:,.0f}")
    return out


def search(items: list, target_clocks: float, dsp_budget: int, bram_budget: float,
           what: str = "the target", lut_budget: float = float("inf"), board: tuple | None = None) -> dict:
    """{design: {name: Option}, meets_target, reasons: [str]} (see the module docstring).
    `board`: the board's own (BRAM36, LUT), for when no design fits the budgets."""
    cands = sorted({o.clocks for it in items for o in it.options})
    reasons = []
    chosen = None
    ok = [c for c in cands if c <= target_clocks]
    d = _design(items, ok[-1], dsp_budget, lut_budget) if ok else None
    if d is None:
        slow = max(items, key=lambda it: min(o.clocks for o in it.options))
        fastest = min(slow.options, key=lambda o: o.clocks)
        reasons.append(f"{slow.name} needs {fastest.clocks:.0f} clocks per frame even at its fastest "
                       f"folding ({fastest.fold}), more than the {target_clocks:.0f} a frame may "
                       f"take at {what}")
    else:
        over = _over(d, dsp_budget, bram_budget, lut_budget)
        if over:
            reasons.append(f"meeting {what} needs " + " and ".join(over))
        else:
            chosen = d
    meets = chosen is not None
    if chosen is None:
        note = None
        for c in cands:                      # the fastest design within every budget
            d = _design(items, c, dsp_budget, lut_budget)
            if d is None:
                continue
            over = _over(d, dsp_budget, bram_budget, lut_budget)
            if not over:
                chosen = d
                break
            if note is None and _totals(d)[0] <= dsp_budget:
                note = f"a frame in {c:.0f} clocks would fit the DSPs ({_totals(d)[0]}) but needs " \
                       + " and ".join(o for o in over if "DSP" not in o)
        if chosen is not None and note:
            reasons.append(note)
    if chosen is None:
        # BRAM/LUT budgets can not be met: the fastest design within the DSPs that fits the
        # board's own BRAM and LUTs (the budget's headroom given up), else the fastest within the DSPs
        bram_board, lut_board = board if board is not None else (float("inf"), float("inf"))
        fastest = on_board = None            # (clocks, design), fastest first
        for c in cands:
            d = _design(items, c)
            if d is None or _totals(d)[0] > dsp_budget:
                continue
            fastest = fastest or (c, d)
            if not _over(d, dsp_budget, bram_board, lut_board):
                on_board = (c, d)
                break
        if fastest is not None:
            c, chosen = on_board or fastest
            how = "the fastest design within the DSPs"
            if board is not None:
                how += (" that fits the board's own BRAM and LUTs" if on_board
                        else " (no design fits the board's own BRAM and LUTs)")
            reasons.append("even the slowest design exceeds the budget: "
                           + " and ".join(_over(_design(items, cands[-1]), dsp_budget,
                                                bram_budget, lut_budget))
                           + f"; taking {how} ({c:.0f} clocks a frame: "
                           + " and ".join(_over(chosen, dsp_budget, bram_budget, lut_budget)) + ")")
    if chosen is None:
        chosen = _design(items, cands[-1])
        reasons.append(f"even the most folded design needs {_totals(chosen)[0]} DSPs, over the "
                       f"budget of {dsp_budget}")
    return {"design": chosen, "meets_target": meets, "reasons": reasons}
