"""QONNX preparation for hls4ml: cleanup, channels-last, DepthToSpace rewrite.

`prepare(model)` accepts a raw Brevitas QONNX export (NCHW), or a model that
is already cleaned and channels-last (what `quant.export.export_qonnx_srnet`
writes), and returns a `ModelWrapper` that hls4ml's ONNX frontend reads:

1. ``qonnx.util.cleanup.cleanup_model`` and
   ``ConvertToChannelsLastAndClean(make_input_channels_last=True)`` (skipped
   when the graph already has channels-last nodes),
2. every ``Transpose(perm=0,3,1,2) -> DepthToSpace`` pair (qonnx leaves
   DepthToSpace channels-first) becomes one channels-last DepthToSpace node
   in the ``egvsr.channels_last`` domain (read by `extension`); inverse
   transpose pairs left around a DepthToSpace inside the network (the
   "cheap" tail: shuffle -> ReLU -> conv at HR) cancel
   (`cancel_transpose_pairs`), and a final NHWC->NCHW transpose in front of
   a graph output is dropped, so the graph output is NHWC like the HLS stream.
"""
from __future__ import annotations

from pathlib import Path

import onnx
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper

from .extension import CL_DOMAIN

__all__ = ["prepare", "channels_last_depth_to_space", "channels_last_gather", "cancel_transpose_pairs",
           "resize_spatial", "PROBE"]

#: spatial size graphs are prepared at before `resize_spatial` (distinct primes)
PROBE = (7, 11)

_QONNX_CL = "qonnx.custom_op.channels_last"


def _perm(node):
    for a in node.attribute:
        if a.name == "perm":
            return list(a.ints)
    return None


def _is_channels_last(model: ModelWrapper) -> bool:
    return any(n.domain == _QONNX_CL for n in model.graph.node) or any(
        n.domain == CL_DOMAIN for n in model.graph.node)


_ELTWISE = ("Quant", "Relu", "LeakyRelu")


def _swap_transpose_up(model: ModelWrapper, el) -> bool:
    """Transpose(0,3,1,2) -> el (elementwise)  ==>  el -> Transpose(0,3,1,2)."""
    tr = model.find_producer(el.input[0])
    if tr is None or tr.op_type != "Transpose" or _perm(tr) != [0, 3, 1, 2]:
        return False
    if len(model.find_consumers(tr.output[0]) or []) != 1:
        return False
    nhwc_shape = model.get_tensor_shape(tr.input[0])
    mid = el.output[0] + "_nhwc"
    el.input[0] = tr.input[0]
    out = el.output[0]
    el.output[0] = mid
    tr.input[0] = mid
    tr.output[0] = out
    g = model.graph
    g.node.remove(tr)
    g.node.insert(list(g.node).index(el) + 1, tr)
    model.set_tensor_shape(mid, nhwc_shape)
    return True


def _compose(p1, p2):
    """perm of Transpose(p2) applied after Transpose(p1)."""
    return [p1[i] for i in p2]


def cancel_transpose_pairs(model: ModelWrapper) -> bool:
    """Remove every ``Transpose(p1) -> Transpose(p2)`` whose composition is the identity.

    This is what is left around a DepthToSpace inside the network (the
    "cheap" tail: shuffle -> ReLU -> conv at HR): qonnx wraps the channels-first
    DepthToSpace in NHWC->NCHW / NCHW->NHWC transposes and the channels-last
    rewrite above adds its own NCHW transpose behind the new node, so
    ``DepthToSpace(CL) -> Transpose(0,3,1,2) -> Transpose(0,2,3,1) -> Relu``
    collapses to ``DepthToSpace(CL) -> Relu``. The second transpose's
    consumers are rewired to the first one's input; the first transpose is
    removed once nothing reads it. Graph outputs are left alone.
    """
    g = model.graph
    outs = {o.name for o in g.output}
    changed_any = False
    changed = True
    while changed:
        changed = False
        for t2 in list(g.node):
            if t2.op_type != "Transpose" or t2.output[0] in outs:
                continue
            t1 = model.find_producer(t2.input[0])
            if t1 is None or t1.op_type != "Transpose":
                continue
            p1, p2 = _perm(t1), _perm(t2)
            if p1 is None or p2 is None or _compose(p1, p2) != list(range(len(p1))):
                continue
            src = t1.input[0]
            for c in model.find_consumers(t2.output[0]) or []:
                for k, name in enumerate(c.input):
                    if name == t2.output[0]:
                        c.input[k] = src
            g.node.remove(t2)
            if not model.find_consumers(t1.output[0]) and t1.output[0] not in outs:
                g.node.remove(t1)
            changed = changed_any = True
            break
    return changed_any


