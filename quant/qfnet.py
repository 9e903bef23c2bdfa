"""QuantFNet: Brevitas twin of FNet up to the flow head's int8 output.

``tanh(x) * 24`` follows as a table (``intops.tanh_flow``), outside the
exported graph. LeakyReLU slope is ``2**-spec.leaky_shift``; the bilinear x2
upsampling is re-quantized by the quantizer of its input (same exponent).
"""
from __future__ import annotations

import brevitas.nn as qnn
import torch
import torch.nn as nn
import torch.nn.functional as F

from egvsr.model.presets import Preset

from .qsrnet import qact, qconv
from .quantizers import ImageQuant, QuantSpec

STAGES = ("enc1", "enc2", "enc3", "dec1", "dec2", "dec3")


class QuantFNet(nn.Module):
    def __init__(self, preset: Preset, spec: QuantSpec, weight_quant=None, act_quant=None, bias_q=None):
        super().__init__()
        w1, w2, w3, w4 = preset.fnet_widths()
        self.spec = spec
        self.slope = 2.0 ** -spec.leaky_shift
        kw = dict(weight_quant=weight_quant, bias_q=bias_q)
        chans = {"enc1": (6, w1), "enc2": (w1, w2), "enc3": (w2, w3), "dec1": (w3, w4), "dec2": (w4, w3), "dec3": (w3, w2)}
        self.input_quant = qnn.QuantIdentity(act_quant=ImageQuant, return_quant_tensor=True)
        for st, (cin, cout) in chans.items():
            setattr(self, f"{st}_conv1", qconv(cin, cout, spec, **kw))
            setattr(self, f"{st}_conv1_act", qact(spec, True, act_quant))
            setattr(self, f"{st}_conv2", qconv(cout, cout, spec, **kw))
            setattr(self, f"{st}_conv2_act", qact(spec, True, act_quant))
        self.flow_conv1 = qconv(w2, w1, spec, **kw)
        self.flow_conv1_act = qact(spec, True, act_quant)
        self.flow_conv2 = qconv(w1, 2, spec, **kw)
        self.flow_conv2_act = qact(spec, True, act_quant, bits=spec.flow_bits)  # the tanh table's index

    def _conv(self, name, x, leaky=True):
        y = getattr(self, name)(x)
        if leaky:
            y = F.leaky_relu(y, self.slope)
        return getattr(self, f"{name}_act")(y)

    def forward(self, x):
        """x: concat(lr_curr, lr_prev) (values code/256, H, W >= 8) -> int8 flow-head QuantTensor (H//8*8, W//8*8)."""
        x = self.input_quant(x)
        for st in STAGES:
            x = self._conv(f"{st}_conv1", x)
            x = self._conv(f"{st}_conv2", x)
            if st.startswith("enc"):
                x = F.max_pool2d(x, 2, 2)
            else:  # bilinear x2, back on the same quantizer (exponent unchanged)
                x = getattr(self, f"{st}_conv2_act")(F.interpolate(x.value, scale_factor=2, mode="bilinear",
                                                                   align_corners=False))
        x = self._conv("flow_conv1", x)
        return self._conv("flow_conv2", x, leaky=False)

    def load_float(self, fnet) -> None:
        with torch.no_grad():
            for st, mod in zip(STAGES, (fnet.encoder1, fnet.encoder2, fnet.encoder3, fnet.decoder1, fnet.decoder2, fnet.decoder3)):
                for j, idx in ((1, 0), (2, 2)):
                    getattr(self, f"{st}_conv{j}").weight.copy_(mod[idx].weight)
                    getattr(self, f"{st}_conv{j}").bias.copy_(mod[idx].bias)
            for j, idx in ((1, 0), (2, 2)):
                getattr(self, f"flow_conv{j}").weight.copy_(fnet.flow[idx].weight)
                getattr(self, f"flow_conv{j}").bias.copy_(fnet.flow[idx].bias)
