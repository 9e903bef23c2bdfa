"""A toy elementwise op, `toy_abs` (|x|, saturated), defined in this one module.

It exists to prove that an op added in one module (plus its Verilog core,
`toy_abs.v` beside it) runs through validation, golden execution, the RTL
top generator and the core testbench without editing any other stage
(tests/test_op_library.py). Load it with EGVSR_OPS=toy_abs.
"""
from pathlib import Path

import numpy as np

from egvsr.golden.oplib import Op, register


def toy_abs(x, bits: int, signed: bool):
    x = np.asarray(x)
    if not signed:
        return x.copy()
    hi = (1 << (bits - 1)) - 1
    return np.minimum(np.abs(x.astype(np.int64)), hi).astype(x.dtype)


class ToyAbs(Op):
    name = "toy_abs"
    passthrough = True            # keeps the exponent and the code type
    rtl_module = "toy_abs"
    rtl_files = (str(Path(__file__).with_name("toy_abs.v")),)

    def run(self, bundle, L, xs, srcs):
        return toy_abs(xs[0], srcs[0]["out_bits"], bool(srcs[0]["out_signed"]))

    def rtl_params(self, node, env):
        t = node.inputs[0]
        return dict(N=t.channels * env["pixels_per_beat"], BITS=t.bits, SIGNED=int(t.signed))

    def tb_io(self, p):
        return ((p["N"], p["BITS"], p["SIGNED"]), (p["N"], p["BITS"], p["SIGNED"], 1))

    def tb_expected(self, case, frames):
        p = case["params"]
        return [toy_abs(f, p["BITS"], bool(p["SIGNED"])).astype(np.int64) for f in frames]


register(ToyAbs())
