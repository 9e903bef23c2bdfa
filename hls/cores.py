"""HLS cores of a net (SRNet): one project per conv layer, the pixel-shuffle core, and the top.

`build_core(...)` writes an hls4ml project for one core at a fixed frame
size and returns a `Core`; `Core.compile()` builds the C simulation (g++),
`Core.run(codes)` runs it on integer codes and returns integer codes
(exactly what the hardware streams carry).
"""
from __future__ import annotations

import copy
import shutil
import time
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from egvsr.golden.bundle import NETS

from . import bundle_qonnx
from .convert import convert, name_and_check, quiet
from .fifo import DEFAULT_CHAIN_DEPTH, DEFAULT_MARGIN, size_fifos
from .qonnx_prep import PROBE, prepare, resize_spatial

__all__ = ["Core", "build_core", "core_names", "top_name", "NET", "TOP"]

#: the net the HLS flow builds into hardware (SRNet; FNet runs on the host)
NET = NETS[0]


def top_name(net: str = NET) -> str:
    """Name of the core holding the whole of `net` (its top): the net's name."""
    return net


#: the whole-net core of `NET` ("srnet")
TOP = top_name(NET)


def core_names(bundle, net: str = NET) -> list[str]:
    """Cores a user can take separately, plus the top: every single-input layer whose op
    offers HLS foldings (a conv's reuse factor, a shuffle's pixels per beat, `golden.oplib`)."""
    from egvsr.plan import node_env

    g = bundle.graph(net)
    names = [n.name for n in g.nodes if len(n.inputs) == 1 and n.op.hls_onnx_ops
             and n.op.folds("hls", n, node_env(g, n, "hls", PROBE[1], PROBE[0])) != [None]]
    return names + [top_name(net)]


@dataclass
class Core:
    name: str
    project_dir: Path
    hls_model: object
    in_shape: tuple
    out_shape: tuple
    in_exp: int
    out_exp: int
    out_signed: bool
    layers: list
    fifo_depths: dict = field(default_factory=dict)
    compiled: bool = False
    compile_s: float = 0.0
    write_s: float = 0.0

    def compile(self, verbose: bool = False):
        if not self.compiled:
            t = time.perf_counter()
            self.hls_model._compile()  # the project is already written; g++ only (thread-safe)
            self.compile_s = time.perf_counter() - t
            self.compiled = True
        return self

    def run(self, codes) -> np.ndarray:
        """C-sim on integer codes (H, W, C) or (N, H, W, C) -> integer codes (int64)."""
        x = np.asarray(codes)
        single = x.ndim == 3
        if single:
            x = x[None]
        if tuple(x.shape[1:]) != tuple(self.in_shape):
            raise ValueError(f"core {self.name!r} was built for {self.in_shape} inputs, got {tuple(x.shape[1:])}; "
                             "build a project for that frame size")
        if not self.compiled:
            self.compile()
        xf = np.ascontiguousarray(x.astype(np.float64) * 2.0 ** self.in_exp)
        with quiet():
            y = self.hls_model.predict(xf)
        y = np.asarray(y, np.float64).reshape((x.shape[0],) + tuple(self.out_shape))
        q = y * 2.0 ** -self.out_exp
        codes_out = np.rint(q).astype(np.int64)
        if not np.array_equal(codes_out, q):
            raise AssertionError(f"core {self.name!r}: C-sim output is off the 2**{self.out_exp} grid")
        return codes_out[0] if single else codes_out


def build_core(bundle, name: str, H: int, W: int, out_dir, part: str, clock_period_ns: float,
               reuse: dict | None = None, pixels_per_beat: int = 1, qonnx=None, net: str = NET,
               verbose: bool = False, fifo_chain_depth: int = DEFAULT_CHAIN_DEPTH,
               fifo_margin: int = DEFAULT_MARGIN) -> Core:
    """Write the hls4ml project of core `name` (a layer of `net` or its top, `top_name(net)`)
    for an H x W input.

    The top uses `qonnx` (a path or model from `quant.export.export_qonnx_srnet`,
    checked against the bundle) when given, else a QONNX generated from the bundle.
    Stream FIFOs: `fifo_chain_depth` words on straight streams, a skip stream its
    branch lag + `fifo_margin` (`fifo.size_fifos`; the config keys of the same names).
    On any failure the half-written project directory is removed.
    """
    out_dir = Path(out_dir)
    graph = bundle.graph(net)
    specs = graph.specs()
    t0 = time.perf_counter()
    ph, pw = PROBE
    if name == top_name(net):
        if qonnx is not None:
            model = prepare(copy.deepcopy(qonnx) if isinstance(qonnx, ModelWrapper) else qonnx)
        else:
            model = prepare(bundle_qonnx.srnet_qonnx(bundle, ph, pw, net))
        name_and_check(model, bundle, net)
        layers = [n.name for n in graph.nodes]
        in_spec = specs[graph.input.name]
        out_name = graph.output.name
    else:
        node = graph.node(name)
        model = prepare(bundle_qonnx.layer_qonnx(bundle, name, ph, pw, net))
        name_and_check(model, bundle, net, layers=[name])
        layers = [name]
        in_spec = specs[node.inputs[0].name]
        out_name = name
    resize_spatial(model, H, W)
    out_spec = specs[out_name]
    project = f"egvsr_{name}"
    reuse = {k: v for k, v in (reuse or {}).items() if k in layers}
    try:
        if out_dir.exists():
            shutil.rmtree(out_dir)
        hm = convert(model, out_dir, project_name=project, clock_period_ns=clock_period_ns, part=part,
                     reuse=reuse, pixels_per_beat=pixels_per_beat, verbose=verbose,
                     fifo_depths=partial(size_fifos, fifo_chain_depth=fifo_chain_depth, fifo_margin=fifo_margin))
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    in_shape = tuple(int(v) for v in hm.get_input_variables()[0].shape)
    out_shape = tuple(int(v) for v in hm.get_output_variables()[0].shape)
    if out_shape[-1] != out_spec["channels"]:  # packed pixel-shuffle output: (h*r, w*r/P, P*C) -> (h*r, w*r, C)
        out_shape = (out_shape[0], out_shape[1] * out_shape[2] // out_spec["channels"], out_spec["channels"])
    core = Core(name=name, project_dir=out_dir, hls_model=hm, in_shape=in_shape, out_shape=out_shape,
                in_exp=int(in_spec["exp"]), out_exp=int(out_spec["exp"]), out_signed=bool(out_spec["signed"]),
                layers=layers, fifo_depths=getattr(hm, "_egvsr_fifo_depths", {}))
    core.write_s = time.perf_counter() - t0
    return core
