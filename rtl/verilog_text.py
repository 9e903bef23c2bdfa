"""Small Verilog text helpers for the generated tops (instances, AXI4-Stream wires)."""
from __future__ import annotations

__all__ = ["vparam", "instance", "axis_ports", "axis_wires"]


def vparam(v) -> str:
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def instance(module: str, name: str, params: dict, ports: list) -> str:
    ps = ",\n        ".join(f".{k}({vparam(v)})" for k, v in params.items())
    pt = ",\n        ".join(f".{k}({v})" for k, v in ports)
    head = f"    {module} #(\n        {ps}\n    ) {name} (\n" if params else f"    {module} {name} (\n"
    return f"{head}        {pt}\n    );\n"


def axis_ports(prefix: str, sig: str) -> list:
    """Port map of one AXI4-Stream interface `prefix`_* onto the wires `sig`_*."""
    return [(f"{prefix}_{s}", f"{sig}_{s}") for s in ("tdata", "tvalid", "tready", "tlast", "tuser")]


def axis_wires(sig: str, width: int) -> str:
    return (f"    wire [{width - 1}:0] {sig}_tdata;\n"
            f"    wire {sig}_tvalid, {sig}_tready, {sig}_tlast, {sig}_tuser;\n")
