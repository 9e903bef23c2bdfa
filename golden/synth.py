"""Random but *valid and plausible* bundles, so every stage can be tested
before trained bundles exist.

Weights are int8 codes (~N(0, 40), narrow range) with He-like exponents
``w_exp = round(log2(sqrt(2 / (9 cin)) / 40))`` (about -7..-10); biases are
small. Activation exponents are calibrated layer by layer on a fixed
synthetic image (smooth pattern + texture) so that the 99.9th percentile
of each activation fills its int8 range: activations neither all saturate
nor vanish on real images. The last SRNet conv is scaled so the output is
mid-grey with a moderate spread, and `flow_conv2` so that flows stay a few
LR pixels; residual branches (`rb*_conv2`, whose exponent is tied to the
trunk) get a smaller w_exp when needed so they do not saturate. Layer names follow docs/numerics.md (resblocks are ``rb0..``).
"""
from __future__ import annotations

import math

import numpy as np

from . import ops
from .bundle import SCHEMA, SCHEMA_VERSION, write_bundle
from .oplib.conv3x3 import shift_into_weights
from .validate import SRNET_IN_CHANNELS

__all__ = ["random_bundle", "write_random_bundle", "synthetic_frames", "FNET_WIDTHS"]

#: published FNet widths: enc1..3, dec1..3, flow head
FNET_WIDTHS = (32, 64, 128, 256, 128, 64, 32)
IMAGE_EXP = -8


def synthetic_frames(n: int = 2, H: int = 32, W: int = 48, seed: int = 0) -> np.ndarray:
    """uint8 (n, H, W, 3) smooth-pattern + texture frames drifting 1 px per frame."""
    rng = np.random.default_rng(seed)
    pad = n + 2
    yy, xx = np.mgrid[0:H + pad, 0:W + pad].astype(np.float64)
    base = np.stack([0.5 + 0.35 * np.sin(xx / (5 + 3 * c) + yy / (7 + 2 * c) + c) for c in range(3)], -1)
    base += 0.08 * rng.standard_normal(base.shape)
    frames = [base[i:i + H, i:i + W] for i in range(n)]
    return np.clip(np.rint(np.stack(frames) * 255), 0, 255).astype(np.uint8)


class _Builder:
    """Appends layers to one net while running them on calibration data."""

    def __init__(self, net, rng, arrays, x, in_spec, per_channel=False):
        self.net, self.rng, self.arrays, self.layers = net, rng, arrays, []
        self.per_channel = per_channel
        self.t = {"input": x}
        self.spec = {"input": in_spec}

    def _base(self, name, op, inputs, out_exp, bits, signed, channels, **extra):
        L = {"name": name, "op": op, "inputs": list(inputs),
             "in_exp": self.spec[inputs[0]]["out_exp"], "out_exp": int(out_exp),
             "out_bits": bits, "out_signed": signed, "channels": channels, **extra}
        self.layers.append(L)
        self.spec[name] = L
        return L

    def conv(self, name, src, cout, act, signed=True, bits=8, out_exp=None, leaky_shift=2,
             target=None, fit=False):
        """Add a conv3x3. `target` = (mean, std) of the real output (sets w_exp and bias);
        `fit`: lower w_exp until the output fits the forced `out_exp` (residual branches)."""
        x, in_exp = self.t[src], self.spec[src]["out_exp"]
        cin = x.shape[-1]
        w = np.clip(np.rint(self.rng.normal(0, 40, (cout, cin, 3, 3))), -127, 127).astype(np.int8)
        if target is None:
            w_exp = round(math.log2(math.sqrt(2 / (9 * cin)) / 40))
            b_real = self.rng.uniform(-0.05, 0.05, cout)
        else:
            sd = float(np.std(ops.conv3x3_acc(x, w))) * 2.0 ** in_exp
            w_exp = round(math.log2(target[1] / sd)) if sd > 0 else -8
            b_real = np.full(cout, float(target[0]))
        if fit:
            acc = ops.conv3x3_acc(x, w).astype(np.float64) * 2.0 ** (in_exp + w_exp)
            w_exp -= max(0, self._calib(acc, bits, signed, out_exp) - out_exp)
        extra = {"leaky_shift": leaky_shift} if act == "leaky" else {}
        d = np.zeros(cout, np.int64)
        if self.per_channel:
            # per-channel exponents (schema 3): channel o's weights d[o] octaves coarser, same real values
            d = self.rng.integers(0, 3, cout)
            d[0] = 0
            w = np.rint(w / 2.0 ** d[:, None, None, None]).astype(np.int8)
            extra["w_exps"] = [int(w_exp + v) for v in d]
        acc_exp = in_exp + w_exp
        b = np.clip(np.rint(b_real * 2.0 ** -(acc_exp + d)), -(2**31 - 1), 2**31 - 1).astype(np.int32)
        w_eff, b_eff = shift_into_weights(w, b, d)
        if out_exp is None:
            acc = ops.conv3x3_acc(x, w_eff, b_eff).astype(np.float64)
            if act == "relu":
                acc = np.maximum(acc, 0)
            elif act == "leaky":
                acc = np.where(acc < 0, acc * 2.0 ** -leaky_shift, acc)
            out_exp = self._calib(acc * 2.0 ** acc_exp, bits, signed, in_exp)
        L = self._base(name, "conv3x3", [src], out_exp, bits, signed, cout, cin=cin, cout=cout,
                       weight=f"{name}.weight", bias=f"{name}.bias", w_bits=8, w_exp=int(w_exp),
                       b_bits=32, act=act, **extra)
        self.arrays[L["weight"]], self.arrays[L["bias"]] = w, b
        self.t[name] = ops.conv3x3(x, w_eff, b_eff, in_exp, w_exp, out_exp, bits, signed, act, leaky_shift)
        return name

    @staticmethod
    def _calib(real, bits, signed, fallback):
        p = float(np.percentile(np.abs(real), 99.9)) if real.size else 0.0
        if p <= 0:
            return fallback
        qmax = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
        return int(math.ceil(math.log2(p / qmax)))

    def add(self, name, a, b, bits=8, signed=True):
        ea, eb = self.spec[a]["out_exp"], self.spec[b]["out_exp"]
        s, e = ops.aligned_sum(self.t[a], ea, self.t[b], eb)  # at their own exponents: aligned to the finer
        out_exp = self._calib(s * 2.0 ** e, bits, signed, e)
        self._base(name, "add", [a, b], out_exp, bits, signed, s.shape[-1])
        self.t[name] = ops.add(self.t[a], self.t[b], ea, out_exp, bits, signed, b_exp=eb)
        return name

    def relu(self, name, src, bits=8, signed=False):
        e = self.spec[src]["out_exp"]
        out_exp = self._calib(np.maximum(self.t[src], 0) * 2.0 ** e, bits, signed, e)
        self._base(name, "relu", [src], out_exp, bits, signed, self.t[src].shape[-1])
        self.t[name] = ops.relu(self.t[src], e, out_exp, bits, signed)
        return name

    def same(self, name, op, src, fn, **extra):
        """A passthrough op (keeps exponent and code type)."""
        p = self.spec[src]
        y = fn(self.t[src])
        self._base(name, op, [src], p["out_exp"], p["out_bits"], p["out_signed"], y.shape[-1], **extra)
        self.t[name] = y
        return name