def channels_last_depth_to_space(model: ModelWrapper) -> ModelWrapper:
    """Rewrite Transpose(NHWC->NCHW) -> DepthToSpace into a channels-last DepthToSpace."""
    g = model.graph
    changed = True
    while changed:
        changed = False
        for d2s in list(g.node):
            if d2s.op_type != "DepthToSpace" or d2s.domain == CL_DOMAIN:
                continue
            tr = model.find_producer(d2s.input[0])
            if tr is not None and tr.op_type in _ELTWISE and _swap_transpose_up(model, tr):
                changed = True
                break
            if tr is None or tr.op_type != "Transpose" or _perm(tr) != [0, 3, 1, 2]:
                raise ValueError(
                    f"DepthToSpace {d2s.name!r} is not fed by an NHWC->NCHW Transpose; "
                    "convert the model with ConvertToChannelsLastAndClean(make_input_channels_last=True) first")
            n, c, h, w = model.get_tensor_shape(d2s.input[0])
            r = next(a.i for a in d2s.attribute if a.name == "blocksize")
            mode = next((a.s.decode() for a in d2s.attribute if a.name == "mode"), "DCR")
            nhwc_in = tr.input[0]
            nchw_out = d2s.output[0]
            nhwc_out = nchw_out + "_nhwc"
            new = helper.make_node("DepthToSpace", [nhwc_in], [nhwc_out], name=d2s.name or "DepthToSpace",
                                   domain=CL_DOMAIN, blocksize=r, mode=mode)
            back = helper.make_node("Transpose", [nhwc_out], [nchw_out], name=(d2s.name or "d2s") + "_to_nchw",
                                    perm=[0, 3, 1, 2])
            idx = list(g.node).index(d2s)
            g.node.remove(d2s)
            g.node.insert(idx, back)
            g.node.insert(idx, new)
            model.set_tensor_shape(nhwc_out, [n, h * r, w * r, c // (r * r)])
            if len(model.find_consumers(tr.output[0]) or []) == 0:
                g.node.remove(tr)
            changed = True
            break
    cancel_transpose_pairs(model)
    # Drop an NHWC->NCHW transpose that only feeds a graph output.
    outs = {o.name: o for o in g.output}
    for node in list(g.node):
        if node.op_type == "Transpose" and _perm(node) == [0, 3, 1, 2] and node.output[0] in outs:
            if model.find_consumers(node.output[0]):
                continue
            src = node.input[0]
            shape = model.get_tensor_shape(src)
            o = outs[node.output[0]]
            g.node.remove(node)
            for vi in list(g.value_info):
                if vi.name == src:
                    g.value_info.remove(vi)
            o.CopyFrom(helper.make_tensor_value_info(src, onnx.TensorProto.FLOAT, shape))
    remaining = [n.name for n in g.node if n.op_type == "DepthToSpace" and n.domain != CL_DOMAIN]
    if remaining:
        raise ValueError(f"could not rewrite DepthToSpace nodes {remaining} to channels-last")
    return model


def _nhwc_source(model: ModelWrapper, x: str, anchor_node) -> str:
    """An NHWC tensor holding NCHW tensor `x`: an existing ``Transpose(0,2,3,1)`` of it,
    else one inserted in front of `anchor_node`."""
    for c in model.find_consumers(x) or []:
        if c.op_type == "Transpose" and _perm(c) == [0, 2, 3, 1]:
            return c.output[0]
    n, ch, h, w = model.get_tensor_shape(x)
    out = x + "_nhwc"
    g = model.graph
    g.node.insert(list(g.node).index(anchor_node),
                  helper.make_node("Transpose", [x], [out], name=x + "_to_nhwc", perm=[0, 2, 3, 1]))
    model.set_tensor_shape(out, [n, h, w, ch])
    return out


def channels_last_gather(model: ModelWrapper) -> ModelWrapper:
    """Rewrite ``Gather(axis=1)`` of an NCHW tensor (the anchor skip's channel gather) channels-last.

    qonnx has no channels-last Gather: it leaves ``x(NCHW) -> Gather(axis=1) ->
    Transpose(0,2,3,1)``. That becomes ``Gather(axis=3)`` in the
    ``egvsr.channels_last`` domain reading the NHWC form of `x`; when `x` is an
    elementwise node (the net input's ``Quant``) behind an NHWC->NCHW
    transpose, the transpose is moved above it and cancels with the NCHW->NHWC
    one, so the net input stays channels-last as without the anchor.
    """
    g = model.graph
    changed = True
    while changed:
        changed = False
        for ga in list(g.node):
            if ga.op_type != "Gather" or ga.domain == CL_DOMAIN:
                continue
            axis = next((a.i for a in ga.attribute if a.name == "axis"), 0)
            shape = model.get_tensor_shape(ga.input[0])
            if shape is None or len(shape) != 4 or axis not in (1, -3):
                raise ValueError(f"Gather {ga.name!r}: only a channel gather (axis 1) of a 4-D NCHW tensor "
                                 f"is implemented (got axis {axis}, input shape {shape})")
            cons = model.find_consumers(ga.output[0]) or []
            if len(cons) != 1 or cons[0].op_type != "Transpose" or _perm(cons[0]) != [0, 2, 3, 1]:
                raise ValueError(f"Gather {ga.name!r} is not followed by an NCHW->NHWC Transpose; convert the "
                                 "model with ConvertToChannelsLastAndClean(make_input_channels_last=True) first")
            back = cons[0]
            x = ga.input[0]
            src = _nhwc_source(model, x, ga)
            new = helper.make_node("Gather", [src, ga.input[1]], [back.output[0]], name=ga.name or "Gather",
                                   domain=CL_DOMAIN, axis=3)
            g.node.remove(back)
            nodes = list(g.node)
            prod = model.find_producer(src)
            idx = max(nodes.index(ga), nodes.index(prod) + 1 if prod is not None else 0)
            g.node.insert(idx, new)
            g.node.remove(ga)
            # x(NCHW) now feeds only its NHWC transpose: move an NHWC->NCHW transpose above x's producer
            el = model.find_producer(x)
            if el is not None and el.op_type in _ELTWISE and len(model.find_consumers(x) or []) == 1:
                _swap_transpose_up(model, el)
            cancel_transpose_pairs(model)
            changed = True
            break
    return model


def prepare(model) -> ModelWrapper:
    """Cleaned, channels-last QONNX ready for `hls4ml.converters.convert_from_onnx_model`."""
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model

    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"QONNX file {path} not found")
        model = ModelWrapper(str(path))
    elif isinstance(model, onnx.ModelProto):
        model = ModelWrapper(model)
    if not _is_channels_last(model):
        model = cleanup_model(model)
        model = model.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
    model = channels_last_depth_to_space(model)
    model = channels_last_gather(model)
    return model


def resize_spatial(model: ModelWrapper, H: int, W: int) -> ModelWrapper:
    """Re-annotate a prepared (NHWC, fully convolutional) model for an H x W input.

    qonnx's shape inference costs time proportional to the activation sizes
    (it materialises random tensors), so graphs are prepared at a small probe
    size and then re-annotated here: every rank-4 activation shape
    ``[1, k*h0, k*w0, c]`` becomes ``[1, k*H, k*W, c]``.
    """
    g = model.graph
    shape0 = model.get_tensor_shape(g.input[0].name)
    if shape0 is None or len(shape0) != 4:
        raise ValueError(f"expected a 4-D NHWC graph input, got {shape0}")
    h0, w0 = int(shape0[1]), int(shape0[2])
    inits = {i.name for i in g.initializer}

    def fix(vi):
        if vi.name in inits:
            return
        dims = vi.type.tensor_type.shape.dim
        if len(dims) != 4:
            return
        h, w = dims[1].dim_value, dims[2].dim_value
        if h % h0 == 0 and w % w0 == 0 and h // h0 == w // w0 and h > 0:
            k = h // h0
            dims[1].dim_value = k * H
            dims[2].dim_value = k * W

    for vi in list(g.input) + list(g.output) + list(g.value_info):
        fix(vi)
    return model
