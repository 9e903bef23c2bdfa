"""`RtlSrnet`: the SRNet of a bundle run through the generated Verilog top in
simulation (HDL-side harness, no Python in the loop), as a drop-in for
`golden.run_srnet` (`egvsr eval ... --backend rtl`)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from egvsr.rtl_tb import sim
from egvsr.rtl_tb.harness import Harness, dut_instance
from egvsr.golden.validate import SRNET_IN_CHANNELS

DEFAULT_BOARD = "pynq-z2"   # folded parallelism: quick Verilator builds


class RtlSrnet:
    """Callable ``x (H, W, 51) uint8 -> (4H, 4W, 3) uint8`` through `srnet_top`.

    The top is generated once per line-buffer size (the next power of two
    >= W, at least 16) and built once per size (cached on disk under
    `workdir`, by content). `parallelism` / `board` go to `generate_srnet`
    (default: the `pynq-z2` folding, which builds in seconds).
    """

    def __init__(self, bundle, simulator: str = "verilator", workdir=None, parallelism=None,
                 board=DEFAULT_BOARD, out_pixels=None, board_io: bool = False):
        from egvsr.golden import load_bundle
        self.bundle = load_bundle(bundle) if isinstance(bundle, (str, Path)) else bundle
        if not sim.available(simulator):
            raise RuntimeError(f"simulator {simulator!r} is not available")
        self.simulator = simulator
        sha = self.bundle.sha256() if callable(self.bundle.sha256) else self.bundle.sha256
        self.workdir = Path(workdir) if workdir else sim.build_root() / f"rtl_srnet_{sha[:12]}"
        self.parallelism = parallelism
        self.board = board if parallelism is None else None
        self.out_pixels = out_pixels
        self.board_io = board_io
        self._harness: dict[int, tuple[Harness, Path, dict]] = {}
        self.last_stats: dict = {}

    def _get(self, W: int):
        from egvsr.plan import line_width
        from egvsr.rtl.generate import generate_srnet
        max_w = line_width(W)
        if max_w not in self._harness:
            gdir = self.workdir / f"w{max_w}{'_board' if self.board_io else ''}"
            generate_srnet(self.bundle, gdir, parallelism=self.parallelism, board=self.board,
                           max_w=max_w, out_pixels=self.out_pixels, board_io=self.board_io)
            meta = json.loads((gdir / "manifest.json").read_text())
            srcs = [gdir / s for s in meta["sources"]]
            dut = dut_instance("srnet_top", {})
            h = Harness(self.simulator, srcs, dut, meta["in_bits"], meta["out_bits"],
                        dim_bits=meta["dim_bits"],
                        tag="srnet_top_board" if self.board_io else "srnet_top")
            self._harness[max_w] = (h, gdir, meta)
        return self._harness[max_w]

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[2] != SRNET_IN_CHANNELS or x.dtype != np.uint8:
            raise ValueError(f"expected (H, W, 51) uint8, got {x.shape} {x.dtype}")
        H, W, _ = x.shape
        h, gdir, meta = self._get(W)
        P = meta["out_pixels"]
        if (W * meta["scale"]) % P:
            raise ValueError(f"width {W}: {P} HR pixels per beat need 4W % {P} == 0")
        if self.board_io:
            # host buffers and (un)packing exactly as the board does (egvsr.board.streams)
            from egvsr.board.streams import pack_x, unpack_output
            buf = np.zeros((H, W, meta["in_bytes"]), np.uint8)
            pack_x(buf, x)
            raw, st = h.stream(buf[None].astype(np.int64), 8, 4, 8, False, out_pixels=P,
                               scale=meta["scale"], cwd=gdir, tag=f"f{H}x{W}")
            out_buf = raw[0].astype(np.uint8)            # (4H, 4W, 4): R, G, B, 0
            self.last_stats = dict(st, H=H, W=W, build_s=h.build_s, out_buf=out_buf)
            return unpack_output(out_buf)
        out, st = h.stream(x[None].astype(np.int64), 8, 3, 8, False, out_pixels=P,
                           scale=meta["scale"], cwd=gdir, tag=f"f{H}x{W}")
        self.last_stats = dict(st, H=H, W=W, build_s=h.build_s)
        return out[0].astype(np.uint8)


def _register_board_engine():
    """Let the simulated PYNQ device run SRNet through this RTL simulation (engine='rtl')."""
    try:
        from egvsr.board.simdevice import register_engine
    except ImportError:  # board package without its optional parts
        return
    register_engine("rtl", lambda bundle: RtlSrnet(bundle))


_register_board_engine()
