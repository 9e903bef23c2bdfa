"""`RtlSrnet`: the SRNet of a bundle run through the generated Verilog top in
simulation (HDL-side harness, no Python in the loop), as a drop-in for
`golden.run_srnet` (`egvsr eval ... --backend rtl`); with `board_io` through
the board IP `egvsr_srnet` (`rtl_tb.board_sim`).

`RtlBoardEngine`: the board IP behind the simulated PYNQ device
(`egvsr.board.simdevice`, ``sim_engine='rtl'``, registered on import): the
driver's own register writes and reads reach the IP's register file."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from egvsr.rtl_tb import sim
from egvsr.rtl_tb.board_sim import BoardIpSim
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
        # absolute: the simulator builds run in their own folder
        self.workdir = (Path(workdir) if workdir else sim.build_root() / f"rtl_srnet_{sha[:12]}").resolve()
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
            if self.board_io:
                h = BoardIpSim(self.simulator, gdir, meta, tag="srnet_top_board")
            else:
                h = Harness(self.simulator, srcs, dut_instance("srnet_top", {}), meta["in_bits"],
                            meta["out_bits"], dim_bits=meta["dim_bits"], tag="srnet_top")
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
            return self._board_frame(h, gdir, meta, x)
        out, st = h.stream(x[None].astype(np.int64), 8, 3, 8, False, out_pixels=P,
                           scale=meta["scale"], cwd=gdir, tag=f"f{H}x{W}")
        self.last_stats = dict(st, H=H, W=W, build_s=h.build_s)
        return out[0].astype(np.uint8)

    def _board_frame(self, sim_: "BoardIpSim", gdir, meta, x) -> np.ndarray:
        """One frame through the board IP as the driver runs it: LR_HEIGHT,
        LR_WIDTH, AP_CTRL = ap_start over AXI-Lite, one TLAST-ended packet per
        LR line in, output blocks cut at the IP's TLAST, STATUS read back."""
        from egvsr.board import regmap as rm
        from egvsr.board.streams import pack_x, unpack_output
        H, W, _ = x.shape
        ip = meta["board_ip"]
        rm.check_frame_size(H, W, ip["max_h"], ip["max_w"])
        # host buffers and (un)packing exactly as the board does (egvsr.board.streams)
        buf = np.zeros((H, W, meta["in_bytes"]), np.uint8)
        pack_x(buf, x)
        writes = [(rm.offset("LR_HEIGHT"), H), (rm.offset("LR_WIDTH"), W),
                  (rm.offset("AP_CTRL"), rm.AP_START)]
        reads = [rm.offset("STATUS"), rm.offset("ERR_COUNT")]
        P, S = meta["out_pixels"], meta["scale"]
        run = sim_.run(list(buf.reshape(H, -1)), writes, reads, expect_beats=H * W * S * S // P,
                       tag=f"f{H}x{W}")
        status = run.reads[rm.offset("STATUS")]
        nbeats = H * W * S * S // P
        if status or not run.idle or len(run.beats) != nbeats:
            raise RuntimeError(f"board IP frame {H}x{W}: STATUS={status:#x}, idle={run.idle}, "
                               f"{len(run.beats)} of {nbeats} output beats, {run.sent} of {H * W} "
                               "input beats taken")
        out_buf = run.beats.reshape(S * H, S * W, 4)       # (4H, 4W, 4): R, G, B, 0
        last = np.flatnonzero(run.last)
        self.last_stats = {"cycles": run.cycles, "sim_wall_s": run.sim_wall_s,
                           "cycles_per_frame": run.cycles, "tlast_count": int(len(last)),
                           "tlast_last_beat": int(last[-1]) if len(last) else -1,
                           "tlast_beats": last.tolist(), "H": H, "W": W,
                           "build_s": sim_.build_s, "out_buf": out_buf, "status": status}
        return unpack_output(out_buf)


