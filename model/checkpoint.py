"""Checkpoints: our own format and the published raw state dict.

Our checkpoints are plain dicts of tensors and built-in types so that
``torch.load(..., weights_only=True)`` reads them:
``{"format": "egvsr.checkpoint", "version": 1, "preset": {...},
"state_dict": {...}, "meta": {...}}``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from .egvsr import EGVSR
from .presets import get_preset

FORMAT = "egvsr.checkpoint"
VERSION = 1
_WRAPPER_KEYS = ("state_dict", "generator", "model", "net_G", "params")
_OPTIONAL_PREFIXES = ("srnet.conv_up.",)  # published but unused


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the architecture."""


def read_checkpoint(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, pickle with disallowed globals, truncated file
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.__class__.__name__}: {exc}. "
                              "Is it a complete .pth file saved with torch.save?") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, expected a state dict")
    return obj


def split_checkpoint(obj: dict):
    """(state_dict, preset_dict or None, meta) from our format, a wrapper or a raw state dict."""
    if obj.get("format") == "egvsr.qcheckpoint":
        raise CheckpointError("this is a quantized (QAT) checkpoint: run it with --backend brevitas, "
                              "or export it with 'egvsr export' for the integer backends")
    if obj.get("format") == FORMAT:
        if obj.get("version") != VERSION:
            raise CheckpointError(f"checkpoint format version {obj.get('version')} is not supported (expected {VERSION})")
        return obj["state_dict"], obj.get("preset"), obj.get("meta", {})
    for key in _WRAPPER_KEYS:
        if key in obj and isinstance(obj[key], dict):
            return obj[key], None, {}
    if all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj, None, {}
    raise CheckpointError("checkpoint is a dict but holds no state dict (looked for keys "
                          f"{', '.join(_WRAPPER_KEYS)} or tensors at top level)")


def check_finite(state_dict: dict, source: str = "checkpoint") -> None:
    """Refuse a state dict with a NaN or infinite value (it would give black or garbage frames)."""
    for k, v in state_dict.items():
        if isinstance(v, torch.Tensor) and (v.is_floating_point() or v.is_complex()):
            ok = torch.isfinite(v)
            if not bool(ok.all()):
                n = int((~ok).sum())
                raise CheckpointError(f"{source}: {k!r} holds {n} non-finite value{'s' if n > 1 else ''} "
                                      f"(NaN or inf) of {v.numel()}; the weights are broken (a diverged "
                                      "training run?): use an earlier checkpoint")


def load_into(model: torch.nn.Module, state_dict: dict, source: str = "checkpoint") -> None:
    """Strict load that names the first mismatching key; unused conv_up keys are optional.

    Non-finite values are refused (:func:`check_finite`)."""
    check_finite(state_dict, source)
    own = model.state_dict()
    sd = {k.removeprefix("module."): v for k, v in state_dict.items()}
    name = getattr(getattr(model, "preset", None), "name", "?")
    for k, v in own.items():  # model order: the first mismatch is reported
        if k not in sd:
            if k.startswith(_OPTIONAL_PREFIXES):
                sd[k] = v
                continue
            raise CheckpointError(f"{source}: missing key {k!r}; wrong --preset? (model is {name})")
        if tuple(sd[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{source}: key {k!r} has shape {tuple(sd[k].shape)}, the model expects "
                                  f"{tuple(v.shape)}; wrong --preset? (model is {name})")
    for k in [k for k in sd if k not in own]:
        if not k.startswith(_OPTIONAL_PREFIXES):
            raise CheckpointError(f"{source}: unexpected key {k!r} (shape {tuple(sd[k].shape)}); "
                                  f"wrong --preset? (model is {name})")
        sd.pop(k)
    model.load_state_dict(sd, strict=True)


def load_model(path, preset=None) -> EGVSR:
    """An EGVSR model from a checkpoint; a raw published state dict needs ``preset``."""
    sd, rec_preset, _ = split_checkpoint(read_checkpoint(path))
    if preset is None and rec_preset is None:
        raise CheckpointError(f"{path} does not record its preset (a raw state dict): pass --preset "
                              "(paper for the published EGVSR checkpoint)")
    model = EGVSR(get_preset(preset if preset is not None else rec_preset))
    load_into(model, sd, str(path))
    return model.eval()


def save_checkpoint(path, model: EGVSR, meta: dict | None = None, extra: dict | None = None) -> None:
    """Atomic save: temp file in the same folder, then rename."""
    obj = {"format": FORMAT, "version": VERSION, "preset": model.preset.to_dict(),
           "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
           "meta": meta or {}}
    if extra:
        obj.update(extra)
    atomic_torch_save(obj, path)


def atomic_torch_save(obj, path) -> None:
    """``torch.save`` to a temp file in the same folder, then rename (no half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # an ordinary new file (mkstemp makes 0600)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
