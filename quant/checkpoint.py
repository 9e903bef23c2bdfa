"""Quantized (QAT) checkpoints: plain dicts readable with weights_only=True."""
from __future__ import annotations

import torch

from egvsr.model.checkpoint import CheckpointError, atomic_torch_save, check_finite, read_checkpoint

from .qegvsr import QuantEGVSR

FORMAT = "egvsr.qcheckpoint"
VERSION = 1


def save_qcheckpoint(path, model: QuantEGVSR, meta: dict | None = None) -> None:
    obj = {"format": FORMAT, "version": VERSION, "preset": model.preset.to_dict(), "quant": model.spec.to_dict(),
           "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "meta": meta or {}}
    atomic_torch_save(obj, path)


def load_qmodel(path, preset=None) -> QuantEGVSR:
    obj = read_checkpoint(path)
    if obj.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a quantized (QAT) checkpoint; make one with 'egvsr qat --from {path}' "
                              "or use --backend torch for a float checkpoint")
    if obj.get("version") != VERSION:
        raise CheckpointError(f"{path}: quantized checkpoint version {obj.get('version')} is not supported (expected {VERSION})")
    check_finite(obj["state_dict"], str(path))
    model = QuantEGVSR(obj["preset"] if preset is None else preset, obj["quant"])
    try:
        model.load_state_dict(obj["state_dict"], strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1:2] or [str(exc)]
        raise CheckpointError(f"{path} does not fit the {model.preset.name} quantized model: {first[0].strip()}") from None
    return model.eval()
