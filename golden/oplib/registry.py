"""The op registry: manifest op name -> `Op` instance.

The built-in ops register themselves when `egvsr.golden.oplib` is imported.
A user op lives in its own module that calls `register(MyOp())`; name the
module in ``$EGVSR_OPS`` (comma-separated import paths) and every stage,
simulator subprocesses included, loads it on first use.
"""
from __future__ import annotations

import importlib
import os

__all__ = ["register", "unregister", "get", "names", "registry", "load_plugins"]

_REGISTRY: dict = {}
_PLUGINS_LOADED: set = set()


def register(op, replace: bool = False):
    """Add `op` (an `Op` instance) under ``op.name``; returns it."""
    name = getattr(op, "name", "")
    if not name or not isinstance(name, str):
        raise ValueError(f"{op!r} has no op name")
    if name in _REGISTRY and not replace and type(_REGISTRY[name]) is not type(op):
        raise ValueError(f"op {name!r} is already registered by {type(_REGISTRY[name]).__module__}; "
                         "pass replace=True to override it")
    _REGISTRY[name] = op
    return op


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def load_plugins() -> None:
    """Import the modules named in $EGVSR_OPS (once each)."""
    for mod in filter(None, (m.strip() for m in os.environ.get("EGVSR_OPS", "").split(","))):
        if mod not in _PLUGINS_LOADED:
            try:
                importlib.import_module(mod)
            except ImportError as e:
                raise ImportError(f"EGVSR_OPS names op module {mod!r}, which cannot be imported "
                                  f"({e}); fix the module path or PYTHONPATH") from e
            _PLUGINS_LOADED.add(mod)


def registry() -> dict:
    load_plugins()
    return _REGISTRY


def get(name: str):
    """The `Op` called `name` (KeyError naming the known ops otherwise)."""
    reg = registry()
    if name not in reg:
        raise KeyError(f"unknown op {name!r} (known: {sorted(reg)}); add an op module and "
                       "register it (README: how to add an op)")
    return reg[name]


def names() -> list:
    return sorted(registry())
