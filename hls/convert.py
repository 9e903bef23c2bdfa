"""QONNX -> hls4ml project (Vitis backend, io_stream, channels-last).

- `name_and_check(model, bundle)`: renames the QONNX nodes after the bundle's
  layers (``conv_in``, ``rb0_conv1``, ..., ``pixel_shuffle``; hls4ml then
  calls the conv cores ``Conv2D_<name>``) and checks that the QONNX implements
  the bundle: same layer sequence, same integer weights and biases, same
  power-of-two exponents and bit widths. A mismatch raises `QonnxMismatch`.
- `convert(...)`: hls4ml conversion with types derived from the Quant nodes
  (hls4ml's QONNX flow: ``ap_fixed``/``ap_ufixed`` with ``AP_RND_CONV`` and
  ``AP_SAT``; the accumulators are exact), Resource strategy with the chosen
  reuse factor per conv layer, the DepthToSpace extension, the anchor skip
  (`anchor_ext`: its Gather -> Add -> Quant become a channel slice and a
  repeat-add-requant layer), and FIFO depths set from the pipeline latency
  (`fifo.size_fifos`).
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
from onnx import numpy_helper

from egvsr.golden import oplib

from . import anchor_ext, extension
from .qonnx_prep import prepare

__all__ = ["QonnxMismatch", "name_and_check", "convert", "hls_layer_map", "quiet", "fixed_type",
           "reuse_factors"]


class QonnxMismatch(ValueError):
    """The QONNX model does not implement the bundle it is paired with."""


@contextlib.contextmanager
def quiet(enabled: bool = True):
    """Silence hls4ml/qonnx's prints (stdout) while converting/compiling."""
    if not enabled:
        yield
        return
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        yield buf


def _init(model, name):
    v = model.get_initializer(name)
    if v is None:
        p = model.find_producer(name)
        raise QonnxMismatch(f"tensor {name!r} is not a constant (produced by {p.op_type if p else '?'})")
    return np.asarray(v, np.float64)


def _quant_params(model, node):
    scale = _init(model, node.input[1]).reshape(-1)
    zp = _init(model, node.input[2]).reshape(-1)
    bits = int(_init(model, node.input[3]).reshape(-1)[0])
    attrs = {a.name: a for a in node.attribute}
    signed = bool(attrs["signed"].i) if "signed" in attrs else True
    narrow = bool(attrs["narrow"].i) if "narrow" in attrs else False
    if np.any(zp != 0):
        raise QonnxMismatch(f"Quant {node.name!r} has a non-zero zero point; the contract is symmetric")
    if scale.size != 1:
        raise QonnxMismatch(f"Quant {node.name!r} has a per-channel scale; hls4ml would rescale it per "
                            "channel in its own arithmetic. Per-channel weights (quantizer option "
                            "per_channel_weights) go through the bundle's QONNX, where the shifts are in "
                            "the weights: build from the bundle (the default), not from the Brevitas QONNX")
    e = np.log2(scale[0])
    if scale[0] <= 0 or e != np.round(e):
        raise QonnxMismatch(f"Quant {node.name!r} scale {scale[0]!r} is not a power of two; use fixed-point "
                            "(power-of-two) Brevitas quantizers")
    return int(round(e)), bits, signed, narrow


def _consumers(model, tensor):
    return model.find_consumers(tensor) or []


def _single_consumer(model, node, op_types):
    cons = _consumers(model, node.output[0])
    if len(cons) == 1 and cons[0].op_type in op_types:
        return cons[0]
    return None


def _topo(model):
    return list(model.graph.node)  # qonnx cleanup / SortGraph keep the graph topologically sorted


#: activations a conv's QONNX puts between its ``Conv`` and its output ``Quant``
_CONV_ACTS = ("Relu", "LeakyRelu")


def _fused_activation(model, node) -> bool:
    """A Relu/LeakyRelu fed straight by a Conv: the conv layer's activation (hls4ml fuses it)."""
    if node.op_type not in _CONV_ACTS:
        return False
    p = model.find_producer(node.input[0])
    return p is not None and p.op_type == "Conv"


def _through_transposes(model, tensor):
    """`tensor`, or the tensor behind the Transposes that produce it (layout only, same codes)."""
    p = model.find_producer(tensor)
    while p is not None and p.op_type == "Transpose":
        tensor = p.input[0]
        p = model.find_producer(tensor)
    return tensor


