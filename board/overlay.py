"""Load an EGVSR overlay on a board or on the simulated device.

:func:`load_overlay` returns an :class:`EgvsrOverlay`: the ``pynq.Overlay``,
its build metadata (``<overlay>.egvsr.json``), the AXI DMA driver
(unmodified ``pynq.lib.dma.DMA``) and the SRNet core found by name, after
checking that the overlay matches the host's bundle.
"""

import os
import tempfile
import time
import warnings

from . import meta as _meta
from . import regmap
from .errors import (BundleMismatchError, FrameSizeError, NoBoardError,
                     OverlayError)

__all__ = ["EgvsrOverlay", "load_overlay", "on_board", "bundle_sha256"]

ENV_OVERLAY = "EGVSR_OVERLAY"


def _pynq():
    try:
        import pynq
        return pynq
    except Exception as e:  # ImportError, or pynq failing on this platform
        raise NoBoardError(f"pynq is not available ({e}); install "
                           "'egvsr[board]' or use the golden backend") from None


def on_board():
    """True when running on a PYNQ board with an FPGA device."""
    try:
        import pynq
        from pynq.ps import ON_TARGET
    except Exception:
        return False
    if ON_TARGET:
        return True
    if not os.environ.get("XILINX_XRT"):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return len(pynq.Device.devices) > 0
        except Exception:
            return False


def bundle_sha256(bundle):
    """The hash a bundle is identified by (``Bundle.sha256``) or a hex str."""
    if isinstance(bundle, str):
        return bundle
    sha = getattr(bundle, "sha256", None)
    if not isinstance(sha, str):
        raise TypeError(f"expected a golden Bundle or a sha256 string, "
                        f"got {type(bundle).__name__}")
    return sha


