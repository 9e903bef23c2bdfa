"""The SRNet network function with a run-time frame size, for the board IP (package ``egvsr.hls``).

hls4ml's io_stream layers take their frame size from compile-time configs
(line buffers of ``in_width``, loops over ``in_height x in_width``), so
hls4ml's top ``egvsr_srnet`` runs exactly its build size.  The board IP
(:mod:`egvsr.hls.board_top`) must serve every LR size from ``regmap.MIN_LR``
up to the build size with one bitstream, so :func:`write_runtime_top` writes a
second network function ``<project>_rt(in, out, h, w)`` into the hls4ml
project, generated from the hls4ml model's layer list and types (the same
stream variables, types, FIFO depths, weights and layer configs as
``egvsr_srnet``), where every layer is one of our run-time size stream layers
(``nnet_utils/nnet_runtime_size_stream.h``, copied into the project):

- ``ZeroPadding2D`` + ``Conv2D`` (3x3, stride 1): ``egvsr_rt::conv3x3_rt``, which
  pads itself (the padding layer is not instantiated) and computes each output
  pixel with hls4ml's own dense kernel of the layer's config (Resource strategy,
  its reuse factor, weight layout and accumulator), so the numerics and the
  folding are hls4ml's;
- ``Activation`` (ReLU, linear), ``Clone`` (two outputs), ``Merge`` (add):
  ``activation_rt`` (ReLU or identity), ``clone2_rt``, ``add_rt``;
- our extension layers ``AnchorSlice``, ``AnchorAdd``, ``DepthToSpace``: their
  run-time size forms (``nnet_anchor_add_stream.h``,
  ``nnet_depth_to_space_stream.h``).

Every layer gets the net input's LR ``h, w`` and a compile-time scale ``S``
(its input's size over the net input's: 1, or the shuffle's block for the
layers at HR behind a shuffle inside the net, the "cheap" tail).  The build
size of the hls4ml model is the maximum.  Any other layer class refuses the
build (``NotImplementedError``): the board IP then cannot be generated.

The non-board paths (``egvsr eval --backend hls``, :mod:`egvsr.hls.cores`) keep
hls4ml's fixed-size top; the board IP compiles this function instead of it
(never both: the weight arrays are defined by ``parameters.h``).
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RuntimeTop", "write_runtime_top", "runtime_name", "HEADER"]

HEADER = Path(__file__).resolve().parent / "nnet_utils" / "nnet_runtime_size_stream.h"


def runtime_name(project: str) -> str:
    """The run-time size network function of hls4ml project ``project``."""
    return f"{project}_rt"


@dataclass
class RuntimeTop:
    """The generated network function of one hls4ml SRNet top."""
    name: str
    max_height: int
    max_width: int
    in_type: str
    out_type: str
    files: dict = field(default_factory=dict)
    #: (hls4ml layer name, class, the call written for it, or "" for a layer not instantiated)
    layers: list = field(default_factory=list)
    #: {hls4ml layer name: S}, the layer's frame over the net input's (1, or the shuffle's block
    #: behind a shuffle inside the net)
    scales: dict = field(default_factory=dict)


def _weights_block(src: str, where: str) -> str:
    """hls4ml's C-simulation weight loading (``#ifndef __SYNTHESIS__ ... #endif``) of its top."""
    m = re.search(r"\n([ \t]*#ifndef __SYNTHESIS__\n[ \t]*static bool loaded_weights.*?\n[ \t]*#endif)\n", src, re.S)
    if not m:
        raise RuntimeError(f"{where}: no weight-loading block (#ifndef __SYNTHESIS__ ... loaded_weights) in "
                           "hls4ml's top; hls4ml's code generation changed: update egvsr.hls.runtime_top")
    return m[1]