def _check_gather_add(model, n, g, tensors):
    """The anchor skip's pattern: `n` = ``Add(<residual>, Gather(<skip input>, k // r*r, axis=C))``.

    `tensors`: bundle tensor name -> QONNX tensor of its codes (the output Quant of each
    layer checked so far, the input quantizer's output for the net input). Returns the Gather.
    """
    from .extension import CL_DOMAIN

    L, name = g.layer, g.name
    where = f"bundle/QONNX mismatch: {L['op']} {name!r}"
    srcs = [_through_transposes(model, t) for t in n.input]
    prods = [model.find_producer(t) for t in srcs]
    k = [i for i, p in enumerate(prods) if p is not None and p.op_type == "Gather"]
    if len(n.input) != 2 or len(k) != 1:
        raise QonnxMismatch(f"{where} must be Add(<{L['inputs'][0]}>, Gather(<{L['inputs'][1]}>)); "
                            f"the QONNX adds {[p.op_type if p else 'input' for p in prods]}")
    ga = prods[k[0]]
    axis = next((a.i for a in ga.attribute if a.name == "axis"), 0)
    want_axis = 3 if ga.domain == CL_DOMAIN else 1
    if axis not in (want_axis, want_axis - 4):
        raise QonnxMismatch(f"{where}: its Gather is along axis {axis}, not the channel axis {want_axis} "
                            f"({'channels-last' if want_axis == 3 else 'NCHW'})")
    idx = model.get_initializer(ga.input[1])
    if idx is None:
        raise QonnxMismatch(f"{where}: the Gather indices are not a constant")
    idx = np.asarray(idx).reshape(-1)
    want = g.op.gather_indices(L)
    if idx.shape != want.shape or not np.array_equal(idx, want):
        r2 = int(L["factor"]) ** 2
        raise QonnxMismatch(f"{where}: the Gather takes channels {idx.tolist()} of "
                            f"{L['inputs'][1]!r}, the bundle repeats each of its first "
                            f"{len(want) // r2} channels {r2} times (channel k // {r2} for k < {len(want)}): "
                            f"{want.tolist()}")
    for i, (t, src) in enumerate(((_through_transposes(model, ga.input[0]), L["inputs"][1]),
                                  (srcs[1 - k[0]], L["inputs"][0]))):
        exp = tensors.get(src)
        if exp is not None and t != _through_transposes(model, exp):
            p = model.find_producer(t)
            raise QonnxMismatch(f"{where}: its {'Gather reads' if i == 0 else 'Add adds'} "
                                f"{p.name if p else t!r} ({p.op_type if p else 'a graph input'}), not the "
                                f"quantized {src!r} (the bundle's input {1 - i} of {name!r})")
    return ga


