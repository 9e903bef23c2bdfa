"""The `Op` interface: everything the toolkit knows about one bundle op.

An op module (one file per op in this folder, or a user module named in
$EGVSR_OPS) subclasses `Op` and calls `register(...)`. The op owns:

- its manifest contract: `arity`, `passthrough` (keeps its input's exponent
  and code type), `check` (op-specific validation of a layer dict),
- its geometry: `scale` (output size / input size, per axis) and
  `row_lag` (input rows it holds back before its output catches up, which
  sets the skip FIFOs in front of a reconvergent add),
- its golden execution: `run`,
- its hardware: a cost model per implementation (`folds`, `cost`), the
  QONNX node(s) the HLS flow builds (`hls_qonnx`, `hls_onnx_ops`), the
  Verilog core the RTL flow instantiates (`rtl_module`, `rtl_files`,
  `rtl_params`, `rtl_in_ports`, `rtl_frame`) and what its core's
  testbench expects (`tb_io`, `tb_expected`).

Nothing here imports more than numpy: the op library runs on a PYNQ board.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Op", "Cost", "NoImplementation", "IMPLS"]

#: hardware implementations a cost model can describe
IMPLS = ("hls", "rtl")


class NoImplementation(ValueError):
    """The op has no implementation in the requested stage (HLS, RTL, ...)."""


@dataclass(frozen=True)
class Cost:
    """Cost of one node at one folding.

    `clocks_per_pixel`: clocks the node spends per pixel of its *input*
    tensor (hls: per pixel of the zero-padded map for a conv, see the op);
    `dsp`: DSP slices (multipliers); `bram36`: BRAM36-equivalent blocks;
    `lut`: an estimate of LUTs where the model has one (else 0).
    `key`: how "cheap" the folding is (the planner takes the smallest key
    among the foldings fast enough), default (dsp, bram36).
    `alt`: a folding the planner takes only to fit the DSP budget (RTL
    multipliers in fabric), never as a node's first choice.
    """
    clocks_per_pixel: float
    dsp: int = 0
    bram36: float = 0.0
    lut: int = 0
    key: tuple = ()
    alt: bool = False

    def order(self) -> tuple:
        return self.key or (self.dsp, self.bram36)


class Op:
    """Base class of an op (see the module docstring). Subclass and register."""

    #: the manifest ``op`` name
    name: str = ""
    #: number of input tensors
    arity: int = 1
    #: keeps its input's exponent and code type (shuffles, pools, resampling)
    passthrough: bool = False
    #: extra layer fields the op needs, name -> kind ("int", "str", "bool", "num")
    fields: dict = {}
    #: inputs after the first may come at their own exponents (the op aligns them) from
    #: this bundle schema_version on (0: never); ``in_exp`` is then the first input's
    mixed_exps: int = 0
    #: the first bundle schema_version with this op (older manifests may not use it)
    since_schema: int = 1
    #: golden `run` is row-wise: output rows y0..y1 depend only on rows y0..y1 of every input
    #: (same H, W), so `golden.graph` may run it on a producing conv's row strips
    rowwise: bool = False
    #: Verilog module of the op's core (None: no RTL core)
    rtl_module: str | None = None
    #: Verilog files the core needs, itself first; names are looked up in
    #: rtl/verilog/, absolute paths (a user op's own template) are taken as they are
    rtl_files: tuple = ()
    #: AXI4-Stream slave port prefixes of the core, one per input
    rtl_in_ports: tuple = ("s_axis",)
    #: the core buffers its skip input itself (a multi-input node's `Node.skip`):
    #: `rtl_params` sizes that FIFO from the node's skip lag and env["max_w"] (`memory.skip_depth`,
    #: as the top sizes its own), and the top puts no `axis_fifo` in front of it
    rtl_skip_fifo: bool = False
    #: Verilog parameter sets `verilator --lint-only -Wall` checks the core with
    rtl_lint_params: tuple = ()
    #: ONNX op types that compute this layer in a QONNX graph (first one names it)
    hls_onnx_ops: tuple = ()

    # ------------------------------------------------------------ contract
    def check(self, c, L: dict, prods: list, arrays: dict, flow: dict) -> None:
        """Op-specific checks of layer `L` (common fields are checked already).

        `c` is the validator (``c.fail(msg)``, ``c.field(d, key, kind, ctx)``,
        ``c.bits``, ``c.array``); `prods` the producer specs of its inputs
        (dicts with channels, out_bits, out_signed, out_exp).
        """
        p0 = prods[0]
        if not self.passthrough and self.arity == 1 and L["channels"] != p0["channels"] \
                and type(self).out_channels is Op.out_channels:
            c.fail(f"{c.ctx} has {L['channels']} channels but its input has {p0['channels']}")

    def out_channels(self, L: dict, in_channels: list) -> int:
        """Channels of the output (the manifest's `channels`; checked against this)."""
        return in_channels[0]

    # ------------------------------------------------------------ geometry
    def scale(self, L: dict) -> Fraction:
        """Output size / input size along each spatial axis."""
        return Fraction(1)

    def out_hw(self, L: dict, h: int, w: int) -> tuple[int, int]:
        """Output (h, w) for an h x w input (floor for down-sampling)."""
        s = self.scale(L)
        return int(h * s), int(w * s)

    def row_lag(self, L: dict) -> int:
        """Input rows (of its own width, plus 2 pad pixels each) held back before output."""
        return 0

    def lag_pixels(self, L: dict, w: int) -> int:
        """Raster-order input pixels consumed before the first output pixel is due."""
        return 0

    # ------------------------------------------------------------ golden
    def run(self, bundle, L: dict, xs: list, srcs: list):
        """Golden execution on integer codes; `srcs` are the producer specs."""
        raise NoImplementation(f"op {self.name!r} has no golden implementation")

    # ------------------------------------------------------------ cost model
    def folds(self, impl: str, node, env: dict) -> list:
        """Foldings the `impl` implementation offers for `node` (one by default)."""
        return [None]

    def pixels(self, impl: str, node, env: dict) -> float:
        """Pixels a frame the node's clocks_per_pixel applies to: hls, the h x w
        input map; rtl, the positions of an LR frame (W*H + W + 1) times the
        input's rate (16 at HR), every stage running at one LR pixel's pace."""
        if impl == "hls":
            return env["h"] * env["w"]
        return env["positions"] * float(env["rate"])

    def macs(self, node) -> int:
        """Multiply-accumulates per pixel of the node's input."""
        return 0

    def cost(self, impl: str, node, fold, env: dict) -> Cost:
        """Cost at folding `fold`. `env`: max_w (line-buffer width), h, w (frame
        at this node's input), pixels_per_beat, lag (skip rows) and the board."""
        return Cost(1.0)

    # ------------------------------------------------------------ HLS
    def hls_qonnx(self, b, L: dict, xs: list, bundle) -> str:
        """Append the layer's QONNX nodes to graph builder `b`; returns the output tensor."""
        raise NoImplementation(f"layer {L['name']!r}: op {self.name!r} has no HLS implementation")

    # ------------------------------------------------------------ RTL
    def rtl_frame(self, node) -> str | None:
        """Which frame size the core's cfg_width/cfg_height ports take: 'in' (its
        input tensor's), or None (no frame-size ports)."""
        return None

    def rtl_params(self, node, env: dict) -> dict:
        """Verilog parameters of the core (env: fold, pixels_per_beat, max_w,
        dim_bits, out_dir to write memory files into, bundle)."""
        raise NoImplementation(f"layer {node.name!r}: op {self.name!r} has no RTL core")

    def rtl_multipliers(self, node, fold) -> int:
        return 0

    # ------------------------------------------------------------ testbench
    def tb_io(self, p: dict) -> tuple:
        """((in channels, in bits, in signed), (out channels, out bits, out signed,
        pixels per beat)) of the core with Verilog parameters `p`."""
        raise NoImplementation(f"op {self.name!r} has no core testbench")

    def tb_inputs(self, p: dict) -> list:
        """[(channels, bits, signed)] of each input stream (default: the one of `tb_io`)."""
        return [self.tb_io(p)[0]]

    def tb_expected(self, case: dict, frames: list) -> list:
        """Golden outputs of the core for one run of a testbench case."""
        raise NoImplementation(f"op {self.name!r} has no core testbench")

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def ceil_div(a: int, b: int) -> int:
    return -(-int(a) // int(b))

