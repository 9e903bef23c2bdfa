"""Build metadata shipped beside an overlay: ``<overlay>.egvsr.json``.

``make bitstream`` writes it next to ``<overlay>.bit`` / ``<overlay>.hwh``;
the simulated overlay uses the same file.  Fields::

    {"schema": "egvsr.overlay", "schema_version": 1,
     "board": "pynq-z2" | "kv260" | "zcu104" | "sim",
     "bundle_sha256": "<hex>",  "bundle_preset": "tiny",
     "lr_height": 64, "lr_width": 96,
     "stream": {"dma_data_width": 64, "in_channels": 51,
                "in_bytes_per_pixel": 56, "out_channels": 3,
                "out_bytes_per_pixel": 4, "out_pixels_per_beat": 2},
     "ip": {"dma": "axi_dma_0", "accel": "egvsr_srnet_0", "id": "egvsr_id"},
     "dma": {"sg_length_width": 26},
     "clock_mhz": 100.0}

``ip.id`` is an AXI GPIO whose two input channels are tied to the first 64
bits of the bundle hash (``id_words``), so the driver can check the hash in
the hardware as well as in this file.
"""

import json
import os

from .errors import OverlayError
from egvsr.golden.validate import SRNET_IN_CHANNELS

SCHEMA = "egvsr.overlay"
SCHEMA_VERSION = 1
SUFFIX = ".egvsr.json"

DEFAULT_IP = {"dma": "axi_dma_0", "accel": "egvsr_srnet_0", "id": "egvsr_id"}
IN_CHANNELS = SRNET_IN_CHANNELS
OUT_CHANNELS = 3


def stream_layout(dma_data_width=64):
    """Stream widths for a DMA of ``dma_data_width`` bits (numerics.md)."""
    word = dma_data_width // 8
    if dma_data_width not in (32, 64, 128) or word < 4:
        raise ValueError(f"unsupported DMA data width {dma_data_width}")
    in_bpp = -(-IN_CHANNELS // word) * word  # 51 -> 56 at 64 bit
    return {"dma_data_width": dma_data_width, "in_channels": IN_CHANNELS,
            "in_bytes_per_pixel": in_bpp, "out_channels": OUT_CHANNELS,
            "out_bytes_per_pixel": 4, "out_pixels_per_beat": word // 4}


def id_words(sha256_hex):
    """The two 32-bit words the ID GPIO carries: hash bytes 0-3 and 4-7."""
    h = bytes.fromhex(sha256_hex)
    return int.from_bytes(h[0:4], "big"), int.from_bytes(h[4:8], "big")


def make_meta(bundle_sha256, lr_height, lr_width, board="sim", preset=None,
              dma_data_width=64, ip=None, clock_mhz=100.0, sg_length_width=26):
    """Return a metadata dict (validated)."""
    meta = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION,
            "board": board, "bundle_sha256": str(bundle_sha256),
            "bundle_preset": preset, "lr_height": int(lr_height),
            "lr_width": int(lr_width), "stream": stream_layout(dma_data_width),
            "ip": dict(DEFAULT_IP, **(ip or {})),
            "dma": {"sg_length_width": int(sg_length_width)},
            "clock_mhz": float(clock_mhz)}
    validate(meta, "<new>")
    return meta


def meta_path(overlay_path):
    """``x/egvsr.bit`` -> ``x/egvsr.egvsr.json``."""
    root, ext = os.path.splitext(str(overlay_path))
    if ext not in (".bit", ".bin", ".xclbin", ".hwh", ""):
        root = str(overlay_path)
    return root + SUFFIX


def validate(meta, where):
    """Raise :class:`OverlayError` unless ``meta`` follows the schema."""
    def bad(msg):
        raise OverlayError(f"{where}: {msg}")
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        bad(f"not an EGVSR overlay metadata file (schema != {SCHEMA!r})")
    if meta.get("schema_version") != SCHEMA_VERSION:
        bad(f"schema_version {meta.get('schema_version')} != {SCHEMA_VERSION}")
    for key in ("bundle_sha256", "lr_height", "lr_width", "stream", "ip"):
        if key not in meta:
            bad(f"missing field {key!r}")
    h = meta["bundle_sha256"]
    if not (isinstance(h, str) and len(h) == 64
            and all(c in "0123456789abcdef" for c in h)):
        bad(f"bundle_sha256 must be 64 lowercase hex digits, got {h!r}")
    if meta["lr_height"] < 8 or meta["lr_width"] < 8:
        bad("lr_height and lr_width must be at least 8")
    want = stream_layout(meta["stream"].get("dma_data_width", 0)
                         if isinstance(meta["stream"], dict) else 0)
    if meta["stream"] != want:
        bad(f"stream layout {meta['stream']} != {want}")
    for key in ("dma", "accel"):
        if not meta["ip"].get(key):
            bad(f"ip.{key} (IP instance name) missing")
    return meta


def write_meta(overlay_path, meta):
    """Write ``<overlay>.egvsr.json`` atomically; return its path."""
    path = meta_path(overlay_path)
    validate(meta, path)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return path


def read_meta(overlay_path):
    """Read and validate the metadata beside ``overlay_path``."""
    path = meta_path(overlay_path)
    if not os.path.isfile(path):
        raise OverlayError(
            f"{overlay_path}: no build metadata {path}; an EGVSR overlay ships "
            f"<name>.bit, <name>.hwh and <name>{SUFFIX} (make bitstream)")
    try:
        with open(path) as f:
            meta = json.load(f)
    except ValueError as e:
        raise OverlayError(f"{path}: invalid JSON ({e})") from None
    return validate(meta, path)
