"""Integer bundle from a quantized model (npz + JSON manifest, docs/numerics.md)."""
from __future__ import annotations

import math

import numpy as np
import torch

from egvsr.golden.bundle import SCHEMA, SCHEMA_VERSION, Bundle, write_bundle
from egvsr.golden.oplib.conv3x3 import MAX_CHANNEL_SHIFT
from egvsr.golden.validate import SRNET_IN_CHANNELS

from .qegvsr import MAX_VELOCITY, QuantEGVSR, exp_of
from .quantizers import IMAGE_EXP, QuantizerError

IMAGE = {"out_exp": IMAGE_EXP, "out_bits": 8, "out_signed": False}


def _act_specs(qmodel: QuantEGVSR) -> dict:
    """Exponent / bits / signedness of every activation quantizer, read from a forward pass."""
    found = {}
    hooks = []
    for name, mod in qmodel.named_modules():
        if type(mod).__name__ in ("QuantIdentity", "QuantReLU"):
            def hook(m, inp, out, name=name):
                found[name] = {"out_exp": exp_of(out.scale), "out_bits": int(out.bit_width),
                               "out_signed": bool(out.signed)}
            hooks.append(mod.register_forward_hook(hook))
    was_training = qmodel.training
    qmodel.eval()
    try:
        with torch.no_grad():
            dev = next(qmodel.parameters()).device
            lr = torch.zeros(1, 3, 8, 8, device=dev)
            qmodel.step(lr, lr, torch.zeros(1, 3, 32, 32, device=dev))
    finally:
        for h in hooks:
            h.remove()
        qmodel.train(was_training)
    for name, sp in found.items():
        if sp["out_bits"] > 16:
            raise QuantizerError(f"{name}: {sp['out_bits']}-bit activations are not supported (max 16)")
    return found


class _Net:
    def __init__(self, module, prefix, acts, arrays, spec):
        self.m, self.prefix, self.acts, self.arrays, self.spec = module, prefix, acts, arrays, spec
        self.layers, self.out = [], {"input": dict(IMAGE)}

    def act(self, qname):
        return dict(self.acts[f"{self.prefix}.{qname}"])

    def _add(self, name, op, inputs, out, channels, **extra):
        L = {"name": name, "op": op, "inputs": list(inputs), "in_exp": self.out[inputs[0]]["out_exp"],
             **out, "channels": int(channels), **extra}
        self.layers.append(L)
        self.out[name] = out
        return name

    def conv(self, name, src, out, act, leaky_shift=None):
        conv = getattr(self.m, name)
        qw = conv.quant_weight()
        scale = qw.scale.detach().double().reshape(-1)
        per_channel = scale.numel() > 1
        w_exps = [exp_of(s) for s in scale] if per_channel else [exp_of(qw.scale)] * conv.out_channels
        w_exp = min(w_exps)
        w_int = torch.round(qw.value.detach().double() / qw.scale.detach().double()).cpu().numpy().astype(np.int64)
        wmax = 2 ** (int(qw.bit_width) - 1) - 1
        if np.abs(w_int).max(initial=0) > wmax:
            raise QuantizerError(f"{name}: weights exceed the narrow {int(qw.bit_width)}-bit range")
        if max(w_exps) - w_exp > MAX_CHANNEL_SHIFT:
            raise QuantizerError(f"{name}: per-channel weight exponents span {max(w_exps) - w_exp} "
                                 f"octaves, more than the {MAX_CHANNEL_SHIFT} the hardware takes into its weights")
        in_exp = self.out[src]["out_exp"]
        acc_exps = np.asarray(w_exps, np.int64) + in_exp   # per channel (one value without per_channel)
        b_bits = self.spec.b_bits
        b_int = torch.round(conv.bias.detach().double() *
                            torch.pow(2.0, -torch.from_numpy(acc_exps).double())).cpu().numpy().astype(np.int64)
        lim = 2 ** (b_bits - 1)
        if b_int.size and (b_int.min() < -lim or b_int.max() > lim - 1):
            raise QuantizerError(f"{name}: a bias does not fit {b_bits} bits at exponent {int(acc_exps.min())}; "
                                 "use 32-bit biases")
        self.arrays[f"{name}.weight"] = w_int.astype(np.int8 if int(qw.bit_width) <= 8 else np.int16)
        self.arrays[f"{name}.bias"] = b_int.astype(np.int32 if b_bits > 16 else np.int16)
        extra = {"leaky_shift": leaky_shift} if act == "leaky" else {}
        if per_channel:
            extra["w_exps"] = [int(e) for e in w_exps]
        return self._add(name, "conv3x3", [src], out, conv.out_channels, cin=conv.in_channels, cout=conv.out_channels,
                         weight=f"{name}.weight", bias=f"{name}.bias", w_bits=int(qw.bit_width), w_exp=w_exp,
                         b_bits=b_bits, act=act, **extra)

    def same(self, name, op, src, channels, **extra):
        return self._add(name, op, [src], dict(self.out[src]), channels, **extra)


