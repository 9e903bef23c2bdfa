"""The hardware graph of one net of a bundle: the one walk every stage reads.

`HwGraph.from_bundle(bundle, net)` (cached as `Bundle.graph(net)`) builds,
for any net in a bundle (SRNet, FNet, nets to come), every tensor's code
type (channels, bits, signedness, exponent), its spatial scale and pixel
rate against the net input (HR = 4x / 16x, FNet's pools 1/2 ... with rates
1/4, 1/16, 1/64), producer and consumers, its depth in held-back rows, and
for every multi-input node which input waits in a skip FIFO and for how
many rows (`Node.skip`). Ops come from `golden.oplib`; nothing here knows
an op by name. numpy-free and board-safe.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from . import oplib

__all__ = ["Tensor", "Node", "HwGraph"]


@dataclass
class Tensor:
    """One stream of the net: the net input or a layer's output."""
    name: str
    channels: int
    bits: int
    signed: bool
    exp: int
    scale: Fraction = Fraction(1)        # size / net-input size, per axis
    producer: str | None = None          # layer name (None: the net input)
    consumers: list = field(default_factory=list)
    depth: int = 0                       # rows held back between the net input and here

    @property
    def rate(self) -> Fraction:
        """Pixels per net-input pixel (16 at HR after a x4 shuffle, 1/4 after a 2x2 pool)."""
        return self.scale * self.scale

    @property
    def hr(self) -> bool:
        return self.scale > 1

    @property
    def word_bits(self) -> int:
        return self.channels * self.bits

    def spec(self) -> dict:
        """{channels, bits, signed, exp} (the form QONNX and HLS code uses)."""
        return {"channels": self.channels, "bits": self.bits, "signed": self.signed, "exp": self.exp}


@dataclass
class Node:
    """One layer: its op, manifest dict, input tensors and output tensor."""
    name: str
    op: object
    layer: dict
    inputs: list
    output: Tensor
    #: multi-input nodes: (index of the input that waits, rows it waits) ; else None
    skip: tuple | None = None


class HwGraph:
    """Tensors and nodes of `net` in execution order (see the module docstring)."""

    def __init__(self, net: str, input: Tensor, nodes: list, output: str):
        self.net = net
        self.input = input
        self.nodes = nodes
        self.tensors = {"input": input, **{n.name: n.output for n in nodes}}
        self.output = self.tensors[output]
        self._by_name = {n.name: n for n in nodes}

    @classmethod
    def from_bundle(cls, bundle, net: str) -> "HwGraph":
        spec = bundle.manifest[net]["input"]
        inp = Tensor("input", int(spec["channels"]), int(spec["bits"]), bool(spec["signed"]),
                     int(spec["exp"]))
        tensors = {"input": inp}
        nodes = []
        for L in bundle.layers(net):
            op = oplib.get(L["op"])
            ins = [tensors[s] for s in L["inputs"]]
            for t in ins:
                t.consumers.append(L["name"])
            out = Tensor(L["name"], int(L["channels"]), int(L["out_bits"]), bool(L["out_signed"]),
                         int(L["out_exp"]), ins[0].scale * op.scale(L), L["name"], [],
                         max(t.depth for t in ins) + op.row_lag(L))
            node = Node(L["name"], op, L, ins, out)
            if len(ins) > 1:
                deepest = max(t.depth for t in ins)
                k = min(range(len(ins)), key=lambda i: ins[i].depth)
                node.skip = (k, deepest - ins[k].depth)
            tensors[L["name"]] = out
            nodes.append(node)
        return cls(net, inp, nodes, bundle.manifest[net]["output"])

    # --------------------------------------------------------------- queries
    def node(self, name: str) -> Node:
        if name not in self._by_name:
            raise KeyError(f"{self.net} has no layer {name!r}")
        return self._by_name[name]

    def nodes_of(self, *ops: str) -> list:
        return [n for n in self.nodes if n.op.name in ops]

    def shapes(self, H: int, W: int) -> dict:
        """(h, w, channels) of every tensor for an H x W net input, by name."""
        hw = {"input": (int(H), int(W), self.input.channels)}
        for n in self.nodes:
            h, w, _ = hw[n.layer["inputs"][0]]
            h, w = n.op.out_hw(n.layer, h, w)
            hw[n.name] = (h, w, n.output.channels)
        return hw

    def specs(self) -> dict:
        """name -> {channels, bits, signed, exp} of every tensor."""
        return {k: t.spec() for k, t in self.tensors.items()}