def _srnet(rng, arrays, x, nf, nb, tail, skip="none", own_exps=False, per_channel=False):
    spec = {"channels": SRNET_IN_CHANNELS, "out_bits": 8, "out_signed": False, "out_exp": IMAGE_EXP}
    B = _Builder("srnet", rng, arrays, x, spec, per_channel)
    trunk = B.conv("conv_in", "input", nf, "relu", signed=not own_exps)
    for k in range(nb):
        h = B.conv(f"rb{k}_conv1", trunk, nf, "relu", signed=False)
        # own_exps: the residual 2 exponents finer than the skip (even blocks) or 1 coarser (odd)
        e = B.spec[trunk]["out_exp"] + ((-2 if k % 2 == 0 else 1) if own_exps else 0)
        h = B.conv(f"rb{k}_conv2", h, nf, "none", out_exp=e, fit=True)
        trunk = B.add(f"rb{k}_add", trunk, h)
    if tail == "espcn" and skip == "anchor":
        h = B.conv("conv_sub", trunk, 48, "none", target=(0.0, 0.05))
        p = B.spec[h]
        B._base("anchor", "anchor_add", [h, "input"], IMAGE_EXP, 8, False, 48, factor=4)
        B.t["anchor"] = ops.anchor_add(B.t[h], x, p["out_exp"], IMAGE_EXP, 16, IMAGE_EXP, 8, False)
        out = B.same("pixel_shuffle", "pixel_shuffle", "anchor", lambda t: ops.pixel_shuffle(t, 4), factor=4)
    elif tail == "espcn":
        h = B.conv("conv_sub", trunk, 48, "none", signed=False, out_exp=IMAGE_EXP,
                   target=(0.45, 0.2))
        out = B.same("pixel_shuffle", "pixel_shuffle", h, lambda t: ops.pixel_shuffle(t, 4), factor=4)
    else:
        h = B.same("pixel_shuffle", "pixel_shuffle", trunk, lambda t: ops.pixel_shuffle(t, 4), factor=4)
        h = B.relu("hr_relu", h)
        out = B.conv("conv_out", h, 3, "none", signed=False, out_exp=IMAGE_EXP, target=(0.45, 0.2))
    return B.layers, out