def srnet_layers(q, acts, arrays):
    n = _Net(q.srnet, "srnet", acts, arrays, q.spec)
    nf, s = q.preset.nf, q.scale
    trunk = n.conv("conv_in", "input", n.act("q_trunk0"), "relu")
    for k in range(q.preset.nb):
        h = n.conv(f"rb{k}_conv1", trunk, n.act(f"rb{k}_conv1_act"), "relu")
        res_q = f"rb{k}_res" if q.spec.independent_add_exps else f"q_trunk{k}"
        h = n.conv(f"rb{k}_conv2", h, n.act(res_q), "none")
        trunk = n._add(f"rb{k}_add", "add", [trunk, h], n.act(f"q_trunk{k + 1}"), nf)
    if q.preset.tail == "espcn" and q.preset.skip == "anchor":
        h = n.conv("conv_sub", trunk, n.act("q_res"), "none")
        h = n._add("anchor", "anchor_add", [h, "input"], dict(IMAGE), 3 * s * s, factor=s)
        out = n.same("pixel_shuffle", "pixel_shuffle", h, 3, factor=s)
    elif q.preset.tail == "espcn":
        h = n.conv("conv_sub", trunk, dict(IMAGE), "none")
        out = n.same("pixel_shuffle", "pixel_shuffle", h, 3, factor=s)
    else:
        h = n.same("pixel_shuffle", "pixel_shuffle", trunk, nf // (s * s), factor=s)
        h = n._add("hr_relu", "relu", [h], n.act("hr_relu"), nf // (s * s))
        out = n.conv("conv_out", h, dict(IMAGE), "none")
    return n.layers, out


def fnet_layers(q, acts, arrays):
    n = _Net(q.fnet, "fnet", acts, arrays, q.spec)
    ls = q.spec.leaky_shift
    h = "input"
    for st in ("enc1", "enc2", "enc3", "dec1", "dec2", "dec3"):
        h = n.conv(f"{st}_conv1", h, n.act(f"{st}_conv1_act"), "leaky", ls)
        h = n.conv(f"{st}_conv2", h, n.act(f"{st}_conv2_act"), "leaky", ls)
        ch = getattr(q.fnet, f"{st}_conv2").out_channels
        h = n.same(f"{st}_pool", "maxpool2", h, ch) if st.startswith("enc") else n.same(f"{st}_up", "upsample2x", h, ch)
    h = n.conv("flow_conv1", h, n.act("flow_conv1_act"), "leaky", ls)
    h = n.conv("flow_conv2", h, n.act("flow_conv2_act"), "none")
    n._add("flow_tanh", "tanh_flow", [h], {"out_exp": -q.spec.lr_frac_bits, "out_bits": 16, "out_signed": True}, 2)
    return n.layers, "flow_tanh"


def build_bundle(qmodel: QuantEGVSR, source_sha256: str | None = None) -> tuple[dict, dict]:
    """(manifest, arrays) of a quantized model in eval mode."""
    acts = _act_specs(qmodel)
    arrays: dict = {}
    s_layers, s_out = srnet_layers(qmodel, acts, arrays)
    f_layers, f_out = fnet_layers(qmodel, acts, arrays)
    inp = lambda c: {"channels": c, "bits": 8, "signed": False, "exp": IMAGE_EXP}  # noqa: E731
    manifest = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "preset": qmodel.preset.name, "preset_config": qmodel.preset.to_dict(), "quant": qmodel.spec.to_dict(),
        "degradation": qmodel.preset.degradation, "scale": qmodel.scale,
        "source_checkpoint_sha256": source_sha256,
        "image": {"bits": 8, "exp": IMAGE_EXP},
        "flow": {"max_velocity": int(MAX_VELOCITY), "lr_frac_bits": qmodel.spec.lr_frac_bits,
                 "hr_frac_bits": qmodel.spec.hr_frac_bits, "upsampler": qmodel.upsampler},
        "srnet": {"input": inp(SRNET_IN_CHANNELS), "output": s_out, "layers": s_layers},
        "fnet": {"input": inp(6), "output": f_out, "layers": f_layers},
    }
    Bundle(manifest, arrays)  # validates (raises BundleError with the reason)
    return manifest, arrays


def export_bundle(qmodel: QuantEGVSR, stem, source_sha256: str | None = None):
    manifest, arrays = build_bundle(qmodel, source_sha256)
    return write_bundle(stem, manifest, arrays)