class RtlBoardEngine:
    """The board IP `egvsr_srnet` behind the simulated PYNQ device's DMA and
    register map (`egvsr.board.simdevice`, ``sim_engine='rtl'``), frame by frame.

    A register-level engine (``register_level = True``): the simulated core
    hands :meth:`run_frame` the AXI-Lite writes the driver made to the core
    since the last run, in order, and the frame's input lines as the DMA
    delivered them (TLAST at the end of each transfer); the HDL harness
    (`rtl_tb.board_sim`) replays those writes, streams the lines, waits for
    ap_idle and reads back every register of `egvsr.board.regmap`; the
    output is cut into packets at the IP's own TLAST. The device returns the
    IP's register values and packets to the driver, so a register map, a
    port or a TLAST that differs from what the driver expects fails the
    driver's tests. Each run starts from reset (no state carries between
    runs: ERR_COUNT is the run's own count, which the device accumulates).

    :meth:`for_overlay` sizes the IP as the overlay's metadata says (MAX_HEIGHT x
    MAX_WIDTH = its largest frame; line buffers the next power of two) and
    builds it once (cached on disk by content under `workdir`).
    `ip_options` go to `generate_srnet` (e.g. ``tlast='frame'``,
    ``registers=<a table>``: an IP the driver must refuse, for tests);
    `build_root` and `vflags` to the harness build.
    """

    register_level = True

    def __init__(self, bundle, simulator: str = "verilator", workdir=None, parallelism=None,
                 board=DEFAULT_BOARD, ip_options: dict | None = None, max_size=None,
                 build_root=None, vflags=None):
        from egvsr.golden import load_bundle
        self.bundle = load_bundle(bundle) if isinstance(bundle, (str, Path)) else bundle
        if not sim.available(simulator):
            raise RuntimeError(f"simulator {simulator!r} is not available")
        self.simulator = simulator
        sha = self.bundle.sha256() if callable(self.bundle.sha256) else self.bundle.sha256
        self.workdir = (Path(workdir) if workdir else sim.build_root() / f"rtl_board_{sha[:12]}").resolve()
        self.parallelism = parallelism
        self.board = board if parallelism is None else None
        self.ip_options = dict(ip_options or {})
        self.max_size = None if max_size is None else tuple(int(v) for v in max_size)
        self.build_root = build_root    # the simulator build (default sim.build_root())
        self.vflags = vflags            # Verilator flags (default harness.VERILATOR_FLAGS)
        self._sim = None
        self.runs = 0
        self.last_run = None
        self.name = "rtl-board-ip"

    def for_overlay(self, meta: dict) -> "RtlBoardEngine":
        """This engine for an overlay's metadata (its largest frame), built."""
        from egvsr.board import meta as bmeta
        _, (h, w) = bmeta.size_range(meta)
        eng = RtlBoardEngine(self.bundle, self.simulator, self.workdir, self.parallelism,
                             self.board, self.ip_options, max_size=(h, w),
                             build_root=self.build_root, vflags=self.vflags)
        eng.prepare()
        return eng

    def prepare(self) -> "BoardIpSim":
        """Generate and build the IP (once)."""
        if self._sim is None:
            if self.max_size is None:
                raise RuntimeError("RtlBoardEngine: no frame size: use for_overlay(meta)")
            from egvsr.plan import line_width
            from egvsr.rtl.generate import generate_srnet
            h, w = self.max_size
            opts = dict(self.ip_options)
            table = opts.get("registers")
            key = f"ip_{h}x{w}" + "".join(f"_{k}-{v}" for k, v in sorted(opts.items())
                                           if k != "registers")
            if table is not None:   # a deliberately different register file: its own folder
                import hashlib
                key += "_regs-" + hashlib.sha256(repr(tuple(table)).encode()).hexdigest()[:8]
            gdir = self.workdir / key
            generate_srnet(self.bundle, gdir, parallelism=self.parallelism, board=self.board,
                           max_w=line_width(w), max_lr_w=w, max_h=h, board_io=True, **opts)
            meta = json.loads((gdir / "manifest.json").read_text())
            self._sim = BoardIpSim(self.simulator, gdir, meta, tag="egvsr_srnet_board",
                                   build_root=self.build_root, vflags=self.vflags)
        return self._sim

    def run_frame(self, lines, writes, reads, expect=(0, 0)) -> dict:
        """Run one frame; see the class docstring. `expect` (h, w): the frame the
        driver set up (when to stop waiting for output). Returns a dict:
        ``packets`` (uint8 arrays, each ended by the IP's TLAST), ``tail`` (bytes
        after the last TLAST, or None), ``reads`` {offset: value}, ``ctrl``
        (AP_CTRL at the end, ap_done if it was seen), ``idle``, ``sent`` (input
        beats taken), ``cycles``."""
        s = self.prepare()
        meta = s.meta
        h, w = (int(v) for v in expect)
        S, P = meta["scale"], meta["out_pixels"]
        run = s.run(lines, writes, reads, expect_beats=h * w * S * S // P,
                    tag=f"run{os.getpid()}_{self.runs % 2}")  # per process: parallel runs share the build
        self.runs += 1
        self.last_run = run
        packets, tail = run.packets()
        return {"packets": packets, "tail": tail, "reads": dict(run.reads), "ctrl": run.ctrl,
                "idle": run.idle, "sent": run.sent, "cycles": run.cycles,
                "sim_wall_s": run.sim_wall_s}


def _register_board_engine():
    """Let the simulated PYNQ device run its core as the RTL board IP `egvsr_srnet`
    (engine='rtl', :class:`RtlBoardEngine`): the driver's own register writes
    and reads reach the IP's register file, its input lines go in with TLAST,
    and its output packets end where the IP's TLAST ends them."""
    try:
        from egvsr.board.simdevice import register_engine
    except ImportError:  # board package without its optional parts
        return
    register_engine("rtl", lambda bundle: RtlBoardEngine(bundle))


_register_board_engine()