class EgvsrOverlay:
    """A loaded overlay and its drivers.

    Attributes: ``overlay`` (``pynq.Overlay``), ``meta`` (dict), ``device``,
    ``simulated`` (bool), ``dma`` (``pynq.lib.dma.DMA``), ``accel``
    (``pynq.DefaultIP`` of the SRNet core, registers of
    :mod:`egvsr.board.regmap`), ``lr_size`` ``(H, W)`` (the largest frame),
    ``lr_min`` (the smallest).  The core's own ID_LO/ID_HI, VERSION and
    MAX_HEIGHT/MAX_WIDTH registers are checked against the metadata.
    ``tmpdir`` (a ``tempfile.TemporaryDirectory`` holding a generated
    simulated overlay) is owned by the handle: :meth:`close` removes it, and
    failing that its finalizer does (garbage collection or Python exit).
    """

    def __init__(self, overlay, meta, device, simulated, tmpdir=None):
        self._tmpdir = tmpdir
        self.overlay = overlay
        self.meta = meta
        self.device = device
        self.simulated = simulated
        self.lr_min, self.lr_size = _meta.size_range(meta)
        names = meta["ip"]
        ip_dict = overlay.ip_dict
        for role in ("dma", "accel"):
            if names[role] not in ip_dict:
                raise OverlayError(
                    f"{overlay.bitfile_name}: no IP named {names[role]!r} "
                    f"({role}); the overlay has {sorted(ip_dict)}")
        if "axi_dma" not in str(ip_dict[names["dma"]].get("type")):
            raise OverlayError(f"IP {names['dma']!r} is "
                               f"{ip_dict[names['dma']].get('type')}, not an AXI DMA")
        self.dma = getattr(overlay, names["dma"])
        if self.dma.sendchannel is None or self.dma.recvchannel is None:
            raise OverlayError(f"{names['dma']!r} needs both MM2S and S2MM")
        self.accel = getattr(overlay, names["accel"])
        self.check_id()
        # the driver starts the core once per frame (ap_start), after writing
        # LR_HEIGHT/LR_WIDTH; no auto_restart
        self.accel.write(regmap.offset("AP_CTRL"), 0)

    def reload(self):
        """Download the bitstream again: resets the core and the DMA (after a
        timeout the core may hold part of a frame)."""
        self.overlay.download()
        self.dma.sendchannel.start()
        self.dma.recvchannel.start()
        self.check_id()
        self.accel.write(regmap.offset("AP_CTRL"), 0)

    def reg(self, name):
        """Read core register ``name`` (:mod:`egvsr.board.regmap`)."""
        return self.accel.read(regmap.offset(name))

    def identify(self, timeout=1.0):
        """The identify call: a start with a size of 0.  The core refuses the
        size (STATUS size error) and returns at once without taking a beat;
        an HLS core's read-only registers (ID, MAX size, VERSION) are outputs
        of its function and hold their values only after such a call."""
        acc = self.accel
        acc.write(regmap.offset("LR_HEIGHT"), 0)
        acc.write(regmap.offset("LR_WIDTH"), 0)
        acc.write(regmap.offset("AP_CTRL"), regmap.AP_START)
        deadline = time.monotonic() + timeout
        while True:
            v = acc.read(regmap.offset("AP_CTRL"))
            if v & regmap.AP_DONE or (v & regmap.AP_IDLE and not v & regmap.AP_START):
                return
            if time.monotonic() > deadline:
                raise OverlayError(
                    f"{os.path.basename(str(self.overlay.bitfile_name))}: the SRNet core did not "
                    f"return from a start with frame size 0 within {timeout:g} s (it should refuse "
                    "the size at once): not an egvsr_srnet core of this register map, or its clock "
                    "or reset is not running")
            time.sleep(1e-4)

    def check_core_regs(self):
        """Compare the core's VERSION, ID_LO/ID_HI and MAX_HEIGHT/MAX_WIDTH
        registers with the driver and the metadata (OverlayError)."""
        where = os.path.basename(str(self.overlay.bitfile_name))
        self.identify()
        ver = self.reg("VERSION")
        if ver != regmap.REGMAP_VERSION:
            raise OverlayError(
                f"{where}: the SRNet core's register map is version {ver}, this driver "
                f"speaks version {regmap.REGMAP_VERSION}: rebuild the overlay with this "
                "egvsr (make hls-synth / make bitstream) or install the egvsr it was built with")
        got = (self.reg("ID_LO"), self.reg("ID_HI"))
        want = _meta.id_words(self.meta["bundle_sha256"])
        if got != want:
            raise OverlayError(
                f"{where}: the SRNet core's ID registers {got[0]:08x}{got[1]:08x} do not match "
                f"its metadata ({self.meta['bundle_sha256'][:16]}): wrong .bit/.hwh/.egvsr.json "
                "combination")
        mx = (self.reg("MAX_HEIGHT"), self.reg("MAX_WIDTH"))
        if mx != tuple(self.lr_size):
            raise OverlayError(
                f"{where}: the SRNet core takes frames up to {mx[0]}x{mx[1]} (MAX_HEIGHT x "
                f"MAX_WIDTH) but its metadata says {self.lr_size[0]}x{self.lr_size[1]}: "
                "wrong .bit/.egvsr.json combination")

    def check_id(self):
        """Compare the hash in the hardware with the metadata: the core's own
        ID registers (and VERSION, MAX size), and the ID GPIO if the overlay
        has one."""
        self.check_core_regs()
        name = self.meta["ip"].get("id")
        if not name:
            return
        if name not in self.overlay.ip_dict:
            raise OverlayError(f"{self.overlay.bitfile_name}: metadata names an "
                               f"ID block {name!r} that the overlay lacks")
        pynq = _pynq()
        d = self.overlay.ip_dict[name]
        mmio = pynq.MMIO(d["phys_addr"], d["addr_range"], device=self.device)
        got = (mmio.read(0x0), mmio.read(0x8))
        want = _meta.id_words(self.meta["bundle_sha256"])
        if got != want:
            raise OverlayError(
                f"{self.overlay.bitfile_name}: the bitstream's ID "
                f"{got[0]:08x}{got[1]:08x} does not match its metadata "
                f"({self.meta['bundle_sha256'][:16]}): wrong .bit/.hwh/.egvsr.json"
                " combination")

    def check_bundle(self, bundle):
        """Raise :class:`BundleMismatchError` unless built from ``bundle``."""
        host = bundle_sha256(bundle)
        built = self.meta["bundle_sha256"]
        if host != built:
            raise BundleMismatchError(
                f"overlay {os.path.basename(self.overlay.bitfile_name)} was built "
                f"from bundle {built[:16]}..., the host bundle is {host[:16]}...: "
                "rebuild the overlay (make bitstream) or load the matching bundle")

    def accepts(self, h, w):
        """True if the core takes an ``h x w`` LR frame."""
        (lo_h, lo_w), (hi_h, hi_w) = self.lr_min, self.lr_size
        return lo_h <= h <= hi_h and lo_w <= w <= hi_w

    def check_frame(self, h, w):
        """Raise :class:`FrameSizeError` unless the core takes ``h x w``."""
        if not self.accepts(h, w):
            (lo_h, lo_w), (hi_h, hi_w) = self.lr_min, self.lr_size
            built = (f"built for {hi_h}x{hi_w} only" if (lo_h, lo_w) == (hi_h, hi_w)
                     else f"built for {lo_h}x{lo_w} up to {hi_h}x{hi_w}")
            raise FrameSizeError(
                f"LR frame {h}x{w} (HxW) but the overlay was {built}: crop/resize "
                "the video or build an overlay for this size")

    def close(self):
        """Stop the core and, in simulation, the simulated device; remove
        the temporary directory of a generated simulated overlay."""
        try:
            self.accel.write(regmap.offset("AP_CTRL"), 0)
        except Exception:
            pass
        if self.simulated and hasattr(self.device, "close"):
            self.device.close()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None


