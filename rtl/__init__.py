"""Synthesizable Verilog cores of the EGVSR nets and their generator.

`rtl/verilog/*.v` are hand-written Verilog-2005 cores; which op a core
implements, its files and parameters are owned by the op's module in
`golden/oplib` (`rtl_module`, `rtl_files`, `rtl_params`). `generate` writes
the top of a net for a bundle and a plan (`plan/`), `top` emits its text,
`verilog_text` holds the Verilog helpers. `board_ip` wraps the SRNet top as
the board IP `egvsr_srnet` (register file from `regfile`, generated from
`egvsr.board.regmap`; `verilog/frame_ctrl.v`) and `package_ip` writes the
Tcl that packages it for Vivado.
"""
from pathlib import Path

VERILOG_DIR = Path(__file__).resolve().parent / "verilog"

#: stream infrastructure the tops instantiate besides the op cores
INFRA_FILES = {
    "requant": ["requant.v"],
    "axis_fifo": ["axis_fifo.v"],
    "axis_fork": ["axis_fork.v"],
    "frame_ctrl": ["frame_ctrl.v"],      # the board IP's frame control (board_ip)
}


def core_files() -> dict:
    """Verilog module -> the files it needs (itself first): infrastructure + every
    registered op's core (`golden.oplib`)."""
    from egvsr.golden import oplib
    files = {k: list(v) for k, v in INFRA_FILES.items()}
    for op in oplib.registry().values():
        if op.rtl_module:
            files[op.rtl_module] = list(op.rtl_files)
    return files


def source_path(f) -> Path:
    """A core file: an absolute path (a user op's template) or a name in rtl/verilog/."""
    p = Path(f)
    return p if p.is_absolute() else VERILOG_DIR / p


def core_sources(*modules: str) -> list[Path]:
    """Verilog files needed by the given core modules (deduplicated, ordered)."""
    table = core_files()
    seen: list = []
    for m in modules:
        if m not in table:
            raise KeyError(f"no Verilog core {m!r} (known: {sorted(table)})")
        for f in table[m]:
            if f not in seen:
                seen.append(f)
    return [source_path(f) for f in seen]
