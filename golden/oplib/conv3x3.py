"""conv3x3: 3x3 convolution, zero padding 1, bias, ReLU / leaky ReLU, requantization.

Float: `model.srnet` / `model.fnet` ``nn.Conv2d(k=3, p=1)``; quantized:
`quant.qsrnet` (Brevitas ``QuantConv2d``); golden: `golden.conv.conv3x3`;
HLS: hls4ml ``Conv2D`` (io_stream, Resource strategy, reuse factor RF);
RTL: `rtl/verilog/conv3x3.v` (PI input x PO output channels per clock).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import Cost, Op, ceil_div
from . import hls_cost
from .memory import ROM_BLOCK_MIN, bram18
from .registry import register

ACT_CODE = {"none": 0, "relu": 1, "leaky": 2}


def valid_reuse_factors(n_in: int, n_out: int) -> list[int]:
    """Reuse factors hls4ml accepts for an n_in x n_out multiplication (sorted)."""
    total = n_in * n_out
    out = []
    for rf in range(1, total + 1):
        if total % rf:
            continue  # QoR rule: RF divides the number of multiplications
        if rf < n_in:
            if (total // rf) % n_out:
                continue  # each multiplier group must cover whole outputs
        elif rf % n_in:
            continue  # beyond n_in, RF must be a multiple of n_in
        out.append(rf)
    return out


def pack_field_bits(w_bits: int) -> int:
    """Bits of a packed pair of weights in the ROM (conv3x3.v PACK = 1):
    {w[2j] - borrow, w[2j+1]}, sign-extended into the 27-bit operand by wiring."""
    return 2 * w_bits + 1


def can_pack(in_bits: int, w_bits: int, po: int) -> bool:
    """Two products per DSP48E2 (conv3x3.v PACK): 8-bit operands, two output channels."""
    return in_bits <= 8 and w_bits <= 8 and po >= 2


def rtl_fold(fold, in_bits: int, w_bits: int, int8_pack: bool):
    """An RTL folding -> (pi, po, fabric multipliers, packed): (pi, po) keeps every
    multiplier in DSPs, (pi, po, n) puts n in fabric (mul_lut), which never packs."""
    pi, po = fold[:2]
    nlut = fold[2] if len(fold) > 2 else 0
    return pi, po, nlut, not nlut and bool(int8_pack) and can_pack(in_bits, w_bits, po)


def rtl_dsp(pi: int, po: int, pack: bool) -> int:
    """DSP slices of conv3x3.v: one per multiplier, or one per pair of output channels."""
    return 9 * pi * (ceil_div(po, 2) if pack else po)


def _tree_bits(n: int, width: int) -> int:
    """Sum bits of a binary tree over `n` values of `width` bits (one more a level)."""
    bits, left = 0, n
    while left > 1:
        bits += (left // 2) * width
        left = (left + 1) // 2
        width += 1
    return bits


def rtl_lut(cin, cout, in_bits, w_bits, pi, po, pack: bool = False) -> int:
    """An estimate of conv3x3.v's LUTs (the multipliers are DSPs, line buffers BRAM):
    one LUT per sum bit of the PO adder trees (9*PI - 1 adders, the sums growing
    from the product width by one bit a level) and, when packed, of each pair's
    borrow-count tree and high-lane correction; the weight ROM when it is LUT ROM
    (fewer than ROM_BLOCK_MIN words: one LUT6 per bit per 64 words); the
    input-group select of the taps; accumulation and requantization; a fixed 500
    for the control. Calibrated on yosys synth_xilinx -family xcup of three packed
    cores (16->16 PI6 PO4: 7,310 measured, 7,460 estimated; 16->48 PI8 PO6:
    14,016 / 13,991; 16->16 PI4 PO2: 3,200 / 3,020; unpacked 16->16 PI4 PO2: 3,176 /
    2,856). An estimate, not a synthesis
    report."""
    pw = in_bits + 1 + w_bits
    n = 9 * pi
    tree = _tree_bits(n, pw + 1)
    ni, no = ceil_div(cin, pi), ceil_div(cout, po)
    f = ni * no
    word = pi * ceil_div(po, 2) * 9 * pack_field_bits(w_bits) if pack else pi * po * 9 * w_bits
    rom = word * ceil_div(f, 64) if f < ROM_BLOCK_MIN else 0
    mux = 9 * pi * (in_bits + 1) * ceil_div(ni - 1, 3) if ni > 1 else 0
    sumw = pw + (9 * ni * pi).bit_length() + 1
    lanes = ceil_div(po, 2) * (_tree_bits(n, 2) + sumw) if pack else 0
    acc_w = max(sumw, 32) + 1
    return po * tree + lanes + rom + mux + po * 2 * acc_w + 500


def rtl_lut_mult(in_bits: int, w_bits: int) -> int:
    """LUTs of one mul_lut.v (a fabric multiplier: w_bits + 1 shifted rows summed by
    a registered tree): 0.6 LUT per row bit, calibrated on yosys synth_xilinx -family
    xcup of conv3x3 16->16 PI4 PO2 with its 72 multipliers in fabric (+6,209 LUTs
    over the DSP version: 86 per multiplier; estimated 92). An estimate."""
    return -(-6 * (w_bits + 1) * (in_bits + 1 + w_bits) // 10)


def rtl_bram18(cin, cout, in_bits, w_bits, pi, po, line_w, pack: bool = False) -> int:
    """conv3x3.v: two line buffers of `line_w` pixels + the weight ROM (F words)."""
    f = ceil_div(cin, pi) * ceil_div(cout, po)
    word = pi * ceil_div(po, 2) * 9 * pack_field_bits(w_bits) if pack else pi * po * 9 * w_bits
    rom = bram18(word, f) if f >= ROM_BLOCK_MIN else 0
    return 2 * bram18(cin * in_bits, line_w) + rom


#: per-output-channel weight exponents may span at most this many octaves (the shift
#: moves into the weight word: 8-bit weights become up to 8 + this bits wide)
MAX_CHANNEL_SHIFT = 8


def shift_into_weights(w, b, d):
    """Channel o's weights and bias shifted left by ``d[o]`` (int64): a per-channel
    requant shift moved to the weight side (`Conv3x3.effective`)."""
    d = np.asarray(d, np.int64)
    return np.left_shift(np.asarray(w).astype(np.int64), d[:, None, None, None]), \
        np.left_shift(np.asarray(b).astype(np.int64), d)


class Conv3x3(Op):
    name = "conv3x3"
    fields = {"cin": "int", "cout": "int", "w_exp": "int", "w_bits": "int", "b_bits": "int",
              "act": "str"}
    rtl_module = "conv3x3"
    rtl_files = ("conv3x3.v", "requant.v", "axis_fifo.v", "add_tree.v", "pipe_delay.v", "mul_lut.v")
    hls_onnx_ops = ("Conv",)
    rtl_lint_params = ({}, {"CIN": 5, "COUT": 3, "PI": 2, "PO": 2, "ACT": 2, "LEAKY_SHIFT": 2},
                       {"CIN": 1, "COUT": 1, "ACT": 1, "SHIFT": -1, "MAX_W": 1, "IN_SIGNED": 1},
                       {"CIN": 3, "COUT": 2, "PI": 2, "PO": 1, "LUT_MULTS": 5},
                       {"CIN": 2, "COUT": 2, "W_BITS": 3, "LUT_MULTS": 99},
                       {"CIN": 17, "COUT": 4, "PO": 2, "PACK": 1})

    @staticmethod
    def effective(L: dict, arrays: dict):
        """(weights, biases, w_exp, w_bits, b_bits) the hardware computes with.

        Per-tensor weights: the bundle's. Per-output-channel exponents (``w_exps``,
        schema 3, quantizer option ``per_channel_weights``): channel o's weights and
        bias shifted left by ``d[o] = w_exps[o] - w_exp`` (``w_exp = min(w_exps)``),
        so one accumulator exponent and one requant shift serve every channel:
        ``requant(acc[o] << d, s - d) == requant(acc[o], s - d + d)``, exact. The
        per-channel shift thus sits on the weight side: ``w_bits + max(d)``-bit
        weights, ``b_bits + max(d)``-bit biases (docs/numerics.md)."""
        w, b = arrays[L["weight"]], arrays[L["bias"]]
        w_bits, b_bits = Conv3x3.effective_bits(L)
        if "w_exps" in L:
            w, b = shift_into_weights(w, b, np.asarray(L["w_exps"], np.int64) - int(L["w_exp"]))
        return w, b, int(L["w_exp"]), w_bits, b_bits

    @staticmethod
    def effective_bits(L: dict) -> tuple[int, int]:
        """(w_bits, b_bits) of `effective`'s weights and biases: each wider by the largest
        per-channel shift (0 for per-tensor weights)."""
        dm = max(L["w_exps"]) - int(L["w_exp"]) if "w_exps" in L else 0
        return int(L["w_bits"]) + dm, int(L["b_bits"]) + dm

    def check(self, c, L, prods, arrays, flow):
        ctx = c.ctx
        cin = c.field(L, "cin", "int", ctx)
        cout = c.field(L, "cout", "int", ctx)
        w_exp = c.field(L, "w_exp", "int", ctx)
        if "w_exps" in L:
            if c.version < 3:
                c.fail(f"{ctx}: per-channel weight exponents (w_exps) need schema_version 3, "
                       f"the manifest declares {c.version}", "re-export the bundle with this egvsr version")
            e = L["w_exps"]
            if not (isinstance(e, list) and len(e) == cout and all(isinstance(v, int) and not isinstance(v, bool)
                                                                     for v in e)):
                c.fail(f"{ctx}: w_exps must be a list of {cout} integers (one per output channel)")
            if min(e) != w_exp or max(e) - w_exp > MAX_CHANNEL_SHIFT:
                c.fail(f"{ctx}: w_exp must be min(w_exps) and the channels' exponents within "
                       f"{MAX_CHANNEL_SHIFT} of it (got w_exp {w_exp}, w_exps {min(e)}..{max(e)})")
        w_bits = c.field(L, "w_bits", "int", ctx)
        b_bits = c.field(L, "b_bits", "int", ctx)
        act = c.field(L, "act", "str", ctx)
        c.bits(w_bits, ctx)
        c.bits(b_bits, ctx)
        if act not in ACT_CODE:
            c.fail(f"{ctx} act {act!r} is not one of none|relu|leaky")
        if act == "leaky" and c.field(L, "leaky_shift", "int", ctx) < 0:
            c.fail(f"{ctx} leaky_shift must be >= 0")
        if cin != prods[0]["channels"]:
            c.fail(f"{ctx} cin {cin} but its input {L['inputs'][0]!r} has {prods[0]['channels']} channels")
        if cout != L["channels"]:
            c.fail(f"{ctx} cout {cout} differs from channels {L['channels']}")
        c.array(arrays, L.get("weight"), (cout, cin, 3, 3), w_bits, True, ctx + " weight")
        c.array(arrays, L.get("bias"), (cout,), b_bits, False, ctx + " bias")

    def out_channels(self, L, in_channels):
        return int(L["cout"])

    # geometry: one row + one pixel (+1 for the padded edge) of raster lag
    def row_lag(self, L):
        return 1

    def lag_pixels(self, L, w):
        return (3 // 2) * int(w) + 3 // 2 + 1

    # golden
    def run(self, bundle, L, xs, srcs, shuffle: int = 1, then=None, then_dtype=None):
        """`shuffle`, `then`: a fused pixel_shuffle and row-wise op (`ops.conv3x3`, `golden.graph`)."""
        w, b, w_exp, _, _ = self.effective(L, bundle.arrays)
        return ops.conv3x3(xs[0], w, b, L["in_exp"], w_exp, L["out_exp"], L["out_bits"],
                           L["out_signed"], L["act"], L.get("leaky_shift", 0), shuffle=shuffle,
                           then=then, then_dtype=then_dtype)

    # cost model
    def macs(self, node):
        return 9 * int(node.layer["cin"]) * int(node.layer["cout"])

    def pixels(self, impl, node, env):
        if impl == "hls":  # RF clocks per pixel of the zero-padded map
            return (env["h"] + 2) * (env["w"] + 2)
        return super().pixels(impl, node, env)

    def folds(self, impl, node, env):
        L = node.layer
        if impl == "hls":
            return valid_reuse_factors(9 * int(L["cin"]), int(L["cout"]))
        # (pi, po): multipliers in DSPs; (pi, po, 9*pi*po): all in fabric (mul_lut,
        # an alternative the planner takes only to fit the DSP budget)
        dsp = [(pi, po) for pi in range(1, L["cin"] + 1) for po in range(1, L["cout"] + 1)]
        return dsp + [(pi, po, 9 * pi * po) for pi, po in dsp]

    def cost(self, impl, node, fold, env):
        L = node.layer
        cin, cout = int(L["cin"]), int(L["cout"])
        wb = self.effective_bits(L)[0]
        in_bits = node.inputs[0].bits
        if impl == "hls":
            return hls_cost.conv3x3(cin, cout, in_bits, wb, int(fold), env)
        pi, po, nlut, pack = rtl_fold(fold, in_bits, wb, env.get("int8_pack"))
        n18 = rtl_bram18(cin, cout, in_bits, wb, pi, po, int(env["line_w"]), pack)
        dsp = rtl_dsp(pi, po, pack) - nlut
        lut = rtl_lut(cin, cout, in_bits, wb, pi, po, pack) + nlut * rtl_lut_mult(in_bits, wb)
        return Cost(ceil_div(cin, pi) * ceil_div(cout, po), dsp=dsp, bram36=n18 / 2,
                    lut=lut, key=(dsp, n18, -pi), alt=bool(nlut))

    # HLS
    def hls_qonnx(self, b, L, xs, bundle):
        name = L["name"]
        w, bias, w_exp, w_bits, b_bits = self.effective(L, bundle.arrays)
        acc_exp = int(L["in_exp"]) + w_exp
        wq = b.quant(b.const(name + "_w", b.exact(name + " weight", w, w_exp)), w_exp,
                     w_bits, True, narrow=True, name=name + "_wq")
        bq = b.quant(b.const(name + "_b", b.exact(name + " bias", bias, acc_exp)), acc_exp,
                     b_bits, True, name=name + "_bq")
        y = b.node("Conv", [xs[0], wq, bq], name, kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                   strides=[1, 1], dilations=[1, 1], group=1)
        if L["act"] == "relu":
            y = b.node("Relu", [y], name + "_relu")
        elif L["act"] == "leaky":
            y = b.node("LeakyRelu", [y], name + "_leaky", alpha=2.0 ** -int(L["leaky_shift"]))
        return b.quant(y, L["out_exp"], L["out_bits"], L["out_signed"], name=name + "_aq")

    # RTL
    def rtl_frame(self, node):
        return "in"

    def rtl_params(self, node, env):
        L, name = node.layer, node.name
        src = node.inputs[0]
        w, b, w_exp, w_bits, b_bits = self.effective(L, env["bundle"].arrays)
        pi, po, nlut, pack = rtl_fold(env["fold"], src.bits, w_bits, env.get("int8_pack"))
        wf, bf = f"{name}_w.mem", f"{name}_b.mem"
        env["write_conv_mems"](w, b, pi, po, w_bits, b_bits,
                               env["out_dir"] / wf, env["out_dir"] / bf, pack=pack)
        return dict(CIN=L["cin"], COUT=L["cout"], IN_BITS=src.bits, IN_SIGNED=int(src.signed),
                    W_BITS=w_bits, B_BITS=b_bits, OUT_BITS=node.output.bits,
                    OUT_SIGNED=int(node.output.signed),
                    SHIFT=int(L["out_exp"]) - (int(L["in_exp"]) + w_exp),
                    ACT=ACT_CODE[L.get("act", "none")],
                    LEAKY_SHIFT=int(L.get("leaky_shift", 0) or 0), PI=pi, PO=po,
                    MAX_W=env["line_w"], DIM_BITS=env["dim_bits"], PACK=int(pack), LUT_MULTS=nlut,
                    WEIGHT_FILE=wf, BIAS_FILE=bf)

    def rtl_multipliers(self, node, fold):
        return 9 * fold[0] * fold[1]

    # testbench of conv3x3.v
    def tb_io(self, p):
        return ((p["CIN"], p["IN_BITS"], p["IN_SIGNED"]), (p["COUT"], p["OUT_BITS"], p["OUT_SIGNED"], 1))

    def tb_expected(self, case, frames):
        import numpy as np
        p, c = case["params"], case["conv"]
        w = np.load(case["w_npy"], allow_pickle=False)
        b = np.load(case["b_npy"], allow_pickle=False)
        return [ops.conv3x3(f, w, b, c["in_exp"], c["w_exp"], c["out_exp"], p["OUT_BITS"],
                            bool(p["OUT_SIGNED"]), c["act"], c.get("leaky_shift", 0)).astype(np.int64)
                for f in frames]


register(Conv3x3())
__all__ = ["Conv3x3", "MAX_CHANNEL_SHIFT", "shift_into_weights", "valid_reuse_factors", "rtl_bram18", "rtl_dsp", "rtl_lut", "rtl_lut_mult", "rtl_fold", "can_pack", "pack_field_bits", "ACT_CODE"]