def load_overlay(path=None, bundle=None, simulate=None, sim_engine="golden",
                 lr_size=None, device=None, workdir=None, threaded=True):
    """Load (download) an EGVSR overlay and check it against ``bundle``.

    Parameters
    ----------
    path : str, optional
        ``.bit`` of the overlay (``.hwh`` and ``.egvsr.json`` beside it).
        Default: ``$EGVSR_OVERLAY``; in simulation a simulated overlay for
        ``lr_size`` is generated in ``workdir`` (by default a temp dir that
        :meth:`EgvsrOverlay.close` removes).
    bundle : golden Bundle, optional
        The host bundle; checked against the overlay's metadata.
    simulate : None | bool
        None: a real board when running on one, else the simulated device.
    sim_engine : ``'golden'`` | ``'rtl'`` | callable
        What computes SRNet behind the simulated stream.
    """
    pynq = _pynq()
    if simulate is None:
        simulate = not on_board()
    path = path or os.environ.get(ENV_OVERLAY)
    tmp = None  # a temp dir the returned handle owns
    if simulate and path is None:
        if bundle is None or lr_size is None:
            raise OverlayError("a simulated overlay needs bundle and lr_size "
                               "(or an overlay path)")
        if not workdir:
            tmp = tempfile.TemporaryDirectory(prefix="egvsr_sim_")
            workdir = tmp.name
    try:
        return _load(pynq, path, bundle, simulate, sim_engine, lr_size, device,
                     workdir, threaded, tmp)
    except BaseException:
        if tmp is not None:
            tmp.cleanup()
        raise


def _load(pynq, path, bundle, simulate, sim_engine, lr_size, device, workdir,
          threaded, tmp):
    if simulate:
        from .simdevice import SimDevice, make_sim_overlay
        if path is None:
            path = make_sim_overlay(workdir, bundle_sha256(bundle), *lr_size,
                                    engine=sim_engine)
        if device is None:
            device = SimDevice(bundle=None if isinstance(bundle, str) else bundle,
                               engine=sim_engine, threaded=threaded)
    else:
        if path is None:
            raise OverlayError(f"no overlay given: pass the .bit path or set "
                               f"${ENV_OVERLAY}")
        if not on_board() and device is None:
            raise NoBoardError("no PYNQ board found (pynq.Device.devices is "
                               "empty); use simulate=True / --backend board-sim")
    meta = _meta.read_meta(path)
    if not simulate and meta.get("board") == "sim":
        raise OverlayError(f"{path} is a simulated overlay (no bitstream); "
                           "load it with simulate=True")
    try:
        ol = pynq.Overlay(str(path), device=device)
    except (IOError, OSError, ValueError, KeyError) as e:
        raise OverlayError(f"cannot load overlay {path}: {e}") from e
    handle = EgvsrOverlay(ol, meta, ol.device, simulate, tmpdir=tmp)
    if bundle is not None:
        handle.check_bundle(bundle)
    return handle