def name_and_check(model, bundle, net: str = "srnet", layers: list[str] | None = None,
                   in_spec: dict | None = None) -> dict:
    """Rename `model`'s nodes after the bundle layers and verify it implements them.

    `layers`: the bundle layer names the model holds (default: the whole net).
    `in_spec`: {bits, signed, exp} of the model input (default: the net input).
    Returns {bundle layer name: ONNX node name}.

    Each layer's op (`golden.oplib`) names the ONNX node that computes it
    (``Op.hls_onnx_ops``, first entry); a layer with weight and bias arrays
    has its quantized weights and bias compared with the bundle's codes; a
    passthrough op (a shuffle) has no output quantizer.
    """
    graph = bundle.graph(net)
    specs = graph.specs()
    wanted = [n for n in graph.nodes if layers is None or n.name in layers]
    nodes = _topo(model)
    primary = {op.hls_onnx_ops[0] for op in oplib.registry().values() if op.hls_onnx_ops}
    compute = [n for n in nodes if n.op_type in primary and not _fused_activation(model, n)]
    sig_q = [n.op_type for n in compute]
    sig_b = [(g.op.hls_onnx_ops or ("?" + g.op.name,))[0] for g in wanted]
    if sig_q != sig_b:
        raise QonnxMismatch(f"bundle/QONNX mismatch: the QONNX computes {sig_q} but the bundle's "
                            f"{net} layers {[g.name for g in wanted]} need {sig_b}; export the QONNX "
                            "and the bundle from the same quantized model")
    # input quantizer
    inp = model.graph.input[0].name
    qin = [n for n in _consumers(model, inp) if n.op_type == "Quant"]
    spec = in_spec or specs[wanted[0].inputs[0].name]
    if qin:
        e, bits, signed, _ = _quant_params(model, qin[0])
        if (e, bits, signed) != (spec["exp"], spec["bits"], bool(spec["signed"])):
            raise QonnxMismatch(f"bundle/QONNX mismatch: input quantizer is {bits}-bit signed={signed} "
                                f"exp {e}, the bundle expects {spec['bits']}-bit signed={spec['signed']} "
                                f"exp {spec['exp']}")
        qin[0].name = "input_quant"
    # bundle tensor -> QONNX tensor of its codes (to check the anchor skip's wiring)
    tensors = {wanted[0].inputs[0].name: qin[0].output[0] if qin else inp}
    mapping = {}
    used = set()

    def rename(node, name):
        base, k = name, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        node.name = name

    for g, n in zip(wanted, compute):
        L, op, name = g.layer, g.op, g.name
        rename(n, name)
        mapping[name] = n.name
        last = n
        if "weight" in L:  # a layer with weights (a conv): weight and bias quantizers, activation
            wq = model.find_producer(n.input[1])
            bq = model.find_producer(n.input[2]) if len(n.input) > 2 else None
            if wq is None or wq.op_type != "Quant":
                raise QonnxMismatch(f"bundle/QONNX mismatch: conv {name!r} weights are not quantized by a Quant node")
            # the weights the hardware computes with (per-channel exponents moved into them)
            w_ref, b_ref, w_exp, w_bits, _ = op.effective(L, bundle.arrays)
            e, bits, signed, narrow = _quant_params(model, wq)
            if (e, bits, signed) != (w_exp, w_bits, True):
                raise QonnxMismatch(f"bundle/QONNX mismatch: conv {name!r} weight quantizer {bits}-bit exp {e}, "
                                    f"bundle says {w_bits}-bit exp {w_exp}")
            w = _init(model, wq.input[0])
            w_codes = np.round(w * 2.0 ** -e)
            ref = w_ref.astype(np.float64)  # OIHW
            if w_codes.shape == ref.shape:
                cand = [w_codes]
            else:
                cand = [np.transpose(w_codes, (0, 3, 1, 2))] if w_codes.ndim == 4 else []
            if not cand or cand[0].shape != ref.shape:
                raise QonnxMismatch(f"bundle/QONNX mismatch: conv {name!r} weight shape {w.shape} vs bundle "
                                    f"{ref.shape} (OIHW)")
            if not np.array_equal(np.clip(cand[0], -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1), ref):
                bad = int(np.sum(cand[0] != ref))
                raise QonnxMismatch(f"bundle/QONNX mismatch: conv {name!r} has {bad} weight codes that differ "
                                    "from the bundle; export both from the same model")
            rename(wq, name + "_wq")
            acc_exp = int(L["in_exp"]) + w_exp
            if bq is not None and bq.op_type == "Quant":
                e, bits, signed, _ = _quant_params(model, bq)
                b = _init(model, bq.input[0])
                b_codes = np.round(b * 2.0 ** -acc_exp)
                if e != acc_exp or not np.array_equal(b_codes, b_ref.astype(np.float64)):
                    raise QonnxMismatch(f"bundle/QONNX mismatch: conv {name!r} bias differs from the bundle "
                                        f"(QONNX exp {e}, bundle acc_exp {acc_exp})")
                rename(bq, name + "_bq")
            elif bq is not None:
                raise QonnxMismatch(f"conv {name!r}: bias is not quantized by a Quant node (use Int32Bias)")
            elif np.any(b_ref != 0):
                raise QonnxMismatch(f"bundle/QONNX mismatch: conv {name!r} has no bias in the QONNX")
            act = _single_consumer(model, n, ("Relu", "LeakyRelu"))
            if L["act"] == "none" and act is not None:
                raise QonnxMismatch(f"bundle/QONNX mismatch: conv {name!r} is followed by {act.op_type}, bundle act none")
            if L["act"] != "none":
                if act is None:
                    raise QonnxMismatch(f"bundle/QONNX mismatch: conv {name!r} has no activation, bundle act {L['act']}")
                rename(act, name + "_" + L["act"])
                last = act
        if n.op_type == "DepthToSpace":
            r = next(a.i for a in n.attribute if a.name == "blocksize")
            mode = next((a.s.decode() for a in n.attribute if a.name == "mode"), "DCR")
            want_mode = getattr(op, "hls_mode", "DCR")
            if r != L["factor"] or mode != want_mode:
                raise QonnxMismatch(f"bundle/QONNX mismatch: {name!r} is DepthToSpace({r}, {mode}), bundle "
                                    f"{L['op']}({L['factor']}) = DepthToSpace({L['factor']}, {want_mode})")
        if n.op_type == "Add" and "Gather" in op.hls_onnx_ops:  # the anchor skip
            rename(_check_gather_add(model, n, g, tensors), name + "_gather")
        elif n.op_type == "Add":
            for t in n.input:
                p = model.find_producer(_through_transposes(model, t))
                if p is not None and p.op_type == "Gather":
                    raise QonnxMismatch(f"bundle/QONNX mismatch: {L['op']} {name!r} is a plain add, the QONNX "
                                        f"adds a Gather ({p.name!r}, an anchor skip) there")
        if op.passthrough:  # keeps its input's codes: no output quantizer
            tensors[name] = last.output[0]
            continue
        oq = _single_consumer(model, last, ("Quant",))
        if oq is None:
            raise QonnxMismatch(f"bundle/QONNX mismatch: layer {name!r} output is not quantized by one Quant node")
        e, bits, signed, _ = _quant_params(model, oq)
        if (e, bits, signed) != (L["out_exp"], L["out_bits"], bool(L["out_signed"])):
            raise QonnxMismatch(f"bundle/QONNX mismatch: layer {name!r} output quantizer {bits}-bit "
                                f"signed={signed} exp {e}, bundle {L['out_bits']}-bit signed={L['out_signed']} "
                                f"exp {L['out_exp']}")
        rename(oq, name + "_quant")
        tensors[name] = oq.output[0]
    return mapping


