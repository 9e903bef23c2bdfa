"""Bundle files: `<name>.json` manifest + `<name>.npz` integer arrays.

Schema: docs/numerics.md ("Bundle files"). `load_bundle` verifies the
schema, the npz hash and the whole layer graph (`validate`) and raises
`BundleError` naming the problem and the fix. `write_bundle` writes both
files atomically (temp file in the same directory + os.replace, npz first,
JSON last). The npz bytes are deterministic (sorted members, fixed zip
timestamps, no compression), so the same arrays always give the same
``arrays_sha256``; `Bundle.sha256` of an in-memory bundle is the hash a
write would produce.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .validate import READ_VERSIONS, SCHEMA, SCHEMA_VERSION, BundleError, validate

__all__ = ["SCHEMA", "SCHEMA_VERSION", "NETS", "PRETRAINED", "Bundle", "BundleError", "load_bundle",
           "write_bundle", "npz_bytes", "validate", "default_bundle_path", "file_sha256"]

NETS = ("srnet", "fnet")

#: The bundled models (package data): bundles here, torch checkpoints in `egvsr.model.pretrained`.
PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"


def npz_bytes(arrays: dict) -> bytes:
    """Deterministic .npz serialization of integer arrays (readable by np.load)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            arr = np.asarray(arrays[key])
            if arr.dtype.kind not in "iu":
                raise BundleError(f"array {key!r} has dtype {arr.dtype}; bundles hold integer "
                                  "arrays only (quantize it to integer codes first)")
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