def write_runtime_top(core) -> RuntimeTop:
    """Write ``firmware/<project>_rt.{h,cpp}`` and the header of our run-time size layers
    into the project of hls4ml SRNet top ``core`` (an :class:`egvsr.hls.cores.Core`)."""
    hm = core.hls_model
    d = Path(core.project_dir)
    project = hm.config.get_project_name()
    name = runtime_name(project)
    fw = d / "firmware"
    params = (fw / "parameters.h").read_text()
    top_src = (fw / f"{project}.cpp").read_text()
    inp, out = hm.get_input_variables()[0], hm.get_output_variables()[0]
    H, W = (int(v) for v in inp.shape[:2])
    ovars = hm.output_vars

    def have_config(cfg, layer):
        if not re.search(rf"\bstruct {cfg}\b", params):
            raise RuntimeError(f"{project}: no {cfg} in parameters.h for layer {layer.name!r}; hls4ml's "
                               "config naming changed: update egvsr.hls.runtime_top")
        return cfg

    alias: dict = {}   # tensor of a layer not instantiated (zero padding) -> the tensor it passes on
    padded: set = set()

    def src(t):
        while t in alias:
            t = alias[t]
        return t

    def scale(layer, var):
        h, w = (int(v) for v in var.shape[:2])
        if h % H or w % W or h // H != w // W:
            raise NotImplementedError(f"{project}: layer {layer.name!r} runs at {h}x{w}, not a whole multiple "
                                      f"of the {H}x{W} net input; the run-time size top cannot scale it")
        return h // H

    streams, calls, layers, scales = [], [], [], {}
    for layer in hm.get_layers():
        cls = layer.class_name
        if cls == "Input":
            layers.append((layer.name, cls, ""))
            continue
        ins = [src(t) for t in layer.inputs]
        in_vars = [ovars[t] for t in ins]
        outs = [ovars[t] for t in layer.outputs]
        if cls == "ZeroPadding2D":
            pads = [int(layer.get_attr(k)) for k in ("pad_top", "pad_bottom", "pad_left", "pad_right")]
            if pads != [1, 1, 1, 1]:
                raise NotImplementedError(f"{project}: {layer.name!r} pads {pads}; the run-time size conv pads "
                                          "1 on every side")
            alias[layer.outputs[0]] = ins[0]
            padded.add(layer.outputs[0])
            layers.append((layer.name, cls, ""))
            continue
        v0 = in_vars[0]
        s = scales[layer.name] = scale(layer, v0)
        max_px = int(v0.shape[0]) * int(v0.shape[1])
        o = outs[0]
        if cls == "Conv2D":
            geo = [int(layer.get_attr(k)) for k in ("filt_height", "filt_width", "stride_height", "stride_width")]
            own = [int(layer.get_attr(k, 0)) for k in ("pad_top", "pad_bottom", "pad_left", "pad_right")]
            if geo != [3, 3, 1, 1] or own != [0, 0, 0, 0] or layer.inputs[0] not in padded:
                raise NotImplementedError(f"{project}: conv {layer.name!r} (kernel/stride {geo}, own padding "
                                          f"{own}) is not a 3x3 stride-1 conv behind a padding-1 ZeroPadding2D")
            cfg = have_config(f"config{layer.index}", layer)
            wn, bn = layer.get_weights("weight").name, layer.get_weights("bias").name
            call = (f"egvsr_rt::conv3x3_rt<{v0.type.name}, {o.type.name}, {cfg}, {s}>"
                    f"({v0.name}, {o.name}, h, w, {wn}, {bn});")
        elif cls == "Activation":
            act = str(layer.get_attr("activation")).lower()
            if act not in ("relu", "linear"):
                raise NotImplementedError(f"{project}: activation {act!r} of {layer.name!r} has no run-time size "
                                          "form (relu, linear)")
            call = (f"egvsr_rt::activation_rt<{v0.type.name}, {o.type.name}, "
                    f"{'true' if act == 'relu' else 'false'}, {s}, {max_px}>({v0.name}, {o.name}, h, w);")
        elif cls == "Clone":
            if len(outs) != 2:
                raise NotImplementedError(f"{project}: clone {layer.name!r} has {len(outs)} outputs; the run-time "
                                          "size clone has 2")
            call = (f"egvsr_rt::clone2_rt<{v0.type.name}, {o.type.name}, {s}, {max_px}>"
                    f"({v0.name}, {outs[0].name}, {outs[1].name}, h, w);")
        elif cls == "Merge":
            if str(layer.get_attr("op")).lower() != "add" or len(in_vars) != 2:
                raise NotImplementedError(f"{project}: merge {layer.name!r} ({layer.get_attr('op')}) is not a "
                                          "two-input add")
            v1 = in_vars[1]
            call = (f"egvsr_rt::add_rt<{v0.type.name}, {v1.type.name}, {o.type.name}, {s}, {max_px}>"
                    f"({v0.name}, {v1.name}, {o.name}, h, w);")
        elif cls == "AnchorSlice":
            cfg = have_config(f"config{layer.index}", layer)
            call = (f"egvsr_rt::channel_slice_rt<{v0.type.name}, {o.type.name}, {cfg}, {s}>"
                    f"({v0.name}, {o.name}, h, w);")
        elif cls == "AnchorAdd":
            cfg = have_config(f"config{layer.index}", layer)
            v1 = in_vars[1]
            if scale(layer, v1) != s:
                raise NotImplementedError(f"{project}: {layer.name!r} adds inputs of different sizes")
            call = (f"egvsr_rt::anchor_add_rt<{v0.type.name}, {v1.type.name}, {o.type.name}, {cfg}, {s}>"
                    f"({v0.name}, {v1.name}, {o.name}, h, w);")
        elif cls == "DepthToSpace":
            cfg = have_config(f"config{layer.index}", layer)
            call = (f"egvsr_rt::depth_to_space_rt<{v0.type.name}, {o.type.name}, {cfg}, {s}>"
                    f"({v0.name}, {o.name}, h, w);")
        else:
            raise NotImplementedError(f"{project}: hls4ml layer {layer.name!r} ({cls}) has no run-time size "
                                      "form in egvsr.hls.runtime_top; the board IP cannot be generated")
        for v in outs:
            if v.name != out.name:
                depth = int(v.pragma[1]) if getattr(v, "pragma", None) else 2
                streams.append(f"    hls::stream<{v.type.name}> {v.name}(\"{v.name}\");\n"
                               f"    #pragma HLS STREAM variable={v.name} depth={depth}\n")
        calls.append(f"    {call} // {layer.name}")
        layers.append((layer.name, cls, call))
    if src(hm.outputs[0]) != hm.outputs[0]:
        raise NotImplementedError(f"{project}: the net output is a padding layer's")

    sig = (f"void {name}(\n    hls::stream<{inp.type.name}> &{inp.name},\n    hls::stream<{out.type.name}> "
           f"&{out.name},\n    unsigned h,\n    unsigned w\n)")
    header = f"""// {name}: the SRNet network of hls4ml project {project} with a run-time frame size
// (generated by egvsr.hls.runtime_top): h x w LR pixels per call, h <= {H}, w <= {W}.
#ifndef {name.upper()}_H_
#define {name.upper()}_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"

#include "defines.h"

static const unsigned {name.upper()}_MAX_HEIGHT = {H};
static const unsigned {name.upper()}_MAX_WIDTH = {W};

{sig};

#endif
"""
    source = f"""// {name}: the SRNet network of hls4ml project {project} with a run-time frame size
// (generated by egvsr.hls.runtime_top from the hls4ml model: its stream variables, types,
// FIFO depths, weights and layer configs; the layers are egvsr_rt's, nnet_runtime_size_stream.h).
// One call is one frame of h x w LR pixels in raster order, h <= {H}, w <= {W} (the build size).
#include "{name}.h"
#include "parameters.h"
#include "nnet_utils/nnet_runtime_size_stream.h"

{sig} {{
    #pragma HLS DATAFLOW

{_weights_block(top_src, f"{fw / (project + '.cpp')}")}

{"".join(streams)}
{chr(10).join(calls)}
}}
"""
    files = {"rt_header": fw / f"{name}.h", "rt_source": fw / f"{name}.cpp",
             "rt_layers": fw / "nnet_utils" / HEADER.name}
    files["rt_header"].write_text(header)
    files["rt_source"].write_text(source)
    shutil.copyfile(HEADER, files["rt_layers"])
    return RuntimeTop(name=name, max_height=H, max_width=W, in_type=inp.type.name, out_type=out.type.name,
                      files=files, layers=layers, scales=scales)