def _fnet(rng, arrays, x, div, lr_frac_bits):
    spec = {"channels": 6, "out_bits": 8, "out_signed": False, "out_exp": IMAGE_EXP}
    B = _Builder("fnet", rng, arrays, x, spec)
    c = [max(1, w // div) for w in FNET_WIDTHS]
    h = "input"
    for i in range(3):
        h = B.conv(f"enc{i + 1}_conv1", h, c[i], "leaky")
        h = B.conv(f"enc{i + 1}_conv2", h, c[i], "leaky")
        h = B.same(f"enc{i + 1}_pool", "maxpool2", h, ops.maxpool2)
    for i in range(3):
        h = B.conv(f"dec{i + 1}_conv1", h, c[3 + i], "leaky")
        h = B.conv(f"dec{i + 1}_conv2", h, c[3 + i], "leaky")
        h = B.same(f"dec{i + 1}_up", "upsample2x", h, ops.upsample2x)
    h = B.conv("flow_conv1", h, c[6], "leaky")
    h = B.conv("flow_conv2", h, 2, "none", out_exp=-7, target=(0.0, 0.1))
    B._base("flow_tanh", "tanh_flow", [h], -lr_frac_bits, 16, True, 2)
    return B.layers, "flow_tanh"


def random_bundle(nf: int = 16, nb: int = 2, tail: str = "espcn", fnet_div: int = 4,
                  seed: int = 0, upsampler: str = "bicubic", max_velocity: int = 24,
                  lr_frac_bits: int = 8, hr_frac_bits: int = 4, skip: str = "none",
                  own_add_exps: bool = False, per_channel: bool = False) -> tuple[dict, dict]:
    """A valid random bundle as (manifest, arrays); wrap with `Bundle(*random_bundle())`.

    `tail`: ``'espcn'`` (conv_sub nf->48 at LR + pixel_shuffle) or
    ``'cheap'`` (published: pixel_shuffle + hr_relu + conv_out at HR; needs
    nf % 16 == 0). FNet widths are the published ones divided by `fnet_div`.
    `skip`: ``'none'`` or ``'anchor'`` (espcn only: ``conv_sub`` predicts a
    signed residual and ``anchor`` adds lr_curr before the shuffle).
    `own_add_exps`: the residual adds' inputs at their own exponents and the first
    trunk tensor unsigned (quantizer options ``independent_add_exps`` and
    ``unsigned_after_relu``; schema 3). `per_channel`: SRNet's convs with
    per-output-channel weight exponents (``w_exps``, option ``per_channel_weights``).
    """
    if skip not in ("none", "anchor") or (skip == "anchor" and tail != "espcn"):
        raise ValueError(f"skip must be 'none' or 'anchor' (anchor with the espcn tail), got {skip!r}")
    if tail not in ("espcn", "cheap"):
        raise ValueError(f"tail must be 'espcn' or 'cheap', got {tail!r}")
    if nf < 1 or nb < 0 or fnet_div < 1:
        raise ValueError(f"need nf >= 1, nb >= 0, fnet_div >= 1 (got {nf}, {nb}, {fnet_div})")
    if tail == "cheap" and nf % 16:
        raise ValueError(f"the 'cheap' tail pixel-shuffles nf by 4x4: nf={nf} is not a multiple of 16")
    if upsampler not in ops.FLOW_TAPS:
        raise ValueError(f"upsampler must be one of {sorted(ops.FLOW_TAPS)}, got {upsampler!r}")
    rng = np.random.default_rng(seed)
    lr = synthetic_frames(2, 32, 48, seed)
    hr = np.repeat(np.repeat(lr[0], 4, 0), 4, 1)
    arrays: dict = {}
    sx = np.concatenate([lr[0], ops.space_to_depth(hr, 4)], -1)
    s_layers, s_out = _srnet(rng, arrays, sx, nf, nb, tail, skip, own_add_exps, per_channel)
    f_layers, f_out = _fnet(rng, arrays, np.concatenate([lr[1], lr[0]], -1), fnet_div, lr_frac_bits)
    manifest = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "preset": f"synth-nf{nf}-nb{nb}-{tail}" + ("-anchor" if skip == "anchor" else "") +
                  ("-ia" if own_add_exps else "") + ("-pc" if per_channel else ""), "degradation": "BD" if upsampler == "bicubic" else "BI",
        "scale": 4, "source_checkpoint_sha256": None,
        "synth": {"seed": seed, "nf": nf, "nb": nb, "tail": tail, "fnet_div": fnet_div, "skip": skip,
                  "own_add_exps": own_add_exps, "per_channel": per_channel},
        "image": {"bits": 8, "exp": IMAGE_EXP},
        "flow": {"max_velocity": max_velocity, "lr_frac_bits": lr_frac_bits,
                 "hr_frac_bits": hr_frac_bits, "upsampler": upsampler},
        "srnet": {"input": {"channels": SRNET_IN_CHANNELS, "bits": 8, "signed": False, "exp": IMAGE_EXP},
                  "output": s_out, "layers": s_layers},
        "fnet": {"input": {"channels": 6, "bits": 8, "signed": False, "exp": IMAGE_EXP},
                 "output": f_out, "layers": f_layers},
    }
    return manifest, arrays


def write_random_bundle(path_stem, **kwargs):
    """`random_bundle(**kwargs)` written with `write_bundle`; returns the JSON path."""
    return write_bundle(path_stem, *random_bundle(**kwargs))
