"""Build metadata shipped beside an overlay: ``<overlay>.egvsr.json``.

``make bitstream`` writes it next to ``<overlay>.bit`` / ``<overlay>.hwh``;
the simulated overlay uses the same file.  Fields::

    {"schema": "egvsr.overlay", "schema_version": 1,
     "board": "pynq-z2" | "kv260" | "zcu104" | "sim",
     "bundle_sha256": "<hex>",  "bundle_preset": "tiny",
     "lr_height": 64, "lr_width": 96,          # the largest LR frame (MAX_HEIGHT/MAX_WIDTH)
     "lr_min": [8, 8],                         # the smallest; = [lr_height, lr_width] for a fixed-size core
     "stream": {"dma_data_width": 64, "in_channels": 51,
                "in_bytes_per_pixel": 56, "out_channels": 3,
                "out_bytes_per_pixel": 4, "out_pixels_per_beat": 2},
     "ip": {"dma": "axi_dma_0", "accel": "egvsr_srnet_0", "id": "egvsr_id"},
     "dma": {"sg_length_width": 16},          # bits of the DMA length register
     "clock_mhz": 100.0}

One DMA transfer moves one LR line: ``lr_width * in_bytes_per_pixel`` bytes
in (MM2S) and the line's 4 HR rows, ``16 * lr_width * out_bytes_per_pixel``
bytes, out (S2MM, ended by the core's TLAST); :func:`transfer_bytes`.
``lr_min`` is optional (absent: the core takes only ``lr_height x
lr_width``); ``board.bitstream.write_build`` writes ``[8, 8]``, as both
SRNet cores (HLS and RTL) take run-time sizes up to their build size.

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


def transfer_bytes(lr_width, dma_data_width=64):
    """Bytes of one MM2S transfer (one LR line in) and one S2MM transfer
    (its 4 HR rows out)."""
    st = stream_layout(dma_data_width)
    return (int(lr_width) * st["in_bytes_per_pixel"],
            16 * int(lr_width) * st["out_bytes_per_pixel"])


#: the AXI DMA's length register is 8..26 bits wide (PG021, c_sg_length_width)
MAX_LENGTH_BITS = 26


def length_width(lr_width, dma_data_width=64):
    """``c_sg_length_width``: bits for the longest transfer, one LR line in or
    its 4 HR rows out (at least 14, the IP's default)."""
    n = max(transfer_bytes(lr_width, dma_data_width))
    bits = max(14, n.bit_length())
    if bits > MAX_LENGTH_BITS:
        raise ValueError(f"an LR line of {lr_width} pixels needs {n}-byte DMA transfers, "
                         f"beyond the AXI DMA's {MAX_LENGTH_BITS}-bit length register: "
                         "use a narrower frame")
    return bits


def id_words(sha256_hex):
    """The two 32-bit words the ID GPIO carries: hash bytes 0-3 and 4-7."""
    h = bytes.fromhex(sha256_hex)
    return int.from_bytes(h[0:4], "big"), int.from_bytes(h[4:8], "big")


def make_meta(bundle_sha256, lr_height, lr_width, board="sim", preset=None,
              dma_data_width=64, ip=None, clock_mhz=100.0, sg_length_width=None,
              lr_min=None):
    """Return a metadata dict (validated).  ``lr_height x lr_width`` is the
    largest frame; ``lr_min`` ``(h, w)`` the smallest (None: fixed size)."""
    if sg_length_width is None:
        sg_length_width = length_width(lr_width, dma_data_width)
    meta = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION,
            "board": board, "bundle_sha256": str(bundle_sha256),
            "bundle_preset": preset, "lr_height": int(lr_height),
            "lr_width": int(lr_width), "stream": stream_layout(dma_data_width),
            "ip": dict(DEFAULT_IP, **(ip or {})),
            "dma": {"sg_length_width": int(sg_length_width)},
            "clock_mhz": float(clock_mhz)}
    if lr_min is not None:
        meta["lr_min"] = [int(v) for v in lr_min]
    validate(meta, "<new>")
    return meta


def size_range(meta):
    """``((min_h, min_w), (max_h, max_w))`` of the LR frames an overlay takes."""
    hi = (int(meta["lr_height"]), int(meta["lr_width"]))
    lo = tuple(int(v) for v in meta.get("lr_min", hi))
    return lo, hi


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
    if "lr_min" in meta:
        m = meta["lr_min"]
        if not (isinstance(m, list) and len(m) == 2 and all(isinstance(v, int) for v in m)
                and 8 <= m[0] <= meta["lr_height"] and 8 <= m[1] <= meta["lr_width"]):
            bad(f"lr_min must be [h, w] with 8 <= h <= lr_height and 8 <= w <= lr_width, "
                f"got {m!r}")
    want = stream_layout(meta["stream"].get("dma_data_width", 0)
                         if isinstance(meta["stream"], dict) else 0)
    if meta["stream"] != want:
        bad(f"stream layout {meta['stream']} != {want}")
    for key in ("dma", "accel"):
        if not meta["ip"].get(key):
            bad(f"ip.{key} (IP instance name) missing")
    dma = meta.get("dma")
    if isinstance(dma, dict) and "sg_length_width" in dma:
        need = length_width(meta["lr_width"], want["dma_data_width"])
        if not isinstance(dma["sg_length_width"], int) or dma["sg_length_width"] < need:
            bad(f"the DMA's length register has {dma['sg_length_width']} bits; one LR line of "
                f"{meta['lr_width']} pixels needs {need} (an overlay built for another transfer "
                "size): rebuild it with make bitstream")
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