class Bundle:
    """A validated bundle: `manifest` (dict) + `arrays` (name -> int ndarray)."""

    def __init__(self, manifest: dict, arrays: dict, path: str | os.PathLike | None = None,
                 check: bool = True):
        self.manifest = manifest
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        self.path = Path(path) if path is not None else None
        self._sha = None
        if check:
            validate(self.manifest, self.arrays, where=str(self.path or "in-memory bundle"))

    def layers(self, net: str) -> list[dict]:
        """Layer dicts of `net` ('srnet' or 'fnet') in execution order."""
        if net not in NETS:
            raise KeyError(f"unknown net {net!r}; use one of {NETS}")
        return self.manifest[net]["layers"]

    def layer(self, net: str, name: str) -> dict:
        """The layer dict called `name` in `net` (KeyError if absent)."""
        for layer in self.layers(net):
            if layer["name"] == name:
                return layer
        raise KeyError(f"{net} has no layer {name!r}")

    def weights(self, net: str, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(weight OIHW, bias) integer arrays of conv layer `name`."""
        layer = self.layer(net, name)
        return self.arrays[layer["weight"]], self.arrays[layer["bias"]]

    def graph(self, net: str = "srnet"):
        """The `hwgraph.HwGraph` of `net` (built once per bundle)."""
        cache = self.__dict__.setdefault("_graphs", {})
        if net not in cache:
            from .hwgraph import HwGraph
            self.layers(net)  # KeyError for an unknown net
            cache[net] = HwGraph.from_bundle(self, net)
        return cache[net]

    @property
    def flow(self) -> dict:
        return self.manifest["flow"]

    @property
    def sha256(self) -> str:
        """Hash of the npz bytes (manifest's arrays_sha256, else computed)."""
        if self._sha is None:
            self._sha = self.manifest.get("arrays_sha256") or hashlib.sha256(
                npz_bytes(self.arrays)).hexdigest()
        return self._sha

    def __repr__(self) -> str:
        m = self.manifest
        return (f"Bundle(preset={m.get('preset')!r}, srnet={len(self.layers('srnet'))} layers, "
                f"fnet={len(self.layers('fnet'))} layers, sha256={self.sha256[:12]})")


def file_sha256(path) -> str:
    """sha256 hex digest of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _paths(path) -> tuple[Path, Path]:
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".json", ".npz") else p
    return stem, stem.with_name(stem.name + ".json")


def load_bundle(path) -> Bundle:
    """Load and fully validate a bundle from `<name>.json`, `<name>.npz` or the stem."""
    _, jpath = _paths(path)
    if not jpath.is_file():
        raise BundleError(f"bundle manifest {jpath} not found; pass the path of an existing "
                          "<name>.json (or its stem) written by write_bundle / the quant export")
    try:
        manifest = json.loads(jpath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{jpath}: manifest is not valid JSON ({e}); re-export the bundle") from e
    if not isinstance(manifest, dict):
        raise BundleError(f"{jpath}: manifest must be a JSON object; re-export the bundle")
    if manifest.get("schema") != SCHEMA:
        raise BundleError(f"{jpath}: schema is {manifest.get('schema')!r}, expected {SCHEMA!r}; "
                          "this file is not an egvsr bundle")
    if manifest.get("schema_version") not in READ_VERSIONS:
        raise BundleError(f"{jpath}: schema_version {manifest.get('schema_version')!r} is not "
                          f"supported (this golden model reads {', '.join(map(str, READ_VERSIONS))}); "
                          "re-export the bundle with a matching egvsr version")
    afile = manifest.get("arrays_file")
    if not isinstance(afile, str) or not afile:
        raise BundleError(f"{jpath}: arrays_file missing from the manifest; re-export the bundle")
    npath = jpath.parent / afile
    try:
        data = npath.read_bytes()
    except OSError as e:
        raise BundleError(f"{jpath}: arrays file {npath} cannot be read ({e}); keep the .npz "
                          "next to the .json (same stem) or re-export the bundle") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest.get("arrays_sha256"):
        raise BundleError(f"{jpath}: arrays_sha256 mismatch (manifest {manifest.get('arrays_sha256')}, "
                          f"{npath.name} has {digest}); the npz was modified or belongs to another "
                          "bundle: re-export both files together")
    arrays = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            for key in z.files:
                arrays[key] = z[key]
    except Exception as e:  # zipfile.BadZipFile, ValueError, EOFError, ...
        raise BundleError(f"{npath}: corrupt or unreadable npz ({type(e).__name__}: {e}); "
                          "re-export the bundle") from e
    bundle = Bundle(manifest, arrays, path=jpath, check=False)
    validate(manifest, arrays, where=str(jpath))
    return bundle


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    raise TypeError(f"manifest value {o!r} of type {type(o).__name__} is not JSON serializable")


def _atomic_write(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def default_bundle_path() -> Path:
    """The bundled default: the committed ``tiny-anchor`` W8A8 bundle (package data)."""
    return PRETRAINED / "tiny_anchor_w8a8.json"


def write_bundle(path_stem, manifest: dict, arrays: dict) -> Path:
    """Validate and write `<stem>.npz` then `<stem>.json` atomically; return the JSON path.

    Fills ``arrays_file`` and ``arrays_sha256`` (the caller's manifest is
    not modified). Nothing is written if validation or serialization fails.
    """
    stem, jpath = _paths(path_stem)
    man = copy.deepcopy(manifest)
    man["schema"] = man.get("schema", SCHEMA)
    man["schema_version"] = man.get("schema_version", SCHEMA_VERSION)
    if man["schema"] != SCHEMA or man["schema_version"] not in READ_VERSIONS:
        raise BundleError(f"write_bundle: manifest declares schema {man['schema']!r} version "
                          f"{man['schema_version']!r}; this writer emits {SCHEMA!r} "
                          f"{' or '.join(map(str, READ_VERSIONS))}")
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    validate(man, arrays, where=f"write_bundle({stem})")
    data = npz_bytes(arrays)
    man["arrays_file"] = stem.name + ".npz"
    man["arrays_sha256"] = hashlib.sha256(data).hexdigest()
    text = json.dumps(man, indent=1, default=_json_default) + "\n"
    stem.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(stem.with_name(man["arrays_file"]), data)
    _atomic_write(jpath, text.encode())
    return jpath
