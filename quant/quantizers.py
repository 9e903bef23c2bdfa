"""Power-of-two fixed-point quantizers: the only kind the hardware flow takes.

Every scale is ``2**e`` (no float scales), per tensor (weights optionally
per output channel, spec option ``per_channel_weights``), with no zero point,
so an integer bundle, hls4ml's ap_fixed types and the Verilog shifts all
represent it exactly (docs/numerics.md).

Hardware-friendly choices where the float network has none, per preset:
- FNet's LeakyReLU(0.2) becomes a slope of ``2**-leaky_shift`` (0.25 by
  default): the negative branch is one more bit of right shift.
- Images are uint8 codes at a fixed exponent of -8 (the net sees p/256, the
  float net p/255); SRNet's output quantizer is fixed to the same uint8 scale,
  so the output code is the output pixel.
- The residual trunk of SRNet uses one shared quantizer on both inputs of
  each add (``q_trunk{k}``); the add is then an integer add + shift. Option
  ``independent_add_exps``: each input its own quantizer, aligned by a free
  shift (``unsigned_after_relu`` then makes conv_in's output unsigned);
  ``trunk_bits``: the trunk tensors wider than ``a_bits``.
- ``tanh(x) * 24`` is a table over the codes of the flow head
  (golden.ops.tanh_flow_lut), int8 by default, ``flow_bits`` up to 16
  (spec ``w8a8-f16``: finer flow steps, a 64 Ki-entry host table); the LR flow has ``lr_frac_bits`` fraction bits
  and the HR flow ``hr_frac_bits``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from brevitas.core.scaling import ConstScaling, ScalingPerOutputType
from brevitas.quant import Int16Bias, Int32Bias
from brevitas.quant.fixed_point import (Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint,
                                        Uint8ActPerTensorFixedPoint, Uint8ActPerTensorFixedPointMaxInit)


class QuantizerError(ValueError):
    """A quantizer the hardware flow cannot implement."""


@dataclass(frozen=True)
class QuantSpec:
    name: str = "w8a8"
    w_bits: int = 8
    a_bits: int = 8
    b_bits: int = 32
    leaky_shift: int = 2
    lr_frac_bits: int = 8
    hr_frac_bits: int = 4
    flow_bits: int = 8  # FNet's flow head (flow_conv2), the index of the tanh table (host)
    # SRNet residual adds: each input at its own exponent (the residual conv gets its own
    # quantizer ``rb{k}_res``; the add aligns them by a free shift, bundle schema 3)
    independent_add_exps: bool = False
    # the first trunk tensor (conv_in's ReLU output) unsigned: one more magnitude bit;
    # needs independent_add_exps (else it shares rb0's signed residual quantizer)
    unsigned_after_relu: bool = False
    trunk_bits: int = 0  # bits of SRNet's trunk tensors (adds and their residuals); 0: a_bits
    # one power-of-two weight scale per output channel (every conv): a per-channel shift,
    # which the hardware takes into the weights (bundle field w_exps, schema 3)
    per_channel_weights: bool = False

    def __post_init__(self):
        if not 2 <= self.w_bits <= 8:
            raise QuantizerError(f"weight bit width {self.w_bits} is not supported: use 2..8 "
                                 "(the DSP-packed MAC and the bundle's int8 storage)")
        if not 2 <= self.a_bits <= 16:
            raise QuantizerError(f"activation bit width {self.a_bits} is not supported: use 2..16")
        if self.b_bits not in (16, 32):
            raise QuantizerError(f"bias bit width {self.b_bits} is not supported: use 16 or 32")
        if not 8 <= self.flow_bits <= 16:
            raise QuantizerError(f"flow head bit width {self.flow_bits} is not supported: use 8..16 "
                                 "(the tanh_flow table has 2**flow_bits int16 entries)")
        if self.trunk_bits and not 2 <= self.trunk_bits <= 16:
            raise QuantizerError(f"trunk bit width {self.trunk_bits} is not supported: use 2..16 (0: a_bits)")
        if self.unsigned_after_relu and not self.independent_add_exps:
            raise QuantizerError("unsigned_after_relu needs independent_add_exps: with shared exponents the "
                                 "first trunk quantizer also quantizes rb0's signed residual")
        if not 0 <= self.leaky_shift <= 8:
            raise QuantizerError("leaky_shift must be 0..8 (slope 2**-leaky_shift)")

    @property
    def trunk(self) -> int:
        """Bits of the trunk tensors."""
        return self.trunk_bits or self.a_bits

    def to_dict(self):
        return asdict(self)


QUANT_SPECS = {"w8a8": QuantSpec(), "w8a8-b16": QuantSpec("w8a8-b16", b_bits=16), "w4a8": QuantSpec("w4a8", w_bits=4),
               # the flow head at 16 bits: FNet runs on the host (golden), so no fabric cost
               "w8a8-f16": QuantSpec("w8a8-f16", flow_bits=16),
               # issue 10's quantizer options on top of the 16-bit flow head (README "Quantizer options")
               "w8a8-f16-ia": QuantSpec("w8a8-f16-ia", flow_bits=16, independent_add_exps=True,
                                        unsigned_after_relu=True),
               "w8a8-f16-t16": QuantSpec("w8a8-f16-t16", flow_bits=16, trunk_bits=16),
               "w8a8-f16-pc": QuantSpec("w8a8-f16-pc", flow_bits=16, per_channel_weights=True),
               # ia and pc together (pc widens the weights: see README "Quantizer options")
               "w8a8-f16-ia-pc": QuantSpec("w8a8-f16-ia-pc", flow_bits=16, independent_add_exps=True,
                                           unsigned_after_relu=True, per_channel_weights=True)}

IMAGE_EXP = -8


class WeightQuant(Int8WeightPerTensorFixedPoint):
    """Per-tensor power-of-two weights, narrow range (Brevitas fixed point)."""


class WeightQuantPerChannel(WeightQuant):
    """Per-output-channel power-of-two weights (spec ``per_channel_weights``)."""
    scaling_per_output_type = ScalingPerOutputType.CHANNEL
    scaling_per_output_channel = True


class ActQuant(Int8ActPerTensorFixedPoint):
    """Signed per-tensor power-of-two activations, scale learned after stats."""


class UActQuant(Uint8ActPerTensorFixedPoint):
    """Unsigned per-tensor power-of-two activations (after ReLU)."""


class ImageQuant(Uint8ActPerTensorFixedPointMaxInit):
    """uint8 image codes: fixed scale 2**-8 (value = code / 256)."""
    scaling_impl = ConstScaling
    scaling_init = 1.0
    max_val = 1.0


def bias_quant(bits: int):
    return {16: Int16Bias, 32: Int32Bias}[bits]


def check_quantizer(q, role: str, per_channel: bool = False) -> None:
    """Refuse quantizers that are not per-tensor power-of-two fixed point.

    ``role`` is 'weight', 'act' or 'bias'; ``per_channel``: a weight quantizer may
    have one scale per output channel (spec option ``per_channel_weights``).
    Called when a model is built; the bundle writer checks the actual scales again.
    """
    name = getattr(q, "__name__", repr(q))
    if role == "bias":
        if not _attr(q, "requires_input_scale", False):
            raise QuantizerError(f"bias quantizer {name}: must take its scale from input * weight "
                                 "(Int32Bias / Int16Bias), so the bias adds straight into the accumulator")
        if _attr(q, "bit_width", None) not in (16, 32):
            raise QuantizerError(f"bias quantizer {name}: {_attr(q, 'bit_width', '?')}-bit biases are not supported; "
                                 "use Int16Bias or Int32Bias")
        return
    restrict = _attr(q, "restrict_scaling_type", None)
    if getattr(restrict, "name", str(restrict)) != "POWER_OF_TWO" and _attr(q, "scaling_impl", None) is not ConstScaling:
        raise QuantizerError(f"{role} quantizer {name}: scale restriction is {getattr(restrict, 'name', restrict)}, "
                             "the hardware needs POWER_OF_TWO (use a *FixedPoint quantizer, e.g. "
                             "Int8WeightPerTensorFixedPoint / Int8ActPerTensorFixedPoint)")
    per = _attr(q, "scaling_per_output_type", None)
    allowed = ("TENSOR", "CHANNEL") if per_channel and role == "weight" else ("TENSOR",)
    if per is not None and getattr(per, "name", str(per)) not in allowed:
        raise QuantizerError(f"{role} quantizer {name}: per-{getattr(per, 'name', per).lower()} scales are not "
                             "supported; the streaming cores expect one scale per tensor (use a PerTensor "
                             "quantizer" + (", or the spec option per_channel_weights for weights)" if role == "weight"
                                            else ")"))
    if _attr(q, "zero_point_impl", None) is not None and "Zero" not in getattr(_attr(q, "zero_point_impl", None), "__name__", "Zero"):
        raise QuantizerError(f"{role} quantizer {name}: asymmetric (zero-point) quantization is not supported")


def _attr(q, name, default):
    try:
        return getattr(q, name)
    except Exception:
        return default
