"""Resource / throughput estimates and the automatic reuse-factor chooser.

Model (hls4ml io_stream, Resource strategy; an estimate, not a synthesis
report):

- conv3x3 with reuse factor RF: ``n_in = 9*cin`` inputs, ``n_out = cout``
  outputs per pixel, ``ceil(n_in*n_out/RF)`` parallel multipliers, counted as
  one DSP each (hls4ml's Resource strategy binds its multipliers to DSPs;
  for 8-bit operands HLS may use LUTs instead, so real DSP use is at most
  this), initiation interval RF clocks per pixel of the zero-padded map, so
  ``(h+2)*(w+2)*RF`` clocks per frame.
- valid reuse factors follow hls4ml's rule (`valid_reuse_factors`).
- add / relu / zero padding: one pixel per clock.
- pixel shuffle (`extension`): ``r*r/P`` output words per LR pixel (P HR
  pixels per word), so ``h*w*r*r/P`` clocks per frame.
- the pipeline is one dataflow region: frames/s = clock / max stage clocks.
- BRAM36: weights of a layer with RF > 32 are stored as RF words of
  ``n_in*n_out/RF*w_bits`` bits (smaller RF: registers/LUTRAM); a 3x3 line
  buffer holds 2 rows of the padded width x cin x bits; the pixel-shuffle
  ping-pong buffer 2 LR rows x n_chan x bits; memories shallower than 128
  words are counted as LUTRAM (0 BRAM).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .bundle_qonnx import producer_specs

__all__ = ["valid_reuse_factors", "Stage", "stages", "choose_reuse", "bram36", "evaluate"]

RF_BRAM_THRESHOLD = 32


def valid_reuse_factors(n_in: int, n_out: int) -> list[int]:
    """Reuse factors hls4ml accepts for an n_in x n_out multiplication (sorted)."""
    total = n_in * n_out
    out = []
    for rf in range(1, total + 1):
        if total % rf:
            continue  # QoR rule: RF divides the number of multiplications
        if rf < n_in:
            mult = total // rf
            if mult % n_out:
                continue  # each multiplier group must cover whole outputs
        elif rf % n_in:
            continue  # beyond n_in, RF must be a multiple of n_in
        out.append(rf)
    return out


def bram36(width_bits: int, depth: int) -> int:
    """BRAM36 blocks for a width x depth memory (0 when it fits LUTRAM)."""
    if depth <= 0 or width_bits <= 0 or depth < 128:
        return 0
    if depth <= 512:
        return math.ceil(width_bits / 72)
    if depth <= 1024:
        return math.ceil(width_bits / 36)
    return math.ceil(width_bits / 36) * math.ceil(depth / 1024)


@dataclass
class Stage:
    name: str
    op: str
    h: int
    w: int
    cin: int
    cout: int
    in_bits: int
    w_bits: int = 0
    n_in: int = 0
    n_out: int = 0
    factor: int = 1
    pixels_per_beat: int = 1
    rf: int = 1
    valid_rf: list = field(default_factory=list, repr=False)

    @property
    def macs_per_pixel(self) -> int:
        return self.n_in * self.n_out

    def frame_clocks(self, rf: int | None = None) -> int:
        rf = self.rf if rf is None else rf
        if self.op == "conv3x3":
            return (self.h + 2) * (self.w + 2) * rf
        if self.op in ("pixel_shuffle", "depth_to_space"):
            r = self.factor
            return self.h * self.w * r * r // self.pixels_per_beat
        return self.h * self.w

    def dsp(self, rf: int | None = None) -> int:
        rf = self.rf if rf is None else rf
        return math.ceil(self.n_in * self.n_out / rf) if self.op == "conv3x3" else 0

    def bram_weights(self, rf: int | None = None) -> int:
        rf = self.rf if rf is None else rf
        if self.op != "conv3x3" or rf <= RF_BRAM_THRESHOLD:
            return 0
        return bram36(self.n_in * self.n_out // rf * self.w_bits, rf)

    def bram_buffers(self) -> int:
        if self.op == "conv3x3":
            return 2 * bram36(self.cin * self.in_bits, self.w + 2)
        if self.op in ("pixel_shuffle", "depth_to_space"):
            return 2 * bram36(self.cin * self.in_bits, self.w)
        return 0


def stages(bundle, H: int, W: int, pixels_per_beat: int = 1, net: str = "srnet") -> list[Stage]:
    """One `Stage` per bundle layer of `net` for an H x W input."""
    specs = producer_specs(bundle, net)
    hw = {"input": (H, W)}
    out = []
    out_name = bundle.manifest[net]["output"]
    for L in bundle.layers(net):
        h, w = hw[L["inputs"][0]]
        src = specs[L["inputs"][0]]
        st = Stage(L["name"], L["op"], h, w, src["channels"], L["channels"], src["bits"])
        if L["op"] == "conv3x3":
            st.w_bits = int(L["w_bits"])
            st.n_in, st.n_out = 9 * int(L["cin"]), int(L["cout"])
            st.valid_rf = valid_reuse_factors(st.n_in, st.n_out)
        elif L["op"] in ("pixel_shuffle", "depth_to_space"):
            st.factor = int(L["factor"])
            if st.factor % pixels_per_beat:
                raise ValueError(f"pixels_per_beat {pixels_per_beat} must divide the shuffle factor {st.factor}")
            # only the shuffle that produces the net output packs P pixels per word; one inside
            # the network (the "cheap" tail) feeds a conv at HR, one pixel per word (P = 1)
            st.pixels_per_beat = pixels_per_beat if L["name"] == out_name else 1
            h, w = h * st.factor, w * st.factor
        hw[L["name"]] = (h, w)
        out.append(st)
    return out


def _assign(convs, bottleneck):
    """Largest valid RF per conv with frame clocks <= bottleneck (None if impossible)."""
    rfs = {}
    for st in convs:
        ok = [rf for rf in st.valid_rf if st.frame_clocks(rf) <= bottleneck]
        if not ok:
            return None
        rfs[st.name] = ok[-1]
    return rfs


def choose_reuse(sts: list[Stage], dsp_budget: int, clock_hz: float, target_fps: float) -> dict:
    """Pick reuse factors: meet `target_fps` with the fewest DSPs, else the fastest design in budget.

    Returns {"reuse": {conv: rf}, "target_met": bool, "why": str | None, ...} and sets `rf` on the stages.
    """
    convs = [s for s in sts if s.op == "conv3x3"]
    fixed = max((s.frame_clocks() for s in sts if s.op != "conv3x3"), default=0)
    target_clocks = int(clock_hz // target_fps) if target_fps > 0 else 10 ** 18
    why = []
    rfs = _assign(convs, target_clocks)
    dsp = sum(s.dsp(rfs[s.name]) for s in convs) if rfs else None
    met = rfs is not None and dsp <= dsp_budget and fixed <= target_clocks
    if not met:
        if rfs is None:
            worst = max(convs, key=lambda s: s.frame_clocks(1))
            why.append(f"{worst.name} needs {worst.frame_clocks(1)} clocks per frame even at reuse factor 1 "
                       f"(one padded pixel per clock), more than the {target_clocks} a frame may take at "
                       f"{target_fps:g} fps")
        elif dsp > dsp_budget:
            why.append(f"meeting {target_fps:g} fps needs {dsp} DSPs (one per parallel multiplier) but the "
                       f"budget is {dsp_budget}")
        if fixed > target_clocks:
            slow = max((s for s in sts if s.op != "conv3x3"), key=lambda s: s.frame_clocks())
            why.append(f"{slow.name} moves {slow.frame_clocks()} words per frame at one per clock "
                       f"(> {target_clocks}); raise pixels_per_beat or lower the frame size")
        # fastest design within budget: smallest feasible bottleneck
        cands = sorted({s.frame_clocks(rf) for s in convs for rf in s.valid_rf} | {fixed})
        best = None
        lo, hi = 0, len(cands) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            r = _assign(convs, max(cands[mid], fixed))
            if r is not None and sum(s.dsp(r[s.name]) for s in convs) <= dsp_budget:
                best, hi = r, mid - 1
            else:
                lo = mid + 1
        if best is None:
            best = {s.name: s.valid_rf[-1] for s in convs}
            why.append(f"even the largest reuse factors need {sum(s.dsp(best[s.name]) for s in convs)} DSPs, "
                       f"over the budget of {dsp_budget}")
        rfs = best
    for s in convs:
        s.rf = rfs[s.name]
    return {"reuse": rfs, "target_met": bool(met), "why": "; ".join(why) or None,
            "target_clocks_per_frame": target_clocks}


def evaluate(sts: list[Stage], clock_hz: float, lr_hw: tuple[int, int]) -> dict:
    """Per-stage and total estimates for the stages' current reuse factors."""
    H, W = lr_hw
    rows = []
    for s in sts:
        d = {k: v for k, v in asdict(s).items() if k not in ("valid_rf",)}
        d.update(macs_per_lr_pixel=round(s.macs_per_pixel * s.h * s.w / (H * W), 3),
                 dsp=s.dsp(), bram36_weights=s.bram_weights(), bram36_buffers=s.bram_buffers(),
                 ii_clocks_per_pixel=(s.rf if s.op == "conv3x3" else
                                      (s.factor * s.factor // s.pixels_per_beat if s.op in ("pixel_shuffle", "depth_to_space") else 1)),
                 frame_clocks=s.frame_clocks(),
                 fps_alone=round(clock_hz / s.frame_clocks(), 2))
        rows.append(d)
    bottleneck = max(sts, key=lambda s: s.frame_clocks())
    return {"layers": rows,
            "dsp": sum(r["dsp"] for r in rows),
            "bram36": sum(r["bram36_weights"] + r["bram36_buffers"] for r in rows),
            "macs_per_lr_pixel": round(sum(r["macs_per_lr_pixel"] for r in rows), 3),
            "bottleneck": bottleneck.name,
            "frame_clocks": bottleneck.frame_clocks(),
            "fps": round(clock_hz / bottleneck.frame_clocks(), 3)}
