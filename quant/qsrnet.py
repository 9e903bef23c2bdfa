"""QuantSRNet: Brevitas twin of SRNet; module names are the bundle's layer names."""
from __future__ import annotations

import brevitas.nn as qnn
import torch
import torch.nn as nn
import torch.nn.functional as F

from egvsr.model.presets import Preset

from .quantizers import (ActQuant, ImageQuant, QuantizerError, QuantSpec, UActQuant, WeightQuant,
                         WeightQuantPerChannel, bias_quant, check_quantizer)


def qconv(cin, cout, spec: QuantSpec, weight_quant=None, bias_q=None):
    wq = (WeightQuantPerChannel if spec.per_channel_weights else WeightQuant) if weight_quant is None else weight_quant
    bq = bias_quant(spec.b_bits) if bias_q is None else bias_q
    check_quantizer(wq, "weight", per_channel=spec.per_channel_weights)
    check_quantizer(bq, "bias")
    return qnn.QuantConv2d(cin, cout, 3, stride=1, padding=1, bias=True, weight_quant=wq,
                           weight_bit_width=spec.w_bits, bias_quant=bq, return_quant_tensor=False)


def qact(spec: QuantSpec, signed: bool, act_quant=None, relu: bool = False, bits: int | None = None):
    aq = (ActQuant if signed else UActQuant) if act_quant is None else act_quant
    check_quantizer(aq, "act")
    cls = qnn.QuantReLU if relu else qnn.QuantIdentity
    return cls(act_quant=aq, bit_width=spec.a_bits if bits is None else bits, return_quant_tensor=True)


class QuantSRNet(nn.Module):
    """Input: the 51-channel SRNet input (values code/256); output: uint8 codes / 256.

    Layers (docs/numerics.md): ``conv_in``, ``rb{k}_conv1``, ``rb{k}_conv2``,
    ``rb{k}_add`` (quantizer ``q_trunk{k+1}``; its residual input is quantized by
    ``q_trunk{k}`` as the skip is, or with ``spec.independent_add_exps`` by its own
    ``rb{k}_res``), tail ``conv_sub`` +
    ``pixel_shuffle`` (espcn) or ``pixel_shuffle`` + ``hr_relu`` + ``conv_out``.
    With the anchor skip (``preset.skip == 'anchor'``) ``conv_sub`` predicts a
    signed residual (quantizer ``q_res``) and ``anchor`` adds lr_curr's codes,
    each repeated r*r times (an ONNX Gather of the input), before the output
    quantizer: the bundle op ``anchor_add``.
    """

    def __init__(self, preset: Preset, spec: QuantSpec, weight_quant=None, act_quant=None, bias_q=None):
        super().__init__()
        nf, s, nb = preset.nf, preset.scale, preset.nb
        self.preset, self.spec, self.nb, self.tail, self.scale = preset, spec, nb, preset.tail, s
        kw = dict(weight_quant=weight_quant, bias_q=bias_q)
        self.input_quant = qnn.QuantIdentity(act_quant=ImageQuant, return_quant_tensor=True)
        self.conv_in = qconv(3 * (s * s + 1), nf, spec, **kw)
        tb, own = spec.trunk, spec.independent_add_exps
        for k in range(nb + 1):
            setattr(self, f"q_trunk{k}", qact(spec, not (k == 0 and spec.unsigned_after_relu), act_quant, bits=tb))
        for k in range(nb):
            setattr(self, f"rb{k}_conv1", qconv(nf, nf, spec, **kw))
            setattr(self, f"rb{k}_conv1_act", qact(spec, False, act_quant, relu=True))
            setattr(self, f"rb{k}_conv2", qconv(nf, nf, spec, **kw))
            if own:  # the residual at its own exponent (else it shares q_trunk{k} with the skip)
                setattr(self, f"rb{k}_res", qact(spec, True, act_quant, bits=tb))
        self.pixel_shuffle = nn.PixelShuffle(s)
        if preset.skip not in ("none", "anchor"):
            raise QuantizerError(f"preset {preset.name!r}: the {preset.skip!r} skip is float-only; the hardware "
                                 "flow implements skip='anchor' (or none)")
        self.anchor = preset.skip == "anchor"
        if self.anchor:
            self.q_res = qact(spec, True, act_quant)
            # output channel k takes lr_curr channel k // (s*s) (CRD order of the shuffle)
            self.register_buffer("anchor_index", torch.arange(3 * s * s) // (s * s), persistent=False)
        if self.tail == "espcn":
            self.conv_sub = qconv(nf, 3 * s * s, spec, **kw)
        else:
            self.hr_relu = qact(spec, False, act_quant, relu=True)
            self.conv_out = qconv(nf // (s * s), 3, spec, **kw)
        self.output_quant = qnn.QuantIdentity(act_quant=ImageQuant, return_quant_tensor=True)

    def forward(self, x):
        x = x_in = self.input_quant(x)
        x = self.q_trunk0(F.relu(self.conv_in(x)))
        for k in range(self.nb):
            h = getattr(self, f"rb{k}_conv1_act")(getattr(self, f"rb{k}_conv1")(x))
            rq = getattr(self, f"rb{k}_res" if self.spec.independent_add_exps else f"q_trunk{k}")
            r = rq(getattr(self, f"rb{k}_conv2")(h))
            if self.spec.independent_add_exps:  # exact float sum of two power-of-two grids
                x = getattr(self, f"q_trunk{k + 1}")(x.value + r.value)
            else:
                x = getattr(self, f"q_trunk{k + 1}")(x + r)
        if self.tail == "espcn" and self.anchor:
            res = self.q_res(self.conv_sub(x))
            y = self.output_quant(res.value + torch.index_select(x_in.value, 1, self.anchor_index))
            return self.pixel_shuffle(y.value)
        if self.tail == "espcn":
            y = self.output_quant(self.conv_sub(x))
            return self.pixel_shuffle(y.value)
        y = self.hr_relu(self.pixel_shuffle(x.value))
        return self.output_quant(self.conv_out(y)).value

    def load_float(self, srnet) -> None:
        """Copy weights from a float ``egvsr.model.srnet.SRNet`` (same preset)."""
        pairs = [("conv_in", srnet.conv_in[0])]
        for k in range(self.nb):
            pairs += [(f"rb{k}_conv1", srnet.resblocks[k].conv[0]), (f"rb{k}_conv2", srnet.resblocks[k].conv[2])]
        pairs += [("conv_sub", srnet.conv_sub)] if self.tail == "espcn" else [("conv_out", srnet.conv_out)]
        with torch.no_grad():
            for name, src in pairs:
                dst = getattr(self, name)
                dst.weight.copy_(src.weight)
                dst.bias.copy_(src.bias)
