"""Named architecture presets of EGVSR (float and quantized share them).

``paper`` is the published network (nf 64, nb 10, full-width FNet, "cheap"
PixelShuffle tail with an HR conv). The smaller presets trade quality for an
FPGA budget (see REFERENCE.md, MACs per LR pixel):

- ``tail``: ``cheap`` = PixelShuffle(4) on the nf trunk channels, ReLU, 3x3
  conv nf/16 -> 3 at HR (published); ``espcn`` = 3x3 conv nf -> 48 at LR, then
  PixelShuffle(4) straight to RGB (sub-pixel conv, no HR conv). Below nf = 64
  the cheap tail leaves nf/16 channels at HR (one for nf = 16), so the small
  presets use the ESPCN tail (measured: README, "Tail choice").
- ``fnet_div``: divides every FNet width (32, 64, 128, 256, 128, 64, 32).
- ``skip``: the LR skip around SRNet (EGVSR publishes none: the net predicts
  absolute intensity). ``anchor`` (ESPCN tail only) adds each LR pixel's RGB
  to its r*r sub-pixel channels before the pixel shuffle (nearest-neighbour
  anchor, as ABPN does for int8 SR): the net predicts a residual, the
  hardware needs 48 adders at LR rate and a 3-channel skip FIFO (op
  ``anchor_add``). ``bicubic`` adds the bicubic x4 upsampling of lr_curr
  after the tail (TecoGAN's form; float only, for the comparison).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

SKIPS = ("none", "anchor", "bicubic")
FNET_WIDTHS = (32, 64, 128, 256)  # encoder1..3 and decoder1 widths at div 1


@dataclass(frozen=True)
class Preset:
    name: str
    nf: int = 64
    nb: int = 10
    tail: str = "cheap"
    fnet_div: int = 1
    scale: int = 4
    degradation: str = "BD"
    leaky_slope: float = 0.2  # float model; the quantized twin uses 2**-2
    keep_conv_up: bool = False  # unused published ConvTranspose upsampler
    skip: str = "none"  # LR skip: none (published), anchor, bicubic

    def __post_init__(self):
        for f in ("nf", "nb", "fnet_div", "scale"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"preset {self.name!r}: {f} must be an integer, got {v!r}")
        if self.scale != 4:
            raise ValueError(f"preset {self.name!r}: scale {self.scale} is not 4 (EGVSR upscales 4x)")
        if not isinstance(self.leaky_slope, (int, float)) or not 0 <= self.leaky_slope < 1:
            raise ValueError(f"preset {self.name!r}: leaky_slope must be a number in [0, 1), "
                             f"got {self.leaky_slope!r}")
        if self.tail not in ("cheap", "espcn"):
            raise ValueError(f"preset {self.name!r}: tail must be 'cheap' or 'espcn', got {self.tail!r}")
        if self.tail == "cheap" and self.nf % (self.scale * self.scale):
            raise ValueError(f"preset {self.name!r}: the cheap tail needs nf divisible by {self.scale ** 2}")
        if self.nf < 1 or self.nb < 0 or self.fnet_div not in (1, 2, 4, 8):
            raise ValueError(f"preset {self.name!r}: bad nf/nb/fnet_div")
        if self.skip not in SKIPS:
            raise ValueError(f"preset {self.name!r}: skip must be one of {', '.join(SKIPS)}, got {self.skip!r}")
        if self.skip == "anchor" and self.tail != "espcn":
            raise ValueError(f"preset {self.name!r}: the anchor skip needs the espcn tail (it adds the LR pixel "
                             "to the sub-pixel channels before the shuffle); use skip='bicubic' with tail 'cheap'")
        if self.degradation not in ("BD", "BI"):
            raise ValueError(f"preset {self.name!r}: degradation must be BD or BI")

    def fnet_widths(self):
        return tuple(max(1, w // self.fnet_div) for w in FNET_WIDTHS)

    def to_dict(self):
        return asdict(self)


PRESETS = {
    "paper": Preset("paper", nf=64, nb=10, tail="cheap", fnet_div=1, keep_conv_up=True),
    "small": Preset("small", nf=32, nb=4, tail="espcn", fnet_div=2),
    "tiny": Preset("tiny", nf=16, nb=2, tail="espcn", fnet_div=4),
    # Variants for the tail comparison on the small presets.
    "small-cheap": Preset("small-cheap", nf=32, nb=4, tail="cheap", fnet_div=2),
    "tiny-cheap": Preset("tiny-cheap", nf=16, nb=2, tail="cheap", fnet_div=4),
    # LR skip variants (issue 10): anchor runs at every level, bicubic is float only.
    "tiny-anchor": Preset("tiny-anchor", nf=16, nb=2, tail="espcn", fnet_div=4, skip="anchor"),
    "small-anchor": Preset("small-anchor", nf=32, nb=4, tail="espcn", fnet_div=2, skip="anchor"),
    "tiny-bicubic": Preset("tiny-bicubic", nf=16, nb=2, tail="espcn", fnet_div=4, skip="bicubic"),
}


def get_preset(name_or_dict) -> Preset:
    """A preset by name, or rebuilt from the dict a checkpoint records."""
    if isinstance(name_or_dict, Preset):
        return name_or_dict
    if isinstance(name_or_dict, dict):
        base = PRESETS.get(name_or_dict.get("name"))
        fields = {k: v for k, v in name_or_dict.items() if k in Preset.__dataclass_fields__}
        fields.setdefault("skip", "none")  # recorded before the skip existed: the published form
        return replace(base, **fields) if base else Preset(**fields)
    try:
        return PRESETS[name_or_dict]
    except KeyError:
        raise ValueError(f"unknown preset {name_or_dict!r}; choose one of {', '.join(PRESETS)}") from None
