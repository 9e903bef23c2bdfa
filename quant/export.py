"""``egvsr export``: QONNX graphs (SRNet, FNet) and the integer bundle.

QONNX goes through Brevitas ``export_qonnx(..., dynamo=False)``, then qonnx
cleanup and ``ConvertToChannelsLastAndClean(make_input_channels_last=True)``
(the form hls4ml reads). FNet is exported up to its int8 flow-head output;
``tanh * 24``, flow upsampling and the warp stay on the host (golden).
Everything is written to temporary names first and renamed at the end, with a
versioned export manifest (``<stem>.export.json``) naming every file.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import torch

from egvsr.golden.validate import SRNET_IN_CHANNELS

EXPORT_SCHEMA = "egvsr.export"
EXPORT_VERSION = 1


def _export_raw(module, shape, path):
    from brevitas.export import export_qonnx
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(module, args=torch.zeros(shape), export_path=str(path), dynamo=False)


def channels_last(path_in, path_out):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model
    model = cleanup_model(ModelWrapper(str(path_in)))
    model = model.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
    model = cleanup_model(model)
    model.save(str(path_out))
    return model


def export_qonnx_net(module, path, shape_nchw, keep_raw=False):
    """Export one Brevitas module to a cleaned channels-last QONNX file (atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as td:
        raw = Path(td) / "raw.onnx"
        _export_raw(module, shape_nchw, raw)
        tmp = Path(td) / "cl.onnx"
        channels_last(raw, tmp)
        if keep_raw:
            os.replace(raw, path.with_name(path.stem + "_nchw.onnx"))
        os.replace(tmp, path)
    return path


def export_qonnx_srnet(qmodel, path, lr_h: int, lr_w: int, keep_raw=False):
    return export_qonnx_net(qmodel.srnet, path, (1, SRNET_IN_CHANNELS, lr_h, lr_w), keep_raw)


def export_qonnx_fnet(qmodel, path, lr_h: int, lr_w: int, keep_raw=False):
    if lr_h < 8 or lr_w < 8:
        raise ValueError(f"FNet graphs need H and W of at least 8, got {lr_w}x{lr_h}")
    return export_qonnx_net(qmodel.fnet, path, (1, 6, lr_h, lr_w), keep_raw)


def export_qonnx_nchw(module, path, shape_nchw):
    """Brevitas QONNX export + qonnx cleanup only (NCHW, no channels-last pass).

    qonnx's channels-last conversion runs shape inference whose cost grows
    with the image size; the NCHW graph is what ``execute_onnx`` needs for
    large frames (the benchmark).
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model
    path = Path(path)
    _export_raw(module, shape_nchw, path)
    cleanup_model(ModelWrapper(str(path))).save(str(path))
    return path


def execute_qonnx(path, x_nhwc):
    """Run a QONNX file with qonnx's executor; returns the output array."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    model = ModelWrapper(str(path))
    inp = model.graph.input[0].name
    out = model.graph.output[0].name
    return execute_onnx(model, {inp: x_nhwc.astype("float32")})[out]


def export_all(qmodel, stem, lr_h=64, lr_w=64, source_sha256=None):
    """Bundle + SRNet/FNet QONNX + export manifest, all or nothing; returns the manifest dict.

    Every file is written into a temporary folder beside the target first and
    moved into place only when all of them exist (the export manifest last).
    """
    from egvsr.golden.bundle import load_bundle

    from .bundle import export_bundle
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=stem.parent, prefix=f".{stem.name}.") as td:
        tstem = Path(td) / stem.name
        bundle_json = Path(export_bundle(qmodel, tstem, source_sha256))
        files = {"bundle": bundle_json.name, "bundle_arrays": tstem.name + ".npz",
                 "srnet_qonnx": export_qonnx_srnet(qmodel, Path(td) / (stem.name + "_srnet.onnx"), lr_h, lr_w).name,
                 "fnet_qonnx": export_qonnx_fnet(qmodel, Path(td) / (stem.name + "_fnet.onnx"), lr_h, lr_w).name}
        manifest = {"schema": EXPORT_SCHEMA, "schema_version": EXPORT_VERSION, "preset": qmodel.preset.name,
                    "quant": qmodel.spec.to_dict(), "lr_size": [lr_w, lr_h], "layout": "NHWC",
                    "source_checkpoint_sha256": source_sha256, "bundle_sha256": load_bundle(bundle_json).sha256,
                    "files": files,
                    "notes": "srnet_qonnx input: 51-channel SRNet input, uint8 codes at scale 2**-8; output: HR RGB "
                             "codes at 2**-8. fnet_qonnx ends at the int8 flow head (tanh*24 is a table on the host)."}
        (Path(td) / (stem.name + ".export.json")).write_text(json.dumps(manifest, indent=1))
        for name in (files["bundle_arrays"], files["bundle"], files["srnet_qonnx"], files["fnet_qonnx"],
                     stem.name + ".export.json"):
            os.replace(Path(td) / name, stem.parent / name)
    return manifest


def export_main(args) -> int:
    from egvsr.golden.bundle import file_sha256
    from egvsr.model.pretrained import DEFAULT_QAT

    from .checkpoint import load_qmodel
    src = Path(args.checkpoint) if args.checkpoint else DEFAULT_QAT
    qmodel = load_qmodel(src)
    try:
        w, h = (int(v) for v in args.lr_size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--lr-size must be WxH, got {args.lr_size!r}") from None
    if w < 8 or h < 8:
        raise ValueError(f"--lr-size {args.lr_size} is too small (at least 8x8)")
    man = export_all(qmodel, args.out, h, w, file_sha256(src))
    print(f"exported {man['preset']} ({src}): " + ", ".join(man["files"].values()) + f" in {Path(args.out).parent}",
          file=sys.stderr)
    return 0