def fixed_type(bits: int, signed: bool, exp: int) -> str:
    """hls4ml precision string of `bits`-bit codes at exponent `exp` (RND_CONV, SAT)."""
    return f"{'fixed' if signed else 'ufixed'}<{bits},{bits + exp},RND_CONV,SAT>"


def reuse_factors(graph, folding: dict) -> dict:
    """{layer: hls4ml ReuseFactor} from a plan's `folding`: the layers an ONNX ``Conv`` computes
    (`convert` sets the reuse factor on those; other foldings, a shuffle's P, are not one)."""
    return {k: int(v) for k, v in folding.items() if graph.node(k).op.hls_onnx_ops[:1] == ("Conv",)}


def hls_layer_map(hls_model) -> dict:
    """hls4ml layer name -> bundle layer name (or '' for glue layers)."""
    out = {}
    for layer in hls_model.get_layers():
        n = layer.name
        base = n
        for pre in ("zp2d_", "Conv2D_", "clone_"):
            if base.startswith(pre):
                base = base[len(pre):]
        for suf in ("_quant", "_relu", "_leaky", "_slice"):
            if base.endswith(suf):
                base = base[: -len(suf)]
        out[n] = base
    return out


def convert(model, output_dir, project_name: str = "egvsr_srnet", part: str = "xck26-sfvc784-2LV-c",
            clock_period_ns: float = 3.333, reuse: dict | None = None, pixels_per_beat: int = 1,
            fifo_depths=None, verbose: bool = False):
    """hls4ml ModelGraph (written, not compiled) of a named, prepared QONNX model.

    `reuse`: {bundle conv name: reuse factor}. `fifo_depths`: callable(hls_model) ->
    {variable name: depth} applied to the stream pragmas (default `fifo.size_fifos`).
    """
    import hls4ml

    from .fifo import apply_fifo_depths, size_fifos

    extension.register()
    model = anchor_ext.fuse_anchor(prepare(model))
    reuse = reuse or {}
    with quiet(not verbose):
        cfg = hls4ml.utils.config_from_onnx_model(model, granularity="name", backend="Vitis",
                                                  default_precision="fixed<16,6>", default_reuse_factor=1)
    cfg["Model"]["Strategy"] = "Resource"
    names = cfg.setdefault("LayerName", {})
    outs = {o.name for o in model.graph.output}
    for n in model.graph.node:
        if n.op_type == "Conv":
            names.setdefault(n.name, {})
            names[n.name]["ReuseFactor"] = int(reuse.get(n.name, 1))
            names[n.name]["Strategy"] = "Resource"
        if n.op_type == "DepthToSpace":
            # Packing P HR pixels per word is for the output stream only: a shuffle inside the
            # network (the "cheap" tail) feeds a conv, which reads one pixel per word.
            p = int(pixels_per_beat) if n.output[0] in outs else 1
            names.setdefault(n.name, {})["PixelsPerBeat"] = p
    # The input stream carries the input quantizer's codes: give it that exact type.
    inp = model.graph.input[0].name
    qin = [n for n in (model.find_consumers(inp) or []) if n.op_type == "Quant"]
    if qin:
        e, bits, signed, _ = _quant_params(model, qin[0])
        names.setdefault(inp, {})["Precision"] = {"result": fixed_type(bits, signed, e)}
    with quiet(not verbose):
        hm = hls4ml.converters.convert_from_onnx_model(
            model, output_dir=str(output_dir), project_name=project_name, io_type="io_stream",
            backend="Vitis", part=part, clock_period=clock_period_ns, hls_config=cfg)
    for layer in hm.get_layers():
        if layer.class_name in ("DepthToSpace", "AnchorSlice"):
            layer.get_output_variable().type.precision = layer.get_input_variable().type.precision
        if layer.class_name == "AnchorAdd" and str(layer.get_output_variable().type.precision) != \
                str(layer.out_precision()):
            raise RuntimeError(f"hls4ml changed the output type of {layer.name!r} to "
                               f"{layer.get_output_variable().type.precision}, not the Quant's {layer.out_precision()}")
    depths = (fifo_depths or size_fifos)(hm)
    apply_fifo_depths(hm, depths)
    hm._egvsr_fifo_depths = depths
    with quiet(not verbose):
        hm.write()
    return hm
