"""The folding search both implementations use (FINN's "set folding" step).

Input: one `Item` per node: the foldings it offers, each with its frame
clocks and its cost (DSP, BRAM36, a "cheapness" key). A design for a
bottleneck of T clocks per frame takes, for every node, the cheapest folding
that needs at most T clocks; the frame then takes max(clocks) clocks.

`search` returns the cheapest design that meets the target (the largest
candidate T <= the target's clocks per frame), or, when that is impossible
or over the DSP/BRAM budget, the fastest design within the budget, with
the reasons in plain words.
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


@dataclass
class Item:
    name: str
    options: list       # [Option]

    def best(self, T: float):
        ok = [o for o in self.options if o.clocks <= T]
        return min(ok, key=lambda o: o.key) if ok else None


def _design(items, T):
    d = {}
    for it in items:
        o = it.best(T)
        if o is None:
            return None
        d[it.name] = o
    return d


def _totals(d):
    return sum(o.dsp for o in d.values()), sum(o.bram36 for o in d.values())


def search(items: list, target_clocks: float, dsp_budget: int, bram_budget: float,
           what: str = "the target") -> dict:
    """{design: {name: Option}, meets_target, reasons: [str]} (see the module docstring)."""
    cands = sorted({o.clocks for it in items for o in it.options})
    reasons = []
    chosen = None
    ok = [c for c in cands if c <= target_clocks]
    d = _design(items, ok[-1]) if ok else None
    if d is None:
        slow = max(items, key=lambda it: min(o.clocks for o in it.options))
        fastest = min(slow.options, key=lambda o: o.clocks)
        reasons.append(f"{slow.name} needs {fastest.clocks:.0f} clocks per frame even at its fastest "
                       f"folding ({fastest.fold}), more than the {target_clocks:.0f} a frame may "
                       f"take at {what}")
    else:
        dsp, bram = _totals(d)
        if dsp > dsp_budget:
            reasons.append(f"meeting {what} needs {dsp} DSPs (multipliers), over the budget of "
                           f"{dsp_budget}")
        elif bram > bram_budget:
            reasons.append(f"meeting {what} needs ~{bram:.1f} BRAM36, over the budget of "
                           f"{bram_budget:.0f}")
        else:
            chosen = d
    meets = chosen is not None
    if chosen is None:
        bram_note = None
        for c in cands:                      # the fastest design in budget
            d = _design(items, c)
            if d is None:
                continue
            dsp, bram = _totals(d)
            if dsp <= dsp_budget and bram <= bram_budget:
                chosen = d
                break
            if dsp <= dsp_budget and bram_note is None:
                bram_note = (f"a frame in {c:.0f} clocks would fit the DSPs ({dsp}) but needs "
                             f"~{bram:.1f} BRAM36, over the budget of {bram_budget:.0f}")
        if chosen is not None and bram_note:
            reasons.append(bram_note)
    if chosen is None:
        for c in cands:                      # BRAM can not be met: the fastest within the DSPs
            d = _design(items, c)
            if d is not None and _totals(d)[0] <= dsp_budget:
                chosen = d
                reasons.append(f"the BRAM estimate ~{_totals(d)[1]:.1f} BRAM36 exceeds the budget "
                               f"of {bram_budget:.0f} even at the slowest design")
                break
    if chosen is None:
        chosen = _design(items, cands[-1])
        reasons.append(f"even the most folded design needs {_totals(chosen)[0]} DSPs, over the "
                       f"budget of {dsp_budget}")
    return {"design": chosen, "meets_target": meets, "reasons": reasons}
